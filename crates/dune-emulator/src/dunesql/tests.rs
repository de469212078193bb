//! Translation unit tests: the SQLite text of DuneSQL statements, the errors of what is not
//! evaluated, and the engine's answers to statements whose answers are known by heart.

use super::Engine;
use crate::tables::Table;
use serde_json::{Value, json};
use std::sync::Arc;

const NOW_MS: u64 = 1_717_243_200_000; // 2024-06-01 12:00:00 UTC

fn none(_: &str, _: &str) -> Option<Arc<Table>> {
    None
}

fn sqlite(sql: &str) -> String {
    Engine::new().translate(sql, &none, NOW_MS).unwrap()
}

fn fails(engine: &Engine, sql: &str) -> String {
    engine.run(sql, &none, NOW_MS).unwrap_err()
}

/// (names, types, rows as arrays).
fn run(engine: &Engine, sql: &str) -> (Vec<String>, Vec<String>, Vec<Vec<Value>>) {
    let r = engine
        .run(sql, &none, NOW_MS)
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    let rows = (0..r.len())
        .map(|i| (0..r.names.len()).map(|c| r.cell(i, c)).collect())
        .collect();
    (r.names.clone(), r.types.clone(), rows)
}

/// The single row of a statement.
fn row(engine: &Engine, sql: &str) -> Vec<Value> {
    let (_, _, rows) = run(engine, sql);
    assert_eq!(rows.len(), 1, "{sql}");
    rows[0].clone()
}

#[test]
fn names_literals_and_clauses_are_translated() {
    let s = sqlite(
        "SELECT \"project\", \"amount_usd\" FROM dex.trades WHERE \"block_time\" >= TIMESTAMP \
         '2024-02-01 00:00:00.000 UTC' AND \"taker\" = 0xAbCd ORDER BY \"amount_usd\" DESC \
         LIMIT 10",
    );
    assert_eq!(
        s,
        "SELECT \"project\" AS \"project\", \"amount_usd\" AS \"amount_usd\" FROM \"dex.trades\" \
         AS \"trades\" WHERE \"block_time\" >= 1706745600000000 AND \"taker\" = X'AbCd' ORDER BY \
         \"amount_usd\" DESC NULLS LAST LIMIT 10 OFFSET 0"
    );
    let s = sqlite("select count(*) c from dex.trades offset 5 rows");
    assert!(s.contains("count(*) AS \"c\""), "{s}");
    let s = sqlite(
        "select project from dex.trades order by 1 nulls first offset 5 fetch first 2 rows only",
    );
    assert!(
        s.ends_with("ORDER BY 1 ASC NULLS FIRST LIMIT 2 OFFSET 5"),
        "{s}"
    );
    let s =
        sqlite("select dex.trades.project from dex.trades where version is not distinct from '2'");
    assert!(s.contains("\"trades\".\"project\""), "{s}");
    assert!(s.contains("\"version\" IS '2'"), "{s}");
    let s = sqlite(
        "select 1 from dex.trades where block_date between '2024-01-01' and '2024-01-02' and block_time < '2024-01-01 12:00' and version is distinct from 'x'",
    );
    assert!(
        s.contains("BETWEEN 1704067200000000 AND 1704153600000000"),
        "{s}"
    );
    assert!(s.contains("< 1704110400000000"), "{s}");
    assert!(s.contains("IS NOT 'x'"), "{s}");
    let s = sqlite(
        "select cast(block_time as varchar), concat(project, '-', version), now() - interval '1' day from dex.trades",
    );
    assert!(
        s.contains("dune_cast(\"block_time\", 'timestamptz', 'varchar', 0)"),
        "{s}"
    );
    assert!(s.contains("(\"project\" || '-' || \"version\")"), "{s}");
    assert!(s.contains("1717243200000000 - 86400000000"), "{s}");
    let s = sqlite(
        "select row_number() over (partition by project order by block_time desc) from dex.trades",
    );
    assert!(
        s.contains("OVER (PARTITION BY \"project\" ORDER BY \"block_time\" DESC NULLS LAST)"),
        "{s}"
    );
}

/// Statements the engine refuses, with (the start of) their messages.
const REFUSED: &[(&str, &str)] = &[
    (
        "SELECT * FROM dex.nope",
        "line 1:15: Table 'dex.nope' does not exist",
    ),
    (
        "select nope from dex.trades",
        "line 1:8: Column 'nope' cannot be resolved",
    ),
    (
        "select t.nope from dex.trades t",
        "line 1:8: Column 't.nope' cannot be resolved",
    ),
    (
        "select blockchain from dex.trades t join tokens.erc20 e on true",
        "line 1:8: Column 'blockchain' is ambiguous",
    ),
    (
        "select foo(project) from dex.trades",
        "line 1:8: Function 'foo' not registered",
    ),
    (
        "select project from dex.trades where",
        "line 1:37: mismatched input '<EOF>'",
    ),
    (
        "select project from dex.trades order by project desc asc",
        "line 1:54: mismatched input 'asc'",
    ),
    (
        "update dex.trades set x = 1",
        "line 1:1: mismatched input 'update'",
    ),
    (
        "select project, block_time, count(*) from dex.trades group by project",
        "line 1:17: 'block_time' must be an aggregate expression or appear in GROUP BY clause",
    ),
    (
        "select x from unnest(array[1]) as t(x)",
        "line 1:15: UNNEST is not supported by the Dune API emulator",
    ),
    (
        "select cast(amount_usd as decimal(38,2)) from dex.trades",
        "line 1:27: type 'decimal(38,2)' is not one",
    ),
    (
        "select block_time + interval '1' month from dex.trades",
        "INTERVAL YEAR TO MONTH",
    ),
    (
        "select 0xabc",
        "line 1:8: Binary literal must contain an even number of digits",
    ),
    (
        "select cast(taker as varchar) from dex.trades",
        "line 1:8: Cannot cast varbinary to varchar",
    ),
    (
        "select cast('abc' as bigint)",
        "Cannot cast 'abc' to BIGINT",
    ),
    (
        "select * from dex.trades where block_time > 'soon'",
        "line 1:45: Value cannot be cast to timestamp with time zone: soon",
    ),
    ("select 1; select 2", "line 1:9: mismatched input ';'"),
    (
        "select project where project = 'a' from dex.trades",
        "line 1:16: mismatched input 'where'",
    ),
    (
        "select 1 from dex.trades where taker = '0x12'",
        "line 1:40: Cannot apply operator: varbinary = varchar(4)",
    ),
    (
        "select 1 from dex.trades where '7' < block_number",
        "line 1:32: Cannot apply operator: varchar(1) < bigint",
    ),
    (
        "select project from dex.trades where project = \"uniswap\"",
        "line 1:48: Column 'uniswap' cannot be resolved",
    ),
];

#[test]
fn what_cannot_be_evaluated_fails_with_trino_like_messages() {
    let e = Engine::new();
    for &(sql, want) in REFUSED {
        let got = fails(&e, sql);
        assert!(
            got.starts_with(want) || got.contains(want),
            "{sql}\n got: {got}\nwant: {want}"
        );
    }
}

#[test]
fn trino_semantics_are_emulated() {
    let e = Engine::new();
    // LIKE is case-sensitive; varchar compares by code point
    assert_eq!(
        row(
            &e,
            "select count(*) from dex.trades where project like 'velo%'"
        ),
        vec![json!(0)]
    );
    assert_ne!(
        row(
            &e,
            "select count(*) from dex.trades where project like 'Velo%'"
        ),
        vec![json!(0)]
    );
    assert_eq!(
        row(
            &e,
            "select 'Z' < 'a', 'z' < 'é', 'é' < '€', 0x00ff < 0x0100, 7 / 2, -7 / 2, 7 % 3"
        ),
        vec![
            json!(true),
            json!(true),
            json!(true),
            json!(true),
            json!(3),
            json!(-3),
            json!(1)
        ]
    );
    // NULLS LAST by default in both directions
    let (_, _, asc) = run(&e, "select amount_usd from dex.trades order by amount_usd");
    let (_, _, desc) = run(
        &e,
        "select amount_usd from dex.trades order by amount_usd desc",
    );
    assert!(asc.last().unwrap()[0].is_null() && desc.last().unwrap()[0].is_null());
    assert!(!asc[0][0].is_null() && !desc[0][0].is_null());
    // empty aggregates; a date against a timestamp; casts
    assert_eq!(
        row(
            &e,
            "select count(*), sum(block_number), max(project) from dex.trades where 1 = 0"
        ),
        vec![json!(0), Value::Null, Value::Null]
    );
    assert_eq!(
        row(
            &e,
            "select DATE '2024-02-01' = TIMESTAMP '2024-02-01 00:00:00 UTC', cast(2.5e0 as bigint), cast('12' as integer), cast(date '2024-02-29' as varchar), try_cast('x' as bigint)"
        ),
        vec![
            json!(true),
            json!(3),
            json!(12),
            json!("2024-02-29"),
            Value::Null
        ]
    );
    assert_eq!(
        row(
            &e,
            "select date_trunc('month', timestamp '2024-02-29 10:11:12 UTC'), timestamp '2024-03-01 00:00:00 UTC' - interval '1' hour, year(date '2024-02-29'), now()"
        ),
        vec![
            json!("2024-02-01 00:00:00.000 UTC"),
            json!("2024-02-29 23:00:00.000 UTC"),
            json!(2024),
            json!("2024-06-01 12:00:00.000 UTC")
        ]
    );
}

#[test]
fn result_columns_have_trino_names_and_types() {
    let e = Engine::new();
    let (names, types, _) = run(
        &e,
        "select project, count(*), count(distinct taker) as takers, sum(block_number), \
         sum(amount_usd), avg(evt_index), min(block_time), max(block_date), \
         max(token_bought_amount_raw), t.taker, amount_usd * 2, evt_index + 1, \
         block_time > now(), lower(project) \"Low\" from dex.trades t group by project, t.taker, \
         amount_usd, evt_index, block_time",
    );
    assert_eq!(
        names,
        [
            "project", "_col1", "takers", "_col3", "_col4", "_col5", "_col6", "_col7", "_col8",
            "taker", "_col10", "_col11", "_col12", "Low"
        ]
    );
    assert_eq!(
        types,
        [
            "varchar",
            "bigint",
            "bigint",
            "bigint",
            "double",
            "double",
            "timestamp with time zone",
            "date",
            "uint256",
            "varbinary",
            "double",
            "bigint",
            "boolean",
            "varchar"
        ]
    );
    let (names, types, _) = run(&e, "select null, true, current_date, 'x' as \"X\"");
    assert_eq!(names, ["_col0", "_col1", "_col2", "X"]);
    assert_eq!(types, ["unknown", "boolean", "date", "varchar"]);
    let (names, types, rows) = run(
        &e,
        "with s as (select blockchain, max(block_time) as last from dex.trades group by 1) \
         select * from s order by last desc limit 1",
    );
    assert_eq!(
        (names, types),
        (
            vec!["blockchain".to_string(), "last".into()],
            vec!["varchar".to_string(), "timestamp with time zone".into()]
        )
    );
    assert!(
        rows[0][1].as_str().unwrap().starts_with("2024-03-31 "),
        "{rows:?}"
    );
}
