//! The foreign-data wrapper: one file or folder per concern, named after it.

pub mod analyze;
pub mod convert;
pub mod datum;
pub mod deparse;
pub mod dune_table;
pub mod explain;
pub mod handler;
pub mod import;
pub mod modify;
pub mod plan;
pub mod scan;
pub mod scan_plan;
pub mod table;
pub mod validator;
