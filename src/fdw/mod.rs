//! The foreign-data wrapper: one file per concern, named after it.

pub mod analyze;
pub mod convert;
pub mod deparse;
pub mod dune_tables;
pub mod explain;
pub mod handler;
pub mod import;
pub mod join;
pub mod modify;
pub mod plan;
pub mod scan;
pub mod scan_plan;
pub mod table;
pub mod upper;
pub mod validator;
