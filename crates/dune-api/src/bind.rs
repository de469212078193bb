//! Binding a plan's parameters: what a planned condition, statement or results request becomes
//! once the values of its parameters are known (when a scan starts), with one meaning for
//! every kind of scan. A parameter is a prepared statement's `$1`, an outer value of a nested
//! loop, or a stable expression (`now() - interval '1 day'`) evaluated once per scan.
//!
//! PostgreSQL's meaning is kept, in WHERE's terms (a row is kept when the condition is true):
//! - a comparison with NULL is never true: the conjunct keeps no row ([`Bound::NoRow`]); an
//!   OR drops such a branch, an AND becomes nothing, an IN list drops a NULL element;
//! - ±infinity and NaN (which PostgreSQL orders above every number, as +infinity) compared
//!   with a type that holds only finite values (every type but real, double and unknown ones):
//!   `x < +inf`, `x <= +inf`, `x <> ±inf`, `x > -inf` and `x >= -inf` keep every non-NULL row
//!   (`x IS NOT NULL`), the others keep none; an IN element that is one matches nothing;
//! - anything else no literal can write (an infinity compared with a double, a value of a type
//!   Dune has no literal for) is [`Bound::Unwritable`]: a scan whose rows PostgreSQL rechecks
//!   leaves that conjunct out (and with it LIMIT and OFFSET), a statement whose rows are the
//!   answer (grouped, joined) cannot run.

use crate::client::Read;
use crate::filters::{Filter, Literal, Op, conjunction, sort_by, within_bound};
use crate::statement::{Expr, Join, OrderKey, Select};
use serde::{Deserialize, Serialize};

/// A value in a plan: known when planning, or parameter `n` of the plan (0-based; the n-th
/// parameter expression the scan evaluates when it starts).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum PValue {
    /// A literal.
    Lit(Literal),
    /// A parameter, by its index.
    Param(usize),
}

impl PValue {
    /// The value as EXPLAIN shows it: a literal as sent, a parameter as `$n` (1-based).
    pub fn shown(&self) -> Literal {
        match self {
            PValue::Lit(l) => l.clone(),
            PValue::Param(i) => Literal::Placeholder(i + 1),
        }
    }
}

/// The value of a parameter when the scan starts.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamValue {
    /// Its literals: one for a scalar, the non-NULL elements of an array (`= ANY($1)`).
    Literals(Vec<Literal>),
    /// NULL.
    Null,
    /// ±infinity or NaN; `negative` for -infinity.
    Infinite {
        /// -infinity.
        negative: bool,
    },
    /// A value no literal writes.
    Unwritable,
}

/// What a planned condition becomes with the values known.
#[derive(Debug, Clone, PartialEq)]
pub enum Bound<T> {
    /// Sent as this.
    Sent(T),
    /// It keeps no row.
    NoRow,
    /// It cannot be written.
    Unwritable,
}

/// A parameter's one value (a scalar), as the binder sees it.
enum Scalar {
    Lit(Literal),
    Null,
    Infinite(bool),
    Unwritable,
}

fn scalar(v: &PValue, values: &[ParamValue]) -> Scalar {
    match v {
        PValue::Lit(l) => Scalar::Lit(l.clone()),
        PValue::Param(i) => match values.get(*i) {
            Some(ParamValue::Literals(l)) if l.len() == 1 => Scalar::Lit(l[0].clone()),
            Some(ParamValue::Null) => Scalar::Null,
            Some(ParamValue::Infinite { negative }) => Scalar::Infinite(*negative),
            _ => Scalar::Unwritable,
        },
    }
}

/// An expression whose values must all be known literals (a column, an aggregate, the
/// operand of IS NULL or LIKE).
fn plain(e: &Expr<PValue>, values: &[ParamValue]) -> Bound<Expr> {
    match e.try_map(&mut |v| match scalar(v, values) {
        Scalar::Lit(l) => Some(l),
        _ => None,
    }) {
        Some(e) => Bound::Sent(e),
        None => Bound::Unwritable,
    }
}

/// Whether `x op ±inf` holds for every finite x (PostgreSQL's order, NaN as +infinity).
fn holds_for_every_finite(op: Op, negative: bool) -> bool {
    matches!(
        (negative, op),
        (false, Op::Lt | Op::Le | Op::Ne) | (true, Op::Gt | Op::Ge | Op::Ne)
    )
}

fn compare(
    left: &Expr<PValue>,
    op: Op,
    right: &Expr<PValue>,
    values: &[ParamValue],
) -> Bound<Expr> {
    let (other, op, value, ty) = match (left, right) {
        (_, Expr::Value { value, ty }) => (left, op, value, ty),
        (Expr::Value { value, ty }, _) => (right, op.commute(), value, ty),
        _ => {
            return match (plain(left, values), plain(right, values)) {
                (Bound::Sent(l), Bound::Sent(r)) => Bound::Sent(Expr::compare(l, op, r)),
                _ => Bound::Unwritable,
            };
        }
    };
    let Bound::Sent(other) = plain(other, values) else {
        return Bound::Unwritable;
    };
    match scalar(value, values) {
        Scalar::Lit(value) => Bound::Sent(Expr::compare(
            other,
            op,
            Expr::Value {
                value,
                ty: ty.clone(),
            },
        )),
        Scalar::Null => Bound::NoRow,
        Scalar::Infinite(negative) if ty.as_ref().is_some_and(|t| t.is_finite()) => {
            if holds_for_every_finite(op, negative) {
                Bound::Sent(Expr::is_null(other, true))
            } else {
                Bound::NoRow
            }
        }
        Scalar::Infinite(_) | Scalar::Unwritable => Bound::Unwritable,
    }
}

fn in_list(
    expr: &Expr<PValue>,
    values: &[PValue],
    ty: &Option<crate::DuneType>,
    params: &[ParamValue],
) -> Bound<Expr> {
    let Bound::Sent(expr) = plain(expr, params) else {
        return Bound::Unwritable;
    };
    let finite = ty.as_ref().is_some_and(|t| t.is_finite());
    let mut list = Vec::new();
    for v in values {
        match v {
            PValue::Lit(l) => list.push(l.clone()),
            PValue::Param(i) => match params.get(*i) {
                Some(ParamValue::Literals(l)) => list.extend(l.iter().cloned()),
                Some(ParamValue::Null) => {}
                Some(ParamValue::Infinite { .. }) if finite => {}
                _ => return Bound::Unwritable,
            },
        }
    }
    if list.is_empty() {
        return Bound::NoRow;
    }
    Bound::Sent(Expr::In {
        expr: Box::new(expr),
        values: list,
        ty: ty.clone(),
    })
}

impl Expr<PValue> {
    /// The condition with the parameters' values (see the module's rules).
    pub fn bind(&self, values: &[ParamValue]) -> Bound<Expr> {
        match self {
            Expr::Compare { left, op, right } => compare(left, *op, right, values),
            Expr::In {
                expr,
                values: v,
                ty,
            } => in_list(expr, v, ty, values),
            Expr::And(parts) => {
                let bound: Vec<Bound<Expr>> = parts.iter().map(|p| p.bind(values)).collect();
                if bound.contains(&Bound::NoRow) {
                    return Bound::NoRow;
                }
                let sent: Option<Vec<Expr>> = bound
                    .into_iter()
                    .map(|b| match b {
                        Bound::Sent(e) => Some(e),
                        _ => None,
                    })
                    .collect();
                sent.map_or(Bound::Unwritable, |s| Bound::Sent(Expr::And(s)))
            }
            Expr::Or(parts) => {
                let mut kept = Vec::new();
                for p in parts {
                    match p.bind(values) {
                        Bound::Sent(e) => kept.push(e),
                        Bound::NoRow => {}
                        Bound::Unwritable => return Bound::Unwritable,
                    }
                }
                match kept.len() {
                    0 => Bound::NoRow,
                    1 => Bound::Sent(kept.pop().expect("one")),
                    _ => Bound::Sent(Expr::Or(kept)),
                }
            }
            other => plain(other, values),
        }
    }
}

/// Conditions ANDed, bound.
#[derive(Debug, Clone, PartialEq)]
pub struct Conjuncts {
    /// What is sent: each conjunct bound, `false` for one that keeps no row, without those
    /// that cannot be written.
    pub sent: Vec<Expr>,
    /// A conjunct keeps no row: the whole keeps none.
    pub no_row: bool,
    /// A conjunct could not be written and was left out: what is sent keeps more rows.
    pub dropped: bool,
}

/// Binds each of `conds`.
pub fn bind_conjuncts(conds: &[Expr<PValue>], values: &[ParamValue]) -> Conjuncts {
    let mut out = Conjuncts {
        sent: Vec::new(),
        no_row: false,
        dropped: false,
    };
    for c in conds {
        match c.bind(values) {
            Bound::Sent(e) => out.sent.push(e),
            Bound::NoRow => {
                out.no_row = true;
                out.sent.push(Expr::Bool(false));
            }
            Bound::Unwritable => out.dropped = true,
        }
    }
    out
}

/// A statement with its parameters' values.
#[derive(Debug, Clone, PartialEq)]
pub struct BoundSelect {
    /// The statement to send. When a conjunct was left out, it has no LIMIT and OFFSET.
    pub select: Select,
    /// A conjunct of WHERE keeps no row (it is sent as `false`).
    pub no_row: bool,
    /// Something could not be written and was left out: the statement keeps more rows than
    /// planned (PostgreSQL must recheck them), or, for a statement whose rows are the answer,
    /// it must not run.
    pub dropped: bool,
}

impl Select<PValue> {
    /// The statement with the parameters' values (see the module's rules).
    pub fn bind(&self, values: &[ParamValue]) -> BoundSelect {
        let mut dropped = false;
        let mut conds = |c: &[Expr<PValue>]| {
            let b = bind_conjuncts(c, values);
            dropped |= b.dropped;
            b
        };
        let filters = conds(&self.filters);
        let joins = self
            .joins
            .iter()
            .map(|j| Join {
                kind: j.kind,
                on: conds(&j.on).sent,
            })
            .collect();
        let having = conds(&self.having).sent;
        let mut exprs = |e: &[Expr<PValue>]| -> Vec<Expr> {
            e.iter()
                .filter_map(|x| match plain(x, values) {
                    Bound::Sent(e) => Some(e),
                    _ => {
                        dropped = true;
                        None
                    }
                })
                .collect()
        };
        let items = exprs(&self.items);
        let keys: Vec<Expr<PValue>> = self.order_by.iter().map(|k| k.expr.clone()).collect();
        let order_by = exprs(&keys)
            .into_iter()
            .zip(&self.order_by)
            .map(|(expr, k)| OrderKey {
                expr,
                descending: k.descending,
                nulls_first: k.nulls_first,
            })
            .collect();
        let select = Select {
            from: self.from.clone(),
            joins,
            items,
            filters: filters.sent,
            group_by: self.group_by.clone(),
            having,
            order_by,
            offset: if dropped { 0 } else { self.offset },
            limit: self.limit.filter(|_| !dropped),
        };
        BoundSelect {
            select,
            no_row: filters.no_row,
            dropped,
        }
    }
}

/// What a read of a query result asks Dune to narrow (API reference §5.2): the columns, the
/// filters (conditions over the result's columns, relation 0), the order, and the rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultRequest<V = Literal> {
    /// The columns to request; None for all.
    pub columns: Option<Vec<String>>,
    /// The filters, ANDed.
    pub filters: Vec<Expr<V>>,
    /// `sort_by`: (column, descending), NULLs last in both directions.
    pub sort_by: Vec<(String, bool)>,
    /// The most rows to read (after skipping `offset`).
    pub limit: Option<u64>,
    /// Rows Dune skips first.
    pub offset: u64,
}

/// A results request with its values: the request parameters, and the rows to read.
#[derive(Debug, Clone, PartialEq)]
pub struct BoundRequest {
    /// Columns, filters and order.
    pub read: Read,
    /// The most rows to read; None when a filter was left out.
    pub limit: Option<u64>,
    /// Rows skipped (0 when a filter was left out).
    pub offset: u64,
    /// Every planned filter is sent.
    pub complete: bool,
}

impl ResultRequest<PValue> {
    /// A request for `columns` with nothing else.
    pub fn columns(columns: Option<Vec<String>>) -> ResultRequest<PValue> {
        ResultRequest {
            columns,
            filters: Vec::new(),
            sort_by: Vec::new(),
            limit: None,
            offset: 0,
        }
    }

    /// The request with the parameters' values; None when a filter keeps no row (nothing
    /// needs reading). A filter that cannot be written, or that would take the filter text
    /// past [`crate::MAX_FILTERS_BYTES`] (an array parameter's elements), is left out, and with
    /// it LIMIT and OFFSET.
    pub fn bind(&self, values: &[ParamValue], sample_count: Option<u64>) -> Option<BoundRequest> {
        let bound = bind_conjuncts(&self.filters, values);
        if bound.no_row {
            return None;
        }
        let (kept, over) = within_bound(bound.sent, |e| e.to_filter());
        let filters: Vec<Filter> = kept.iter().filter_map(Expr::to_filter).collect();
        let complete = !bound.dropped && !over && filters.len() == kept.len();
        Some(BoundRequest {
            read: Read {
                columns: self.columns.clone(),
                filters: conjunction(&filters),
                sort_by: sort_by(&self.sort_by),
                sample_count,
            },
            limit: self.limit.filter(|_| complete),
            offset: if complete { self.offset } else { 0 },
            complete,
        })
    }

    /// The request as far as the plan knows it, without reading anything: the columns, the
    /// order, and the filters if every one is a literal (else none); whether they all were.
    pub fn planned_read(&self) -> (Read, bool) {
        let known: Vec<Filter> = self
            .filters
            .iter()
            .filter_map(|e| {
                let literal = e.try_map(&mut |v| match v {
                    PValue::Lit(l) => Some(l.clone()),
                    PValue::Param(_) => None,
                })?;
                literal.to_filter()
            })
            .collect();
        let all = known.len() == self.filters.len();
        let read = Read {
            columns: self.columns.clone(),
            filters: conjunction(&known).filter(|_| all),
            sort_by: sort_by(&self.sort_by),
            sample_count: None,
        };
        (read, all)
    }

    /// The filters as EXPLAIN shows them (`$n` for parameters).
    pub fn shown_filters(&self) -> Option<String> {
        let shown: Vec<Filter> = self
            .filters
            .iter()
            .filter_map(|e| e.try_map(&mut |v| Some(v.shown()))?.to_filter())
            .collect();
        conjunction(&shown)
    }
}

#[cfg(test)]
mod tests;
