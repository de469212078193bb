//! Planning a scan: GetForeignRelSize, GetForeignPaths, GetForeignPlan. What can be pushed to
//! Dune is decided here: columns, filters, sort and limit; every qual stays in the plan to be
//! re-checked locally, so pushdown only saves rows and credits, it never changes a result.

use crate::error::{FdwError, FdwResult, OrRaise};
use crate::fdw::deparse::{Category, Ctx, category, clause, sortable, strip};
use crate::fdw::scan_plan::{Mode, PValue, PlanSource, ScanPlan};
use crate::fdw::table::{Table, int_option};
use dune_client::filters::{Filter, Literal};
use pgrx::prelude::*;
use pgrx::{PgList, pg_sys};
use serde_json::Value;
use std::ffi::{CStr, CString};

const STARTUP_COST: f64 = 100.0;
const ROW_COST: f64 = 0.01;
const DEFAULT_ROWS: f64 = 1000.0;

fn source_of(table: &Table) -> FdwResult<PlanSource> {
    if table.is_latest_view() {
        return Ok(PlanSource::LatestResults {
            query_ids: Vec::new(),
            params: None,
        });
    }
    if let Some(id) = int_option(table, "query_id")? {
        let mode = match table.option("mode") {
            None | Some("latest") => Mode::Latest,
            Some("execute") => Mode::Execute,
            Some(other) => {
                return Err(FdwError::InvalidArgument(format!(
                    "mode must be latest or execute, not \"{other}\""
                )));
            }
        };
        return Ok(PlanSource::Query {
            query_id: id,
            mode,
            max_age: table.option("max_age").map(str::to_string),
        });
    }
    if let Some(sql) = table.option("sql") {
        return Ok(PlanSource::Sql(sql.to_string()));
    }
    if let Some(id) = table.option("execution_id") {
        return Ok(PlanSource::Execution(id.to_string()));
    }
    Err(FdwError::InvalidOption {
        message: format!(
            "foreign table \"{}\" has none of the options query_id, sql, execution_id",
            table.name
        ),
        hint: Some("ALTER FOREIGN TABLE ... OPTIONS (ADD query_id '1258228')".into()),
    })
}

/// The latest-results view's qual on `query_id` or `params`, if `node` is one.
unsafe fn latest_view_qual(
    ctx: &mut Ctx,
    node: *mut pg_sys::Node,
    source: &mut PlanSource,
) -> bool {
    let PlanSource::LatestResults { query_ids, params } = source else {
        return false;
    };
    // SAFETY: casts follow node tag checks; list elements are expression nodes.
    unsafe {
        let node = strip(node);
        match (*node).type_ {
            pg_sys::NodeTag::T_OpExpr => {
                let e = node as *mut pg_sys::OpExpr;
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
                match col.name.as_str() {
                    "query_id" if query_ids.is_empty() => {
                        match ctx.value(args[1], Category::Number) {
                            Some(v) => {
                                query_ids.push(v);
                                true
                            }
                            None => false,
                        }
                    }
                    "params" if params.is_none() => {
                        let other = strip(args[1]);
                        if (*other).type_ == pg_sys::NodeTag::T_Const
                            && !(*(other as *mut pg_sys::Const)).constisnull
                        {
                            let c = other as *mut pg_sys::Const;
                            let mut out_fn = pg_sys::InvalidOid;
                            let mut varlena = false;
                            pg_sys::getTypeOutputInfo((*c).consttype, &mut out_fn, &mut varlena);
                            let text = CStr::from_ptr(pg_sys::OidOutputFunctionCall(
                                out_fn,
                                (*c).constvalue,
                            ));
                            *params = Some(PValue::Lit(Literal::Text(
                                text.to_string_lossy().into_owned(),
                            )));
                            true
                        } else if (*other).type_ == pg_sys::NodeTag::T_Param {
                            let p = other as *mut pg_sys::Param;
                            ctx.params.push(other);
                            *params = Some(PValue::Param {
                                index: ctx.params.len() - 1,
                                type_oid: u32::from((*p).paramtype),
                            });
                            true
                        } else {
                            false
                        }
                    }
                    _ => false,
                }
            }
            pg_sys::NodeTag::T_ScalarArrayOpExpr if query_ids.is_empty() => {
                let mut scratch = Ctx {
                    varno: ctx.varno,
                    table: ctx.table,
                    params: Vec::new(),
                };
                match clause(&mut scratch, node) {
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
        if keys.is_empty() || ctx.table.is_latest_view() {
            return None;
        }
        let mut out = Vec::new();
        for pk in keys.iter_ptr() {
            let ec = (*pk).pk_eclass;
            if (*ec).ec_has_volatile || (*pk).pk_nulls_first {
                return None; // Dune puts NULLs last in both directions
            }
            let col = PgList::<pg_sys::EquivalenceMember>::from_pg((*ec).ec_members)
                .iter_ptr()
                .find_map(|em| ctx.column((*em).em_expr as *mut pg_sys::Node))?;
            if !sortable(category(col.type_oid)) {
                return None;
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

/// LIMIT (+ OFFSET) when it is safe to apply on Dune: this table alone, every qual pushed, no
/// grouping, aggregate, DISTINCT, window function or set operation, any ORDER BY pushed too.
unsafe fn limit_of(root: *mut pg_sys::PlannerInfo, all_pushed: bool, sorted: bool) -> Option<u64> {
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
        Some(const_count((*q).limitCount)? + const_count((*q).limitOffset)?)
    }
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

/// Plans a scan of `table` for `baserel`; `pathkeys` are those of the chosen path.
unsafe fn plan_scan(
    root: *mut pg_sys::PlannerInfo,
    baserel: *mut pg_sys::RelOptInfo,
    table: &Table,
    pathkeys: *mut pg_sys::List,
) -> FdwResult<(ScanPlan, Vec<*mut pg_sys::Node>)> {
    // SAFETY: planner structures handed to the callbacks.
    unsafe {
        let mut source = source_of(table)?;
        let mut ctx = Ctx {
            varno: (*baserel).relid,
            table,
            params: Vec::new(),
        };
        let mut filters = Vec::new();
        let mut all_pushed = true;
        for ri in PgList::<pg_sys::RestrictInfo>::from_pg((*baserel).baserestrictinfo).iter_ptr() {
            let node = (*ri).clause as *mut pg_sys::Node;
            if table.is_latest_view() {
                all_pushed &= latest_view_qual(&mut ctx, node, &mut source);
                continue;
            }
            match clause(&mut ctx, node) {
                Some(f) => filters.push(f),
                None => all_pushed = false,
            }
        }
        if let PlanSource::LatestResults { query_ids, .. } = &source
            && query_ids.is_empty()
        {
            return Err(FdwError::MissingQueryId(table.name.clone()));
        }
        let params = match table.option("params") {
            Some(text) => Some(serde_json::from_str::<Value>(text).map_err(|e| {
                FdwError::InvalidArgument(format!(
                    "option params of foreign table \"{}\" is not JSON: {e}",
                    table.name
                ))
            })?),
            None => None,
        };
        let sort_by = sort_keys(&ctx, pathkeys).unwrap_or_default();
        let limit = limit_of(root, all_pushed, !sort_by.is_empty());
        let fetch = if table.is_latest_view() {
            None
        } else {
            needed_columns(baserel, table)
        };
        let plan = ScanPlan {
            table: table.name.clone(),
            source,
            params,
            performance: table.option("performance").map(str::to_string),
            fetch_size: int_option(table, "fetch_size")?.map(|v| v as u64),
            fetch,
            filters,
            sort_by,
            limit,
        };
        Ok((plan, ctx.params))
    }
}

#[pg_guard]
pub extern "C-unwind" fn get_foreign_rel_size(
    root: *mut pg_sys::PlannerInfo,
    baserel: *mut pg_sys::RelOptInfo,
    relid: pg_sys::Oid,
) {
    let table = Table::load(relid).or_raise();
    // SAFETY: the planner's root and rel for this foreign table.
    unsafe {
        let (plan, _) = plan_scan(root, baserel, &table, std::ptr::null_mut()).or_raise();
        (*baserel).rows = plan
            .limit
            .map_or(DEFAULT_ROWS, |l| (l as f64).clamp(1.0, DEFAULT_ROWS));
    }
}

#[pg_guard]
pub extern "C-unwind" fn get_foreign_paths(
    root: *mut pg_sys::PlannerInfo,
    baserel: *mut pg_sys::RelOptInfo,
    relid: pg_sys::Oid,
) {
    let table = Table::load(relid).or_raise();
    // SAFETY: the planner's root and rel; create_foreignscan_path builds a path in the
    // planner's memory context and add_path takes it.
    unsafe {
        let rows = (*baserel).rows;
        let total = STARTUP_COST + rows * ROW_COST;
        let ctx = Ctx {
            varno: (*baserel).relid,
            table: &table,
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
    relid: pg_sys::Oid,
    best_path: *mut pg_sys::ForeignPath,
    tlist: *mut pg_sys::List,
    scan_clauses: *mut pg_sys::List,
    outer_plan: *mut pg_sys::Plan,
) -> *mut pg_sys::ForeignScan {
    let table = Table::load(relid).or_raise();
    // SAFETY: planner structures; the plan's fdw_private holds a String node (copyable), and
    // fdw_exprs the parameter nodes found in the quals.
    unsafe {
        let (plan, params) =
            plan_scan(root, baserel, &table, (*best_path).path.pathkeys).or_raise();
        let json = CString::new(plan.to_json()).expect("JSON has no NUL");
        let private = pg_sys::lappend(
            std::ptr::null_mut(),
            pg_sys::makeString(pg_sys::pstrdup(json.as_ptr())) as *mut _,
        );
        let mut exprs: *mut pg_sys::List = std::ptr::null_mut();
        for p in params {
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
