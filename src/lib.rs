//! dune_fdw: Dune Analytics in PostgreSQL.
//!
//! Two SQL surfaces, `functions/` (one file per SQL function) and `fdw/` (the wrapper's
//! callbacks), over one layer, `backend/` (catalog, connection, options, waits, blocking I/O,
//! progress, errors, settings). The surfaces import `backend` and the pure crates only, never
//! each other; `backend` imports neither. HTTP, JSON, paging and retries live in the pgrx-free
//! `dune-api` crate, PostgreSQL's formats in the pgrx-free `pg-format` crate.

use pgrx::prelude::*;

mod backend;
mod fdw;
mod functions;

::pgrx::pg_module_magic!(name, version);

/// Large Rust blocks are mapped, not left in malloc's per-thread arenas (`backend::alloc`).
#[global_allocator]
static HEAP: backend::alloc::Heap = backend::alloc::Heap;

#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    backend::gucs::init();
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
