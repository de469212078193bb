//! Planning a scan: GetForeignRelSize, GetForeignPaths, GetForeignPlan. What can be pushed to
//! Dune is decided here: columns, filters, sort and limit; every qual stays in the plan to be
//! re-checked locally, so pushdown only saves rows and credits, it never changes a result.

use crate::backend::connection;
use crate::backend::error::{FdwError, FdwResult, OrRaise};
use crate::backend::options;
use crate::backend::options::TableSource;
use crate::fdw::deparse::{Ctx, clause, family, param_equality, reads_param_column, strip};
use crate::fdw::dune_tables::{literal_type, relation, required_filters};
use crate::fdw::scan_plan::{PValue, PlanSource, ScanPlan, Statement};
use crate::fdw::table::Table;
use dune_api::{Filter, Literal, Read, ResultCache, ResultSource, within_bound};
use pg_format::{Family, Sort};
use pgrx::prelude::*;
use pgrx::{PgList, PgMemoryContexts, pg_sys};
use std::ffi::{CStr, CString, c_void};

/// What one results request costs the plan, in the planner's units (a sequential page read
/// is 1): a round trip to Dune, about the time PostgreSQL reads 100 pages.
const REQUEST_COST: f64 = 100.0;
/// What a row costs to receive and decode: about what a local sequential scan spends on a
/// row (its page share and cpu_tuple_cost), so that the planner weighs a Dune result as it
/// would weigh the same rows held locally.
pub(crate) const ROW_COST: f64 = 0.02;
/// The rows assumed for a result of unknown size (never read, never analyzed).
const DEFAULT_ROWS: f64 = 1000.0;
/// Rows one results request returns, for costing (`fetch_size`'s default).
const ROWS_PER_REQUEST: f64 = 32_000.0;
/// The cost that keeps the planner from a path it must not take (PostgreSQL's disable_cost).
const UNUSABLE_COST: f64 = 1.0e10;
/// The first request's cost, paid before the first row.
pub(crate) const STARTUP_COST: f64 = REQUEST_COST;

/// The cost of reading `rows` rows: one request per page, and each row.
fn read_cost(rows: f64) -> f64 {
    REQUEST_COST * (rows / ROWS_PER_REQUEST).ceil().max(1.0) + rows * ROW_COST
}

/// The cost of a scan of `info` returning `rows` rows, of `tuples` in all: from the result
/// cache, every row held is read (the filters are applied by PostgreSQL) and no request is
/// sent; from Dune, what [`read_cost`] says.
fn scan_cost(info: &RelInfo, rows: f64, tuples: f64) -> (f64, f64) {
    if info.cached {
        (0.0, tuples * ROW_COST)
    } else {
        (STARTUP_COST, read_cost(rows))
    }
}

/// What GetForeignRelSize learns of a scan, kept on the relation (`baserel->fdw_private`) for
/// GetForeignPaths and GetForeignPlan, as postgres_fdw keeps its `PgFdwRelationInfo`: the
/// table is loaded and the quals deparsed once per relation.
pub(crate) struct RelInfo {
    pub(crate) table: Table,
    pub(crate) source: PlanSource,
    pub(crate) filters: Vec<Filter<PValue>>,
    /// Parameter expressions found in the quals, to become the plan's fdw_exprs.
    pub(crate) params: Vec<*mut pg_sys::Node>,
    /// Every qual was pushed exactly (a LIMIT may then be pushed too).
    pub(crate) all_pushed: bool,
    /// The Dune columns the scan needs; None for all.
    pub(crate) columns: Option<Vec<String>>,
    /// The result cache holds the whole result (these columns, unfiltered): reads cost no
    /// request, whatever their filters.
    pub(crate) cached: bool,
    /// Values of parameter columns from `column = value` quals: (parameter, value).
    pub(crate) param_values: Vec<(String, PValue)>,
    /// `max_reads_per_scan`, the table's or the server's.
    pub(crate) max_reads: u64,
    /// A scan of a Dune table: what its DuneSQL needs (ORDER BY's NULLS filled in by the plan).
    pub(crate) statement: Option<Statement>,
}

/// The RelInfo that get_foreign_rel_size left on `baserel`.
///
/// # Safety
/// `baserel` must be a dune_fdw relation whose size was estimated by get_foreign_rel_size.
pub(crate) unsafe fn rel_info<'a>(baserel: *mut pg_sys::RelOptInfo) -> &'a RelInfo {
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
                let mut scratch = Ctx::new(ctx.varno, ctx.table);
                match clause(&mut scratch, node).map(|p| p.filter) {
                    // constants only: a parameter of the scratch context would be lost
                    Some(Filter::In { column, values })
                        if scratch.params.is_empty()
                            && ctx
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

/// (Dune column, descending, NULLS FIRST) for each of `pathkeys`, if Dune can produce that
/// order: a result read sorts with NULLs last in both directions; the DuneSQL of a Dune
/// table's scan says `NULLS FIRST` or `LAST` (`statement`).
unsafe fn sort_keys(
    ctx: &Ctx,
    pathkeys: *mut pg_sys::List,
    statement: bool,
) -> Option<Vec<(String, bool, bool)>> {
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
            if (*ec).ec_has_volatile || ((*pk).pk_nulls_first && !statement) {
                return None; // Dune's results put NULLs last in both directions
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
                (*pk).pk_nulls_first,
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
        let mut ctx = Ctx::new((*baserel).relid, &table);
        let (mut filters, mut all_pushed) = (Vec::new(), true);
        let mut param_values = Vec::new();
        for ri in PgList::<pg_sys::RestrictInfo>::from_pg((*baserel).baserestrictinfo).iter_ptr() {
            let node = (*ri).clause as *mut pg_sys::Node;
            if table.is_latest_results() {
                all_pushed &= latest_results_qual(&mut ctx, node, &mut source);
                continue;
            }
            if let Some(pair) = param_equality(&mut ctx, node) {
                param_values.push(pair);
                continue;
            }
            if reads_param_column(&ctx, node) {
                return Err(param_qual_error(&table));
            }
            match clause(&mut ctx, node) {
                Some(p) => {
                    all_pushed &= p.exact;
                    filters.push(p.filter);
                }
                None => all_pushed = false,
            }
        }
        check_param_source(&table)?;
        check_param_joins(baserel, &table)?;
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
        let statement = statement_of(baserel, &table)?;
        let max_reads = match table.options.max_reads_per_scan {
            Some(n) => n,
            None => options::max_reads_per_scan(&table.server.options)?,
        };
        Ok(RelInfo {
            table,
            source,
            filters,
            params,
            all_pushed,
            columns,
            cached: false,
            param_values,
            max_reads,
            statement,
        })
    }
}

/// For a table with `dune_table` naming one of Dune's tables: the relation its DuneSQL reads (resolved in Dune's catalog
/// once per backend), its columns' literal types and `require_filter`.
unsafe fn statement_of(
    baserel: *mut pg_sys::RelOptInfo,
    table: &Table,
) -> FdwResult<Option<Statement>> {
    // SAFETY: the planner's rel; userid is the role the scan checks permissions as (0: the
    // current user).
    let role = unsafe {
        match (*baserel).userid {
            r if r == pg_sys::InvalidOid => pg_sys::GetUserId(),
            r => r,
        }
    };
    // an upload is read as `SELECT * FROM dune.<ns>.<table>` with the result's filters (the
    // emulator's DuneSQL engine holds 64-bit numbers only, and uploads may hold uint256)
    let Some(rel @ dune_api::DuneRelation::Dataset { .. }) = relation(table, role)? else {
        return Ok(None);
    };
    Ok(Some(Statement {
        from: rel.sql_name(),
        types: table
            .live_columns()
            .filter(|c| c.param.is_none())
            .map(|c| (c.remote.clone(), literal_type(c)))
            .collect(),
        require_filter: required_filters(table)?,
        nulls_first: Vec::new(),
        relid: table.relid.to_u32(),
        qualified: table.qualified.clone(),
        grouping: None,
        join: None,
        max_age_ms: table
            .options
            .statement_max_age
            .map(|d| d.as_millis() as u64),
    }))
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
        let mut info = plan_rel(baserel, table).or_raise();
        let (learned, held) = cache_facts(baserel, &info);
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
        let joins = join_outers(root, baserel, info);
        let (startup, mut total) = scan_cost(info, rows, (*baserel).tuples);
        let whole = total;
        // a join gives a parameter column its values: a scan that ignores them would read
        // another parameter set, so it must not be chosen
        if joins.misses_params(std::ptr::null_mut()) {
            total += UNUSABLE_COST;
        }
        let ctx = Ctx::new((*baserel).relid, &info.table);
        // a result held whole in the cache is sorted by PostgreSQL: a read sorted by Dune could
        // not be served from it
        let statement = info.statement.is_some();
        let sorted = !info.cached && sort_keys(&ctx, (*root).query_pathkeys, statement).is_some();
        let mut pathkeys_options = vec![std::ptr::null_mut()];
        if sorted {
            pathkeys_options.push((*root).query_pathkeys);
        }
        for pathkeys in pathkeys_options {
            let path = create_path(
                root,
                baserel,
                rows,
                (startup, total),
                pathkeys,
                std::ptr::null_mut(),
            );
            pg_sys::add_path(baserel, path as *mut pg_sys::Path);
        }
        // a read per outer key costs at least its share of reading the whole result once over
        // max_reads_per_scan reads: a nested loop is chosen for fewer keys than the bound
        let max_reads = info.max_reads as f64;
        // a Dune table's scan runs DuneSQL: once per outer key would be one execution each
        let outers = if statement {
            &[][..]
        } else {
            &joins.outers[..]
        };
        for &outer in outers {
            let ppi = pg_sys::get_baserel_parampathinfo(root, baserel, outer);
            let rows = (*ppi).ppi_rows;
            let (startup, mut total) = scan_cost(info, rows, (*baserel).tuples);
            total = total.max(whole / max_reads);
            if joins.misses_params(outer) {
                total += UNUSABLE_COST;
            }
            let path = create_path(
                root,
                baserel,
                rows,
                (startup, total),
                std::ptr::null_mut(),
                outer,
            );
            pg_sys::add_path(baserel, path as *mut pg_sys::Path);
        }
    }
}

/// What the result cache tells the planner about a scan's source, without a request: the
/// row count a read of it learned, and whether the whole result (every column the scan
/// needs, no filter) is held, so that a read costs no request.
unsafe fn cache_facts(baserel: *mut pg_sys::RelOptInfo, info: &RelInfo) -> (Option<u64>, bool) {
    let PlanSource::Result(source) = &info.source else {
        return (None, false);
    };
    // SAFETY: the planner's rel; userid is the role the scan checks permissions as (0: the
    // current user).
    let role = unsafe {
        match (*baserel).userid {
            r if r == pg_sys::InvalidOid => pg_sys::GetUserId(),
            r => r,
        }
    };
    let Ok(config) = connection::config_for(&info.table.server, role, false) else {
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
        columns: info.columns.clone(),
        ..Read::default()
    };
    let held = execution.is_some_and(|id| cache.find(&id, &whole, 0, None).is_some());
    (cache.known_rows(source), held)
}

/// Whether a join clause can be sent to Dune with its outer side as a parameter.
unsafe fn pushable_join_clause(
    baserel: *mut pg_sys::RelOptInfo,
    info: &RelInfo,
    ri: *mut pg_sys::RestrictInfo,
) -> bool {
    // SAFETY: a RestrictInfo of the planner, over expression nodes.
    unsafe {
        if !pg_sys::join_clause_is_movable_to(ri, baserel) {
            return false;
        }
        let mut ctx = Ctx::new((*baserel).relid, &info.table);
        ctx.outer = true;
        let node = (*ri).clause as *mut pg_sys::Node;
        (param_equality(&mut ctx, node).is_some() || clause(&mut ctx, node).is_some())
            && !ctx.params.is_empty()
    }
}

/// What an equivalence-class member must be for `generate_implied_equalities_for_column`: the
/// column (varno, attno) in `arg`.
unsafe extern "C-unwind" fn member_is_column(
    _root: *mut pg_sys::PlannerInfo,
    _rel: *mut pg_sys::RelOptInfo,
    _ec: *mut pg_sys::EquivalenceClass,
    em: *mut pg_sys::EquivalenceMember,
    arg: *mut c_void,
) -> bool {
    // SAFETY: arg is the (varno, attno) pair join_outers passes; em is the planner's member.
    unsafe {
        let (varno, attno) = *(arg as *const (u32, i16));
        let e = strip((*em).em_expr as *mut pg_sys::Node);
        if e.is_null() || (*e).type_ != pg_sys::NodeTag::T_Var {
            return false;
        }
        let v = e as *mut pg_sys::Var;
        (*v).varno as u32 == varno && (*v).varattno == attno && (*v).varlevelsup == 0
    }
}

/// The sets of outer relations a parameterized path of this scan may take its filter values
/// from: one per join clause (or equality implied by an equivalence class) that Dune can
/// evaluate with the outer value as a constant, as postgres_fdw's parameterized paths; and
/// whether a join clause gives a parameter column its value.
unsafe fn join_outers(
    root: *mut pg_sys::PlannerInfo,
    baserel: *mut pg_sys::RelOptInfo,
    info: &RelInfo,
) -> JoinOuters {
    // SAFETY: the planner's structures, read and combined with its own functions.
    unsafe {
        let mut found = JoinOuters {
            outers: Vec::new(),
            params_from: std::ptr::null_mut(),
        };
        if info.table.is_latest_results() {
            return found;
        }
        let mut clauses: Vec<*mut pg_sys::RestrictInfo> =
            PgList::<pg_sys::RestrictInfo>::from_pg((*baserel).joininfo)
                .iter_ptr()
                .collect();
        if (*baserel).has_eclass_joins {
            for (attno, _) in info.table.live_columns_with_attno() {
                let mut arg = ((*baserel).relid, attno);
                let implied = pg_sys::generate_implied_equalities_for_column(
                    root,
                    baserel,
                    Some(member_is_column),
                    &mut arg as *mut (u32, i16) as *mut c_void,
                    (*baserel).lateral_referencers,
                );
                clauses.extend(PgList::<pg_sys::RestrictInfo>::from_pg(implied).iter_ptr());
            }
        }
        for ri in clauses {
            if !pushable_join_clause(baserel, info, ri) {
                continue;
            }
            let all = pg_sys::bms_union((*ri).clause_relids, (*baserel).lateral_relids);
            let outer = pg_sys::bms_difference(all, (*baserel).relids);
            let mut ctx = Ctx::new((*baserel).relid, &info.table);
            ctx.outer = true;
            if param_equality(&mut ctx, (*ri).clause as *mut pg_sys::Node).is_some() {
                found.params_from = pg_sys::bms_union(found.params_from, outer);
            }
            found.add(outer);
        }
        // the path that takes every parameter column's value at once
        if !found.params_from.is_null() {
            found.add(found.params_from);
        }
        found
    }
}

/// The outer relations of the parameterized paths of a scan.
struct JoinOuters {
    /// One set of outer relations per path.
    outers: Vec<*mut pg_sys::Bitmapset>,
    /// The relations the parameter columns take their values from (NULL: none): a path that
    /// does not have them all would read another parameter set.
    params_from: *mut pg_sys::Bitmapset,
}

impl JoinOuters {
    unsafe fn add(&mut self, outer: *mut pg_sys::Bitmapset) {
        // SAFETY: planner bitmapsets.
        unsafe {
            if !pg_sys::bms_is_empty(outer)
                && !self.outers.iter().any(|&o| pg_sys::bms_equal(o, outer))
            {
                self.outers.push(outer);
            }
        }
    }

    /// Whether a path with these outer relations (NULL: none) ignores a parameter column's value.
    unsafe fn misses_params(&self, outer: *mut pg_sys::Bitmapset) -> bool {
        // SAFETY: planner bitmapsets.
        unsafe { !self.params_from.is_null() && !pg_sys::bms_is_subset(self.params_from, outer) }
    }
}

unsafe fn create_path(
    root: *mut pg_sys::PlannerInfo,
    baserel: *mut pg_sys::RelOptInfo,
    rows: f64,
    (startup, total): (f64, f64),
    pathkeys: *mut pg_sys::List,
    required_outer: *mut pg_sys::Bitmapset,
) -> *mut pg_sys::ForeignPath {
    // SAFETY: arguments straight from the planner; the signature differs by major version.
    unsafe {
        #[cfg(any(feature = "pg13", feature = "pg14", feature = "pg15", feature = "pg16"))]
        let path = pg_sys::create_foreignscan_path(
            root,
            baserel,
            std::ptr::null_mut(),
            rows,
            startup,
            total,
            pathkeys,
            required_outer,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        );
        #[cfg(feature = "pg17")]
        let path = pg_sys::create_foreignscan_path(
            root,
            baserel,
            std::ptr::null_mut(),
            rows,
            startup,
            total,
            pathkeys,
            required_outer,
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
            startup,
            total,
            pathkeys,
            required_outer,
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
        if (*baserel).reloptkind == pg_sys::RelOptKind::RELOPT_UPPER_REL {
            return group_plan(baserel, tlist, outer_plan);
        }
        if (*baserel).reloptkind == pg_sys::RelOptKind::RELOPT_JOINREL {
            return crate::fdw::join::join_plan(baserel, best_path, tlist, outer_plan);
        }
        let info = rel_info(baserel);
        let ctx = Ctx::new((*baserel).relid, &info.table);
        let keys = sort_keys(&ctx, (*best_path).path.pathkeys, info.statement.is_some())
            .unwrap_or_default();
        let sort_by: Vec<(String, bool)> = keys.iter().map(|(c, d, _)| (c.clone(), *d)).collect();
        let statement = info.statement.clone().map(|mut s| {
            s.nulls_first = keys.iter().map(|k| k.2).collect();
            s
        });
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
        let JoinQuals {
            filters: join_filters,
            param_values,
            exprs,
        } = join_filters(baserel, info, best_path, scan_clauses);
        let mut plan = base_plan(info, limit, offset, join_filters);
        plan.param_values = param_values;
        plan.final_limit = !(*best_path).fdw_private.is_null();
        plan.parameterized = !(*best_path).path.param_info.is_null();
        plan.sort_by = sort_by;
        plan.statement = statement;
        let local_quals = pg_sys::extract_actual_clauses(scan_clauses, false);
        let scan_tlist = std::ptr::null_mut();
        make_scan(
            tlist,
            local_quals,
            (*baserel).relid,
            &exprs,
            &plan,
            scan_tlist,
            outer_plan,
        )
    }
}

/// The plan of a scan of `info`'s relation with these LIMIT/OFFSET and the join filters of a
/// parameterized path (no sort, parameter values or statement yet).
pub(crate) fn base_plan(
    info: &RelInfo,
    limit: Option<u64>,
    offset: u64,
    join_filters: Vec<Filter<PValue>>,
) -> ScanPlan {
    let mut filters = info.filters.clone();
    filters.extend(join_filters);
    ScanPlan {
        table: info.table.name.clone(),
        source: info.source.clone(),
        fetch_size: info.table.options.fetch_size,
        fetch_concurrency: info.table.options.fetch_concurrency,
        ignore_max_datapoints: info.table.options.ignore_max_datapoints,
        max_reads_per_scan: info.table.options.max_reads_per_scan,
        columns: info.columns.clone(),
        filters,
        param_values: info.param_values.clone(),
        limit,
        offset,
        final_limit: false,
        parameterized: false,
        sort_by: Vec::new(),
        statement: info.statement.clone(),
    }
}

/// The ForeignScan node: `plan` as JSON in fdw_private, `exprs` (parameter expressions) as
/// fdw_exprs, `scan_tlist` as fdw_scan_tlist (a grouped scan's outputs; NIL for a table's).
///
/// # Safety
/// Planner lists and nodes of the statement being planned.
pub(crate) unsafe fn make_scan(
    tlist: *mut pg_sys::List,
    local_quals: *mut pg_sys::List,
    scanrelid: pg_sys::Index,
    exprs: &[*mut pg_sys::Node],
    plan: &ScanPlan,
    scan_tlist: *mut pg_sys::List,
    outer_plan: *mut pg_sys::Plan,
) -> *mut pg_sys::ForeignScan {
    // SAFETY: as the function requires; the String node is copyable, so plans can be cached.
    unsafe {
        let json = CString::new(plan.to_json()).expect("JSON has no NUL");
        let private = pg_sys::lappend(
            std::ptr::null_mut(),
            pg_sys::makeString(pg_sys::pstrdup(json.as_ptr())) as *mut _,
        );
        let exprs = exprs.iter().fold(std::ptr::null_mut(), |l, p| {
            pg_sys::lappend(l, *p as *mut c_void)
        });
        pg_sys::make_foreignscan(
            tlist,
            local_quals,
            scanrelid,
            exprs,
            private,
            scan_tlist,
            std::ptr::null_mut(),
            outer_plan,
        )
    }
}

/// The filters and parameter values a parameterized path adds (its join clauses, the outer
/// values as parameters).
unsafe fn join_filters(
    baserel: *mut pg_sys::RelOptInfo,
    info: &RelInfo,
    best_path: *mut pg_sys::ForeignPath,
    scan_clauses: *mut pg_sys::List,
) -> JoinQuals {
    // SAFETY: the planner's path and clauses; scan_clauses holds RestrictInfos.
    unsafe {
        let mut ctx = Ctx::new((*baserel).relid, &info.table);
        ctx.params = info.params.clone();
        ctx.outer = true;
        let mut filters = Vec::new();
        let mut param_values = info.param_values.clone();
        if !(*best_path).path.param_info.is_null() {
            for ri in PgList::<pg_sys::RestrictInfo>::from_pg(scan_clauses).iter_ptr() {
                if pg_sys::list_member_ptr((*baserel).baserestrictinfo, ri as *const c_void) {
                    continue;
                }
                let node = (*ri).clause as *mut pg_sys::Node;
                if let Some(pair) = param_equality(&mut ctx, node) {
                    param_values.push(pair);
                } else if let Some(p) = clause(&mut ctx, node) {
                    filters.push(p.filter);
                }
            }
        }
        JoinQuals {
            filters,
            param_values,
            exprs: ctx.params,
        }
    }
}

/// What GetForeignPlan adds for a parameterized path, and every parameter expression of the
/// scan (the RelInfo's first).
struct JoinQuals {
    filters: Vec<Filter<PValue>>,
    param_values: Vec<(String, PValue)>,
    exprs: Vec<*mut pg_sys::Node>,
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
    if stage == pg_sys::UpperRelationKind::UPPERREL_GROUP_AGG {
        // SAFETY: the planner's structures at the grouping stage.
        unsafe { add_group_path(root, _input_rel, output_rel) };
        return;
    }
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
        let ctx = Ctx::new((*baserel).relid, &info.table);
        let ordered = !(*(*root).parse).sortClause.is_null();
        let pathkeys = if ordered {
            (*root).sort_pathkeys
        } else {
            std::ptr::null_mut()
        };
        // held whole in the cache: PostgreSQL sorts (see get_foreign_paths)
        let sorted = ordered
            && !info.cached
            && sort_keys(&ctx, pathkeys, info.statement.is_some()).is_some();
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

/// At the grouping stage of a query whose only relation is a scan of a Dune table with every
/// qual in its DuneSQL: a path that runs the grouping and aggregates on Dune (`upper.rs`),
/// costing one request and its groups' rows.
///
/// # Safety
/// The planner's root and relations at UPPERREL_GROUP_AGG.
unsafe fn add_group_path(
    root: *mut pg_sys::PlannerInfo,
    input_rel: *mut pg_sys::RelOptInfo,
    output_rel: *mut pg_sys::RelOptInfo,
) {
    // SAFETY: as the function requires; the GroupInfo is leaked into the planner's memory
    // context, which frees it with the plan's memory.
    unsafe {
        let ctxs: Vec<Ctx> = match single_scan(root).filter(|&r| r == input_rel) {
            Some(baserel) => {
                let info = rel_info(baserel);
                if info.statement.is_none() || !info.all_pushed {
                    return;
                }
                vec![Ctx::new((*baserel).relid, &info.table)]
            }
            // a join of two Dune tables pushed down (every qual of it in its DuneSQL)
            None => match crate::fdw::join::join_sides(input_rel) {
                Some(sides) => sides.into(),
                None => return,
            },
        };
        let target = (*root).upper_targets[pg_sys::UpperRelationKind::UPPERREL_GROUP_AGG as usize];
        let column = crate::fdw::upper::resolver(&ctxs);
        let Some((grouping, tlist)) = crate::fdw::upper::grouping(root, &column, target) else {
            return;
        };
        let rows = if grouping.group_by.is_empty() {
            1.0
        } else {
            ((*input_rel).rows / 10.0).clamp(1.0, 1_000_000.0)
        };
        let info = GroupInfo {
            input_rel,
            grouping,
            tlist,
        };
        let ptr = PgMemoryContexts::CurrentMemoryContext.leak_and_drop_on_delete(info);
        (*output_rel).fdw_private = ptr as *mut c_void;
        let marker = pg_sys::makeString(pg_sys::pstrdup(c"group".as_ptr()));
        let private = pg_sys::lappend(std::ptr::null_mut(), marker as *mut c_void);
        let path = create_final_path(
            root,
            output_rel,
            target,
            rows,
            std::ptr::null_mut(),
            private,
        );
        pg_sys::add_path(output_rel, path as *mut pg_sys::Path);
    }
}

/// The plan of a grouped path (`add_group_path`): a scan with no scan relation whose rows
/// are the grouping target's (`fdw_scan_tlist`), computed by the DuneSQL of the only base
/// relation's scan with the grouping added.
///
/// # Safety
/// The planner's arguments of GetForeignPlan for a path made by `add_group_path`.
unsafe fn group_plan(
    upper: *mut pg_sys::RelOptInfo,
    tlist: *mut pg_sys::List,
    outer_plan: *mut pg_sys::Plan,
) -> *mut pg_sys::ForeignScan {
    // SAFETY: as the function requires; the upper relation's fdw_private is add_group_path's.
    unsafe {
        let group = &*((*upper).fdw_private as *const GroupInfo);
        let input = group.input_rel;
        let (mut plan, params) = if (*input).reloptkind == pg_sys::RelOptKind::RELOPT_JOINREL {
            crate::fdw::join::join_scan_plan(input)
        } else {
            let info = rel_info(input);
            (base_plan(info, None, 0, Vec::new()), info.params.clone())
        };
        plan.columns = None;
        if let Some(s) = plan.statement.as_mut() {
            s.grouping = Some(group.grouping.clone());
        }
        let scan_tlist = target_list(&group.tlist);
        make_scan(
            tlist,
            std::ptr::null_mut(),
            0,
            &params,
            &plan,
            scan_tlist,
            outer_plan,
        )
    }
}

/// A target list of `exprs`, numbered from 1 (a ForeignScan's fdw_scan_tlist).
///
/// # Safety
/// `exprs` must be expression nodes of the plan being made.
pub(crate) unsafe fn target_list(exprs: &[*mut pg_sys::Node]) -> *mut pg_sys::List {
    // SAFETY: as the function requires; the list is made in the current memory context.
    unsafe {
        let mut list = std::ptr::null_mut();
        for (i, &e) in exprs.iter().enumerate() {
            let te = pg_sys::makeTargetEntry(
                e as *mut pg_sys::Expr,
                (i + 1) as i16,
                std::ptr::null_mut(),
                false,
            );
            list = pg_sys::lappend(list, te as *mut c_void);
        }
        list
    }
}

/// What add_group_path decided, kept on the grouping's relation for GetForeignPlan.
struct GroupInfo {
    /// The scan or pushed join grouped.
    input_rel: *mut pg_sys::RelOptInfo,
    grouping: crate::fdw::upper::Grouping,
    /// The scan's outputs (fdw_scan_tlist), one per item of the grouping.
    tlist: Vec<*mut pg_sys::Node>,
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
