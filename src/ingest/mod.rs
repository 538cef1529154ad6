pub mod tsv;
