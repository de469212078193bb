//! The DuneSQL statement a foreign scan runs, as one value the planner builds whole: the
//! relations and how they are joined, the output items, WHERE, GROUP BY, HAVING, ORDER BY,
//! LIMIT and OFFSET ([`Select`]), over expressions ([`Expr`]). `V` is what a value is: a
//! [`Literal`] once known, or a [`PValue`](crate::PValue) (a literal or a parameter known when
//! the scan starts) in a plan, so that the planner writes the statement once and the executor
//! only binds values ([`crate::bind`]) and renders ([`Select::to_sql`], in `dunesql.rs`).
//!
//! Which expressions may be written is decided by the caller (`pg_format::pushdown`'s rules);
//! this module holds and transforms them.

use crate::dune_type::DuneType;
use crate::filters::{Filter, Literal, Op};
use serde::{Deserialize, Serialize};

/// A column of one of the statement's relations: relation `rel` (0-based index in
/// [`Select::from`], written `r<rel+1>` when there are several) and the Dune column's name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnRef {
    /// Index in [`Select::from`].
    pub rel: usize,
    /// The Dune column.
    pub name: String,
}

/// An aggregate function DuneSQL computes with PostgreSQL's meaning for the types it is
/// pushed for (the caller's rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Aggregate {
    /// `count(*)` or `count(x)`: bigint in both.
    Count,
    /// `sum(x)`.
    Sum,
    /// `min(x)`.
    Min,
    /// `max(x)`.
    Max,
    /// `avg(x)`.
    Avg,
}

impl Aggregate {
    /// The function's DuneSQL name.
    pub fn name(self) -> &'static str {
        match self {
            Aggregate::Count => "count",
            Aggregate::Sum => "sum",
            Aggregate::Min => "min",
            Aggregate::Max => "max",
            Aggregate::Avg => "avg",
        }
    }
}

/// A DuneSQL scalar function the planner may write (named as DuneSQL names it). Which
/// PostgreSQL functions it stands for, and when, is the caller's rule
/// (`pg_format::shippable`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Func {
    /// `lower(s)`.
    Lower,
    /// `upper(s)`.
    Upper,
    /// `length(s)`, in characters.
    Length,
    /// `substr(s, start[, length])`.
    Substr,
    /// `strpos(s, t)`.
    Strpos,
    /// `replace(s, from, to)`.
    Replace,
    /// `abs(x)`.
    Abs,
    /// `floor(x)`.
    Floor,
    /// `ceil(x)`.
    Ceil,
    /// `sign(x)`.
    Sign,
    /// `date_trunc(unit, t)`.
    DateTrunc,
    /// `year(t)`.
    Year,
    /// `quarter(t)`.
    Quarter,
    /// `month(t)`.
    Month,
    /// `day(t)`.
    Day,
    /// `day_of_week(t)`: Monday 1 to Sunday 7.
    DayOfWeek,
    /// `day_of_year(t)`.
    DayOfYear,
    /// `hour(t)`.
    Hour,
    /// `minute(t)`.
    Minute,
    /// `coalesce(a, b, …)`.
    Coalesce,
    /// `nullif(a, b)`.
    NullIf,
    /// `at_timezone(t, zone)`: the same instant, in `zone` (its calendar fields are zone's).
    AtTimezone,
}

impl Func {
    /// The function's DuneSQL name.
    pub fn name(self) -> &'static str {
        match self {
            Func::Lower => "lower",
            Func::Upper => "upper",
            Func::Length => "length",
            Func::Substr => "substr",
            Func::Strpos => "strpos",
            Func::Replace => "replace",
            Func::Abs => "abs",
            Func::Floor => "floor",
            Func::Ceil => "ceil",
            Func::Sign => "sign",
            Func::DateTrunc => "date_trunc",
            Func::Year => "year",
            Func::Quarter => "quarter",
            Func::Month => "month",
            Func::Day => "day",
            Func::DayOfWeek => "day_of_week",
            Func::DayOfYear => "day_of_year",
            Func::Hour => "hour",
            Func::Minute => "minute",
            Func::Coalesce => "coalesce",
            Func::NullIf => "nullif",
            Func::AtTimezone => "at_timezone",
        }
    }
}

/// An arithmetic or string operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Arith {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/` (integers: truncated toward zero, as in PostgreSQL)
    Div,
    /// `%` (the sign of the dividend, as in PostgreSQL)
    Mod,
    /// `||`
    Concat,
}

impl Arith {
    /// The operator as DuneSQL writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Arith::Add => "+",
            Arith::Sub => "-",
            Arith::Mul => "*",
            Arith::Div => "/",
            Arith::Mod => "%",
            Arith::Concat => "||",
        }
    }
}

/// A DuneSQL expression. Values are written as literals of the type of what they are compared
/// with (`ty`; None when that type is not known: numbers as digits, everything else quoted).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Expr<V = Literal> {
    /// A column.
    Column(ColumnRef),
    /// A value.
    Value {
        /// The value.
        value: V,
        /// The DuneSQL type it is written in.
        ty: Option<DuneType>,
    },
    /// `left op right`.
    Compare {
        /// The left operand.
        left: Box<Expr<V>>,
        /// The operator.
        op: Op,
        /// The right operand.
        right: Box<Expr<V>>,
    },
    /// `expr IN (values)`; a value that stands for an array (a parameter of `= ANY($1)`)
    /// stands for its elements.
    In {
        /// What is compared.
        expr: Box<Expr<V>>,
        /// The values.
        values: Vec<V>,
        /// The DuneSQL type the values are written in.
        ty: Option<DuneType>,
    },
    /// `expr LIKE 'pattern'` (no escape character).
    Like {
        /// What is matched.
        expr: Box<Expr<V>>,
        /// The pattern, `%` and `_` as in SQL.
        pattern: String,
    },
    /// `expr IS [NOT] NULL`.
    IsNull {
        /// What is tested.
        expr: Box<Expr<V>>,
        /// `IS NOT NULL`.
        negated: bool,
    },
    /// Every part holds (`true` when empty).
    And(Vec<Expr<V>>),
    /// One part holds at least (`false` when empty).
    Or(Vec<Expr<V>>),
    /// `true` or `false`: a condition a bound value decided (`false` keeps no row).
    Bool(bool),
    /// A scalar function.
    Call {
        /// The function.
        func: Func,
        /// Its arguments.
        args: Vec<Expr<V>>,
    },
    /// `left op right`, an arithmetic or string operator.
    Arith {
        /// The left operand.
        left: Box<Expr<V>>,
        /// The operator.
        op: Arith,
        /// The right operand.
        right: Box<Expr<V>>,
    },
    /// `- x`.
    Negate(Box<Expr<V>>),
    /// `NOT x`.
    Not(Box<Expr<V>>),
    /// `left IS [NOT] DISTINCT FROM right`.
    Distinct {
        /// The left operand.
        left: Box<Expr<V>>,
        /// The right operand.
        right: Box<Expr<V>>,
        /// `IS NOT DISTINCT FROM`.
        negated: bool,
    },
    /// `CASE WHEN c THEN v … [ELSE e] END`.
    Case {
        /// (condition, value) of each WHEN.
        whens: Vec<(Expr<V>, Expr<V>)>,
        /// ELSE (NULL when absent).
        otherwise: Option<Box<Expr<V>>>,
    },
    /// `CAST(x AS ty)`.
    Cast {
        /// What is cast.
        expr: Box<Expr<V>>,
        /// The type it becomes.
        ty: DuneType,
    },
    /// `f(x)`, `f(DISTINCT x)` or `count(*)` (no argument). A sum of bigints stays a bigint
    /// on Trino, which fails past 2^63 rather than answer wrongly.
    Aggregate {
        /// The function.
        func: Aggregate,
        /// Its argument; None for `count(*)`.
        arg: Option<Box<Expr<V>>>,
        /// `DISTINCT`.
        distinct: bool,
        /// `FILTER (WHERE …)`: the rows it aggregates.
        filter: Option<Box<Expr<V>>>,
    },
}

impl<V> Expr<V> {
    /// Column `name` of relation `rel`.
    pub fn column(rel: usize, name: &str) -> Expr<V> {
        Expr::Column(ColumnRef {
            rel,
            name: name.to_string(),
        })
    }

    /// `left op right`.
    pub fn compare(left: Expr<V>, op: Op, right: Expr<V>) -> Expr<V> {
        Expr::Compare {
            left: Box::new(left),
            op,
            right: Box::new(right),
        }
    }

    /// `expr IS [NOT] NULL`.
    pub fn is_null(expr: Expr<V>, negated: bool) -> Expr<V> {
        Expr::IsNull {
            expr: Box::new(expr),
            negated,
        }
    }

    /// The same expression with each value mapped; None if any value maps to None.
    pub fn try_map<W>(&self, f: &mut dyn FnMut(&V) -> Option<W>) -> Option<Expr<W>> {
        let boxed = |e: &Expr<V>, f: &mut dyn FnMut(&V) -> Option<W>| e.try_map(f).map(Box::new);
        Some(match self {
            Expr::Column(c) => Expr::Column(c.clone()),
            Expr::Value { value, ty } => Expr::Value {
                value: f(value)?,
                ty: ty.clone(),
            },
            Expr::Compare { left, op, right } => Expr::Compare {
                left: boxed(left, f)?,
                op: *op,
                right: boxed(right, f)?,
            },
            Expr::In { expr, values, ty } => Expr::In {
                expr: boxed(expr, f)?,
                values: values.iter().map(&mut *f).collect::<Option<_>>()?,
                ty: ty.clone(),
            },
            Expr::Like { expr, pattern } => Expr::Like {
                expr: boxed(expr, f)?,
                pattern: pattern.clone(),
            },
            Expr::IsNull { expr, negated } => Expr::IsNull {
                expr: boxed(expr, f)?,
                negated: *negated,
            },
            Expr::And(parts) => Expr::And(all(parts, f)?),
            Expr::Or(parts) => Expr::Or(all(parts, f)?),
            Expr::Bool(b) => Expr::Bool(*b),
            Expr::Aggregate {
                func,
                arg,
                distinct,
                filter,
            } => Expr::Aggregate {
                func: *func,
                arg: match arg {
                    Some(a) => Some(boxed(a, f)?),
                    None => None,
                },
                distinct: *distinct,
                filter: match filter {
                    Some(c) => Some(boxed(c, f)?),
                    None => None,
                },
            },
            other => other.try_map_compound(f)?,
        })
    }

    /// [`Expr::try_map`] of a function call, an operator, NOT, IS DISTINCT FROM, CASE or
    /// CAST.
    fn try_map_compound<W>(&self, f: &mut dyn FnMut(&V) -> Option<W>) -> Option<Expr<W>> {
        let boxed = |e: &Expr<V>, f: &mut dyn FnMut(&V) -> Option<W>| e.try_map(f).map(Box::new);
        Some(match self {
            Expr::Call { func, args } => Expr::Call {
                func: *func,
                args: all(args, f)?,
            },
            Expr::Arith { left, op, right } => Expr::Arith {
                left: boxed(left, f)?,
                op: *op,
                right: boxed(right, f)?,
            },
            Expr::Negate(e) => Expr::Negate(boxed(e, f)?),
            Expr::Not(e) => Expr::Not(boxed(e, f)?),
            Expr::Distinct {
                left,
                right,
                negated,
            } => Expr::Distinct {
                left: boxed(left, f)?,
                right: boxed(right, f)?,
                negated: *negated,
            },
            Expr::Case { whens, otherwise } => Expr::Case {
                whens: whens
                    .iter()
                    .map(|(c, v)| Some((c.try_map(f)?, v.try_map(f)?)))
                    .collect::<Option<_>>()?,
                otherwise: match otherwise {
                    Some(o) => Some(boxed(o, f)?),
                    None => None,
                },
            },
            Expr::Cast { expr, ty } => Expr::Cast {
                expr: boxed(expr, f)?,
                ty: ty.clone(),
            },
            _ => unreachable!("try_map maps the others"),
        })
    }

    /// Each column's relation renumbered by `rel` (a relation's conditions moved into a join,
    /// where it is not the first).
    pub fn relabel(&mut self, rel: &dyn Fn(usize) -> usize) {
        self.visit_columns(&mut |c| c.rel = rel(c.rel));
    }

    /// Calls `f` on every column of the expression.
    pub fn visit_columns(&mut self, f: &mut dyn FnMut(&mut ColumnRef)) {
        match self {
            Expr::Column(c) => f(c),
            Expr::Value { .. } | Expr::Bool(_) => {}
            Expr::Compare { left, right, .. } => {
                left.visit_columns(f);
                right.visit_columns(f);
            }
            Expr::In { expr, .. } | Expr::Like { expr, .. } | Expr::IsNull { expr, .. } => {
                expr.visit_columns(f)
            }
            Expr::And(parts) | Expr::Or(parts) | Expr::Call { args: parts, .. } => {
                parts.iter_mut().for_each(|p| p.visit_columns(f));
            }
            Expr::Arith { left, right, .. } | Expr::Distinct { left, right, .. } => {
                left.visit_columns(f);
                right.visit_columns(f);
            }
            Expr::Negate(e) | Expr::Not(e) | Expr::Cast { expr: e, .. } => e.visit_columns(f),
            Expr::Case { whens, otherwise } => {
                for (c, v) in whens {
                    c.visit_columns(f);
                    v.visit_columns(f);
                }
                if let Some(o) = otherwise {
                    o.visit_columns(f);
                }
            }
            Expr::Aggregate { arg, filter, .. } => {
                if let Some(a) = arg {
                    a.visit_columns(f);
                }
                if let Some(c) = filter {
                    c.visit_columns(f);
                }
            }
        }
    }

    /// The relations the expression reads (sorted, each once).
    pub fn relations(&self) -> Vec<usize> {
        let mut copy: Expr<()> = self.try_map(&mut |_| Some(())).expect("() for every value");
        let mut rels = Vec::new();
        copy.visit_columns(&mut |c| rels.push(c.rel));
        rels.sort_unstable();
        rels.dedup();
        rels
    }

    /// Whether, as a conjunct of WHERE, the expression keeps only some values of one of
    /// `columns` of relation `rel` (`require_filter`): a comparison other than `<>` with a
    /// value, an IN list, LIKE, IS NULL; an AND with one such part; an OR whose parts all are;
    /// `false`, which keeps nothing.
    pub fn restricts(&self, rel: usize, columns: &[String]) -> bool {
        let named =
            |e: &Expr<V>| matches!(e, Expr::Column(c) if c.rel == rel && columns.contains(&c.name));
        match self {
            Expr::And(parts) => parts.iter().any(|p| p.restricts(rel, columns)),
            Expr::Or(parts) => !parts.is_empty() && parts.iter().all(|p| p.restricts(rel, columns)),
            Expr::Compare { left, op, right } => {
                let valued = |e: &Expr<V>| matches!(e, Expr::Value { .. });
                *op != Op::Ne && ((named(left) && valued(right)) || (named(right) && valued(left)))
            }
            Expr::In { expr, .. } | Expr::Like { expr, .. } => named(expr),
            Expr::IsNull { expr, negated } => !negated && named(expr),
            Expr::Bool(b) => !b,
            _ => false,
        }
    }
}

fn all<V, W>(parts: &[Expr<V>], f: &mut dyn FnMut(&V) -> Option<W>) -> Option<Vec<Expr<W>>> {
    parts.iter().map(|p| p.try_map(f)).collect()
}

impl Expr {
    /// The expression as a result filter of Dune's filter language (API reference §5.2), if
    /// it is one: conditions over plain columns of one relation, with values.
    pub fn to_filter(&self) -> Option<Filter> {
        let column = |e: &Expr| match e {
            Expr::Column(c) => Some(c.name.clone()),
            _ => None,
        };
        let value = |e: &Expr| match e {
            Expr::Value { value, .. } => Some(value.clone()),
            _ => None,
        };
        Some(match self {
            Expr::And(parts) => {
                Filter::And(parts.iter().map(Expr::to_filter).collect::<Option<_>>()?)
            }
            Expr::Or(parts) => {
                Filter::Or(parts.iter().map(Expr::to_filter).collect::<Option<_>>()?)
            }
            Expr::Compare { left, op, right } => match (column(left), value(right)) {
                (Some(column), Some(value)) => Filter::Compare {
                    column,
                    op: *op,
                    value,
                },
                _ => Filter::Compare {
                    column: column(right)?,
                    op: op.commute(),
                    value: value(left)?,
                },
            },
            Expr::In { expr, values, .. } => Filter::In {
                column: column(expr)?,
                values: values.clone(),
            },
            Expr::Like { expr, pattern } => Filter::Like {
                column: column(expr)?,
                pattern: pattern.clone(),
            },
            Expr::IsNull { expr, negated } => Filter::IsNull {
                column: column(expr)?,
                negated: *negated,
            },
            _ => return None,
        })
    }
}

/// How a relation is joined to those before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum JoinKind {
    /// `JOIN`.
    Inner,
    /// `LEFT JOIN`.
    Left,
    /// `RIGHT JOIN`.
    Right,
    /// `FULL JOIN`.
    Full,
}

/// A relation of the statement after the first, joined to those before it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Join<V = Literal> {
    /// How.
    pub kind: JoinKind,
    /// The ON conditions, ANDed (`ON true` when empty).
    pub on: Vec<Expr<V>>,
}

/// One key of ORDER BY.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderKey<V = Literal> {
    /// What is sorted on (an output's expression is written as its position).
    pub expr: Expr<V>,
    /// `DESC`.
    pub descending: bool,
    /// `NULLS FIRST` (Trino's default is `NULLS LAST` in both directions).
    pub nulls_first: bool,
}

/// A DuneSQL `SELECT`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Select<V = Literal> {
    /// The relations, as DuneSQL names them (`dex.trades`, `dune.my_team.labels`).
    pub from: Vec<String>,
    /// `joins[i]` joins `from[i + 1]`: one per relation after the first.
    pub joins: Vec<Join<V>>,
    /// The output items; empty selects a constant (a scan that needs no column).
    pub items: Vec<Expr<V>>,
    /// WHERE, ANDed.
    pub filters: Vec<Expr<V>>,
    /// GROUP BY, as output positions (1-based).
    pub group_by: Vec<usize>,
    /// HAVING, ANDed.
    pub having: Vec<Expr<V>>,
    /// ORDER BY.
    pub order_by: Vec<OrderKey<V>>,
    /// Rows skipped first.
    pub offset: u64,
    /// The most rows returned.
    pub limit: Option<u64>,
}

impl<V> Select<V> {
    /// `SELECT items FROM from` with nothing else.
    pub fn from(from: &str, items: Vec<Expr<V>>) -> Select<V> {
        Select {
            from: vec![from.to_string()],
            joins: Vec::new(),
            items,
            filters: Vec::new(),
            group_by: Vec::new(),
            having: Vec::new(),
            order_by: Vec::new(),
            offset: 0,
            limit: None,
        }
    }

    /// Whether output columns are named by position (`c1`, `c2`, …): with a join, a
    /// grouping, or an output other than a column, where the same name could come twice or an
    /// expression has none.
    pub fn positional(&self) -> bool {
        self.from.len() > 1
            || !self.group_by.is_empty()
            || self.items.iter().any(|i| !matches!(i, Expr::Column(_)))
    }

    /// The name of output column `i` (0-based) in the result.
    pub fn output_name(&self, i: usize) -> String {
        match &self.items[i] {
            Expr::Column(c) if !self.positional() => c.name.clone(),
            _ => format!("c{}", i + 1),
        }
    }

    /// The same statement with each value mapped; None if any value maps to None.
    pub fn try_map<W>(&self, f: &mut dyn FnMut(&V) -> Option<W>) -> Option<Select<W>> {
        Some(Select {
            from: self.from.clone(),
            joins: self
                .joins
                .iter()
                .map(|j| {
                    Some(Join {
                        kind: j.kind,
                        on: all(&j.on, f)?,
                    })
                })
                .collect::<Option<_>>()?,
            items: all(&self.items, f)?,
            filters: all(&self.filters, f)?,
            group_by: self.group_by.clone(),
            having: all(&self.having, f)?,
            order_by: self
                .order_by
                .iter()
                .map(|k| {
                    Some(OrderKey {
                        expr: k.expr.try_map(f)?,
                        descending: k.descending,
                        nulls_first: k.nulls_first,
                    })
                })
                .collect::<Option<_>>()?,
            offset: self.offset,
            limit: self.limit,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Expr {
        Expr::Value {
            value: Literal::Text(s.into()),
            ty: Some(DuneType::Varchar { length: None }),
        }
    }

    #[test]
    fn require_filter_counts_restricting_conjuncts_only() {
        let cols = vec!["block_time".to_string()];
        let bt = || Expr::column(0, "block_time");
        let ge = Expr::compare(bt(), Op::Ge, text("2024-01-01"));
        assert!(ge.restricts(0, &cols));
        assert!(!ge.restricts(1, &cols), "another relation's column");
        assert!(!Expr::compare(bt(), Op::Ne, text("x")).restricts(0, &cols));
        assert!(!Expr::is_null(bt(), true).restricts(0, &cols));
        assert!(Expr::is_null(bt(), false).restricts(0, &cols));
        let other = Expr::compare(Expr::column(0, "project"), Op::Eq, text("curve"));
        assert!(Expr::And(vec![other.clone(), ge.clone()]).restricts(0, &cols));
        assert!(!Expr::Or(vec![other.clone(), ge.clone()]).restricts(0, &cols));
        assert!(!Expr::compare(bt(), Op::Eq, Expr::column(1, "t")).restricts(0, &cols));
        assert!(Expr::<Literal>::Bool(false).restricts(0, &cols));
    }

    #[test]
    fn conditions_over_one_relation_are_result_filters() {
        let e = Expr::And(vec![
            Expr::compare(text("a"), Op::Lt, Expr::column(0, "x")),
            Expr::Like {
                expr: Box::new(Expr::column(0, "y")),
                pattern: "u%".into(),
            },
        ]);
        assert_eq!(
            e.to_filter().unwrap().to_text(),
            "\"x\" > 'a' AND \"y\" LIKE 'u%'"
        );
        assert_eq!(Expr::<Literal>::Bool(false).to_filter(), None);
        let mut j: Expr = Expr::compare(Expr::column(0, "a"), Op::Eq, Expr::column(0, "b"));
        assert_eq!(j.to_filter(), None);
        j.relabel(&|r| r + 2);
        assert_eq!(j.relations(), vec![2]);
    }
}
