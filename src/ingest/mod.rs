//! Loading files into the storage tables of sql/storage.sql.

pub mod tdms;
pub mod tsv;
