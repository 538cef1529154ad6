//! Loading files into the storage tables of sql/storage.sql.

pub mod bulk_insert;
pub mod tdms;
pub mod tsv;
