//! What a path costs the planner, in its units (a sequential page read is 1), and what the
//! result cache tells it for free: a result's row count and whether a read is served whole.

use crate::backend::connection;
use crate::fdw::plan::rel_info::{RelInfo, ScanDraft};
use crate::fdw::table::Table;
use dune_api::{Read, ResultCache, ResultSource};
use pgrx::pg_sys;

/// What one results request costs the plan: a round trip to Dune, about the time PostgreSQL
/// reads 100 pages.
const REQUEST_COST: f64 = 100.0;
/// What a row costs to receive and decode: about what a local sequential scan spends on a
/// row (its page share and cpu_tuple_cost), so that the planner weighs a Dune result as it
/// would weigh the same rows held locally.
pub(crate) const ROW_COST: f64 = 0.02;
/// The rows assumed for a result of unknown size (never read, never analyzed).
pub(crate) const DEFAULT_ROWS: f64 = 1000.0;
/// Rows one results request returns, for costing (`fetch_size`'s default).
const ROWS_PER_REQUEST: f64 = 32_000.0;
/// The cost that keeps the planner from a path it must not take (PostgreSQL's disable_cost).
pub(crate) const UNUSABLE_COST: f64 = 1.0e10;
/// The first request's cost, paid before the first row.
pub(crate) const STARTUP_COST: f64 = REQUEST_COST;

/// The cost of reading `rows` rows: one request per page, and each row.
fn read_cost(rows: f64) -> f64 {
    REQUEST_COST * (rows / ROWS_PER_REQUEST).ceil().max(1.0) + rows * ROW_COST
}

/// (startup, total) of a scan of `info` returning `rows` rows, of `tuples` in all: from the
/// result cache, every row held is read (the filters are applied by PostgreSQL) and no
/// request is sent; from Dune, what [`read_cost`] says.
pub(crate) fn scan_cost(info: &RelInfo, rows: f64, tuples: f64) -> (f64, f64) {
    if info.cached {
        (0.0, tuples * ROW_COST)
    } else {
        (STARTUP_COST, read_cost(rows))
    }
}

/// (startup, total) of a join run on Dune returning `rows` rows: one request and its rows.
pub(crate) fn pushed_cost(rows: f64) -> (f64, f64) {
    (STARTUP_COST, STARTUP_COST + rows * ROW_COST)
}

/// (startup, total) of an upper path run on Dune (a grouping, the whole query with its LIMIT):
/// one request and its rows, a little cheaper than the scan it replaces, so that the planner
/// prefers it when both return the same rows.
pub(crate) fn upper_cost(rows: f64) -> (f64, f64) {
    let startup = STARTUP_COST - 1.0;
    (startup, startup + rows * ROW_COST)
}

/// The role a base relation's scan reads as: the one it checks permissions as (a view's
/// owner), else the current user.
///
/// # Safety
/// `rel` must be a base relation of the planner.
pub(crate) unsafe fn role_of(rel: *mut pg_sys::RelOptInfo) -> pg_sys::Oid {
    // SAFETY: as the function requires; userid 0 means the current user.
    unsafe {
        match (*rel).userid {
            r if r == pg_sys::InvalidOid => pg_sys::GetUserId(),
            r => r,
        }
    }
}

/// What the result cache tells the planner about a result scan, without a request: the row
/// count a read of it learned, and whether the whole result (every column the scan needs, no
/// filter) is held, so that a read costs no request.
pub(crate) fn cache_facts(table: &Table, role: pg_sys::Oid, info: &RelInfo) -> (Option<u64>, bool) {
    let ScanDraft::Result {
        source, request, ..
    } = &info.scan
    else {
        return (None, false);
    };
    let Ok(config) = connection::config_for(&table.server, role, false) else {
        return (None, false);
    };
    let Some(settings) = config.cache.as_ref() else {
        return (None, false);
    };
    let cache = ResultCache::for_account(settings, &config);
    let execution = match source {
        ResultSource::Execution(id) => Some(id.to_string()),
        ResultSource::Latest { query, params, .. } => cache
            .latest_seen(*query, params.as_ref())
            .map(|seen| seen.execution_id),
        _ => None,
    };
    let whole = Read {
        columns: request.columns.clone(),
        ..Read::default()
    };
    let held = execution.is_some_and(|id| cache.find(&id, &whole, 0, None).is_some());
    (cache.known_rows(source), held)
}
