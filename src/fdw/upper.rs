//! Aggregate pushdown for scans of Dune's tables (GetForeignUpperPaths at
//! UPPERREL_GROUP_AGG), as postgres_fdw pushes a grouped query: when the query's only
//! relation is a Dune table, every qual of it is in the DuneSQL, and each output of the
//! grouping is a grouped column or an aggregate DuneSQL computes with PostgreSQL's meaning,
//! the scan runs `SELECT g…, agg… FROM t WHERE … GROUP BY …` and returns one row per group.
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

use crate::fdw::deparse::{Ctx, strip};
use crate::fdw::table::Column;
use dune_api::{Aggregate, ColumnRef, Item};
use pg_format::{Compare, DuneKind, Sort};
use pgrx::{PgList, pg_sys};
use serde::{Deserialize, Serialize};
use std::ffi::CStr;

/// The relation (0, or 1 for a join's second table) and column an expression reads, if it is
/// a plain column of the grouped scan's relations.
pub type Resolver<'a> = dyn Fn(*mut pg_sys::Node) -> Option<(usize, &'a Column)> + 'a;

/// A [`Resolver`] over the relations of `ctxs` (one for a table, two for a join).
///
/// # Safety
/// The nodes it is given must be expression nodes.
pub unsafe fn resolver<'a>(ctxs: &'a [Ctx<'a>]) -> Box<Resolver<'a>> {
    Box::new(move |node| {
        // SAFETY: as the function requires.
        ctxs.iter()
            .enumerate()
            .find_map(|(i, c)| unsafe { c.column(node) }.map(|col| (i, col)))
    })
}

/// The grouping a scan computes on Dune: its output columns (the grouping target's order),
/// the GROUP BY positions, and each output's PostgreSQL type and typmod.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Grouping {
    pub items: Vec<Item>,
    pub group_by: Vec<usize>,
    pub outputs: Vec<(u32, i32)>,
}

pub(crate) fn groupable(col: &Column) -> bool {
    matches!(col.rule().compare, Compare::Exact { .. })
        && col.type_oid != pg_sys::FLOAT4OID
        && col.type_oid != pg_sys::FLOAT8OID
}

fn summable(col: &Column, avg: bool) -> bool {
    let int = matches!(
        col.type_oid,
        pg_sys::INT2OID | pg_sys::INT4OID | pg_sys::INT8OID
    );
    match col.dune {
        Some(DuneKind::Double) => col.type_oid == pg_sys::FLOAT8OID,
        Some(DuneKind::Integer) => int && !avg,
        Some(DuneKind::Decimal { scale: Some(0) }) => col.type_oid == pg_sys::NUMERICOID && !avg,
        _ => false,
    }
}

/// The aggregate `node` as DuneSQL computes it with PostgreSQL's meaning, if it is one.
///
/// # Safety
/// `node` must be a valid expression node of the grouping target.
unsafe fn aggregate<'a>(column: &Resolver<'a>, node: *mut pg_sys::Node) -> Option<Item> {
    // SAFETY: checked to be an Aggref; its args are TargetEntries; catalog lookups by oid.
    unsafe {
        if (*node).type_ != pg_sys::NodeTag::T_Aggref {
            return None;
        }
        let agg = node as *mut pg_sys::Aggref;
        if !(*agg).aggfilter.is_null()
            || !(*agg).aggorder.is_null()
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
        let distinct = !(*agg).aggdistinct.is_null();
        if (*agg).aggstar {
            return (func == Aggregate::Count && !distinct).then_some(Item::Aggregate {
                func,
                arg: None,
                distinct: false,
            });
        }
        let args = PgList::<pg_sys::TargetEntry>::from_pg((*agg).args);
        if args.len() != 1 {
            return None;
        }
        let (rel, col) = column((*args.get_ptr(0)?).expr as *mut pg_sys::Node)?;
        let ok = match func {
            Aggregate::Count => !distinct || groupable(col),
            _ if distinct => false,
            Aggregate::Sum => summable(col, false),
            Aggregate::Avg => summable(col, true),
            Aggregate::Min | Aggregate::Max => col.rule().sort == Sort::Exact,
        };
        ok.then(|| Item::Aggregate {
            func,
            arg: Some(ColumnRef {
                rel,
                name: col.remote.clone(),
            }),
            distinct,
        })
    }
}

/// The grouping of `target` over the scan `ctx` plans, if all of it can run on Dune.
///
/// # Safety
/// `root` and `target` must be the planner's, at UPPERREL_GROUP_AGG.
pub unsafe fn grouping<'a>(
    root: *mut pg_sys::PlannerInfo,
    column: &Resolver<'a>,
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
                let (rel, col) = column(expr).filter(|(_, c)| groupable(c))?;
                g.group_by.push(g.items.len() + 1);
                let item = Item::Column(ColumnRef {
                    rel,
                    name: col.remote.clone(),
                });
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
                            let item = aggregate(column, node)?;
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
    item: Item,
    expr: *mut pg_sys::Node,
) {
    // SAFETY: as the function requires.
    let (ty, typmod) = unsafe { (pg_sys::exprType(expr).to_u32(), pg_sys::exprTypmod(expr)) };
    g.items.push(item);
    g.outputs.push((ty, typmod));
    tlist.push(expr);
}
