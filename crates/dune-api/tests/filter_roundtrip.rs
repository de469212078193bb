//! Random predicates, with names and values full of quotes, backslashes, operators and unicode,
//! rendered by the client's filter builder must be read back by the emulator's own parser as
//! exactly the same predicate: no name or value can change what a filter means.

mod common;

use common::Rng;
use dune_api::{Filter, Literal, Op};
use dune_emulator::filter::{self as emu, CmpOp, Expr};

const PIECES: [&str; 16] = [
    "a",
    "Total Volume",
    "'",
    "\"",
    "''",
    "\\",
    " OR 1=1 --",
    ")",
    "(",
    ",",
    "%",
    "_",
    "ü",
    "✓",
    " AND ",
    "0x12",
];

fn text(rng: &mut Rng) -> String {
    (0..rng.below(5))
        .map(|_| PIECES[rng.below(PIECES.len() as u64) as usize])
        .collect()
}

fn literal(rng: &mut Rng) -> Literal {
    match rng.below(4) {
        0 => Literal::Text(text(rng)),
        1 => Literal::Number(format!(
            "{}{}.{}",
            if rng.below(2) == 0 { "-" } else { "" },
            rng.below(100_000),
            rng.below(100)
        )),
        2 => Literal::Bytes((0..rng.below(6)).map(|_| rng.below(256) as u8).collect()),
        _ => Literal::Bool(rng.below(2) == 0),
    }
}

fn filter(rng: &mut Rng, depth: u32) -> Filter {
    let column = text(rng);
    match rng.below(if depth > 2 { 4 } else { 6 }) {
        0 => {
            let ops = [Op::Eq, Op::Ne, Op::Lt, Op::Le, Op::Gt, Op::Ge];
            Filter::Compare {
                column,
                op: ops[rng.below(6) as usize],
                value: literal(rng),
            }
        }
        1 => Filter::In {
            column,
            values: (0..1 + rng.below(3)).map(|_| literal(rng)).collect(),
        },
        2 => Filter::Like {
            column,
            pattern: text(rng),
        },
        3 => Filter::IsNull {
            column,
            negated: rng.below(2) == 0,
        },
        4 => Filter::And(
            (0..2 + rng.below(2))
                .map(|_| filter(rng, depth + 1))
                .collect(),
        ),
        _ => Filter::Or(
            (0..2 + rng.below(2))
                .map(|_| filter(rng, depth + 1))
                .collect(),
        ),
    }
}

fn expected_literal(l: &Literal) -> emu::Literal {
    match l {
        Literal::Text(t) => emu::Literal::Str(t.clone()),
        Literal::Number(n) => emu::Literal::Num(n.clone()),
        Literal::Bytes(b) => emu::Literal::Num(format!(
            "0x{}",
            b.iter().map(|x| format!("{x:02x}")).collect::<String>()
        )),
        Literal::Bool(b) => emu::Literal::Bool(*b),
        Literal::Placeholder(_) => unreachable!("never sent"),
    }
}

/// The tree the emulator builds: AND/OR are left-associative binary nodes.
fn expected(f: &Filter) -> Expr {
    let fold = |parts: &[Filter], and: bool| {
        let mut it = parts.iter().map(expected);
        let first = it.next().expect("two parts or more");
        it.fold(first, |acc, e| {
            if and {
                Expr::And(Box::new(acc), Box::new(e))
            } else {
                Expr::Or(Box::new(acc), Box::new(e))
            }
        })
    };
    match f {
        Filter::And(p) => fold(p, true),
        Filter::Or(p) => fold(p, false),
        Filter::Compare { column, op, value } => {
            let op = match op {
                Op::Eq => CmpOp::Eq,
                Op::Ne => CmpOp::Ne,
                Op::Lt => CmpOp::Lt,
                Op::Le => CmpOp::Le,
                Op::Gt => CmpOp::Gt,
                Op::Ge => CmpOp::Ge,
            };
            Expr::Cmp(column.clone(), op, expected_literal(value))
        }
        Filter::In { column, values } => Expr::In(
            column.clone(),
            values.iter().map(expected_literal).collect(),
        ),
        Filter::Like { column, pattern } => Expr::Like(column.clone(), pattern.clone()),
        Filter::IsNull { column, negated } => Expr::IsNull(column.clone(), !negated),
    }
}

#[test]
fn rendered_filters_mean_what_they_say() {
    let mut rng = Rng(0x5EED_D00E_1234_5678);
    for case in 0..5000 {
        let f = filter(&mut rng, 0);
        let text = f.to_text();
        let parsed = emu::parse_filters(&text)
            .unwrap_or_else(|e| panic!("case {case}: {text:?} did not parse: {e}"));
        assert_eq!(parsed, expected(&f), "case {case}: {text:?}");
    }
}
