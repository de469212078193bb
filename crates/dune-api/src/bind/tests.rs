//! The binder against PostgreSQL's meaning, over generated conditions, parameter values and
//! rows: a bound condition keeps exactly the rows PostgreSQL keeps, "no row" is said only when
//! PostgreSQL keeps none, and "cannot be written" only for an infinity compared with a type
//! that holds infinities.

use super::*;
use crate::DuneType;
use proptest::prelude::*;

/// A value on PostgreSQL's side: a finite number, or ±infinity (NaN is ordered as +infinity).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
enum Ext {
    NegInf,
    Fin(i64),
    PosInf,
}

/// A parameter as generated: a scalar (NULL, a number, ±infinity) or an array of numbers.
#[derive(Debug, Clone)]
enum Generated {
    Scalar(Option<Ext>),
    Array(Vec<i64>),
}

fn value_of(g: &Generated) -> ParamValue {
    match g {
        Generated::Scalar(None) => ParamValue::Null,
        Generated::Scalar(Some(Ext::Fin(n))) => ParamValue::Literals(vec![num(*n)]),
        Generated::Scalar(Some(e)) => ParamValue::Infinite {
            negative: *e == Ext::NegInf,
        },
        Generated::Array(a) => ParamValue::Literals(a.iter().map(|n| num(*n)).collect()),
    }
}

fn num(n: i64) -> Literal {
    Literal::Number(n.to_string())
}

/// Kleene's logic: None is unknown.
type Truth = Option<bool>;

fn and(parts: impl Iterator<Item = Truth>) -> Truth {
    let mut unknown = false;
    for p in parts {
        match p {
            Some(false) => return Some(false),
            None => unknown = true,
            Some(true) => {}
        }
    }
    (!unknown).then_some(true)
}

fn or(parts: impl Iterator<Item = Truth>) -> Truth {
    let mut unknown = false;
    for p in parts {
        match p {
            Some(true) => return Some(true),
            None => unknown = true,
            Some(false) => {}
        }
    }
    (!unknown).then_some(false)
}

fn cmp(a: Ext, op: Op, b: Ext) -> bool {
    match op {
        Op::Eq => a == b,
        Op::Ne => a != b,
        Op::Lt => a < b,
        Op::Le => a <= b,
        Op::Gt => a > b,
        Op::Ge => a >= b,
    }
}

fn literal(l: &Literal) -> Ext {
    match l {
        Literal::Number(n) => Ext::Fin(n.parse().expect("generated numbers")),
        other => panic!("not generated: {other:?}"),
    }
}

/// The elements a planned IN value stands for on PostgreSQL's side (None: a NULL element).
fn elements(v: &PValue, params: &[Generated]) -> Vec<Option<Ext>> {
    match v {
        PValue::Lit(l) => vec![Some(literal(l))],
        PValue::Param(i) => match &params[*i] {
            Generated::Scalar(s) => vec![*s],
            Generated::Array(a) => a.iter().map(|n| Some(Ext::Fin(*n))).collect(),
        },
    }
}

/// PostgreSQL's answer for row value `x` of the planned condition with the parameters.
fn pg(e: &Expr<PValue>, x: Option<i64>, params: &[Generated]) -> Truth {
    let side = |e: &Expr<PValue>| -> Option<Ext> {
        match e {
            Expr::Column(_) => x.map(Ext::Fin),
            Expr::Value { value, .. } => elements(value, params)[0],
            other => panic!("not generated: {other:?}"),
        }
    };
    match e {
        Expr::Compare { left, op, right } => Some(cmp(side(left)?, *op, side(right)?)),
        Expr::In { values, .. } => {
            let x = Ext::Fin(x?);
            let all: Vec<Option<Ext>> = values.iter().flat_map(|v| elements(v, params)).collect();
            or(all.iter().map(|e| e.map(|e| e == x)))
        }
        Expr::IsNull { negated, .. } => Some(x.is_some() == *negated),
        Expr::And(p) => and(p.iter().map(|p| pg(p, x, params))),
        Expr::Or(p) => or(p.iter().map(|p| pg(p, x, params))),
        other => panic!("not generated: {other:?}"),
    }
}

/// Dune's answer for row value `x` of a bound condition.
fn dune(e: &Expr, x: Option<i64>) -> Truth {
    let side = |e: &Expr| -> Option<Ext> {
        match e {
            Expr::Column(_) => x.map(Ext::Fin),
            Expr::Value { value, .. } => Some(literal(value)),
            other => panic!("not bound: {other:?}"),
        }
    };
    match e {
        Expr::Compare { left, op, right } => Some(cmp(side(left)?, *op, side(right)?)),
        Expr::In { values, .. } => {
            let x = Ext::Fin(x?);
            Some(values.iter().any(|v| literal(v) == x))
        }
        Expr::IsNull { negated, .. } => Some(x.is_some() == *negated),
        Expr::And(p) => and(p.iter().map(|p| dune(p, x))),
        Expr::Or(p) => or(p.iter().map(|p| dune(p, x))),
        Expr::Bool(b) => Some(*b),
        other => panic!("not bound: {other:?}"),
    }
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        Just(Op::Eq),
        Just(Op::Ne),
        Just(Op::Lt),
        Just(Op::Le),
        Just(Op::Gt),
        Just(Op::Ge)
    ]
}

/// Parameters 0 and 1 are scalars, 2 an array.
fn params() -> impl Strategy<Value = Vec<Generated>> {
    let ext = prop_oneof![
        (-3i64..=3).prop_map(Ext::Fin),
        Just(Ext::PosInf),
        Just(Ext::NegInf)
    ];
    let scalar = proptest::option::weighted(0.8, ext).prop_map(Generated::Scalar);
    let array = proptest::collection::vec(-3i64..=3, 0..3).prop_map(Generated::Array);
    (scalar.clone(), scalar, array).prop_map(|(a, b, c)| vec![a, b, c])
}

fn condition(ty: DuneType) -> impl Strategy<Value = Expr<PValue>> {
    let scalar = prop_oneof![
        (-3i64..=3).prop_map(|n| PValue::Lit(num(n))),
        (0usize..2).prop_map(PValue::Param)
    ];
    let any_value = prop_oneof![scalar.clone(), Just(PValue::Param(2))];
    let (t1, t2) = (ty.clone(), ty);
    let x = || Expr::column(0, "x");
    let leaf = prop_oneof![
        (op(), scalar, any::<bool>()).prop_map(move |(op, v, swap)| {
            let value = Expr::Value {
                value: v,
                ty: Some(t1.clone()),
            };
            if swap {
                Expr::compare(value, op, x())
            } else {
                Expr::compare(x(), op, value)
            }
        }),
        proptest::collection::vec(any_value, 1..4).prop_map(move |values| Expr::In {
            expr: Box::new(x()),
            values,
            ty: Some(t2.clone()),
        }),
        any::<bool>().prop_map(move |negated| Expr::is_null(x(), negated)),
    ];
    leaf.prop_recursive(3, 16, 3, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 1..4).prop_map(Expr::And),
            proptest::collection::vec(inner, 1..4).prop_map(Expr::Or),
        ]
    })
}

const ROWS: [Option<i64>; 8] = [
    None,
    Some(-4),
    Some(-3),
    Some(-1),
    Some(0),
    Some(2),
    Some(3),
    Some(4),
];

fn check(e: &Expr<PValue>, generated: &[Generated], finite_type: bool) {
    let values: Vec<ParamValue> = generated.iter().map(value_of).collect();
    match e.bind(&values) {
        Bound::Sent(b) => {
            for x in ROWS {
                let want = pg(e, x, generated) == Some(true);
                let got = dune(&b, x) == Some(true);
                assert_eq!(
                    got, want,
                    "row {x:?}: {e:?} with {generated:?} bound to {b:?}"
                );
            }
        }
        Bound::NoRow => {
            for x in ROWS {
                assert_ne!(
                    pg(e, x, generated),
                    Some(true),
                    "row {x:?} kept: {e:?} {generated:?}"
                );
            }
        }
        Bound::Unwritable => {
            let infinite = generated
                .iter()
                .any(|g| matches!(g, Generated::Scalar(Some(Ext::PosInf | Ext::NegInf))));
            assert!(
                !finite_type && infinite,
                "unwritable without an infinity over a double: {e:?} {generated:?}"
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn a_bound_condition_keeps_the_rows_postgresql_keeps_over_a_finite_type(
        e in condition(DuneType::Bigint),
        p in params(),
    ) {
        check(&e, &p, true);
    }

    #[test]
    fn over_a_double_only_infinities_cannot_be_written(
        e in condition(DuneType::Double),
        p in params(),
    ) {
        check(&e, &p, false);
    }
}

fn ty() -> Option<DuneType> {
    Some(DuneType::Bigint)
}

#[test]
fn a_null_branch_of_an_or_is_dropped_and_the_rest_sent() {
    let x = || Expr::column(0, "x");
    let e = Expr::Or(vec![
        Expr::compare(
            x(),
            Op::Eq,
            Expr::Value {
                value: PValue::Param(0),
                ty: ty(),
            },
        ),
        Expr::compare(
            x(),
            Op::Lt,
            Expr::Value {
                value: PValue::Param(1),
                ty: ty(),
            },
        ),
    ]);
    let b = e.bind(&[ParamValue::Null, ParamValue::Literals(vec![num(5)])]);
    let want: Expr = Expr::compare(
        Expr::column(0, "x"),
        Op::Lt,
        Expr::Value {
            value: num(5),
            ty: ty(),
        },
    );
    assert_eq!(b, Bound::Sent(want));
}

#[test]
fn requests_and_statements_say_what_was_left_out() {
    let x = || Expr::column(0, "x");
    let cond = |i| {
        Expr::compare(
            x(),
            Op::Lt,
            Expr::Value {
                value: PValue::Param(i),
                ty: Some(DuneType::Double),
            },
        )
    };
    let req = ResultRequest {
        columns: Some(vec!["x".into()]),
        filters: vec![cond(0), cond(1)],
        sort_by: vec![("x".into(), true)],
        limit: Some(10),
        offset: 2,
    };
    let inf = ParamValue::Infinite { negative: false };
    let five = ParamValue::Literals(vec![num(5)]);
    let b = req.bind(&[five.clone(), inf.clone()], None).expect("rows");
    assert_eq!(b.read.filters.as_deref(), Some("\"x\" < 5"));
    assert_eq!((b.limit, b.offset, b.complete), (None, 0, false));
    let b = req.bind(&[five.clone(), five.clone()], None).expect("rows");
    assert_eq!((b.limit, b.offset, b.complete), (Some(10), 2, true));
    assert_eq!(b.read.sort_by.as_deref(), Some("\"x\" desc"));
    assert_eq!(req.bind(&[ParamValue::Null, five.clone()], None), None);
    assert_eq!(
        req.shown_filters().as_deref(),
        Some("\"x\" < $1 AND \"x\" < $2")
    );

    let mut s = Select::from("t", vec![x()]);
    s.filters = vec![cond(0), cond(1)];
    s.limit = Some(3);
    let b = s.bind(&[ParamValue::Null, inf]);
    assert!(b.no_row && b.dropped);
    assert_eq!(b.select.to_sql(), "SELECT \"x\" FROM t WHERE false");
}

#[test]
fn an_empty_array_keeps_no_row_and_its_elements_are_sent() {
    let e = Expr::In {
        expr: Box::new(Expr::column(0, "x")),
        values: vec![PValue::Param(0)],
        ty: ty(),
    };
    assert_eq!(e.bind(&[ParamValue::Literals(vec![])]), Bound::NoRow);
    let Bound::Sent(b) = e.bind(&[ParamValue::Literals(vec![num(1), num(2)])]) else {
        panic!("sent");
    };
    assert_eq!(b.to_filter().unwrap().to_text(), "\"x\" IN (1, 2)");
}
