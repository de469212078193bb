//! ANALYZE of a foreign table: AnalyzeForeignTable and its AcquireSampleRowsFunc. The rows
//! come from Dune's `sample_count` (API reference §5.1: about N rows spread over the result,
//! in one request), so that statistics cost the sample's datapoints only, never the whole
//! result; the row count is the result's `total_row_count`.

use crate::backend::error::{FdwResult, OrRaise};
use crate::backend::options::TableSource;
use crate::fdw::scan::executor::{Executor, setup_for};
use crate::fdw::scan::result::ResultExec;
use crate::fdw::scan::rows::ReadsRows;
use crate::fdw::scan_plan::{ResultScan, ScanPlan};
use crate::fdw::table::Table;
use dune_api::{ResultRequest, ResultSource};
use pgrx::pg_sys;
use pgrx::prelude::*;
use std::ffi::c_int;

/// The most datapoints one results request returns unless the account raised it (API
/// reference §5.1): the sample is cut to fit.
const MAX_DATAPOINTS: u64 = 250_000;

/// A table that can be sampled: a latest result (as it is, never refreshed: `max_age` would
/// run the query) or a fixed execution. A table that runs a query (`mode 'execute'`, `sql`) is
/// not: ANALYZE would start an execution and bill it.
fn sampled_source(table: &Table) -> Option<ResultSource> {
    match &table.options.source {
        TableSource::Result(ResultSource::Latest {
            query,
            params,
            performance,
            ..
        }) => Some(ResultSource::Latest {
            query: *query,
            params: params.clone(),
            max_age: None,
            performance: performance.clone(),
        }),
        TableSource::Result(s @ ResultSource::Execution(_)) => Some(s.clone()),
        _ => None,
    }
}

#[pg_guard]
pub extern "C-unwind" fn analyze_foreign_table(
    relation: pg_sys::Relation,
    func: *mut pg_sys::AcquireSampleRowsFunc,
    totalpages: *mut pg_sys::BlockNumber,
) -> bool {
    // SAFETY: the relation ANALYZE opened; func and totalpages are its out-parameters.
    unsafe {
        let table = Table::load((*relation).rd_id).or_raise();
        if sampled_source(&table).is_none() {
            return false; // ANALYZE says it skips the table
        }
        *func = Some(acquire_sample_rows);
        *totalpages = 1;
        true
    }
}

/// The plan of a sample read: every declared result column (parameter columns are not in the
/// result), nothing else.
fn sample_plan(table: &Table, source: ResultSource) -> ResultScan {
    let mut columns: Vec<String> = Vec::new();
    for c in table.live_columns().filter(|c| c.param.is_none()) {
        if !columns.contains(&c.remote) {
            columns.push(c.remote.clone());
        }
    }
    ResultScan::new(table, source, ResultRequest::columns(Some(columns)))
}

/// Reads the sample into `rows` (at most `targrows` heap tuples); the rows kept, and the
/// result's row count in `totalrows`.
unsafe fn sample_into(
    relation: pg_sys::Relation,
    rows: *mut pg_sys::HeapTuple,
    targrows: usize,
    totalrows: &mut f64,
) -> FdwResult<usize> {
    let table = Table::load(unsafe { (*relation).rd_id })?;
    let Some(source) = sampled_source(&table) else {
        return Ok(0);
    };
    let plan = sample_plan(&table, source);
    let width = plan.request.columns.as_ref().map_or(1, |c| c.len().max(1)) as u64;
    // SAFETY: the current role, on the backend thread.
    let role = unsafe { pg_sys::GetUserId() };
    let setup = setup_for(&table, &ScanPlan::Result(plan.clone()), role)?;
    let cap = if setup.config.ignore_max_datapoints {
        u64::MAX
    } else {
        MAX_DATAPOINTS / width
    };
    let mut exec = ResultExec::sampling(setup, plan, (targrows as u64).min(cap).max(1));
    exec.start(&[])?;
    let mut kept = 0;
    // SAFETY: a virtual slot of the relation's descriptor, dropped before returning; each
    // row is copied into a heap tuple in the current (ANALYZE's) memory context.
    unsafe {
        let slot = pg_sys::MakeSingleTupleTableSlot((*relation).rd_att, &pg_sys::TTSOpsVirtual);
        while kept < targrows {
            pg_sys::ExecClearTuple(slot);
            if !exec.reader().advance(None, slot) {
                break;
            }
            *rows.add(kept) = pg_sys::ExecCopySlotHeapTuple(slot);
            kept += 1;
        }
        pg_sys::ExecDropSingleTupleTableSlot(slot);
    }
    *totalrows = exec.reader().total_rows().map_or(kept as f64, |n| n as f64);
    Ok(kept)
}

#[pg_guard]
unsafe extern "C-unwind" fn acquire_sample_rows(
    relation: pg_sys::Relation,
    elevel: c_int,
    rows: *mut pg_sys::HeapTuple,
    targrows: c_int,
    totalrows: *mut f64,
    totaldeadrows: *mut f64,
) -> c_int {
    let mut total = 0.0;
    // SAFETY: ANALYZE's relation and arrays (`rows` holds targrows entries).
    let kept =
        unsafe { sample_into(relation, rows, targrows.max(0) as usize, &mut total) }.or_raise();
    // SAFETY: ANALYZE's out-parameters.
    unsafe {
        *totalrows = total;
        *totaldeadrows = 0.0;
    }
    if elevel >= pg_sys::INFO as c_int {
        // ANALYZE VERBOSE (elevel INFO; DEBUG2 otherwise) says what was read
        pgrx::info!(
            "\"{}\": sampled {kept} rows of about {total} with one Dune request",
            relation_name(relation)
        );
    }
    kept as c_int
}

fn relation_name(relation: pg_sys::Relation) -> String {
    // SAFETY: an open relation's name.
    unsafe {
        std::ffi::CStr::from_ptr((*(*relation).rd_rel).relname.data.as_ptr())
            .to_string_lossy()
            .into_owned()
    }
}
