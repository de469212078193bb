//! From planner expressions to Dune conditions (`dune_api::Expr` over one relation, its values
//! typed by the column they are compared with), by the rules of `pg_format::pushdown`: a
//! condition is translated when Dune keeps exactly the rows PostgreSQL keeps (or, marked not
//! exact, a superset of them). A scan whose rows PostgreSQL rechecks loses only rows by what
//! is not translated, never correctness, and a LIMIT is pushed only when every qual was
//! translated exactly; a join or a grouping is built only on scans with every qual translated.
//! The same conditions become result filters or a statement's WHERE.

use crate::fdw::datum::{array_datum_elements, datum_literal, output_text};
use crate::fdw::table::Column;
use dune_api::{Expr, Literal, Op, PValue};
use pg_format::{Compare, Family, rounding_bounds, rounding_bounds_micros, timestamp_text};
use pgrx::pg_sys;

mod ctx;
mod expr;

pub use ctx::{Ctx, family, strip};
pub(crate) use ctx::{builtin, list_nodes, op_name, op_of};
pub use expr::{condition, expression};

/// A value given to a query parameter by `param_column = value`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct QueryParam {
    /// The parameter's name.
    pub name: String,
    /// Its value (a constant, a parameter, an outer column of a parameterized path, a stable
    /// expression).
    pub value: PValue,
    /// The value is a date (the column's type or the value's), sent as its midnight.
    pub date: bool,
}

/// `param_column = value`: the parameter and its value.
///
/// # Safety
/// `node` must be a valid expression node.
pub unsafe fn param_equality(ctx: &mut Ctx, node: *mut pg_sys::Node) -> Option<QueryParam> {
    // SAFETY: an OpExpr (checked) whose args are expression nodes.
    unsafe {
        let node = strip(node);
        if (*node).type_ != pg_sys::NodeTag::T_OpExpr {
            return None;
        }
        let e = node as *mut pg_sys::OpExpr;
        let args = list_nodes((*e).args);
        if args.len() != 2 || !builtin((*e).opno) || op_name((*e).opno)? != "=" {
            return None;
        }
        let (col, other) = match (ctx.param_column(args[0]), ctx.param_column(args[1])) {
            (Some(c), None) => (c.clone(), args[1]),
            (None, Some(c)) => (c.clone(), args[0]),
            _ => return None,
        };
        let want = family(col.type_oid);
        let value = match ctx.value(other, want) {
            Some(v) => v,
            // `timestamp_column = date`: PostgreSQL compares the date's midnight, which is
            // what the parameter is given (a date value is sent with its time, 00:00:00)
            None if matches!(want, Family::Timestamp | Family::TimestampTz) => {
                match ctx.value(other, Family::Date)? {
                    PValue::Lit(Literal::Text(day)) => {
                        PValue::Lit(Literal::Text(format!("{day} 00:00:00")))
                    }
                    param => param,
                }
            }
            None => return None,
        };
        let date = want == Family::Date || pg_sys::exprType(strip(other)) == pg_sys::DATEOID;
        Some(QueryParam {
            name: col.param.clone()?,
            value,
            date,
        })
    }
}

/// Whether `node` reads a parameter column of the scanned relation anywhere.
///
/// # Safety
/// `node` must be a valid expression node.
pub unsafe fn reads_param_column(ctx: &Ctx, node: *mut pg_sys::Node) -> bool {
    // SAFETY: pull_varattnos walks a valid expression tree.
    unsafe {
        let mut attrs: *mut pg_sys::Bitmapset = std::ptr::null_mut();
        pg_sys::pull_varattnos(node, ctx.varno, &mut attrs);
        ctx.table.live_columns_with_attno().any(|(attno, col)| {
            col.param.is_some()
                && pg_sys::bms_is_member(
                    i32::from(attno) - pg_sys::FirstLowInvalidHeapAttributeNumber,
                    attrs,
                )
        })
    }
}

/// A translated WHERE clause: the Dune condition, and whether Dune keeps exactly PostgreSQL's
/// rows with it (else a superset).
pub struct Pushed {
    pub filter: Expr<PValue>,
    pub exact: bool,
}

fn exact(filter: Expr<PValue>) -> Option<Pushed> {
    Some(Pushed {
        filter,
        exact: true,
    })
}

fn superset(filter: Expr<PValue>) -> Option<Pushed> {
    Some(Pushed {
        filter,
        exact: false,
    })
}

/// `col op value`, the value written in the column's type.
fn compared(col: &Column, op: Op, value: PValue) -> Expr<PValue> {
    Expr::compare(
        Expr::column(0, &col.remote),
        op,
        Expr::Value {
            value,
            ty: col.literal_type(),
        },
    )
}

/// `col IN (values)`.
fn listed(col: &Column, values: Vec<PValue>) -> Expr<PValue> {
    Expr::In {
        expr: Box::new(Expr::column(0, &col.remote)),
        values,
        ty: col.literal_type(),
    }
}

/// A WHERE clause as a Dune predicate, or None when it cannot be translated.
///
/// # Safety
/// `node` must be a valid expression node of the planner.
pub unsafe fn clause(ctx: &mut Ctx, node: *mut pg_sys::Node) -> Option<Pushed> {
    // SAFETY: as the function requires.
    unsafe {
        match column_clause(ctx, node) {
            // in a DuneSQL statement, any condition over expressions DuneSQL computes alike
            None if ctx.statement => condition(ctx, node).and_then(exact),
            pushed => pushed,
        }
    }
}

/// A WHERE clause over a column and values, by the column's rule.
unsafe fn column_clause(ctx: &mut Ctx, node: *mut pg_sys::Node) -> Option<Pushed> {
    // SAFETY: every cast follows a node tag check.
    unsafe {
        let node = strip(node);
        match (*node).type_ {
            pg_sys::NodeTag::T_BoolExpr => bool_expr(ctx, node as *mut pg_sys::BoolExpr),
            pg_sys::NodeTag::T_OpExpr => op_expr(ctx, node as *mut pg_sys::OpExpr),
            pg_sys::NodeTag::T_ScalarArrayOpExpr => {
                array_op(ctx, node as *mut pg_sys::ScalarArrayOpExpr)
            }
            pg_sys::NodeTag::T_NullTest => null_test(ctx, node as *mut pg_sys::NullTest),
            pg_sys::NodeTag::T_Var => {
                let col = ctx.column(node)?;
                let is_exact = matches!(col.rule().compare, Compare::Exact { .. });
                (col.type_oid == pg_sys::BOOLOID && is_exact).then(|| Pushed {
                    filter: compared(col, Op::Eq, PValue::Lit(Literal::Bool(true))),
                    exact: true,
                })
            }
            _ => None,
        }
    }
}

/// AND and OR of translatable clauses (Dune has no NOT).
unsafe fn bool_expr(ctx: &mut Ctx, b: *mut pg_sys::BoolExpr) -> Option<Pushed> {
    // SAFETY: a BoolExpr whose args are expression nodes.
    unsafe {
        let args = list_nodes((*b).args);
        let expressions = ctx.expressions;
        ctx.expressions = false;
        let parts: Option<Vec<Pushed>> = args.into_iter().map(|a| clause(ctx, a)).collect();
        ctx.expressions = expressions;
        let parts = parts?;
        let all_exact = parts.iter().all(|p| p.exact);
        let filters = parts.into_iter().map(|p| p.filter).collect();
        let filter = match (*b).boolop {
            pg_sys::BoolExprType::AND_EXPR => Expr::And(filters),
            pg_sys::BoolExprType::OR_EXPR => Expr::Or(filters),
            _ => return None,
        };
        Some(Pushed {
            filter,
            exact: all_exact,
        })
    }
}

/// The Dune predicate that keeps the rows whose local value satisfies `op value`, for a rule
/// that rewrites comparisons (Rounded, DateOfTimestamp); None where it cannot.
unsafe fn rewritten(col: &Column, op: Op, ty: pg_sys::Oid, datum: pg_sys::Datum) -> Option<Pushed> {
    // SAFETY: a non-NULL datum of type `ty`, of the column's family (checked by the caller).
    unsafe {
        let cmp = |op, v: Literal| compared(col, op, PValue::Lit(v));
        match col.rule().compare {
            Compare::Rounded { digits } => {
                let (lo, hi) = if ty == pg_sys::NUMERICOID {
                    let (lo, hi) = rounding_bounds(&output_text(ty, datum), digits)?;
                    (Literal::Number(lo), Literal::Number(hi))
                } else if ty == pg_sys::TIMESTAMPTZOID || ty == pg_sys::TIMESTAMPOID {
                    let t = datum.value() as i64;
                    let (lo, hi) = rounding_bounds_micros(t, digits)?;
                    (
                        Literal::Text(timestamp_text(lo)?),
                        Literal::Text(timestamp_text(hi)?),
                    )
                } else {
                    return None;
                };
                superset(match op {
                    Op::Eq => Expr::And(vec![cmp(Op::Ge, lo), cmp(Op::Le, hi)]),
                    Op::Lt | Op::Le => cmp(Op::Le, hi),
                    Op::Gt | Op::Ge => cmp(Op::Ge, lo),
                    Op::Ne => return None,
                })
            }
            Compare::DateOfTimestamp if ty == pg_sys::DATEOID => {
                let day = i64::from(datum.value() as i32);
                let start = |d: i64| timestamp_text(d.checked_mul(86_400_000_000)?);
                let (lo, hi) = (Literal::Text(start(day)?), Literal::Text(start(day + 1)?));
                exact(match op {
                    Op::Eq => Expr::And(vec![cmp(Op::Ge, lo), cmp(Op::Lt, hi)]),
                    Op::Ne => Expr::Or(vec![cmp(Op::Lt, lo), cmp(Op::Ge, hi)]),
                    Op::Lt => cmp(Op::Lt, lo),
                    Op::Le => cmp(Op::Lt, hi),
                    Op::Gt => cmp(Op::Ge, hi),
                    Op::Ge => cmp(Op::Ge, lo),
                })
            }
            _ => None,
        }
    }
}

/// The non-NULL constant of the column's family under `node`, if it is one.
unsafe fn constant(node: *mut pg_sys::Node, want: Family) -> Option<*mut pg_sys::Const> {
    // SAFETY: checked to be a Const before the cast.
    unsafe {
        let node = strip(node);
        if node.is_null() || (*node).type_ != pg_sys::NodeTag::T_Const {
            return None;
        }
        let c = node as *mut pg_sys::Const;
        (!(*c).constisnull && family((*c).consttype) == want).then_some(c)
    }
}

/// `column op value` (either way round) with a built-in operator, by the column's rule, and
/// `column LIKE 'pattern'` on text.
unsafe fn op_expr(ctx: &mut Ctx, e: *mut pg_sys::OpExpr) -> Option<Pushed> {
    // SAFETY: an OpExpr whose args are expression nodes.
    unsafe {
        let args = list_nodes((*e).args);
        if args.len() != 2 || !builtin((*e).opno) {
            return None;
        }
        let name = op_name((*e).opno)?;
        let (col, other, swapped) =
            match (ctx.column(args[0]).cloned(), ctx.column(args[1]).cloned()) {
                (Some(c), None) => (c, args[1], false),
                (None, Some(c)) => (c, args[0], true),
                _ => return None,
            };
        let cat = family(col.type_oid);
        let compare = col.rule().compare;
        if name == "~~" && !swapped {
            let like = match compare {
                Compare::Exact { like, .. } | Compare::Superset { like } => like,
                _ => false,
            };
            let PValue::Lit(Literal::Text(pattern)) = ctx.value(other, Family::Text)? else {
                return None;
            };
            // PostgreSQL's LIKE treats \ as an escape; Dune's does not.
            let backslash = pattern.contains('\\');
            let filter = Expr::Like {
                expr: Box::new(Expr::column(0, &col.remote)),
                pattern,
            };
            return match compare {
                _ if !like || backslash => None,
                Compare::Exact { .. } => exact(filter),
                _ => superset(filter),
            };
        }
        let op = op_of(&name)?;
        let op = if swapped { op.commute() } else { op };
        let ordering = !matches!(op, Op::Eq | Op::Ne);
        match compare {
            Compare::Exact { ordered, .. } if ordered || !ordering => {
                exact(compared(&col, op, ctx.value_as(other, cat)?))
            }
            Compare::Superset { .. } if op == Op::Eq => {
                superset(compared(&col, op, ctx.value(other, cat)?))
            }
            Compare::Approximate if op != Op::Ne => {
                let widened = match op {
                    Op::Lt => Op::Le,
                    Op::Gt => Op::Ge,
                    other => other,
                };
                superset(compared(&col, widened, ctx.value(other, cat)?))
            }
            Compare::Rounded { .. } | Compare::DateOfTimestamp => {
                let c = constant(other, cat)?;
                rewritten(&col, op, (*c).consttype, (*c).constvalue)
            }
            _ => None,
        }
    }
}

/// The elements of a non-NULL array constant, NULLs left out (`x IN (1, NULL)` selects the rows
/// of `x IN (1)`), as constants of the element type.
unsafe fn array_elements(c: *mut pg_sys::Const) -> (pg_sys::Oid, Vec<pg_sys::Datum>) {
    // SAFETY: a non-NULL Const of an array type.
    unsafe { array_datum_elements((*c).constvalue, (*c).consttype) }
}

/// `column = ANY('{...}')` with a constant array: an IN list, or for rewritten comparisons an
/// OR of each element's predicate.
unsafe fn array_op(ctx: &mut Ctx, e: *mut pg_sys::ScalarArrayOpExpr) -> Option<Pushed> {
    // SAFETY: a ScalarArrayOpExpr whose args are expression nodes.
    unsafe {
        let args = list_nodes((*e).args);
        if !(*e).useOr || args.len() != 2 || !builtin((*e).opno) || op_name((*e).opno)? != "=" {
            return None;
        }
        let col = ctx.column(args[0])?.clone();
        let cat = family(col.type_oid);
        let arr = strip(args[1]);
        if let Some(list) = ctx.array_param(arr, cat) {
            let compare = col.rule().compare;
            let filter = listed(&col, vec![list]);
            return match compare {
                Compare::Exact { .. } => exact(filter),
                Compare::Superset { .. } | Compare::Approximate => superset(filter),
                _ => None,
            };
        }
        if (*arr).type_ != pg_sys::NodeTag::T_Const || (*(arr as *mut pg_sys::Const)).constisnull {
            return None;
        }
        let (elem_type, datums) = array_elements(arr as *mut pg_sys::Const);
        if family(elem_type) != cat || datums.is_empty() {
            return None;
        }
        let compare = col.rule().compare;
        if matches!(compare, Compare::Rounded { .. } | Compare::DateOfTimestamp) {
            let mut parts = Vec::new();
            let mut all_exact = true;
            for d in datums {
                let p = rewritten(&col, Op::Eq, elem_type, d)?;
                all_exact &= p.exact;
                parts.push(p.filter);
            }
            return Some(Pushed {
                filter: Expr::Or(parts),
                exact: all_exact,
            });
        }
        let values = datums
            .into_iter()
            .map(|d| datum_literal(d, elem_type).map(PValue::Lit))
            .collect::<Option<Vec<_>>>()?;
        let filter = listed(&col, values);
        match compare {
            Compare::Exact { .. } => exact(filter),
            Compare::Superset { .. } | Compare::Approximate => superset(filter),
            _ => None,
        }
    }
}

/// `column IS [NOT] NULL`: exact whatever the types (a Dune null is a local NULL).
unsafe fn null_test(ctx: &mut Ctx, t: *mut pg_sys::NullTest) -> Option<Pushed> {
    // SAFETY: a NullTest whose arg is an expression node.
    unsafe {
        if (*t).argisrow {
            return None;
        }
        let col = ctx.column((*t).arg as *mut pg_sys::Node)?;
        let negated = (*t).nulltesttype == pg_sys::NullTestType::IS_NOT_NULL;
        exact(Expr::is_null(Expr::column(0, &col.remote), negated))
    }
}
