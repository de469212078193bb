//! ORDER BY and LIMIT/OFFSET of a scan of one table: which sort keys Dune can produce, when a
//! LIMIT may be applied by Dune, and the final path (GetForeignUpperPaths at UPPERREL_FINAL)
//! that makes the scan the whole query, so that Dune skips the OFFSET rows itself, as
//! postgres_fdw's final paths do.

use crate::fdw::deparse::{Ctx, strip};
use crate::fdw::plan::cost::upper_cost;
use crate::fdw::plan::node::{PathKind, foreign_path, marker, single_scan};
use crate::fdw::plan::rel_info::{RelInfo, RelKind, ScanDraft, keep, rel_info};
use dune_api::{Expr, OrderKey, PValue};
use pg_format::Sort;
use pgrx::{PgList, pg_sys};

/// A sort key Dune can produce: the Dune column, descending, NULLS FIRST.
pub(crate) type SortKey = (String, bool, bool);

/// The sort keys for `pathkeys` over the scan `ctx` plans, if Dune can produce that order: a
/// result read sorts with NULLs last in both directions; a DuneSQL statement says `NULLS
/// FIRST` or `LAST` (`statement`).
///
/// # Safety
/// `pathkeys` must be a List of the planner's PathKeys.
pub(crate) unsafe fn sort_keys(
    ctx: &Ctx,
    pathkeys: *mut pg_sys::List,
    statement: bool,
) -> Option<Vec<SortKey>> {
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

/// The sort keys of a base relation's path with these pathkeys (none for a scan whose result
/// the cache holds whole: PostgreSQL sorts it, so that the cache can serve it).
///
/// # Safety
/// `info` must be a base relation's; `pathkeys` the planner's.
pub(crate) unsafe fn rel_sort_keys(
    info: &RelInfo,
    pathkeys: *mut pg_sys::List,
) -> Option<Vec<SortKey>> {
    let (varno, table) = info.base()?;
    if info.cached {
        return None;
    }
    // SAFETY: as the function requires.
    unsafe {
        sort_keys(
            &Ctx::new(varno, table),
            pathkeys,
            info.statement().is_some(),
        )
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
///
/// # Safety
/// The planner's root.
pub(crate) unsafe fn limit_parts(
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
///
/// # Safety
/// The planner's root.
pub(crate) unsafe fn limit_of(
    root: *mut pg_sys::PlannerInfo,
    all_pushed: bool,
    sorted: bool,
) -> Option<u64> {
    // SAFETY: as limit_parts.
    unsafe { limit_parts(root, all_pushed, sorted).map(|(count, offset)| count + offset) }
}

/// The (limit, offset) a base relation's scan applies for a path with these sort keys: a
/// final path (`final_path`) is the whole query and Dune skips the OFFSET rows; under a Limit
/// node, Dune returns LIMIT + OFFSET rows.
///
/// # Safety
/// The planner's root.
pub(crate) unsafe fn scan_limit(
    root: *mut pg_sys::PlannerInfo,
    all_pushed: bool,
    sorted: bool,
    final_path: bool,
) -> (Option<u64>, u64) {
    // SAFETY: as limit_parts.
    unsafe {
        match limit_parts(root, all_pushed, sorted) {
            Some((count, offset)) if final_path => (Some(count), offset),
            _ => (limit_of(root, all_pushed, sorted), 0),
        }
    }
}

/// At the final stage, a path that is the whole query (its ORDER BY, LIMIT and OFFSET
/// included), so that no Limit node runs above the scan. Its parent is the base relation, so
/// GetForeignPlan plans an ordinary scan of the table, marked `final`.
///
/// # Safety
/// The planner's structures at UPPERREL_FINAL; `extra` its FinalPathExtraData.
pub(crate) unsafe fn add_final_path(
    root: *mut pg_sys::PlannerInfo,
    output_rel: *mut pg_sys::RelOptInfo,
    extra: *mut pg_sys::FinalPathExtraData,
) {
    // SAFETY: as the function requires.
    unsafe {
        if !(*extra).limit_needed || (*(*root).parse).commandType != pg_sys::CmdType::CMD_SELECT {
            return;
        }
        let Some(baserel) = single_scan(root) else {
            return;
        };
        let Some(info) = rel_info(baserel).filter(|i| i.base().is_some()) else {
            return;
        };
        if info.base().is_some_and(|(_, t)| t.is_latest_results()) {
            return;
        }
        let ordered = !(*(*root).parse).sortClause.is_null();
        let pathkeys = if ordered {
            (*root).sort_pathkeys
        } else {
            std::ptr::null_mut()
        };
        let sorted = ordered && rel_sort_keys(info, pathkeys).is_some();
        let Some((count, _)) = limit_parts(root, info.all_pushed, sorted) else {
            return;
        };
        let rows = (count as f64).max(1.0);
        let target = (*root).upper_targets[pg_sys::UpperRelationKind::UPPERREL_FINAL as usize];
        let cost = upper_cost(rows);
        let private = marker(c"final");
        let path = foreign_path(
            root,
            baserel,
            PathKind::Upper,
            target,
            rows,
            cost,
            (pathkeys, private),
        );
        pg_sys::add_path(output_rel, path);
    }
}

/// The grouping run on Dune that `rel` is (or an ordered relation above it), with its outputs.
///
/// # Safety
/// A relation of the planner.
unsafe fn grouped<'a>(
    rel: *mut pg_sys::RelOptInfo,
) -> Option<(&'a RelInfo, &'a [*mut pg_sys::Node])> {
    // SAFETY: as the function requires.
    let info = unsafe { rel_info(rel) }?;
    match &info.kind {
        RelKind::Grouped { tlist } => Some((info, tlist)),
        _ => None,
    }
}

/// The ORDER BY of `pathkeys` over a grouping's outputs, if every key is one of them of a type
/// Dune orders as PostgreSQL does (numbers, dates and timestamps; never text, whose order is
/// the collation's).
///
/// # Safety
/// The planner's pathkeys; `tlist` the grouping's outputs.
unsafe fn grouped_order(
    pathkeys: *mut pg_sys::List,
    items: &[Expr<PValue>],
    tlist: &[*mut pg_sys::Node],
) -> Option<Vec<OrderKey<PValue>>> {
    // SAFETY: a List of PathKey whose classes hold EquivalenceMembers; expression nodes.
    unsafe {
        let ordered = [
            pg_sys::INT2OID,
            pg_sys::INT4OID,
            pg_sys::INT8OID,
            pg_sys::FLOAT8OID,
            pg_sys::NUMERICOID,
            pg_sys::DATEOID,
            pg_sys::TIMESTAMPOID,
            pg_sys::TIMESTAMPTZOID,
        ];
        let keys = PgList::<pg_sys::PathKey>::from_pg(pathkeys);
        let mut out = Vec::new();
        for pk in keys.iter_ptr() {
            let ec = (*pk).pk_eclass;
            if (*ec).ec_has_volatile {
                return None;
            }
            let position = PgList::<pg_sys::EquivalenceMember>::from_pg((*ec).ec_members)
                .iter_ptr()
                .find_map(|em| {
                    let e = strip((*em).em_expr as *mut pg_sys::Node);
                    tlist
                        .iter()
                        .position(|&t| pg_sys::equal(strip(t) as *const _, e as *const _))
                })?;
            if !ordered.contains(&pg_sys::exprType(tlist[position])) {
                return None;
            }
            out.push(OrderKey {
                expr: items[position].clone(),
                descending: (*pk).pk_strategy == pg_sys::BTGreaterStrategyNumber as i32,
                nulls_first: (*pk).pk_nulls_first,
            });
        }
        Some(out)
    }
}

/// At UPPERREL_ORDERED over a grouping run on Dune: the same statement with the query's
/// ORDER BY (`GROUP BY taker ORDER BY sum(amount_usd) DESC`), when Dune can sort it.
///
/// # Safety
/// The planner's structures at UPPERREL_ORDERED.
pub(crate) unsafe fn add_grouped_order_path(
    root: *mut pg_sys::PlannerInfo,
    input_rel: *mut pg_sys::RelOptInfo,
    ordered_rel: *mut pg_sys::RelOptInfo,
) {
    // SAFETY: as the function requires.
    unsafe {
        let Some((info, tlist)) = grouped(input_rel) else {
            return;
        };
        let ScanDraft::Statement(draft) = &info.scan else {
            return;
        };
        let pathkeys = (*root).sort_pathkeys;
        let Some(order) = grouped_order(pathkeys, &draft.select.items, tlist) else {
            return;
        };
        let mut d = draft.clone();
        d.select.order_by = order;
        let ordered = RelInfo {
            kind: RelKind::Grouped {
                tlist: tlist.to_vec(),
            },
            scan: ScanDraft::Statement(d),
            params: info.params.clone(),
            all_pushed: true,
            cached: false,
        };
        keep(ordered_rel, ordered);
        let rows = (*input_rel).rows.max(1.0);
        let target = (*root).upper_targets[pg_sys::UpperRelationKind::UPPERREL_ORDERED as usize];
        let private = marker(c"ordered");
        let path = foreign_path(
            root,
            ordered_rel,
            PathKind::Upper,
            target,
            rows,
            upper_cost(rows),
            (pathkeys, private),
        );
        pg_sys::add_path(ordered_rel, path);
    }
}

/// At UPPERREL_FINAL over a grouping run on Dune (ordered on Dune, or with no ORDER BY): the
/// same statement with the query's LIMIT and OFFSET, so that Dune returns only those rows.
///
/// # Safety
/// The planner's structures at UPPERREL_FINAL; `extra` its FinalPathExtraData.
pub(crate) unsafe fn add_grouped_final_path(
    root: *mut pg_sys::PlannerInfo,
    input_rel: *mut pg_sys::RelOptInfo,
    final_rel: *mut pg_sys::RelOptInfo,
    extra: *mut pg_sys::FinalPathExtraData,
) {
    // SAFETY: as the function requires.
    unsafe {
        let q = (*root).parse;
        if !(*extra).limit_needed
            || (*q).commandType != pg_sys::CmdType::CMD_SELECT
            || !(*q).rowMarks.is_null()
            || (*q).limitOption == pg_sys::LimitOption::LIMIT_OPTION_WITH_TIES
        {
            return;
        }
        let Some((info, tlist)) = grouped(input_rel) else {
            return;
        };
        let ScanDraft::Statement(draft) = &info.scan else {
            return;
        };
        // an ORDER BY that is not the statement's is applied by PostgreSQL: so is the LIMIT
        if !(*q).sortClause.is_null() && draft.select.order_by.is_empty() {
            return;
        }
        let (Some(count), Some(offset)) =
            (const_count((*q).limitCount), const_count((*q).limitOffset))
        else {
            return;
        };
        let mut d = draft.clone();
        (d.select.limit, d.select.offset) = (Some(count), offset);
        let pathkeys = if draft.select.order_by.is_empty() {
            std::ptr::null_mut()
        } else {
            (*root).sort_pathkeys
        };
        keep(
            final_rel,
            RelInfo {
                kind: RelKind::Grouped {
                    tlist: tlist.to_vec(),
                },
                scan: ScanDraft::Statement(d),
                params: info.params.clone(),
                all_pushed: true,
                cached: false,
            },
        );
        let rows = ((*input_rel).rows).min(count as f64).max(1.0);
        let target = (*root).upper_targets[pg_sys::UpperRelationKind::UPPERREL_FINAL as usize];
        let private = marker(c"final");
        // cheaper than the same rows under a Limit node
        let (startup, total) = upper_cost(rows);
        let cost = (startup - 1.0, total - 1.0);
        let path = foreign_path(
            root,
            final_rel,
            PathKind::Upper,
            target,
            rows,
            cost,
            (pathkeys, private),
        );
        pg_sys::add_path(final_rel, path);
    }
}
