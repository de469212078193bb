//! ExplainForeignScan: what a scan sends to Dune. A plain EXPLAIN names the source; VERBOSE
//! shows every request parameter. Nothing here calls the API.

use crate::backend::connection;
use crate::fdw::plan::plan_of;
use crate::fdw::scan::role_for;
use crate::fdw::scan_plan::{PValue, PlanSource, ScanPlan, Statement, param_text};
use crate::fdw::table::Table;
use dune_api::{
    Filter, Literal, Read, ResultCache, ResultSource, columns_param, conjunction, sort_by,
};
use pgrx::pg_sys;
use pgrx::prelude::*;
use std::ffi::{CStr, CString};

fn property(label: &CStr, value: &str, es: *mut pg_sys::ExplainState) {
    let v = CString::new(value.replace('\0', "")).expect("NULs removed");
    // SAFETY: ExplainPropertyText copies both strings into the explain output.
    unsafe { pg_sys::ExplainPropertyText(label.as_ptr(), v.as_ptr(), es) };
}

/// A value as EXPLAIN shows it: literals as sent, parameters as `$n`.
fn shown(v: &PValue) -> Option<Literal> {
    Some(v.shown())
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
fn explain_latest_results(
    query_ids: &[PValue],
    params: Option<&PValue>,
    verbose: bool,
    es: *mut pg_sys::ExplainState,
) {
    let ids: Vec<String> = query_ids
        .iter()
        .filter_map(shown)
        .map(|l| match l {
            Literal::Number(n) => n,
            other => format!("{other:?}"),
        })
        .collect();
    property(c"Dune Latest Results", &ids.join(", "), es);
    if let (true, Some(p)) = (verbose, params.and_then(shown))
        && let Literal::Text(t) | Literal::Number(t) = p
    {
        property(c"Dune Params", &t, es);
    }
}

/// The request parameters that narrow what is read (VERBOSE).
fn explain_read(plan: &ScanPlan, es: *mut pg_sys::ExplainState) {
    if let Some(cols) = &plan.columns {
        property(c"Dune Columns", &columns_param(cols), es);
    }
    let filters: Vec<Filter> = plan
        .filters
        .iter()
        .filter_map(|f| f.try_map(&mut shown))
        .collect();
    if let Some(f) = conjunction(&filters) {
        property(c"Dune Filters", &f, es);
    }
    if !plan.param_values.is_empty() {
        let shown: Vec<String> = plan
            .param_values
            .iter()
            .map(|(name, v)| {
                let value = match v.shown() {
                    Literal::Placeholder(n) => format!("${n}"),
                    literal => format!("'{}'", param_text(&literal, false).replace('\'', "''")),
                };
                format!("{name} = {value}")
            })
            .collect();
        property(c"Dune Parameter Values", &shown.join(", "), es);
    }
    if let Some(s) = sort_by(&plan.sort_by) {
        property(c"Dune Sort By", &s, es);
    }
    if let Some(l) = plan.limit {
        property(c"Dune Limit", &l.to_string(), es);
    }
    if plan.offset > 0 {
        property(c"Dune Offset", &plan.offset.to_string(), es);
    }
}

/// A scan of a Dune table: the table, and with VERBOSE the DuneSQL it runs (parameters as
/// `$n`, their values known when the scan starts), its tier and `require_filter`.
fn explain_statement(
    plan: &ScanPlan,
    stmt: &Statement,
    verbose: bool,
    es: *mut pg_sys::ExplainState,
) {
    match &stmt.join {
        Some(j) => property(c"Dune Tables", &format!("{}, {}", stmt.from, j.right), es),
        None => property(c"Dune Table", &stmt.from, es),
    }
    if !verbose {
        return;
    }
    let filters: Vec<Filter> = plan
        .filters
        .iter()
        .filter_map(|f| f.try_map(&mut shown))
        .collect();
    let select = plan.select(stmt, filters, true);
    property(c"Dune SQL", &select.to_sql(), es);
    if let PlanSource::Result(ResultSource::Sql {
        performance: Some(p),
        ..
    }) = &plan.source
    {
        property(c"Dune Performance", p.as_str(), es);
    }
    if !stmt.require_filter.is_empty() {
        property(c"Dune Require Filter", &stmt.require_filter.join(", "), es);
    }
    if let Some(ms) = stmt.max_age_ms {
        property(c"Dune Max Age", &format!("{} s", ms / 1000), es);
    }
}

/// Whether the scan will be served from the result cache (VERBOSE): looked up in the cache
/// of the account the scan would use, without a request.
fn explain_cache(
    plan: &ScanPlan,
    source: &ResultSource,
    node: *mut pg_sys::ForeignScanState,
    es: *mut pg_sys::ExplainState,
) {
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
    let known: Vec<Filter> = plan
        .filters
        .iter()
        .filter_map(|f| {
            f.try_map(&mut |v| match v {
                PValue::Lit(l) => Some(l.clone()),
                PValue::Param { .. } => None,
            })
        })
        .collect();
    let read = Read {
        columns: plan.columns.clone(),
        filters: conjunction(&known).filter(|_| known.len() == plan.filters.len()),
        sort_by: sort_by(&plan.sort_by),
        sample_count: None,
    };
    let (limit, offset) = (plan.limit, plan.offset);
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
    if let Some(stmt) = &plan.statement {
        explain_statement(&plan, stmt, verbose, es);
        return;
    }
    match &plan.source {
        PlanSource::Result(source) => explain_result(source, verbose, es),
        PlanSource::LatestResults { query_ids, params } => {
            explain_latest_results(query_ids, params.as_ref(), verbose, es)
        }
    }
    if verbose {
        explain_read(&plan, es);
        if let PlanSource::Result(source) = &plan.source {
            explain_cache(&plan, source, node, es);
        }
    }
}
