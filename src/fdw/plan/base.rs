//! Planning a scan of one foreign table (GetForeignRelSize, GetForeignPaths, GetForeignPlan
//! of a base relation): its quals deparsed once, what the scan reads decided (a result
//! request, a DuneSQL statement, latest results), its size, paths (sorted, parameterized) and
//! plan. Every qual of such a scan stays in the plan to be rechecked locally, so pushdown only
//! saves rows and credits, it never changes a result.

use crate::backend::error::{FdwError, FdwResult, OrRaise};
use crate::backend::options::TableSource;
use crate::fdw::deparse::{Ctx, clause, family, param_equality, reads_param_column};
use crate::fdw::dune_table::{required_filters, typed};
use crate::fdw::plan::cost::{DEFAULT_ROWS, UNUSABLE_COST, cache_facts, role_of, scan_cost};
use crate::fdw::plan::latest_results::latest_results_qual;
use crate::fdw::plan::node::{PathKind, foreign_path, make_scan};
use crate::fdw::plan::order_limit::{limit_of, rel_sort_keys, scan_limit, sort_keys};
use crate::fdw::plan::parameterized::{JoinQuals, join_filters, join_outers};
use crate::fdw::plan::rel_info::{
    DraftRelation, RelInfo, RelKind, ScanDraft, StatementDraft, keep, rel_info,
};
use crate::fdw::scan_plan::{LatestScan, ResultScan, ScanPlan};
use crate::fdw::table::Table;
use dune_api::{
    DuneRelation, Expr, OrderKey, PValue, ResultRequest, ResultSource, Select, within_bound,
};
use pg_format::Family;
use pgrx::{PgList, pg_sys};

/// Every attribute number the scan must return (target list and quals), or None for all.
pub(crate) unsafe fn needed_columns(
    baserel: *mut pg_sys::RelOptInfo,
    table: &Table,
) -> Option<Vec<String>> {
    // SAFETY: the planner's rel; pull_varattnos walks expression trees.
    unsafe {
        let relid = (*baserel).relid;
        let mut attrs: *mut pg_sys::Bitmapset = std::ptr::null_mut();
        pg_sys::pull_varattnos(
            (*(*baserel).reltarget).exprs as *mut pg_sys::Node,
            relid,
            &mut attrs,
        );
        for ri in PgList::<pg_sys::RestrictInfo>::from_pg((*baserel).baserestrictinfo).iter_ptr() {
            pg_sys::pull_varattnos((*ri).clause as *mut pg_sys::Node, relid, &mut attrs);
        }
        let mut cols = Vec::new();
        let mut x = -1;
        loop {
            x = pg_sys::bms_next_member(attrs, x);
            if x < 0 {
                break;
            }
            let attno = x + pg_sys::FirstLowInvalidHeapAttributeNumber;
            if attno == 0 {
                return None; // a whole-row reference
            }
            if let Some(c) = table.column(attno as i16)
                && c.param.is_none()
                && !cols.contains(&c.remote)
            {
                cols.push(c.remote.clone());
            }
        }
        if cols.is_empty() {
            let first = table.live_columns().find(|c| c.param.is_none());
            cols.extend(first.map(|c| c.remote.clone()));
        }
        Some(cols)
    }
}

/// The quals of a base relation, deparsed.
struct Quals {
    conds: Vec<Expr<PValue>>,
    all_pushed: bool,
    param_values: Vec<crate::fdw::deparse::QueryParam>,
    query_ids: Vec<PValue>,
    latest_params: Option<PValue>,
}

/// Deparses the quals of `baserel` (a scan of `table`), as `ctx`.
unsafe fn deparse_quals(baserel: *mut pg_sys::RelOptInfo, ctx: &mut Ctx) -> FdwResult<Quals> {
    let table = ctx.table;
    let mut q = Quals {
        conds: Vec::new(),
        all_pushed: true,
        param_values: Vec::new(),
        query_ids: Vec::new(),
        latest_params: None,
    };
    // SAFETY: the planner's rel; its restrictions are RestrictInfos over expression nodes.
    unsafe {
        for ri in PgList::<pg_sys::RestrictInfo>::from_pg((*baserel).baserestrictinfo).iter_ptr() {
            let node = (*ri).clause as *mut pg_sys::Node;
            if table.is_latest_results() {
                let ids = &mut q.query_ids;
                q.all_pushed &= latest_results_qual(ctx, node, ids, &mut q.latest_params);
                continue;
            }
            if let Some(p) = param_equality(ctx, node) {
                q.param_values.push(p);
                continue;
            }
            if reads_param_column(ctx, node) {
                return Err(param_qual_error(table));
            }
            match clause(ctx, node) {
                Some(p) => {
                    q.all_pushed &= p.exact;
                    q.conds.push(p.filter);
                }
                None => q.all_pushed = false,
            }
        }
    }
    // a result request's filters go into its URL: its size bound, parameters counted as `$n`
    // (a statement goes in a request's body)
    if !ctx.statement {
        let shown = |e: &Expr<PValue>| e.try_map(&mut |v| Some(v.shown()))?.to_filter();
        let (conds, dropped) = within_bound(std::mem::take(&mut q.conds), shown);
        q.conds = conds;
        q.all_pushed &= !dropped;
    }
    Ok(q)
}

/// Deparses the quals of `baserel` (a scan of `table`) and decides what the scan reads.
unsafe fn plan_base(
    baserel: *mut pg_sys::RelOptInfo,
    table: Table,
    relation: Option<DuneRelation>,
) -> FdwResult<RelInfo> {
    // SAFETY: the planner's rel.
    let varno = unsafe { (*baserel).relid };
    let mut ctx = Ctx::new(varno, &table);
    ctx.statement = matches!(table.options.source, TableSource::DuneTable(_));
    // SAFETY: as above.
    let q = unsafe { deparse_quals(baserel, &mut ctx)? };
    let params = ctx.params;
    check_param_source(&table)?;
    // SAFETY: as above.
    unsafe { check_param_joins(baserel, &table)? };
    // SAFETY: as above.
    let columns = unsafe { needed_columns(baserel, &table) };
    let scan = match &table.options.source {
        TableSource::LatestResults if q.query_ids.is_empty() => {
            return Err(FdwError::MissingQueryId(table.name.clone()));
        }
        TableSource::LatestResults => ScanDraft::LatestResults {
            query_ids: q.query_ids,
            params: q.latest_params,
        },
        TableSource::Result(source) => ScanDraft::Result {
            source: source.clone(),
            request: ResultRequest {
                filters: q.conds,
                ..ResultRequest::columns(columns)
            },
            param_values: q.param_values,
        },
        TableSource::DuneTable(_) => {
            let rel = relation.expect("a table with dune_table names a relation");
            // SAFETY: as above.
            let draft = unsafe { statement_draft(baserel, &table, rel, (columns, q.conds))? };
            ScanDraft::Statement(draft)
        }
    };
    Ok(RelInfo {
        kind: RelKind::Base {
            varno,
            table: Box::new(table),
        },
        scan,
        params,
        all_pushed: q.all_pushed,
        cached: false,
    })
}

/// The statement of a scan of a Dune table: `SELECT columns FROM <relation> WHERE conds`, the
/// relation resolved in Dune's catalog (once per backend).
unsafe fn statement_draft(
    baserel: *mut pg_sys::RelOptInfo,
    table: &Table,
    rel: DuneRelation,
    (columns, conds): (Option<Vec<String>>, Vec<Expr<PValue>>),
) -> FdwResult<StatementDraft> {
    // SAFETY: the planner's rel.
    let varno = unsafe { (*baserel).relid };
    let TableSource::DuneTable(options) = &table.options.source else {
        unreachable!("a table with dune_table")
    };
    let columns = columns.unwrap_or_else(|| {
        table
            .live_columns()
            .filter(|c| c.param.is_none())
            .map(|c| c.remote.clone())
            .collect()
    });
    let items = columns.iter().map(|c| Expr::column(0, c)).collect();
    let mut select = Select::from(&rel.sql_name(), items);
    select.filters = conds;
    let upload = matches!(rel, DuneRelation::Upload(_));
    Ok(StatementDraft {
        select,
        relations: vec![DraftRelation {
            varno,
            table: table.clone(),
            require_filter: required_filters(table, upload)?,
            upload,
        }],
        exact: false,
        outputs: None,
        performance: options.performance.clone(),
        max_age_ms: options.max_age.map(|d| d.as_millis() as u64),
    })
}

/// The error for a condition on a parameter column that is not `column = value`.
fn param_qual_error(table: &Table) -> FdwError {
    FdwError::InvalidArgument(format!(
        "a parameter column of foreign table \"{}\" can only be compared with = to one value",
        table.name
    ))
}

/// Parameter columns need a table that runs or reads a saved query (`query_id`), and a type
/// whose values can be sent as a parameter's text.
fn check_param_source(table: &Table) -> FdwResult<()> {
    let saved = matches!(
        table.options.source,
        TableSource::Result(ResultSource::Latest { .. } | ResultSource::Execute { .. })
    );
    for c in table.param_columns() {
        if !saved {
            return Err(FdwError::InvalidOption {
                message: format!(
                    "column \"{}\" of foreign table \"{}\" has option param, but the table has no query_id",
                    c.name, table.name
                ),
                hint: Some("Parameters belong to saved queries: OPTIONS (query_id '...').".into()),
            });
        }
        if family(c.type_oid) == Family::Other {
            return Err(FdwError::InvalidOption {
                message: format!(
                    "parameter column \"{}\" of foreign table \"{}\" must be text, a number, boolean, date or timestamp",
                    c.name, table.name
                ),
                hint: Some(
                    "Dune's parameters are text, numbers, datetimes and lists of text.".into(),
                ),
            });
        }
    }
    Ok(())
}

/// A join clause on a parameter column must give it one value: an equality with the other
/// relations' columns, which a parameterized path can take (anything else would be answered
/// from another parameter set).
unsafe fn check_param_joins(baserel: *mut pg_sys::RelOptInfo, table: &Table) -> FdwResult<()> {
    // SAFETY: the planner's rel; its join clauses are RestrictInfos over expression nodes.
    unsafe {
        for ri in PgList::<pg_sys::RestrictInfo>::from_pg((*baserel).joininfo).iter_ptr() {
            let node = (*ri).clause as *mut pg_sys::Node;
            let mut ctx = Ctx::new((*baserel).relid, table);
            ctx.outer = true;
            if reads_param_column(&ctx, node)
                && (param_equality(&mut ctx, node).is_none()
                    || !pg_sys::join_clause_is_movable_to(ri, baserel))
            {
                return Err(param_qual_error(table));
            }
        }
        Ok(())
    }
}

/// GetForeignRelSize of a base relation: plans it, and sizes it from what the cache learned,
/// else ANALYZE, else a default.
///
/// # Safety
/// The planner's root and rel for this foreign table.
pub(crate) unsafe fn size(
    root: *mut pg_sys::PlannerInfo,
    baserel: *mut pg_sys::RelOptInfo,
    relid: pg_sys::Oid,
) {
    let table = Table::load(relid).or_raise();
    // SAFETY: as the function requires.
    unsafe {
        let (table, relation) = typed(table, role_of(baserel)).or_raise();
        let mut info = plan_base(baserel, table, relation).or_raise();
        let (learned, held) = match info.base() {
            Some((_, t)) => cache_facts(t, role_of(baserel), &info),
            None => (None, false),
        };
        info.cached = held;
        // the count a read learned, else ANALYZE's (pg_class.reltuples; -1: never analyzed)
        // never analyzed: reltuples -1 (PostgreSQL 13: 0, with no pages)
        let analyzed = (*baserel).tuples >= 0.0
            && !(cfg!(feature = "pg13") && (*baserel).tuples == 0.0 && (*baserel).pages == 0);
        (*baserel).tuples = match learned {
            Some(n) => n as f64,
            None if analyzed => (*baserel).tuples,
            None => DEFAULT_ROWS,
        };
        // rows = tuples × the quals' selectivity (ANALYZE's statistics when there are some)
        pg_sys::set_baserel_size_estimates(root, baserel);
        if let Some(limit) = limit_of(root, info.all_pushed, false) {
            (*baserel).rows = (*baserel).rows.min((limit as f64).max(1.0));
        }
        keep(baserel, info);
    }
}

/// GetForeignPaths of a base relation: a path in Dune's order when it can sort, and for a
/// result scan parameterized paths for the join clauses Dune can evaluate.
///
/// # Safety
/// The planner's root and rel, sized by [`size`].
pub(crate) unsafe fn add_paths(root: *mut pg_sys::PlannerInfo, baserel: *mut pg_sys::RelOptInfo) {
    // SAFETY: as the function requires; paths are made in the planner's memory context.
    unsafe {
        let Some(info) = rel_info(baserel) else {
            return;
        };
        let Some((_, table)) = info.base() else {
            return;
        };
        let rows = (*baserel).rows;
        let joins = join_outers(root, baserel, table);
        let (startup, mut total) = scan_cost(info, rows, (*baserel).tuples);
        let whole = total;
        // a join gives a parameter column its values: a scan that ignores them would read
        // another parameter set, so it must not be chosen
        if joins.misses_params(std::ptr::null_mut()) {
            total += UNUSABLE_COST;
        }
        let mut pathkeys_options = vec![std::ptr::null_mut()];
        if rel_sort_keys(info, (*root).query_pathkeys).is_some() {
            pathkeys_options.push((*root).query_pathkeys);
        }
        for keys in pathkeys_options {
            add_scan_path(
                root,
                baserel,
                (rows, (startup, total)),
                keys,
                std::ptr::null_mut(),
            );
        }
        // a read per outer key costs at least its share of reading the whole result once over
        // max_reads_per_scan reads: a nested loop is chosen for fewer keys than the bound; a
        // statement's scan is never parameterized (once per outer key would be one execution
        // each)
        let max_reads = table.settings.max_reads_per_scan as f64;
        let outers = match info.scan {
            ScanDraft::Result { .. } => &joins.outers[..],
            _ => &[][..],
        };
        for &outer in outers {
            let ppi = pg_sys::get_baserel_parampathinfo(root, baserel, outer);
            let rows = (*ppi).ppi_rows;
            let (startup, mut total) = scan_cost(info, rows, (*baserel).tuples);
            total = total.max(whole / max_reads);
            if joins.misses_params(outer) {
                total += UNUSABLE_COST;
            }
            add_scan_path(
                root,
                baserel,
                (rows, (startup, total)),
                std::ptr::null_mut(),
                outer,
            );
        }
    }
}

/// Adds a path of `baserel` returning `rows` rows at `cost`, in the order of `pathkeys`,
/// parameterized by `outer` (NULL: not).
///
/// # Safety
/// The planner's root and rel, in its memory context.
unsafe fn add_scan_path(
    root: *mut pg_sys::PlannerInfo,
    baserel: *mut pg_sys::RelOptInfo,
    (rows, cost): (f64, (f64, f64)),
    pathkeys: *mut pg_sys::List,
    outer: *mut pg_sys::Bitmapset,
) {
    // SAFETY: as the function requires.
    unsafe {
        let (kind, target, private) = (
            PathKind::Scan(outer),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        );
        let path = foreign_path(root, baserel, kind, target, rows, cost, (pathkeys, private));
        pg_sys::add_path(baserel, path);
    }
}

/// GetForeignPlan of a base relation's path.
///
/// # Safety
/// The planner's arguments of GetForeignPlan for a path of a base relation.
pub(crate) unsafe fn plan(
    root: *mut pg_sys::PlannerInfo,
    baserel: *mut pg_sys::RelOptInfo,
    best_path: *mut pg_sys::ForeignPath,
    (tlist, scan_clauses): (*mut pg_sys::List, *mut pg_sys::List),
    outer_plan: *mut pg_sys::Plan,
) -> *mut pg_sys::ForeignScan {
    // SAFETY: as the function requires.
    unsafe {
        let info = rel_info(baserel).expect("planned by get_foreign_rel_size");
        let (varno, table) = info.base().expect("a base relation");
        let ctx = Ctx::new(varno, table);
        let statement = info.statement().is_some();
        let keys = sort_keys(&ctx, (*best_path).path.pathkeys, statement).unwrap_or_default();
        // a final path (order_limit::add_final_path) is the whole query: Dune skips the OFFSET
        let final_path = !(*best_path).fdw_private.is_null();
        let limits = scan_limit(root, info.all_pushed, !keys.is_empty(), final_path);
        let JoinQuals {
            filters: join_conds,
            param_values: join_params,
            exprs,
        } = join_filters(baserel, (table, &info.params), best_path, scan_clauses);
        let parameterized = !(*best_path).path.param_info.is_null();
        let plan = match &info.scan {
            ScanDraft::Result {
                source,
                request,
                param_values,
            } => {
                let mut request = request.clone();
                request.filters.extend(join_conds);
                request.sort_by = keys.iter().map(|(c, d, _)| (c.clone(), *d)).collect();
                (request.limit, request.offset) = limits;
                let mut param_values = param_values.clone();
                param_values.extend(join_params);
                result_scan(
                    table,
                    source,
                    request,
                    param_values,
                    (final_path, parameterized),
                )
            }
            ScanDraft::Statement(draft) => {
                let order = keys
                    .iter()
                    .map(|(c, descending, nulls_first)| OrderKey {
                        expr: Expr::column(0, c),
                        descending: *descending,
                        nulls_first: *nulls_first,
                    })
                    .collect();
                draft.scan(order, limits, final_path)
            }
            ScanDraft::LatestResults { query_ids, params } => ScanPlan::LatestResults(LatestScan {
                table: table.name.clone(),
                relid: table.relid.to_u32(),
                query_ids: query_ids.clone(),
                params: params.clone(),
                settings: table.settings.clone(),
            }),
        };
        let local_quals = pg_sys::extract_actual_clauses(scan_clauses, false);
        let scan_tlist = std::ptr::null_mut();
        make_scan(
            (tlist, local_quals),
            (*baserel).relid,
            &exprs,
            &plan,
            scan_tlist,
            outer_plan,
        )
    }
}

/// The plan of a result scan.
fn result_scan(
    table: &Table,
    source: &ResultSource,
    request: ResultRequest<PValue>,
    param_values: Vec<crate::fdw::deparse::QueryParam>,
    (final_limit, parameterized): (bool, bool),
) -> ScanPlan {
    ScanPlan::Result(ResultScan {
        param_values,
        final_limit,
        parameterized,
        ..ResultScan::new(table, source.clone(), request)
    })
}
