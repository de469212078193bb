//! Join pushdown for two of Dune's tables (GetForeignJoinPaths), as postgres_fdw pushes a join
//! of two remote tables: the scan runs `SELECT … FROM a r1 [LEFT] JOIN b r2 ON … WHERE …` and
//! returns the joined rows. Pushed when:
//! - the join is INNER or LEFT (a RIGHT join reaches us as LEFT with the sides swapped; FULL,
//!   SEMI and ANTI joins stay in PostgreSQL), in a SELECT without row locks;
//! - both sides are scans of Dune's tables on the same server with every qual in their DuneSQL
//!   (a LEFT join's second table's quals go into ON, choosing the rows it joins);
//! - every join clause is `a.x = b.y` over columns whose `=` means the same on both sides
//!   (the grouping rule of `upper.rs`) with the same PostgreSQL and Dune types;
//! - the join's outputs are plain columns.
//!
//! The path costs one request and the joined rows, against two requests and both tables' rows
//! for the join done here.

use crate::fdw::deparse::{Ctx, builtin, op_name, strip};
use crate::fdw::plan::{
    ROW_COST, RelInfo, STARTUP_COST, base_plan, make_scan, rel_info, target_list,
};
use crate::fdw::scan_plan::{Join, PValue, ScanPlan};
use crate::fdw::table::Column;
use crate::fdw::upper::groupable;
use dune_api::{ColumnRef, Condition, Filter, Item, JoinKind, Op};
use pgrx::prelude::*;
use pgrx::{PgList, PgMemoryContexts, pg_sys};
use std::ffi::c_void;

/// What GetForeignJoinPaths decided, kept on the join relation for GetForeignPlan.
struct JoinInfo {
    outer: *mut pg_sys::RelOptInfo,
    inner: *mut pg_sys::RelOptInfo,
    join: Join,
}

/// The relation `node` reads, 0 for `outer`, 1 for `inner`, with its column.
///
/// # Safety
/// `node` must be an expression node; the rels the planner's.
unsafe fn side_column<'a>(
    node: *mut pg_sys::Node,
    sides: [(&'a Ctx<'a>, *mut pg_sys::RelOptInfo); 2],
) -> Option<(usize, &'a Column)> {
    // SAFETY: as the function requires.
    unsafe {
        sides
            .iter()
            .enumerate()
            .find_map(|(i, (ctx, _))| ctx.column(node).map(|c| (i, c)))
    }
}

/// A join clause as DuneSQL evaluates it with PostgreSQL's meaning: `x = y`, one column of
/// each side, the same types, an exact equality.
///
/// # Safety
/// `clause` must be an expression node of the join's restrictlist.
unsafe fn join_clause<'a>(
    clause: *mut pg_sys::Node,
    sides: [(&'a Ctx<'a>, *mut pg_sys::RelOptInfo); 2],
) -> Option<Condition> {
    // SAFETY: checked to be an OpExpr with two arguments before reading them.
    unsafe {
        if (*clause).type_ != pg_sys::NodeTag::T_OpExpr {
            return None;
        }
        let op = clause as *mut pg_sys::OpExpr;
        let args = PgList::<pg_sys::Node>::from_pg((*op).args);
        if args.len() != 2 || !builtin((*op).opno) || op_name((*op).opno)?.as_str() != "=" {
            return None;
        }
        let (ra, a) = side_column(args.get_ptr(0)?, sides)?;
        let (rb, b) = side_column(args.get_ptr(1)?, sides)?;
        let same = a.type_oid == b.type_oid && a.dune == b.dune && a.dune.is_some();
        (ra != rb && same && groupable(a) && groupable(b)).then(|| Condition::Columns {
            left: ColumnRef {
                rel: ra,
                name: a.remote.clone(),
            },
            op: Op::Eq,
            right: ColumnRef {
                rel: rb,
                name: b.remote.clone(),
            },
        })
    }
}

/// The inner side's filters with their parameters renumbered after the outer side's.
fn shifted(filters: &[Filter<PValue>], by: usize) -> Vec<Filter<PValue>> {
    filters
        .iter()
        .map(|f| {
            f.try_map(&mut |v| {
                Some(match v {
                    PValue::Param { index, type_oid } => PValue::Param {
                        index: index + by,
                        type_oid: *type_oid,
                    },
                    lit => lit.clone(),
                })
            })
            .expect("renumbering keeps every value")
        })
        .collect()
}

/// Whether both sides can be joined on Dune at all (before looking at the clauses).
fn joinable(outer: &RelInfo, inner: &RelInfo) -> bool {
    outer.statement.is_some()
        && inner.statement.is_some()
        && outer.all_pushed
        && inner.all_pushed
        && outer.table.server.name == inner.table.server.name
}

/// The Join of `outer` and `inner` under `extra`'s clauses, if all of it can run on Dune.
///
/// # Safety
/// The planner's structures of GetForeignJoinPaths.
unsafe fn join_of(
    root: *mut pg_sys::PlannerInfo,
    joinrel: *mut pg_sys::RelOptInfo,
    (outerrel, innerrel): (*mut pg_sys::RelOptInfo, *mut pg_sys::RelOptInfo),
    jointype: pg_sys::JoinType::Type,
    extra: *mut pg_sys::JoinPathExtraData,
) -> Option<Join> {
    // SAFETY: as the function requires.
    unsafe {
        let parse = (*root).parse;
        let kind = match jointype {
            pg_sys::JoinType::JOIN_INNER => JoinKind::Inner,
            pg_sys::JoinType::JOIN_LEFT => JoinKind::Left,
            _ => return None,
        };
        let base = |r: *mut pg_sys::RelOptInfo| {
            (*r).reloptkind == pg_sys::RelOptKind::RELOPT_BASEREL && !(*r).fdw_private.is_null()
        };
        if (*parse).commandType != pg_sys::CmdType::CMD_SELECT
            || !(*parse).rowMarks.is_null()
            || !base(outerrel)
            || !base(innerrel)
        {
            return None;
        }
        let (o, i) = (rel_info(outerrel), rel_info(innerrel));
        if !joinable(o, i) {
            return None;
        }
        let (octx, ictx) = (
            Ctx::new((*outerrel).relid, &o.table),
            Ctx::new((*innerrel).relid, &i.table),
        );
        let sides = [(&octx, outerrel), (&ictx, innerrel)];
        let mut clauses = Vec::new();
        for ri in PgList::<pg_sys::RestrictInfo>::from_pg((*extra).restrictlist).iter_ptr() {
            // a LEFT join's WHERE-level clause (pushed down past the join) is not supported
            if kind == JoinKind::Left && (*ri).is_pushed_down {
                return None;
            }
            clauses.push(join_clause((*ri).clause as *mut pg_sys::Node, sides)?);
        }
        let mut items = Vec::new();
        let mut outputs = Vec::new();
        let exprs = PgList::<pg_sys::Node>::from_pg((*(*joinrel).reltarget).exprs);
        for e in exprs.iter_ptr() {
            let (rel, col) = side_column(strip(e), sides)?;
            items.push(Item::Column(ColumnRef {
                rel,
                name: col.remote.clone(),
            }));
            outputs.push((pg_sys::exprType(e).to_u32(), pg_sys::exprTypmod(e)));
        }
        // a join that needs no column (count(*)) stays here: a scan returns at least one
        if items.is_empty() {
            return None;
        }
        let is = i.statement.as_ref()?;
        let mut filter_rels = vec![0; o.filters.len()];
        filter_rels.extend(std::iter::repeat_n(1, i.filters.len()));
        Some(Join {
            kind,
            right: is.from.clone(),
            right_table: i.table.qualified.clone(),
            right_types: is.types.clone(),
            right_require: is.require_filter.clone(),
            clauses,
            filter_rels,
            items,
            outputs,
        })
    }
}

/// GetForeignJoinPaths: a path that runs the join on Dune, when [`join_of`] allows it.
#[pg_guard]
pub extern "C-unwind" fn get_foreign_join_paths(
    root: *mut pg_sys::PlannerInfo,
    joinrel: *mut pg_sys::RelOptInfo,
    outerrel: *mut pg_sys::RelOptInfo,
    innerrel: *mut pg_sys::RelOptInfo,
    jointype: pg_sys::JoinType::Type,
    extra: *mut pg_sys::JoinPathExtraData,
) {
    // SAFETY: the planner's structures; the JoinInfo is leaked into the planner's memory
    // context (current here), which frees it with the plan's memory.
    unsafe {
        // PostgreSQL asks once per order of the two sides: the first answer is kept; a join
        // with lateral references would be a parameterized join, which PostgreSQL refuses
        if !(*joinrel).fdw_private.is_null() || !(*joinrel).lateral_relids.is_null() {
            return;
        }
        let Some(join) = join_of(root, joinrel, (outerrel, innerrel), jointype, extra) else {
            return;
        };
        let rows = (*joinrel).rows.max(1.0);
        let info = JoinInfo {
            outer: outerrel,
            inner: innerrel,
            join,
        };
        let ptr = PgMemoryContexts::CurrentMemoryContext.leak_and_drop_on_delete(info);
        (*joinrel).fdw_private = ptr as *mut c_void;
        let path = create_join_path(root, joinrel, rows, STARTUP_COST + rows * ROW_COST);
        pg_sys::add_path(joinrel, path as *mut pg_sys::Path);
    }
}

/// The two sides of a join pushed by [`get_foreign_join_paths`] (None for any other
/// relation), for a grouping over it (`upper.rs`): their deparsing contexts.
///
/// # Safety
/// `rel` must be a relation of the planner.
pub unsafe fn join_sides<'a>(rel: *mut pg_sys::RelOptInfo) -> Option<[Ctx<'a>; 2]> {
    // SAFETY: a join relation's fdw_private is ours only when set by get_foreign_join_paths.
    unsafe {
        if (*rel).reloptkind != pg_sys::RelOptKind::RELOPT_JOINREL || (*rel).fdw_private.is_null() {
            return None;
        }
        let info = &*((*rel).fdw_private as *const JoinInfo);
        let (o, i) = (rel_info(info.outer), rel_info(info.inner));
        Some([
            Ctx::new((*info.outer).relid, &o.table),
            Ctx::new((*info.inner).relid, &i.table),
        ])
    }
}

/// The plan of a scan of the pushed join `joinrel` and its parameter expressions.
///
/// # Safety
/// `joinrel` must be a join relation of [`get_foreign_join_paths`] with a path.
pub unsafe fn join_scan_plan(
    joinrel: *mut pg_sys::RelOptInfo,
) -> (ScanPlan, Vec<*mut pg_sys::Node>) {
    // SAFETY: as the function requires; fdw_private is the JoinInfo set above.
    unsafe {
        let info = &*((*joinrel).fdw_private as *const JoinInfo);
        let (o, i) = (rel_info(info.outer), rel_info(info.inner));
        let mut plan = base_plan(o, None, 0, shifted(&i.filters, o.params.len()));
        plan.columns = None;
        let mut statement = o.statement.clone().expect("a Dune table's scan");
        statement.join = Some(info.join.clone());
        plan.statement = Some(statement);
        let mut params = o.params.clone();
        params.extend(i.params.iter().copied());
        (plan, params)
    }
}

/// The plan of a joined path: a scan with no scan relation whose rows are the join's target
/// (`fdw_scan_tlist`), the DuneSQL of both sides' scans joined.
///
/// # Safety
/// The planner's arguments of GetForeignPlan for a path made by [`get_foreign_join_paths`].
pub unsafe fn join_plan(
    joinrel: *mut pg_sys::RelOptInfo,
    best_path: *mut pg_sys::ForeignPath,
    tlist: *mut pg_sys::List,
    outer_plan: *mut pg_sys::Plan,
) -> *mut pg_sys::ForeignScan {
    // SAFETY: as the function requires.
    unsafe {
        let (plan, params) = join_scan_plan(joinrel);
        let exprs = PgList::<pg_sys::Node>::from_pg((*(*best_path).path.pathtarget).exprs);
        let scan_tlist = target_list(&exprs.iter_ptr().collect::<Vec<_>>());
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

unsafe fn create_join_path(
    root: *mut pg_sys::PlannerInfo,
    joinrel: *mut pg_sys::RelOptInfo,
    rows: f64,
    total: f64,
) -> *mut pg_sys::ForeignPath {
    // SAFETY: arguments straight from the planner; the signature differs by major version.
    unsafe {
        #[cfg(any(feature = "pg13", feature = "pg14", feature = "pg15", feature = "pg16"))]
        let path = pg_sys::create_foreign_join_path(
            root,
            joinrel,
            std::ptr::null_mut(),
            rows,
            STARTUP_COST,
            total,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        );
        #[cfg(feature = "pg17")]
        let path = pg_sys::create_foreign_join_path(
            root,
            joinrel,
            std::ptr::null_mut(),
            rows,
            STARTUP_COST,
            total,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        );
        #[cfg(feature = "pg18")]
        let path = pg_sys::create_foreign_join_path(
            root,
            joinrel,
            std::ptr::null_mut(),
            rows,
            0,
            STARTUP_COST,
            total,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        );
        path
    }
}
