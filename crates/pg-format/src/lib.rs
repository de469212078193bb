//! PostgreSQL's formats, written without PostgreSQL, for values that come from Dune: the cells
//! a result page becomes for a table's columns (machine words for by-value types, text in one
//! arena), the exact jsonb datum of a row, PostgreSQL's calendar, the built-in type table, and
//! the CREATE FOREIGN TABLE text for a Dune result's columns. Pure Rust with no pgrx: the
//! extension turns these into datums on the backend; everything here runs on its I/O thread
//! and is tested with `cargo test`.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod jsonb;
mod prepare;
mod pushdown;
mod shippable;
mod time;
mod type_table;
mod types;
mod upload;
mod values;

pub use prepare::{Cell, Prepared, Target, prepare, prepare_objects};
pub use pushdown::{
    Compare, Rule, Sort, rounding_bounds, rounding_bounds_micros, rule, same_comparison,
};
pub use shippable::{FIELDS, Needs, Ship, Shipped, TRUNC_UNITS, function, operator};
pub use time::{PG_EPOCH_UNIX_SECS, date_text, timestamp_text};
pub use type_table::{Family, TypeRule, assumed_dune_type, oid, type_rule};
pub use types::{create_dune_table, create_foreign_table, local_names, postgres_type};
pub use upload::{NdjsonBatch, RowWriter, UploadType, accepts, column_type, upload_type_for};
pub use values::shorten;
