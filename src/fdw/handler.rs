//! `dune_fdw_handler`: the FdwRoutine of the wrapper, pointing at the callbacks in `plan/`,
//! `scan/`, `explain.rs`, `import.rs`, `analyze.rs` and `modify/`.

use crate::fdw::{analyze, explain, import, modify, plan, scan};
use pgrx::prelude::*;
use pgrx::{AllocatedByRust, PgBox, pg_sys};

/// The handler of the dune_fdw wrapper.
#[pg_extern]
fn dune_fdw_handler() -> PgBox<pg_sys::FdwRoutine, AllocatedByRust> {
    // SAFETY: alloc_node returns a zeroed FdwRoutine node in the current memory context; every
    // callback set is an `extern "C-unwind"` function guarded by #[pg_guard].
    unsafe {
        let mut r =
            PgBox::<pg_sys::FdwRoutine, AllocatedByRust>::alloc_node(pg_sys::NodeTag::T_FdwRoutine);
        r.GetForeignRelSize = Some(plan::get_foreign_rel_size);
        r.GetForeignPaths = Some(plan::get_foreign_paths);
        r.GetForeignPlan = Some(plan::get_foreign_plan);
        r.GetForeignUpperPaths = Some(plan::get_foreign_upper_paths);
        r.GetForeignJoinPaths = Some(plan::get_foreign_join_paths);
        r.BeginForeignScan = Some(scan::begin_foreign_scan);
        r.IterateForeignScan = Some(scan::iterate_foreign_scan);
        r.ReScanForeignScan = Some(scan::rescan_foreign_scan);
        r.EndForeignScan = Some(scan::end_foreign_scan);
        r.ExplainForeignScan = Some(explain::explain_foreign_scan);
        r.ImportForeignSchema = Some(import::import_foreign_schema);
        r.AnalyzeForeignTable = Some(analyze::analyze_foreign_table);
        r.IsForeignRelUpdatable = Some(modify::is_foreign_rel_updatable);
        r.PlanForeignModify = Some(modify::plan_foreign_modify);
        r.BeginForeignModify = Some(modify::begin_foreign_modify);
        r.ExecForeignInsert = Some(modify::exec_foreign_insert);
        r.EndForeignModify = Some(modify::end_foreign_modify);
        r.BeginForeignInsert = Some(modify::begin_foreign_insert);
        r.EndForeignInsert = Some(modify::end_foreign_modify);
        #[cfg(not(feature = "pg13"))]
        {
            r.ExecForeignTruncate = Some(modify::exec_foreign_truncate);
        }
        r
    }
}
