//! ExplainForeignScan: what a scan sends to Dune. A plain EXPLAIN names the source; VERBOSE
//! shows every request parameter. Nothing here calls the API.

use crate::backend::connection;
use crate::fdw::plan::node::plan_of;
use crate::fdw::scan::role_for;
use crate::fdw::scan_plan::{LatestScan, ResultScan, ScanPlan, StatementScan};
use crate::fdw::table::Table;
use dune_api::{Literal, PValue, ResultCache, ResultSource, columns_param, param_text, sort_by};
use pgrx::pg_sys;
use pgrx::prelude::*;
use std::ffi::{CStr, CString};

fn property(label: &CStr, value: &str, es: *mut pg_sys::ExplainState) {
    let v = CString::new(value.replace('\0', "")).expect("NULs removed");
    // SAFETY: ExplainPropertyText copies both strings into the explain output.
    unsafe { pg_sys::ExplainPropertyText(label.as_ptr(), v.as_ptr(), es) };
}

/// Where a result comes from; VERBOSE adds the mode, max_age, parameters and tier.
fn explain_result(source: &ResultSource, verbose: bool, es: *mut pg_sys::ExplainState) {
    let (params, performance) = match source {
        ResultSource::Latest {
            query,
            params,
            max_age,
            performance,
        } => {
            property(c"Dune Query", &query.to_string(), es);
            if verbose {
                property(c"Dune Mode", "latest", es);
                if let Some(m) = max_age {
                    property(c"Dune Max Age", &format!("{} s", m.as_secs()), es);
                }
            }
            (params, performance)
        }
        ResultSource::Execute {
            query,
            params,
            performance,
        } => {
            property(c"Dune Query", &query.to_string(), es);
            if verbose {
                property(c"Dune Mode", "execute", es);
            }
            (params, performance)
        }
        ResultSource::Sql { sql, performance } => {
            property(c"Dune SQL", sql.as_str(), es);
            (&None, performance)
        }
        ResultSource::Execution(id) => {
            property(c"Dune Execution", id.as_str(), es);
            (&None, &None)
        }
    };
    if verbose {
        if let Some(p) = params {
            property(
                c"Dune Params",
                &serde_json::Value::from(p.clone()).to_string(),
                es,
            );
        }
        if let Some(p) = performance {
            property(c"Dune Performance", p.as_str(), es);
        }
    }
}

/// The query ids and parameter set of a latest-results scan.
fn explain_latest_results(plan: &LatestScan, verbose: bool, es: *mut pg_sys::ExplainState) {
    let params = plan.params.as_ref();
    let ids: Vec<String> = plan
        .query_ids
        .iter()
        .map(PValue::shown)
        .map(|l| match l {
            Literal::Number(n) => n,
            other => format!("{other:?}"),
        })
        .collect();
    property(c"Dune Latest Results", &ids.join(", "), es);
    if let (true, Some(p)) = (verbose, params.map(PValue::shown))
        && let Literal::Text(t) | Literal::Number(t) = p
    {
        property(c"Dune Params", &t, es);
    }
}

/// The request parameters that narrow what is read (VERBOSE).
fn explain_read(plan: &ResultScan, es: *mut pg_sys::ExplainState) {
    let request = &plan.request;
    if let Some(cols) = &request.columns {
        property(c"Dune Columns", &columns_param(cols), es);
    }
    if let Some(f) = request.shown_filters() {
        property(c"Dune Filters", &f, es);
    }
    if !plan.param_values.is_empty() {
        let shown: Vec<String> = plan
            .param_values
            .iter()
            .map(|p| {
                let value = match p.value.shown() {
                    Literal::Placeholder(n) => format!("${n}"),
                    literal => format!("'{}'", param_text(&literal, false).replace('\'', "''")),
                };
                format!("{} = {value}", p.name)
            })
            .collect();
        property(c"Dune Parameter Values", &shown.join(", "), es);
    }
    if let Some(s) = sort_by(&request.sort_by) {
        property(c"Dune Sort By", &s, es);
    }
    if let Some(l) = request.limit {
        property(c"Dune Limit", &l.to_string(), es);
    }
    if request.offset > 0 {
        property(c"Dune Offset", &request.offset.to_string(), es);
    }
}

/// A statement's scan: its tables, and with VERBOSE the DuneSQL it runs (parameters as `$n`,
/// their values known when the scan starts), its tier, `require_filter` and `max_age`.
fn explain_statement(plan: &StatementScan, verbose: bool, es: *mut pg_sys::ExplainState) {
    let from = plan.select.from.join(", ");
    if plan.select.from.len() > 1 {
        property(c"Dune Tables", &from, es);
    } else {
        property(c"Dune Table", &from, es);
    }
    if !verbose {
        return;
    }
    if let Some(select) = plan.select.try_map(&mut |v| Some(v.shown())) {
        property(c"Dune SQL", &select.to_sql(), es);
    }
    if let Some(p) = &plan.performance {
        property(c"Dune Performance", p.as_str(), es);
    }
    let require = &plan.relations[0].require_filter;
    if !require.is_empty() {
        property(c"Dune Require Filter", &require.join(", "), es);
    }
    if let Some(ms) = plan.max_age_ms {
        property(c"Dune Max Age", &format!("{} s", ms / 1000), es);
    }
}

/// Whether the scan will be served from the result cache (VERBOSE): looked up in the cache
/// of the account the scan would use, without a request.
fn explain_cache(
    plan: &ResultScan,
    node: *mut pg_sys::ForeignScanState,
    es: *mut pg_sys::ExplainState,
) {
    let source = &plan.source;
    // SAFETY: the scan's relation, open while EXPLAIN runs.
    let relid = unsafe { (*(*node).ss.ss_currentRelation).rd_id };
    let Ok(table) = Table::load(relid) else {
        return;
    };
    let Ok(config) = connection::config_for(&table.server, role_for(node), false) else {
        return;
    };
    // with the cache off (server option cache), nothing to say
    let Some(settings) = &config.cache else {
        return;
    };
    let cache = ResultCache::for_account(settings, &config);
    let request = &plan.request;
    let (read, _) = request.planned_read();
    let (limit, offset) = (request.limit, request.offset);
    let text = match source {
        ResultSource::Execution(id) => match cache.find(id.as_str(), &read, offset, limit) {
            Some(hit) => format!(
                "held ({} rows of execution {}): no request",
                hit.meta.rows, id
            ),
            None => "not held: the rows read are kept".to_string(),
        },
        ResultSource::Latest { query, params, .. } => {
            match cache
                .latest_seen(*query, params.as_ref())
                .and_then(|seen| cache.find(&seen.execution_id, &read, offset, limit))
            {
                Some(hit) => format!(
                    "held for the latest execution seen ({}, {} rows): one request of one datapoint checks that it is still the latest",
                    hit.meta.execution_id, hit.meta.rows
                ),
                None => "not held: the rows read are kept".to_string(),
            }
        }
        _ => "each scan reads a new execution (its rescans are served from the cache)".to_string(),
    };
    property(c"Dune Cache", &text, es);
}

#[pg_guard]
pub extern "C-unwind" fn explain_foreign_scan(
    node: *mut pg_sys::ForeignScanState,
    es: *mut pg_sys::ExplainState,
) {
    // SAFETY: the node's plan was made by get_foreign_plan; es is the executor's.
    let (plan, verbose) = unsafe {
        (
            plan_of((*node).ss.ps.plan as *mut pg_sys::ForeignScan),
            (*es).verbose,
        )
    };
    match &plan {
        ScanPlan::Statement(s) => explain_statement(s, verbose, es),
        ScanPlan::LatestResults(l) => explain_latest_results(l, verbose, es),
        ScanPlan::Result(r) => {
            explain_result(&r.source, verbose, es);
            if verbose {
                explain_read(r, es);
                explain_cache(r, node, es);
            }
        }
    }
}
