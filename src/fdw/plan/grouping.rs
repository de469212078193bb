//! Aggregate pushdown (GetForeignUpperPaths at UPPERREL_GROUP_AGG), as postgres_fdw pushes a
//! grouped query: when the grouped relation is a statement run on Dune (a Dune table's scan
//! with every qual in its DuneSQL, or a join pushed down), and each output of the grouping is
//! a grouped column or an aggregate DuneSQL computes with PostgreSQL's meaning, the statement
//! gets the grouping, `SELECT g…, agg… FROM … WHERE … GROUP BY …`, and its scan returns one
//! row per group.
//! HAVING, ORDER BY and LIMIT above the grouping run in PostgreSQL over those rows.
//!
//! What is pushed, by column (PostgreSQL type over Dune type):
//! - grouping keys and `count(DISTINCT x)`: columns whose `=` means the same on both sides
//!   (`pg_format::pushdown`'s exact comparisons), floats excepted (NaN is equal to itself in
//!   PostgreSQL, not in Trino);
//! - `count(*)`, `count(x)`: any column (bigint on both sides);
//! - `sum(x)`: integers over Dune integers (bigint; a Trino overflow is an error, not a wrong
//!   sum), float8 over double, numeric over uint256/int256/decimal(p, 0) (exact on both);
//! - `avg(x)`: float8 over double only (Trino's avg of integers is a double, PostgreSQL's a
//!   numeric);
//! - `min(x)`, `max(x)`: columns whose order Dune keeps exactly (never text: its order is the
//!   collation's).

use crate::fdw::deparse::{Ctx, condition, expression, family, strip};
use crate::fdw::plan::cost::upper_cost;
use crate::fdw::plan::node::{PathKind, foreign_path, make_scan, marker, single_scan, target_list};
use crate::fdw::plan::rel_info::{RelInfo, RelKind, ScanDraft, keep, rel_info};
use crate::fdw::table::Column;
use dune_api::{Aggregate, DuneType, Expr, PValue};
use pg_format::{Compare, Family, Sort};
use pgrx::{PgList, pg_sys};
use std::ffi::CStr;

/// The grouping a statement computes on Dune: its outputs (the grouping target's order), the
/// GROUP BY positions, and each output's PostgreSQL type and typmod.
struct Grouping {
    items: Vec<Expr<PValue>>,
    group_by: Vec<usize>,
    outputs: Vec<(u32, i32)>,
}

pub(crate) fn groupable(col: &Column) -> bool {
    matches!(col.rule().compare, Compare::Exact { .. })
        && col.type_oid != pg_sys::FLOAT4OID
        && col.type_oid != pg_sys::FLOAT8OID
}

/// Whether values of the PostgreSQL type `ty`, computed alike on both sides, are equal on
/// Dune exactly when they are in PostgreSQL (floats excepted: NaN is equal to itself in
/// PostgreSQL, not in Trino).
fn groupable_type(ty: pg_sys::Oid) -> bool {
    !matches!(family(ty), Family::Other) && ty != pg_sys::FLOAT4OID && ty != pg_sys::FLOAT8OID
}

fn summable(col: &Column, avg: bool) -> bool {
    let int = matches!(
        col.type_oid,
        pg_sys::INT2OID | pg_sys::INT4OID | pg_sys::INT8OID
    );
    match &col.dune {
        Some(DuneType::Double) => col.type_oid == pg_sys::FLOAT8OID,
        Some(t) if t.is_integer() => int && !avg,
        Some(DuneType::Uint256 | DuneType::Int256 | DuneType::Decimal { scale: 0, .. }) => {
            col.type_oid == pg_sys::NUMERICOID && !avg
        }
        _ => false,
    }
}

/// What an aggregate's argument is: a column (by its rule) or an expression (by its type).
enum Arg<'a> {
    Column(&'a Column),
    Typed(pg_sys::Oid),
}

/// Whether `func` (with `distinct`) of `arg` gives PostgreSQL's answer on Dune (see the
/// module's list).
fn aggregable(func: Aggregate, distinct: bool, arg: &Arg) -> bool {
    let ordered = |t: pg_sys::Oid| {
        [
            pg_sys::INT2OID,
            pg_sys::INT4OID,
            pg_sys::INT8OID,
            pg_sys::FLOAT8OID,
            pg_sys::DATEOID,
            pg_sys::TIMESTAMPOID,
            pg_sys::TIMESTAMPTZOID,
        ]
        .contains(&t)
    };
    let ints = |t: pg_sys::Oid| [pg_sys::INT2OID, pg_sys::INT4OID, pg_sys::INT8OID].contains(&t);
    match (func, arg) {
        (Aggregate::Count, _) if !distinct => true,
        (Aggregate::Count, Arg::Column(c)) => groupable(c),
        (Aggregate::Count, Arg::Typed(t)) => groupable_type(*t),
        (_, _) if distinct => false,
        (Aggregate::Sum, Arg::Column(c)) => summable(c, false),
        (Aggregate::Avg, Arg::Column(c)) => summable(c, true),
        (Aggregate::Min | Aggregate::Max, Arg::Column(c)) => c.rule().sort == Sort::Exact,
        (Aggregate::Sum, Arg::Typed(t)) => ints(*t) || *t == pg_sys::FLOAT8OID,
        (Aggregate::Avg, Arg::Typed(t)) => *t == pg_sys::FLOAT8OID,
        (Aggregate::Min | Aggregate::Max, Arg::Typed(t)) => ordered(*t),
    }
}

/// The aggregate `node` as DuneSQL computes it with PostgreSQL's meaning, if it is one: a
/// function of the module's list over a column or an expression, with `FILTER (WHERE …)`.
///
/// # Safety
/// `node` must be a valid expression node of the grouping target.
unsafe fn aggregate(ctx: &mut Ctx, node: *mut pg_sys::Node) -> Option<Expr<PValue>> {
    // SAFETY: checked to be an Aggref; its args are TargetEntries; catalog lookups by oid.
    unsafe {
        if (*node).type_ != pg_sys::NodeTag::T_Aggref {
            return None;
        }
        let agg = node as *mut pg_sys::Aggref;
        if !(*agg).aggorder.is_null()
            || (*agg).aggkind != b'n' as std::ffi::c_char // AGGKIND_NORMAL
            || (*agg).aggsplit != pg_sys::AggSplit::AGGSPLIT_SIMPLE
            || pg_sys::get_func_namespace((*agg).aggfnoid) != pg_sys::Oid::from(pg_sys::PG_CATALOG_NAMESPACE)
        {
            return None;
        }
        let name = CStr::from_ptr(pg_sys::get_func_name((*agg).aggfnoid))
            .to_str()
            .ok()?;
        let func = match name {
            "count" => Aggregate::Count,
            "sum" => Aggregate::Sum,
            "avg" => Aggregate::Avg,
            "min" => Aggregate::Min,
            "max" => Aggregate::Max,
            _ => return None,
        };
        let filter = match (*agg).aggfilter as *mut pg_sys::Node {
            f if f.is_null() => None,
            f => Some(Box::new(condition(ctx, f)?)),
        };
        let distinct = !(*agg).aggdistinct.is_null();
        if (*agg).aggstar {
            return (func == Aggregate::Count && !distinct).then_some(Expr::Aggregate {
                func,
                arg: None,
                distinct: false,
                filter,
            });
        }
        let args = PgList::<pg_sys::TargetEntry>::from_pg((*agg).args);
        if args.len() != 1 {
            return None;
        }
        let arg = (*args.get_ptr(0)?).expr as *mut pg_sys::Node;
        let (expr, ok) = match ctx.column_ref(arg) {
            Some((rel, col)) => (
                Expr::column(rel, &col.remote),
                aggregable(func, distinct, &Arg::Column(col)),
            ),
            None => {
                let t = expression(ctx, arg)?;
                (t.expr, aggregable(func, distinct, &Arg::Typed(t.ty)))
            }
        };
        ok.then(|| Expr::Aggregate {
            func,
            arg: Some(Box::new(expr)),
            distinct,
            filter,
        })
    }
}

/// A grouping key: a column whose `=` means the same on both sides, or an expression DuneSQL
/// computes alike whose type's `=` does.
///
/// # Safety
/// `node` must be a valid expression node of the grouping target.
unsafe fn key(ctx: &mut Ctx, node: *mut pg_sys::Node) -> Option<Expr<PValue>> {
    // SAFETY: as the function requires.
    unsafe {
        if let Some((rel, col)) = ctx.column_ref(node) {
            return groupable(col).then(|| Expr::column(rel, &col.remote));
        }
        let t = expression(ctx, node)?;
        let constant = matches!(t.expr, Expr::Value { .. });
        (groupable_type(t.ty) && !constant).then_some(t.expr)
    }
}

/// The statement `d` grouped by `target`, if all of it can run on Dune, with the scan's
/// outputs (fdw_scan_tlist).
///
/// # Safety
/// `root` and `target` must be the planner's, at UPPERREL_GROUP_AGG.
unsafe fn grouping(
    root: *mut pg_sys::PlannerInfo,
    ctx: &mut Ctx,
    target: *mut pg_sys::PathTarget,
) -> Option<(Grouping, Vec<*mut pg_sys::Node>)> {
    // SAFETY: the planner's Query and PathTarget; sortgrouprefs has one entry per expr when
    // not NULL.
    unsafe {
        let parse = (*root).parse;
        if !(*parse).groupingSets.is_null() || !(*parse).havingQual.is_null() {
            return None;
        }
        let mut g = Grouping {
            items: Vec::new(),
            group_by: Vec::new(),
            outputs: Vec::new(),
        };
        // the scan's outputs (fdw_scan_tlist): grouping keys and aggregates; an expression
        // over them (`round(sum(x))`) is computed by PostgreSQL from those outputs
        let mut tlist: Vec<*mut pg_sys::Node> = Vec::new();
        let mut vars = Vec::new();
        let exprs = PgList::<pg_sys::Node>::from_pg((*target).exprs);
        for (i, expr) in exprs.iter_ptr().enumerate() {
            let sgref = if (*target).sortgrouprefs.is_null() {
                0
            } else {
                *(*target).sortgrouprefs.add(i)
            };
            let grouped = sgref != 0
                && !pg_sys::get_sortgroupref_clause_noerr(sgref, (*parse).groupClause).is_null();
            if grouped {
                let item = key(ctx, expr)?;
                g.group_by.push(g.items.len() + 1);
                add(&mut g, &mut tlist, item, expr);
                continue;
            }
            let flags = pg_sys::PVC_INCLUDE_AGGREGATES | pg_sys::PVC_INCLUDE_PLACEHOLDERS;
            let pulled = pg_sys::pull_var_clause(expr, flags as i32);
            for node in PgList::<pg_sys::Node>::from_pg(pulled).iter_ptr() {
                match (*node).type_ {
                    pg_sys::NodeTag::T_Aggref => {
                        if !tlist
                            .iter()
                            .any(|&t| pg_sys::equal(t as *const _, node as *const _))
                        {
                            let item = aggregate(ctx, node)?;
                            add(&mut g, &mut tlist, item, node);
                        }
                    }
                    pg_sys::NodeTag::T_Var => vars.push(node),
                    _ => return None,
                }
            }
        }
        // a column outside aggregates must be a grouping key (PostgreSQL checked it; its key
        // must be among the outputs)
        let known = |v: *mut pg_sys::Node| {
            tlist
                .iter()
                .any(|&t| pg_sys::equal(strip(t) as *const _, v as *const _))
        };
        if !vars.into_iter().all(known) {
            return None;
        }
        // every GROUP BY key must be an output (a key left out of the target is not supported)
        let keys = PgList::<pg_sys::SortGroupClause>::from_pg((*parse).groupClause).len();
        (keys == g.group_by.len() && !g.items.is_empty()).then_some((g, tlist))
    }
}

/// Adds an output of the grouped scan: its item and its expression.
///
/// # Safety
/// `expr` must be an expression node.
unsafe fn add(
    g: &mut Grouping,
    tlist: &mut Vec<*mut pg_sys::Node>,
    item: Expr<PValue>,
    expr: *mut pg_sys::Node,
) {
    // SAFETY: as the function requires.
    let (ty, typmod) = unsafe { (pg_sys::exprType(expr).to_u32(), pg_sys::exprTypmod(expr)) };
    g.items.push(item);
    g.outputs.push((ty, typmod));
    tlist.push(expr);
}

/// The statement a grouping can be added to: the query's only relation, a Dune table's scan
/// with every qual in its statement, or a join pushed down.
///
/// # Safety
/// The planner's root and the grouping's input relation.
unsafe fn groupable_input<'a>(
    root: *mut pg_sys::PlannerInfo,
    input_rel: *mut pg_sys::RelOptInfo,
) -> Option<&'a RelInfo> {
    // SAFETY: as the function requires.
    unsafe {
        let info = rel_info(input_rel)?;
        let base =
            single_scan(root) == Some(input_rel) && matches!(info.kind, RelKind::Base { .. });
        let join = matches!(info.kind, RelKind::Join);
        ((base || join) && info.all_pushed && info.statement().is_some()).then_some(info)
    }
}

/// At the grouping stage: a path that runs the grouping and aggregates on Dune, costing one
/// request and its groups' rows.
///
/// # Safety
/// The planner's root and relations at UPPERREL_GROUP_AGG.
pub(crate) unsafe fn add_group_path(
    root: *mut pg_sys::PlannerInfo,
    input_rel: *mut pg_sys::RelOptInfo,
    output_rel: *mut pg_sys::RelOptInfo,
) {
    // SAFETY: as the function requires.
    unsafe {
        let Some(input) = groupable_input(root, input_rel) else {
            return;
        };
        let draft = input.statement().expect("checked by groupable_input");
        let target = (*root).upper_targets[pg_sys::UpperRelationKind::UPPERREL_GROUP_AGG as usize];
        let mut ctx = draft.ctx(input.params.clone());
        let Some((g, tlist)) = grouping(root, &mut ctx, target) else {
            return;
        };
        let params = ctx.params;
        let rows = if g.group_by.is_empty() {
            1.0
        } else {
            ((*input_rel).rows / 10.0).clamp(1.0, 1_000_000.0)
        };
        let mut grouped = draft.clone();
        grouped.select.items = g.items;
        grouped.select.group_by = g.group_by;
        grouped.outputs = Some(g.outputs);
        grouped.exact = true;
        keep(
            output_rel,
            RelInfo {
                kind: RelKind::Grouped { tlist },
                scan: ScanDraft::Statement(grouped),
                params,
                all_pushed: true,
                cached: false,
            },
        );
        let (cost, keys) = (upper_cost(rows), std::ptr::null_mut());
        let path = foreign_path(
            root,
            output_rel,
            PathKind::Upper,
            target,
            rows,
            cost,
            (keys, marker(c"group")),
        );
        pg_sys::add_path(output_rel, path);
    }
}

/// The plan of a grouped path (or of an ordered or final path above it): a scan with no scan
/// relation whose rows are the grouping target's (`fdw_scan_tlist`), computed by the grouped
/// statement with its ORDER BY and LIMIT.
///
/// # Safety
/// The planner's arguments of GetForeignPlan for a path made by [`add_group_path`].
pub(crate) unsafe fn plan(
    upper: *mut pg_sys::RelOptInfo,
    tlist: *mut pg_sys::List,
    outer_plan: *mut pg_sys::Plan,
) -> *mut pg_sys::ForeignScan {
    // SAFETY: as the function requires.
    unsafe {
        let info = rel_info(upper).expect("planned by add_group_path");
        let RelKind::Grouped { tlist: outputs } = &info.kind else {
            unreachable!("a grouped relation")
        };
        let draft = info.statement().expect("a grouping runs a statement");
        // an ordered or final relation above the grouping carries its ORDER BY and LIMIT
        let select = &draft.select;
        let plan = draft.scan(
            select.order_by.clone(),
            (select.limit, select.offset),
            false,
        );
        let scan_tlist = target_list(outputs);
        make_scan(
            (tlist, std::ptr::null_mut()),
            0,
            &info.params,
            &plan,
            scan_tlist,
            outer_plan,
        )
    }
}
