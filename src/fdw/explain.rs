//! ExplainForeignScan: what a scan sends to Dune. A plain EXPLAIN names the source; VERBOSE
//! shows every request parameter. Nothing here calls the API.

use crate::fdw::plan::plan_of;
use crate::fdw::scan_plan::{Mode, PValue, PlanSource};
use dune_client::filters::{Filter, Literal, conjunction, sort_by};
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
    Some(match v {
        PValue::Lit(l) => l.clone(),
        PValue::Param { index, .. } => Literal::Placeholder(index + 1),
    })
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
    match &plan.source {
        PlanSource::Query {
            query_id,
            mode,
            max_age,
        } => {
            property(c"Dune Query", &query_id.to_string(), es);
            if verbose {
                property(
                    c"Dune Mode",
                    if *mode == Mode::Latest {
                        "latest"
                    } else {
                        "execute"
                    },
                    es,
                );
                if let Some(m) = max_age {
                    property(c"Dune Max Age", m, es);
                }
            }
        }
        PlanSource::Sql(sql) => property(c"Dune SQL", sql, es),
        PlanSource::Execution(id) => property(c"Dune Execution", id, es),
        PlanSource::LatestResults { query_ids, params } => {
            let ids: Vec<String> = query_ids
                .iter()
                .filter_map(shown)
                .map(|l| match l {
                    Literal::Number(n) => n,
                    other => format!("{other:?}"),
                })
                .collect();
            property(c"Dune Latest Results", &ids.join(", "), es);
            if let (true, Some(p)) = (verbose, params.as_ref().and_then(shown))
                && let Literal::Text(t) | Literal::Number(t) = p
            {
                property(c"Dune Params", &t, es);
            }
        }
    }
    if !verbose {
        return;
    }
    if let Some(p) = &plan.params {
        property(c"Dune Params", &p.to_string(), es);
    }
    if let Some(p) = &plan.performance {
        property(c"Dune Performance", p, es);
    }
    if let Some(cols) = &plan.fetch {
        property(
            c"Dune Columns",
            &dune_client::client::columns_param(cols),
            es,
        );
    }
    let filters: Vec<Filter> = plan
        .filters
        .iter()
        .filter_map(|f| f.try_map(&mut shown))
        .collect();
    if let Some(f) = conjunction(&filters) {
        property(c"Dune Filters", &f, es);
    }
    if let Some(s) = sort_by(&plan.sort_by) {
        property(c"Dune Sort By", &s, es);
    }
    if let Some(l) = plan.limit {
        property(c"Dune Limit", &l.to_string(), es);
    }
}
