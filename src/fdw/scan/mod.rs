//! Executing a scan: BeginForeignScan, IterateForeignScan, ReScanForeignScan, EndForeignScan.
//! Each kind of scan has its executor (`scan/result.rs` for a query result, `scan/statement.rs`
//! for a DuneSQL statement, `scan/latest_results.rs` for `dune_latest_results`; the first two
//! share `scan/rows.rs`); these callbacks only pick one, evaluate the plan's parameters and
//! hand over the slot. Rows stream page by page from a helper thread; a scan stops fetching as
//! soon as PostgreSQL stops asking (LIMIT, EXISTS, a cursor closed early), and its state is
//! dropped with the query's memory, on errors too.

pub mod executor;
mod latest_results;
pub mod result;
pub mod rows;
mod statement;

use crate::backend::error::{FdwError, FdwResult, OrRaise};
use crate::fdw::datum::param_value;
use crate::fdw::dune_table::check_read_columns;
use crate::fdw::plan::node::plan_of;
use crate::fdw::scan_plan::ScanPlan;
use crate::fdw::table::Table;
use dune_api::ParamValue;
use executor::{Executor, ScanSetup, setup_for};
use pgrx::prelude::*;
use pgrx::{PgList, PgMemoryContexts, pg_sys};
use std::ffi::{c_int, c_void};

pub struct ScanState {
    /// The foreign table's name, for messages.
    table: String,
    started: bool,
    /// Reads started in this statement (one per rescan with new parameter values).
    reads: u64,
    /// The most reads allowed (`max_reads_per_scan`), for a parameterized scan.
    max_reads: Option<u64>,
    /// The parameter values read so far (a parameterized scan counts distinct ones).
    seen: std::collections::HashSet<String>,
    param_states: Vec<*mut pg_sys::ExprState>,
    param_types: Vec<pg_sys::Oid>,
    exec: Box<dyn Executor>,
}

impl ScanState {
    /// The value of each parameter.
    unsafe fn param_values(&self, node: *mut pg_sys::ForeignScanState) -> Vec<ParamValue> {
        // SAFETY: the ExprStates were built by ExecInitExprList for this node; the expression
        // context is the node's own.
        unsafe {
            let econtext = (*node).ss.ps.ps_ExprContext;
            self.param_states
                .iter()
                .zip(&self.param_types)
                .map(|(&state, &ty)| {
                    let mut isnull = false;
                    let d = pg_sys::ExecEvalExpr(state, econtext, &mut isnull);
                    param_value(d, isnull, ty)
                })
                .collect()
        }
    }
}

/// The role whose user mapping a scan uses: the plan's checkAsUser (a view's owner), else the
/// current user, as postgres_fdw does.
pub fn role_for(node: *mut pg_sys::ForeignScanState) -> pg_sys::Oid {
    // SAFETY: the plan and estate of a scan being started.
    unsafe {
        let fsplan = (*node).ss.ps.plan as *mut pg_sys::ForeignScan;
        #[cfg(any(feature = "pg13", feature = "pg14", feature = "pg15"))]
        let role = {
            // a grouped scan has no scan relation: its base relation's entry (postgres_fdw)
            let rti = match (*fsplan).scan.scanrelid {
                0 => pg_sys::bms_next_member((*fsplan).fs_relids, -1) as pg_sys::Index,
                rti => rti,
            };
            let rte = pg_sys::exec_rt_fetch(rti, (*node).ss.ps.state);
            (*rte).checkAsUser
        };
        #[cfg(not(any(feature = "pg13", feature = "pg14", feature = "pg15")))]
        let role = (*fsplan).checkAsUser;
        if role == pg_sys::InvalidOid {
            pg_sys::GetUserId()
        } else {
            role
        }
    }
}

/// The executor for the plan's kind of scan.
fn executor_for(setup: ScanSetup, plan: ScanPlan) -> Box<dyn Executor> {
    match plan {
        ScanPlan::Result(p) => Box::new(result::ResultExec::new(setup, p)),
        ScanPlan::Statement(p) => Box::new(statement::StatementExec::new(setup, p)),
        ScanPlan::LatestResults(p) => Box::new(latest_results::LatestResults::new(setup, p)),
    }
}

/// Before a statement runs (and is billed): the declared columns of each upload it reads are
/// checked against the upload's (free).
fn check_uploads(plan: &ScanPlan, role: pg_sys::Oid) -> FdwResult<()> {
    let ScanPlan::Statement(s) = plan else {
        return Ok(());
    };
    for r in s.relations.iter().filter(|r| r.upload) {
        check_read_columns(&Table::load(pg_sys::Oid::from(r.relid))?, role)?;
    }
    Ok(())
}

#[pg_guard]
pub extern "C-unwind" fn begin_foreign_scan(node: *mut pg_sys::ForeignScanState, eflags: c_int) {
    if eflags & pg_sys::EXEC_FLAG_EXPLAIN_ONLY as c_int != 0 {
        return; // a plain EXPLAIN makes no API call
    }
    // SAFETY: the executor hands us a ForeignScanState of a plan made by get_foreign_plan;
    // the state is leaked into the query's memory context (CurrentMemoryContext here), which
    // drops it when the query ends or fails.
    unsafe {
        let fsplan = (*node).ss.ps.plan as *mut pg_sys::ForeignScan;
        let plan = plan_of(fsplan);
        let role = role_for(node);
        let table = Table::load(pg_sys::Oid::from(plan.relid())).or_raise();
        check_uploads(&plan, role).or_raise();
        let max_reads = plan.max_reads();
        let plan_name = plan.table().to_string();
        let setup = setup_for(&table, &plan, role).or_raise();
        let exprs = PgList::<pg_sys::Node>::from_pg((*fsplan).fdw_exprs);
        let param_types = exprs.iter_ptr().map(|e| pg_sys::exprType(e)).collect();
        let states = pg_sys::ExecInitExprList((*fsplan).fdw_exprs, node as *mut pg_sys::PlanState);
        let param_states = PgList::<pg_sys::ExprState>::from_pg(states)
            .iter_ptr()
            .collect();
        let state = ScanState {
            table: plan_name.clone(),
            started: false,
            reads: 0,
            max_reads,
            seen: Default::default(),
            param_states,
            param_types,
            exec: executor_for(setup, plan),
        };
        let ptr = PgMemoryContexts::CurrentMemoryContext.leak_and_drop_on_delete(state);
        (*node).fdw_state = ptr as *mut c_void;
    }
}

#[pg_guard]
pub extern "C-unwind" fn iterate_foreign_scan(
    node: *mut pg_sys::ForeignScanState,
) -> *mut pg_sys::TupleTableSlot {
    // SAFETY: fdw_state was set by begin_foreign_scan (not EXPLAIN-only, or we would not be
    // iterating); the slot is the node's scan slot.
    unsafe {
        let slot = (*node).ss.ss_ScanTupleSlot;
        pg_sys::ExecClearTuple(slot);
        let state = &mut *((*node).fdw_state as *mut ScanState);
        if !state.started {
            state.started = true;
            let params = state.param_values(node);
            if let Some(max) = state.max_reads
                && state.seen.insert(format!("{params:?}"))
            {
                state.reads += 1;
                if state.reads > max {
                    FdwError::TooManyReads {
                        table: state.table.clone(),
                        max,
                    }
                    .raise();
                }
            }
            state.exec.start(&params).or_raise();
        }
        state.exec.fill(node, slot);
        slot
    }
}

#[pg_guard]
pub extern "C-unwind" fn rescan_foreign_scan(node: *mut pg_sys::ForeignScanState) {
    // SAFETY: fdw_state was set by begin_foreign_scan.
    unsafe {
        if let Some(state) = ((*node).fdw_state as *mut ScanState).as_mut() {
            state.exec.reset();
            state.started = false;
        }
    }
}

#[pg_guard]
pub extern "C-unwind" fn end_foreign_scan(node: *mut pg_sys::ForeignScanState) {
    // SAFETY: fdw_state is NULL (EXPLAIN only) or set by begin_foreign_scan; the memory
    // itself goes with the query's context.
    unsafe {
        if let Some(state) = ((*node).fdw_state as *mut ScanState).as_mut() {
            state.exec.reset();
        }
    }
}
