//! Planning a scan: GetForeignRelSize, GetForeignPaths, GetForeignPlan. What can be pushed to
//! Dune is decided here: columns, filters, sort and limit; every qual stays in the plan to be
//! re-checked locally, so pushdown only saves rows and credits, it never changes a result.

use crate::backend::error::{FdwError, FdwResult, OrRaise};
use crate::backend::options::TableSource;
use crate::fdw::deparse::{Ctx, clause, strip};
use crate::fdw::scan_plan::{PValue, PlanSource, ScanPlan};
use crate::fdw::table::Table;
use dune_api::{Filter, Literal, within_bound};
use pg_format::{Family, Sort};
use pgrx::prelude::*;
use pgrx::{PgList, PgMemoryContexts, pg_sys};
use std::ffi::{CStr, CString, c_void};

const STARTUP_COST: f64 = 100.0;
const ROW_COST: f64 = 0.01;
const DEFAULT_ROWS: f64 = 1000.0;

/// What GetForeignRelSize learns of a scan, kept on the relation (`baserel->fdw_private`) for
/// GetForeignPaths and GetForeignPlan, as postgres_fdw keeps its `PgFdwRelationInfo`: the
/// table is loaded and the quals deparsed once per relation.
struct RelInfo {
    table: Table,
    source: PlanSource,
    filters: Vec<Filter<PValue>>,
    /// Parameter expressions found in the quals, to become the plan's fdw_exprs.
    params: Vec<*mut pg_sys::Node>,
    /// Every qual was pushed exactly (a LIMIT may then be pushed too).
    all_pushed: bool,
    /// The Dune columns the scan needs; None for all.
    columns: Option<Vec<String>>,
}

/// The RelInfo that get_foreign_rel_size left on `baserel`.
///
/// # Safety
/// `baserel` must be a dune_fdw relation whose size was estimated by get_foreign_rel_size.
unsafe fn rel_info<'a>(baserel: *mut pg_sys::RelOptInfo) -> &'a RelInfo {
    // SAFETY: get_foreign_rel_size stored a RelInfo leaked into the planner's memory context,
    // which outlives the planner callbacks.
    unsafe { &*((*baserel).fdw_private as *const RelInfo) }
}

/// The text of a non-NULL constant, by its type's output function.
unsafe fn const_text(c: *mut pg_sys::Const) -> String {
    // SAFETY: a non-NULL Const; the output function returns a palloc'd C string.
    unsafe {
        let mut out_fn = pg_sys::InvalidOid;
        let mut varlena = false;
        pg_sys::getTypeOutputInfo((*c).consttype, &mut out_fn, &mut varlena);
        CStr::from_ptr(pg_sys::OidOutputFunctionCall(out_fn, (*c).constvalue))
            .to_string_lossy()
            .into_owned()
    }
}

/// `params = <constant or parameter>` on the latest-results table: the parameter set asked for.
unsafe fn latest_params_value(ctx: &mut Ctx, other: *mut pg_sys::Node) -> Option<PValue> {
    // SAFETY: casts follow node tag checks.
    unsafe {
        let other = strip(other);
        match (*other).type_ {
            pg_sys::NodeTag::T_Const if !(*(other as *mut pg_sys::Const)).constisnull => Some(
                PValue::Lit(Literal::Text(const_text(other as *mut pg_sys::Const))),
            ),
            pg_sys::NodeTag::T_Param => {
                let p = other as *mut pg_sys::Param;
                ctx.params.push(other);
                Some(PValue::Param {
                    index: ctx.params.len() - 1,
                    type_oid: u32::from((*p).paramtype),
                })
            }
            _ => None,
        }
    }
}

/// An equality on `query_id` or `params` of the latest-results table.
unsafe fn latest_equality(
    ctx: &mut Ctx,
    e: *mut pg_sys::OpExpr,
    query_ids: &mut Vec<PValue>,
    params: &mut Option<PValue>,
) -> bool {
    // SAFETY: an OpExpr whose args are expression nodes.
    unsafe {
        let args: Vec<*mut pg_sys::Node> = PgList::<pg_sys::Node>::from_pg((*e).args)
            .iter_ptr()
            .collect();
        let name = pg_sys::get_opname((*e).opno);
        if args.len() != 2 || name.is_null() || CStr::from_ptr(name).to_bytes() != b"=" {
            return false;
        }
        let Some(col) = ctx.column(args[0]).cloned() else {
            return false;
        };
        let found = match col.name.as_str() {
            "query_id" if query_ids.is_empty() => ctx.value(args[1], Family::Number).map(|v| {
                query_ids.push(v);
            }),
            "params" if params.is_none() => {
                latest_params_value(ctx, args[1]).map(|v| *params = Some(v))
            }
            _ => None,
        };
        found.is_some()
    }
}

/// The latest-results table's qual on `query_id` (= or IN) or `params` (=), if `node` is one.
unsafe fn latest_results_qual(
    ctx: &mut Ctx,
    node: *mut pg_sys::Node,
    source: &mut PlanSource,
) -> bool {
    let PlanSource::LatestResults { query_ids, params } = source else {
        return false;
    };
    // SAFETY: casts follow node tag checks.
    unsafe {
        let node = strip(node);
        match (*node).type_ {
            pg_sys::NodeTag::T_OpExpr => {
                latest_equality(ctx, node as *mut pg_sys::OpExpr, query_ids, params)
            }
            pg_sys::NodeTag::T_ScalarArrayOpExpr if query_ids.is_empty() => {
                let mut scratch = Ctx {
                    varno: ctx.varno,
                    table: ctx.table,
                    params: Vec::new(),
                };
                match clause(&mut scratch, node).map(|p| p.filter) {
                    Some(Filter::In { column, values })
                        if ctx
                            .table
                            .named("query_id")
                            .is_some_and(|c| c.remote == column) =>
                    {
                        *query_ids = values;
                        true
                    }
                    _ => false,
                }
            }
            _ => false,
        }
    }
}

/// (Dune column, descending) for each of `pathkeys`, if Dune can produce that order.
unsafe fn sort_keys(ctx: &Ctx, pathkeys: *mut pg_sys::List) -> Option<Vec<(String, bool)>> {
    // SAFETY: a List of PathKey whose classes hold EquivalenceMembers.
    unsafe {
        let keys = PgList::<pg_sys::PathKey>::from_pg(pathkeys);
        if keys.is_empty() || ctx.table.is_latest_results() {
            return None;
        }
        let mut out = Vec::new();
        let last = keys.len() - 1;
        for (i, pk) in keys.iter_ptr().enumerate() {
            let ec = (*pk).pk_eclass;
            if (*ec).ec_has_volatile || (*pk).pk_nulls_first {
                return None; // Dune puts NULLs last in both directions
            }
            let col = PgList::<pg_sys::EquivalenceMember>::from_pg((*ec).ec_members)
                .iter_ptr()
                .find_map(|em| ctx.column((*em).em_expr as *mut pg_sys::Node))?;
            match col.rule().sort {
                Sort::Exact => {}
                // Dune would break this column's local ties by its own values
                Sort::LastKey if i == last => {}
                Sort::LastKey | Sort::Never => return None,
            }
            out.push((
                col.remote.clone(),
                (*pk).pk_strategy == pg_sys::BTGreaterStrategyNumber as i32,
            ));
        }
        Some(out)
    }
}

unsafe fn const_count(node: *mut pg_sys::Node) -> Option<u64> {
    // SAFETY: checked to be a Const before the cast.
    unsafe {
        if node.is_null() {
            return Some(0);
        }
        let node = strip(node);
        if (*node).type_ != pg_sys::NodeTag::T_Const {
            return None;
        }
        let c = node as *mut pg_sys::Const;
        if (*c).constisnull || (*c).consttype != pg_sys::INT8OID {
            return None;
        }
        u64::try_from((*c).constvalue.value() as i64).ok()
    }
}

/// LIMIT and OFFSET when it is safe to apply them on Dune: this table alone, every qual pushed
/// exactly, no grouping, aggregate, DISTINCT, window function or set operation, any ORDER BY
/// pushed too. (count, offset).
unsafe fn limit_parts(
    root: *mut pg_sys::PlannerInfo,
    all_pushed: bool,
    sorted: bool,
) -> Option<(u64, u64)> {
    // SAFETY: the planner's root and its Query.
    unsafe {
        let q = (*root).parse;
        if !all_pushed
            || (*q).limitCount.is_null()
            || pg_sys::bms_membership((*root).all_baserels) != pg_sys::BMS_Membership::BMS_SINGLETON
            || (*q).hasAggs
            || (*q).hasWindowFuncs
            || (*q).hasTargetSRFs
            || !(*q).groupClause.is_null()
            || !(*q).groupingSets.is_null()
            || !(*q).havingQual.is_null()
            || !(*q).distinctClause.is_null()
            || !(*q).setOperations.is_null()
            || !(*q).rowMarks.is_null()
            || (*q).limitOption == pg_sys::LimitOption::LIMIT_OPTION_WITH_TIES
            || (!(*q).sortClause.is_null() && !sorted)
        {
            return None;
        }
        Some((
            const_count((*q).limitCount)?,
            const_count((*q).limitOffset)?,
        ))
    }
}

/// The rows a scan under PostgreSQL's Limit node reads: LIMIT plus OFFSET (PostgreSQL skips
/// the OFFSET rows itself).
unsafe fn limit_of(root: *mut pg_sys::PlannerInfo, all_pushed: bool, sorted: bool) -> Option<u64> {
    // SAFETY: as limit_parts.
    unsafe { limit_parts(root, all_pushed, sorted).map(|(count, offset)| count + offset) }
}

/// Every attribute number the scan must return (target list and quals), or None for all.
unsafe fn needed_columns(baserel: *mut pg_sys::RelOptInfo, table: &Table) -> Option<Vec<String>> {
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
                && !cols.contains(&c.remote)
            {
                cols.push(c.remote.clone());
            }
        }
        if cols.is_empty() {
            cols.extend(table.live_columns().next().map(|c| c.remote.clone()));
        }
        Some(cols)
    }
}

/// Deparses the quals of `baserel` (a scan of `table`) and decides what the scan reads.
unsafe fn plan_rel(baserel: *mut pg_sys::RelOptInfo, table: Table) -> FdwResult<RelInfo> {
    let mut source = match &table.options.source {
        TableSource::Result(r) => PlanSource::Result(r.clone()),
        TableSource::LatestResults => PlanSource::LatestResults {
            query_ids: Vec::new(),
            params: None,
        },
    };
    // SAFETY: the planner's rel; its restrictions are RestrictInfos over expression nodes.
    unsafe {
        let mut ctx = Ctx {
            varno: (*baserel).relid,
            table: &table,
            params: Vec::new(),
        };
        let (mut filters, mut all_pushed) = (Vec::new(), true);
        for ri in PgList::<pg_sys::RestrictInfo>::from_pg((*baserel).baserestrictinfo).iter_ptr() {
            let node = (*ri).clause as *mut pg_sys::Node;
            if table.is_latest_results() {
                all_pushed &= latest_results_qual(&mut ctx, node, &mut source);
                continue;
            }
            match clause(&mut ctx, node) {
                Some(p) => {
                    all_pushed &= p.exact;
                    filters.push(p.filter);
                }
                None => all_pushed = false,
            }
        }
        if let PlanSource::LatestResults { query_ids, .. } = &source
            && query_ids.is_empty()
        {
            return Err(FdwError::MissingQueryId(table.name.clone()));
        }
        // the request-size bound, parameters counted as `$n`
        let (filters, dropped) = within_bound(filters, |f| f.try_map(&mut |v| Some(v.shown())));
        all_pushed &= !dropped;
        let columns = if table.is_latest_results() {
            None
        } else {
            needed_columns(baserel, &table)
        };
        let params = ctx.params;
        Ok(RelInfo {
            table,
            source,
            filters,
            params,
            all_pushed,
            columns,
        })
    }
}

#[pg_guard]
pub extern "C-unwind" fn get_foreign_rel_size(
    root: *mut pg_sys::PlannerInfo,
    baserel: *mut pg_sys::RelOptInfo,
    relid: pg_sys::Oid,
) {
    let table = Table::load(relid).or_raise();
    // SAFETY: the planner's root and rel for this foreign table; the RelInfo is leaked into
    // the planner's memory context (current here), which frees it with the plan's memory.
    unsafe {
        let info = plan_rel(baserel, table).or_raise();
        let limit = limit_of(root, info.all_pushed, false);
        (*baserel).rows = limit.map_or(DEFAULT_ROWS, |l| (l as f64).clamp(1.0, DEFAULT_ROWS));
        let ptr = PgMemoryContexts::CurrentMemoryContext.leak_and_drop_on_delete(info);
        (*baserel).fdw_private = ptr as *mut c_void;
    }
}

#[pg_guard]
pub extern "C-unwind" fn get_foreign_paths(
    root: *mut pg_sys::PlannerInfo,
    baserel: *mut pg_sys::RelOptInfo,
    _relid: pg_sys::Oid,
) {
    // SAFETY: the planner's root and rel, sized by get_foreign_rel_size; create_foreignscan_path
    // builds a path in the planner's memory context and add_path takes it.
    unsafe {
        let info = rel_info(baserel);
        let rows = (*baserel).rows;
        let total = STARTUP_COST + rows * ROW_COST;
        let ctx = Ctx {
            varno: (*baserel).relid,
            table: &info.table,
            params: Vec::new(),
        };
        let sorted = sort_keys(&ctx, (*root).query_pathkeys).is_some();
        let mut pathkeys_options = vec![std::ptr::null_mut()];
        if sorted {
            pathkeys_options.push((*root).query_pathkeys);
        }
        for pathkeys in pathkeys_options {
            let path = create_path(root, baserel, rows, total, pathkeys);
            pg_sys::add_path(baserel, path as *mut pg_sys::Path);
        }
    }
}

unsafe fn create_path(
    root: *mut pg_sys::PlannerInfo,
    baserel: *mut pg_sys::RelOptInfo,
    rows: f64,
    total: f64,
    pathkeys: *mut pg_sys::List,
) -> *mut pg_sys::ForeignPath {
    // SAFETY: arguments straight from the planner; the signature differs by major version.
    unsafe {
        #[cfg(any(feature = "pg13", feature = "pg14", feature = "pg15", feature = "pg16"))]
        let path = pg_sys::create_foreignscan_path(
            root,
            baserel,
            std::ptr::null_mut(),
            rows,
            STARTUP_COST,
            total,
            pathkeys,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        );
        #[cfg(feature = "pg17")]
        let path = pg_sys::create_foreignscan_path(
            root,
            baserel,
            std::ptr::null_mut(),
            rows,
            STARTUP_COST,
            total,
            pathkeys,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        );
        #[cfg(feature = "pg18")]
        let path = pg_sys::create_foreignscan_path(
            root,
            baserel,
            std::ptr::null_mut(),
            rows,
            0,
            STARTUP_COST,
            total,
            pathkeys,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        );
        path
    }
}

#[pg_guard]
pub extern "C-unwind" fn get_foreign_plan(
    root: *mut pg_sys::PlannerInfo,
    baserel: *mut pg_sys::RelOptInfo,
    _relid: pg_sys::Oid,
    best_path: *mut pg_sys::ForeignPath,
    tlist: *mut pg_sys::List,
    scan_clauses: *mut pg_sys::List,
    outer_plan: *mut pg_sys::Plan,
) -> *mut pg_sys::ForeignScan {
    // SAFETY: planner structures; the plan's fdw_private holds a String node (copyable), and
    // fdw_exprs the parameter nodes found in the quals.
    unsafe {
        let info = rel_info(baserel);
        let ctx = Ctx {
            varno: (*baserel).relid,
            table: &info.table,
            params: Vec::new(),
        };
        let sort_by = sort_keys(&ctx, (*best_path).path.pathkeys).unwrap_or_default();
        // a final path (get_foreign_upper_paths) is the whole query: Dune skips the OFFSET rows
        let sorted = !sort_by.is_empty();
        let (limit, offset) = if (*best_path).fdw_private.is_null() {
            (limit_of(root, info.all_pushed, sorted), 0)
        } else {
            match limit_parts(root, info.all_pushed, sorted) {
                Some((count, offset)) => (Some(count), offset),
                None => (limit_of(root, info.all_pushed, sorted), 0),
            }
        };
        let plan = ScanPlan {
            table: info.table.name.clone(),
            source: info.source.clone(),
            fetch_size: info.table.options.fetch_size,
            fetch_concurrency: info.table.options.fetch_concurrency,
            columns: info.columns.clone(),
            filters: info.filters.clone(),
            limit,
            offset,
            final_limit: !(*best_path).fdw_private.is_null(),
            sort_by,
        };
        let json = CString::new(plan.to_json()).expect("JSON has no NUL");
        let private = pg_sys::lappend(
            std::ptr::null_mut(),
            pg_sys::makeString(pg_sys::pstrdup(json.as_ptr())) as *mut _,
        );
        let mut exprs: *mut pg_sys::List = std::ptr::null_mut();
        for &p in &info.params {
            exprs = pg_sys::lappend(exprs, p as *mut _);
        }
        let local_quals = pg_sys::extract_actual_clauses(scan_clauses, false);
        pg_sys::make_foreignscan(
            tlist,
            local_quals,
            (*baserel).relid,
            exprs,
            private,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            outer_plan,
        )
    }
}

/// The only base relation of the query, with its RelInfo. Called from our own upper-paths
/// callback, which PostgreSQL reaches only through the FdwRoutine of the relation it plans:
/// with one base relation, that relation is one of our foreign tables.
unsafe fn single_scan(root: *mut pg_sys::PlannerInfo) -> Option<*mut pg_sys::RelOptInfo> {
    // SAFETY: the planner's root; simple_rel_array is indexed by range-table index.
    unsafe {
        let all = (*root).all_baserels;
        if pg_sys::bms_membership(all) != pg_sys::BMS_Membership::BMS_SINGLETON {
            return None;
        }
        let rel = *(*root)
            .simple_rel_array
            .add(pg_sys::bms_singleton_member(all) as usize);
        let ours = !rel.is_null()
            && (*rel).reloptkind == pg_sys::RelOptKind::RELOPT_BASEREL
            && !(*rel).fdwroutine.is_null()
            && !(*rel).fdw_private.is_null();
        ours.then_some(rel)
    }
}

/// GetForeignUpperPaths: at the final stage, a path that is the whole query (its ORDER BY,
/// LIMIT and OFFSET included), so that no Limit node runs above the scan and Dune skips the
/// OFFSET rows itself (`offset`) instead of serving them, as postgres_fdw's final paths do.
/// Its parent is the base relation, so GetForeignPlan plans an ordinary scan of the table.
#[pg_guard]
pub extern "C-unwind" fn get_foreign_upper_paths(
    root: *mut pg_sys::PlannerInfo,
    stage: pg_sys::UpperRelationKind::Type,
    _input_rel: *mut pg_sys::RelOptInfo,
    output_rel: *mut pg_sys::RelOptInfo,
    extra: *mut c_void,
) {
    if stage != pg_sys::UpperRelationKind::UPPERREL_FINAL || extra.is_null() {
        return;
    }
    // SAFETY: the planner's structures at the final stage; extra is its FinalPathExtraData.
    unsafe {
        let extra = extra as *mut pg_sys::FinalPathExtraData;
        if !(*extra).limit_needed || (*(*root).parse).commandType != pg_sys::CmdType::CMD_SELECT {
            return;
        }
        let Some(baserel) = single_scan(root) else {
            return;
        };
        let info = rel_info(baserel);
        if info.table.is_latest_results() {
            return;
        }
        let ctx = Ctx {
            varno: (*baserel).relid,
            table: &info.table,
            params: Vec::new(),
        };
        let ordered = !(*(*root).parse).sortClause.is_null();
        let pathkeys = if ordered {
            (*root).sort_pathkeys
        } else {
            std::ptr::null_mut()
        };
        let sorted = ordered && sort_keys(&ctx, pathkeys).is_some();
        let Some((count, _)) = limit_parts(root, info.all_pushed, sorted) else {
            return;
        };
        // fdw_private marks the path as final for get_foreign_plan
        let marker = pg_sys::makeString(pg_sys::pstrdup(c"final".as_ptr()));
        let private = pg_sys::lappend(std::ptr::null_mut(), marker as *mut c_void);
        let rows = (count as f64).max(1.0);
        let target = (*root).upper_targets[pg_sys::UpperRelationKind::UPPERREL_FINAL as usize];
        let path = create_final_path(root, baserel, target, rows, pathkeys, private);
        pg_sys::add_path(output_rel, path as *mut pg_sys::Path);
    }
}

/// A final path over `baserel`, cheaper than the base path under a Limit node.
unsafe fn create_final_path(
    root: *mut pg_sys::PlannerInfo,
    baserel: *mut pg_sys::RelOptInfo,
    target: *mut pg_sys::PathTarget,
    rows: f64,
    pathkeys: *mut pg_sys::List,
    private: *mut pg_sys::List,
) -> *mut pg_sys::ForeignPath {
    let startup = STARTUP_COST - 1.0;
    let total = startup + rows * ROW_COST;
    // SAFETY: arguments straight from the planner; the signature differs by major version.
    unsafe {
        #[cfg(any(feature = "pg13", feature = "pg14", feature = "pg15", feature = "pg16"))]
        let path = pg_sys::create_foreign_upper_path(
            root,
            baserel,
            target,
            rows,
            startup,
            total,
            pathkeys,
            std::ptr::null_mut(),
            private,
        );
        #[cfg(feature = "pg17")]
        let path = pg_sys::create_foreign_upper_path(
            root,
            baserel,
            target,
            rows,
            startup,
            total,
            pathkeys,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            private,
        );
        #[cfg(feature = "pg18")]
        let path = pg_sys::create_foreign_upper_path(
            root,
            baserel,
            target,
            rows,
            0,
            startup,
            total,
            pathkeys,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            private,
        );
        path
    }
}

/// The plan a ForeignScan carries.
///
/// # Safety
/// `plan` must be a ForeignScan made by get_foreign_plan.
pub unsafe fn plan_of(plan: *mut pg_sys::ForeignScan) -> ScanPlan {
    // SAFETY: get_foreign_plan put one String node in fdw_private.
    unsafe {
        let private = PgList::<pg_sys::String>::from_pg((*plan).fdw_private);
        let node = private.head().expect("dune_fdw plans carry their state");
        ScanPlan::from_json(&CStr::from_ptr((*node).sval).to_string_lossy())
    }
}
