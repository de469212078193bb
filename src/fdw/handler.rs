//! `dune_fdw_handler`: the FdwRoutine of the wrapper.

use pgrx::pg_sys;
use pgrx::prelude::*;
use pgrx::{AllocatedByRust, PgBox};

#[pg_guard]
extern "C-unwind" fn get_foreign_rel_size(
    _root: *mut pg_sys::PlannerInfo,
    _rel: *mut pg_sys::RelOptInfo,
    _table: pg_sys::Oid,
) {
    pgrx::ereport!(
        ERROR,
        PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
        "scanning dune_fdw foreign tables is not available in this version",
        "Read Dune rows with dune_latest(query_id) or dune_run(query_id) meanwhile."
    );
}

/// The handler of the dune_fdw wrapper.
#[pg_extern]
fn dune_fdw_handler() -> PgBox<pg_sys::FdwRoutine, AllocatedByRust> {
    // SAFETY: alloc_node returns a zeroed FdwRoutine node in the current memory context; the
    // callbacks set are `extern "C-unwind"` functions guarded by #[pg_guard].
    unsafe {
        let mut routine =
            PgBox::<pg_sys::FdwRoutine, AllocatedByRust>::alloc_node(pg_sys::NodeTag::T_FdwRoutine);
        routine.GetForeignRelSize = Some(get_foreign_rel_size);
        routine
    }
}
