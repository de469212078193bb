//! dune_fdw: Dune Analytics in PostgreSQL.
//!
//! The SQL surface lives in `functions/` (one file per function) and `fdw/` (the wrapper's
//! callbacks); HTTP, JSON, paging and retries live in the pgrx-free `dune-client` crate.

use pgrx::prelude::*;

mod blocking;
mod connection;
mod error;
mod fdw;
mod functions;
mod gucs;
mod in_flight;
mod options;
mod progress;
mod rows;

::pgrx::pg_module_magic!(name, version);

#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    gucs::init();
}

extension_sql_file!(
    "../sql/bootstrap.sql",
    name = "bootstrap",
    requires = [
        fdw::handler::dune_fdw_handler,
        fdw::validator::dune_fdw_validator
    ],
    finalize
);
