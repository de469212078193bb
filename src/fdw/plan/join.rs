//! Join pushdown (GetForeignJoinPaths), as postgres_fdw pushes a join of two remote tables:
//! the join relation's statement is its two sides' statements joined, `SELECT … FROM a r1
//! [LEFT] JOIN b r2 ON … WHERE …`, and its scan returns the joined rows. Pushed when:
//! - the join is INNER or LEFT (a RIGHT join reaches us as LEFT with the sides swapped; FULL,
//!   SEMI and ANTI joins stay in PostgreSQL), in a SELECT without row locks;
//! - both sides are scans of Dune tables on the same server with every qual in their DuneSQL
//!   (a LEFT join's second table's quals go into ON, choosing the rows it joins);
//! - every join clause is `a.x = b.y` over columns whose `=` means the same on both sides
//!   (the grouping rule of `grouping.rs`) with the same PostgreSQL type and the same kind of
//!   Dune comparison;
//! - the join's outputs are plain columns.
//!
//! The path costs one request and the joined rows, against two requests and both tables' rows
//! for the join done here.

use crate::fdw::deparse::{builtin, op_name, strip};
use crate::fdw::plan::cost::pushed_cost;
use crate::fdw::plan::grouping::groupable;
use crate::fdw::plan::node::{PathKind, foreign_path, make_scan, target_list};
use crate::fdw::plan::rel_info::{RelInfo, RelKind, ScanDraft, StatementDraft, keep, rel_info};
use dune_api::{Expr, Join, JoinKind, Op, PValue};
use pg_format::same_comparison;
use pgrx::{PgList, pg_sys};

/// A join clause as DuneSQL evaluates it with PostgreSQL's meaning: `x = y`, one column of
/// each side (`joined` holds both sides' relations, the outer's `0..split`), the same types,
/// an exact equality.
///
/// # Safety
/// `clause` must be an expression node of the join's restrictlist.
unsafe fn join_clause(
    clause: *mut pg_sys::Node,
    joined: &StatementDraft,
    split: usize,
) -> Option<Expr<PValue>> {
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
        let (ra, a) = joined.column(args.get_ptr(0)?)?;
        let (rb, b) = joined.column(args.get_ptr(1)?)?;
        let same = a.type_oid == b.type_oid
            && matches!((&a.dune, &b.dune), (Some(x), Some(y)) if same_comparison(x, y));
        let across = (ra < split) != (rb < split);
        (across && same && groupable(a) && groupable(b)).then(|| {
            Expr::compare(
                Expr::column(ra, &a.remote),
                Op::Eq,
                Expr::column(rb, &b.remote),
            )
        })
    }
}

/// `conds` moved to the relations after the first `shift` ones, their parameters after the
/// first `params`.
fn shifted(conds: &[Expr<PValue>], shift: usize, params: usize) -> Vec<Expr<PValue>> {
    conds
        .iter()
        .map(|c| {
            let mut c = c
                .try_map(&mut |v| {
                    Some(match v {
                        PValue::Param(i) => PValue::Param(i + params),
                        lit => lit.clone(),
                    })
                })
                .expect("renumbering keeps every value");
            c.relabel(&|r| r + shift);
            c
        })
        .collect()
}

/// The statement of both sides joined, before the clauses and outputs: the outer's relations
/// then the inner's, the inner's conditions moved after the outer's (into ON for a LEFT join).
fn joined(o: &RelInfo, od: &StatementDraft, id: &StatementDraft, kind: JoinKind) -> StatementDraft {
    let shift = od.select.from.len();
    let inner_conds = shifted(&id.select.filters, shift, o.params.len());
    let mut d = od.clone();
    d.select.from.extend(id.select.from.iter().cloned());
    let mut on = Vec::new();
    match kind {
        JoinKind::Left => on = inner_conds,
        _ => d.select.filters.extend(inner_conds),
    }
    d.select.joins.push(Join { kind, on });
    for j in &id.select.joins {
        let on = shifted(&j.on, shift, o.params.len());
        d.select.joins.push(Join { kind: j.kind, on });
    }
    d.relations.extend(id.relations.iter().cloned());
    d.exact = true;
    d
}

/// Both sides as statements that can be joined on Dune at all (before looking at the
/// clauses): scans of Dune tables on one server, every qual in their statements.
fn sides<'a>(o: &'a RelInfo, i: &'a RelInfo) -> Option<(&'a StatementDraft, &'a StatementDraft)> {
    let (od, id) = (o.statement()?, i.statement()?);
    let base = |r: &RelInfo| matches!(r.kind, RelKind::Base { .. });
    // partitions (other member relations) are not joined on Dune: a partitionwise join is
    // left to PostgreSQL
    let server = |d: &StatementDraft| d.relations[0].table.server.name.clone();
    (base(o) && base(i) && o.all_pushed && i.all_pushed && server(od) == server(id))
        .then_some((od, id))
}

/// The RelInfo of `joinrel` run on Dune, if all of it can be.
///
/// # Safety
/// The planner's structures of GetForeignJoinPaths.
unsafe fn join_of(
    root: *mut pg_sys::PlannerInfo,
    joinrel: *mut pg_sys::RelOptInfo,
    (outerrel, innerrel): (*mut pg_sys::RelOptInfo, *mut pg_sys::RelOptInfo),
    jointype: pg_sys::JoinType::Type,
    extra: *mut pg_sys::JoinPathExtraData,
) -> Option<RelInfo> {
    // SAFETY: as the function requires.
    unsafe {
        let parse = (*root).parse;
        let kind = match jointype {
            pg_sys::JoinType::JOIN_INNER => JoinKind::Inner,
            pg_sys::JoinType::JOIN_LEFT => JoinKind::Left,
            _ => return None,
        };
        if (*parse).commandType != pg_sys::CmdType::CMD_SELECT || !(*parse).rowMarks.is_null() {
            return None;
        }
        let plain =
            |r: *mut pg_sys::RelOptInfo| (*r).reloptkind == pg_sys::RelOptKind::RELOPT_BASEREL;
        if !plain(outerrel) || !plain(innerrel) {
            return None;
        }
        let (o, i) = (rel_info(outerrel)?, rel_info(innerrel)?);
        let (od, id) = sides(o, i)?;
        let mut d = joined(o, od, id, kind);
        let split = od.select.from.len();
        let mut clauses = Vec::new();
        for ri in PgList::<pg_sys::RestrictInfo>::from_pg((*extra).restrictlist).iter_ptr() {
            // a LEFT join's WHERE-level clause (pushed down past the join) is not supported
            if kind == JoinKind::Left && (*ri).is_pushed_down {
                return None;
            }
            clauses.push(join_clause((*ri).clause as *mut pg_sys::Node, &d, split)?);
        }
        let last = d.select.joins.last_mut().expect("the join just added");
        clauses.append(&mut last.on);
        last.on = clauses;
        let mut items = Vec::new();
        let mut outputs = Vec::new();
        for e in PgList::<pg_sys::Node>::from_pg((*(*joinrel).reltarget).exprs).iter_ptr() {
            let (rel, col) = d.column(strip(e))?;
            items.push(Expr::column(rel, &col.remote));
            outputs.push((pg_sys::exprType(e).to_u32(), pg_sys::exprTypmod(e)));
        }
        // a join that needs no column (count(*)) stays here: a scan returns at least one
        if items.is_empty() {
            return None;
        }
        d.select.items = items;
        d.outputs = Some(outputs);
        let mut params = o.params.clone();
        params.extend(i.params.iter().copied());
        Some(RelInfo {
            kind: RelKind::Join,
            scan: ScanDraft::Statement(d),
            params,
            all_pushed: true,
            cached: false,
        })
    }
}

/// GetForeignJoinPaths: a path that runs the join on Dune, when [`join_of`] allows it.
///
/// # Safety
/// The planner's structures of GetForeignJoinPaths.
pub(crate) unsafe fn add_join_path(
    root: *mut pg_sys::PlannerInfo,
    joinrel: *mut pg_sys::RelOptInfo,
    sides: (*mut pg_sys::RelOptInfo, *mut pg_sys::RelOptInfo),
    jointype: pg_sys::JoinType::Type,
    extra: *mut pg_sys::JoinPathExtraData,
) {
    // SAFETY: as the function requires.
    unsafe {
        // PostgreSQL asks once per order of the two sides: the first answer is kept; a join
        // with lateral references would be a parameterized join, which PostgreSQL refuses
        if !(*joinrel).fdw_private.is_null() || !(*joinrel).lateral_relids.is_null() {
            return;
        }
        let Some(info) = join_of(root, joinrel, sides, jointype, extra) else {
            return;
        };
        keep(joinrel, info);
        let rows = (*joinrel).rows.max(1.0);
        let (target, keys, private) = (
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        );
        let path = foreign_path(
            root,
            joinrel,
            PathKind::Join,
            target,
            rows,
            pushed_cost(rows),
            (keys, private),
        );
        pg_sys::add_path(joinrel, path);
    }
}

/// The plan of a joined path: a scan with no scan relation whose rows are the join's target
/// (`fdw_scan_tlist`), computed by the join's statement.
///
/// # Safety
/// The planner's arguments of GetForeignPlan for a path made by [`add_join_path`].
pub(crate) unsafe fn plan(
    joinrel: *mut pg_sys::RelOptInfo,
    best_path: *mut pg_sys::ForeignPath,
    tlist: *mut pg_sys::List,
    outer_plan: *mut pg_sys::Plan,
) -> *mut pg_sys::ForeignScan {
    // SAFETY: as the function requires.
    unsafe {
        let info = rel_info(joinrel).expect("planned by add_join_path");
        let draft = info.statement().expect("a join runs a statement");
        let plan = draft.scan(Vec::new(), (None, 0), false);
        let exprs = PgList::<pg_sys::Node>::from_pg((*(*best_path).path.pathtarget).exprs);
        let scan_tlist = target_list(&exprs.iter_ptr().collect::<Vec<_>>());
        let quals = (tlist, std::ptr::null_mut());
        make_scan(quals, 0, &info.params, &plan, scan_tlist, outer_plan)
    }
}
