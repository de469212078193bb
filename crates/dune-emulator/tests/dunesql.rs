//! Raw DuneSQL run by the emulator's SQL engine, end to end over HTTP: statements shaped like
//! those a foreign data wrapper sends, checked against answers computed here from the
//! generated catalog (`dune_emulator::warehouse`), never by running SQL; the results
//! parameters on those executions; uploaded tables joined with the catalog; failures; and
//! the datasets endpoints.

use dune_emulator::catalog::{Catalog, DEFAULT_DATA};
use dune_emulator::time::{dune_date, dune_timestamp};
use dune_emulator::warehouse::{self, Trade};
use dune_emulator::{Emulator, Settings};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::time::Instant;

const KEY: &str = "emulator-key";
const READ_KEY: &str = "emulator-read-key";
const NS: &str = "dune_fdw_emulator";

fn emulator() -> Emulator {
    let settings = Settings {
        pending_ms: 0,
        execution_ms: 0,
        ..Settings::default()
    };
    Emulator::start(0, Catalog::parse(DEFAULT_DATA).unwrap(), settings).unwrap()
}

/// One HTTP/1.1 request on a new connection: (status, body).
fn http(
    e: &Emulator,
    method: &str,
    target: &str,
    key: &str,
    ct: &str,
    body: &str,
) -> (u16, String) {
    let mut conn = std::net::TcpStream::connect(("127.0.0.1", e.port())).unwrap();
    let head = format!(
        "{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Dune-Api-Key: {key}\r\n\
         Content-Type: {ct}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes()).unwrap();
    conn.write_all(body.as_bytes()).unwrap();
    let mut answer = Vec::new();
    conn.read_to_end(&mut answer).unwrap();
    let text = String::from_utf8(answer).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, body.to_string())
}

/// A JSON request to `/api/v1<target>`: (status, body as JSON).
fn call(e: &Emulator, method: &str, target: &str, body: Value) -> (u16, Value) {
    let body = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    let (status, text) = http(
        e,
        method,
        &format!("/api/v1{target}"),
        KEY,
        "application/json",
        &body,
    );
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Runs raw SQL: (execution id, status).
fn run_sql(e: &Emulator, sql: &str) -> (String, Value) {
    let (status, body) = call(e, "POST", "/sql/execute", json!({ "sql": sql }));
    assert_eq!(status, 200, "{body}");
    let id = body["execution_id"].as_str().unwrap().to_string();
    let (_, st) = call(e, "GET", &format!("/execution/{id}/status"), Value::Null);
    (id, st)
}

/// A completed execution's rows (JSON objects) for these results parameters.
fn rows(e: &Emulator, id: &str, params: &str) -> Vec<Value> {
    let (status, page) = call(
        e,
        "GET",
        &format!("/execution/{id}/results?{params}"),
        Value::Null,
    );
    assert_eq!(status, 200, "{page}");
    page["result"]["rows"].as_array().unwrap().clone()
}

/// Runs SQL that must complete: (id, column names, column types, rows).
fn complete(e: &Emulator, sql: &str) -> (String, Value, Value, Vec<Value>) {
    let (id, st) = run_sql(e, sql);
    assert_eq!(st["state"], json!("QUERY_STATE_COMPLETED"), "{sql}\n{st}");
    let meta = &st["result_metadata"];
    let r = rows(e, &id, "");
    (
        id,
        meta["column_names"].clone(),
        meta["column_types"].clone(),
        r,
    )
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A value as a client reads it back from JSON (serde_json's float parsing may differ from
/// the exact value in the last bit).
fn via_json(v: Value) -> Value {
    serde_json::from_str(&v.to_string()).unwrap()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

/// The taker with the most ethereum trades since February: (address, its trades there).
fn busy_taker() -> ([u8; 20], Vec<&'static Trade>) {
    let since = 1_706_745_600_000; // 2024-02-01 00:00:00 UTC
    let mut by: BTreeMap<[u8; 20], Vec<&Trade>> = BTreeMap::new();
    for t in warehouse::trades() {
        if t.blockchain == "ethereum" && t.block_time_ms >= since {
            by.entry(t.taker).or_default().push(t);
        }
    }
    by.into_iter().max_by_key(|(_, v)| v.len()).unwrap()
}

#[test]
fn a_filtered_sorted_limited_select_matches_the_catalog() {
    let e = emulator();
    let (taker, mut mine) = busy_taker();
    let sql = format!(
        "SELECT \"project\", \"amount_usd\" FROM dex.trades WHERE \"blockchain\" = 'ethereum' AND \
         \"block_time\" >= TIMESTAMP '2024-02-01 00:00:00.000 UTC' AND \"taker\" = 0x{} ORDER BY \
         \"amount_usd\" DESC NULLS LAST LIMIT 10",
        hex(&taker)
    );
    let (id, names, types, got) = complete(&e, &sql);
    assert_eq!(
        (names, types),
        (
            json!(["project", "amount_usd"]),
            json!(["varchar", "double"])
        )
    );
    mine.sort_by(|a, b| match (a.amount_usd, b.amount_usd) {
        (Some(x), Some(y)) => y.total_cmp(&x),
        (x, y) => x.is_none().cmp(&y.is_none()),
    });
    mine.truncate(10);
    assert_eq!(got.len(), mine.len());
    for (g, t) in got.iter().zip(&mine) {
        assert_eq!(g["amount_usd"], via_json(json!(t.amount_usd)), "{g}");
        if t.amount_usd.is_some() {
            assert_eq!(g["project"], json!(t.project));
        }
    }
    // the results parameters work on these executions as on any other
    let firsts = rows(&e, &id, "columns=amount_usd&limit=2&offset=1");
    let want: Vec<Value> = (1..3)
        .map(|i| via_json(json!({"amount_usd": mine[i].amount_usd})))
        .collect();
    assert_eq!(firsts, want);
    let sorted = rows(
        &e,
        &id,
        "sort_by=amount_usd%20asc&filters=amount_usd%20IS%20NOT%20NULL&limit=1",
    );
    let smallest = mine
        .iter()
        .filter_map(|t| t.amount_usd)
        .min_by(f64::total_cmp);
    assert_eq!(sorted[0]["amount_usd"], via_json(json!(smallest)));
    let (status, csv) = http(
        &e,
        "GET",
        &format!("/api/v1/execution/{id}/results/csv?limit=1"),
        KEY,
        "",
        "",
    );
    assert_eq!(status, 200);
    assert!(
        csv.starts_with(&format!("project,amount_usd\n{},", mine[0].project)),
        "{csv}"
    );
}

/// (count, sum of amount_usd, min block_time, max block_number, avg token_bought_amount).
type Agg = (u64, Option<f64>, i64, i64, f64);

#[test]
fn aggregates_by_project_match_the_catalog() {
    let e = emulator();
    let (_, names, types, got) = complete(
        &e,
        "SELECT \"project\", count(*), sum(\"amount_usd\"), min(\"block_time\"), \
         max(\"block_number\"), avg(\"token_bought_amount\") FROM dex.trades GROUP BY \"project\"",
    );
    assert_eq!(
        names,
        json!(["project", "_col1", "_col2", "_col3", "_col4", "_col5"])
    );
    assert_eq!(
        types,
        json!([
            "varchar",
            "bigint",
            "double",
            "timestamp with time zone",
            "bigint",
            "double"
        ])
    );
    let mut want: BTreeMap<&str, Agg> = BTreeMap::new();
    for t in warehouse::trades() {
        let a = want
            .entry(t.project)
            .or_insert((0, None, i64::MAX, i64::MIN, 0.0));
        a.0 += 1;
        if let Some(u) = t.amount_usd {
            a.1 = Some(a.1.unwrap_or(0.0) + u);
        }
        a.2 = a.2.min(t.block_time_ms);
        a.3 = a.3.max(t.block_number);
        a.4 += t.token_bought_amount;
    }
    assert_eq!(got.len(), want.len());
    for g in &got {
        let (n, usd, first, last, amount) = want[g["project"].as_str().unwrap()];
        assert_eq!(g["_col1"], json!(n), "{g}");
        assert!(close(g["_col2"].as_f64().unwrap(), usd.unwrap()), "{g}");
        assert_eq!(g["_col3"], json!(dune_timestamp(first)), "{g}");
        assert_eq!(g["_col4"], json!(last), "{g}");
        assert!(
            close(g["_col5"].as_f64().unwrap(), amount / n as f64),
            "{g}"
        );
    }
}

#[test]
fn joins_with_tokens_match_the_catalog() {
    let e = emulator();
    let (_, names, types, got) = complete(
        &e,
        "SELECT t.tx_hash, e.symbol, e.decimals, t.block_date FROM dex.trades t JOIN tokens.erc20 e \
         ON e.contract_address = t.token_bought_address AND e.blockchain = t.blockchain \
         WHERE t.block_date = DATE '2024-03-01' ORDER BY t.tx_hash",
    );
    assert_eq!(
        names,
        json!(["tx_hash", "symbol", "decimals", "block_date"])
    );
    assert_eq!(types, json!(["varbinary", "varchar", "integer", "date"]));
    let day = 19_783; // 2024-03-01
    let mut want: Vec<(String, Value, Value)> = warehouse::trades()
        .iter()
        .filter(|t| t.block_date_days == day)
        .map(|t| {
            let tok = warehouse::tokens()
                .iter()
                .find(|k| {
                    k.contract_address == t.token_bought_address && k.blockchain == t.blockchain
                })
                .unwrap();
            (
                format!("0x{}", hex(&t.tx_hash)),
                json!(tok.symbol),
                json!(tok.decimals),
            )
        })
        .collect();
    want.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(want.len() > 20, "{}", want.len());
    assert_eq!(got.len(), want.len());
    for (g, (hash, symbol, decimals)) in got.iter().zip(&want) {
        assert_eq!(
            (&g["tx_hash"], &g["symbol"], &g["decimals"]),
            (&json!(hash), symbol, decimals)
        );
        assert_eq!(g["block_date"], json!(dune_date(day * 86_400_000)));
    }
    let (_, _, _, got) = complete(
        &e,
        "SELECT count(*) AS n, count(e.symbol) AS named FROM dex.trades t LEFT JOIN tokens.erc20 e \
         ON e.contract_address = t.token_sold_address AND e.blockchain = 'base'",
    );
    let named = warehouse::trades()
        .iter()
        .filter(|t| t.blockchain == "base" && t.token_sold_symbol.is_some())
        .count();
    assert_eq!(got, vec![json!({"n": warehouse::TRADES, "named": named})]);
}

/// Creates `dune.<NS>.watchlist` and inserts `rows` (taker, label, since).
fn watchlist(e: &Emulator, rows: &[([u8; 20], &str, &str)], create: bool) {
    if create {
        let schema = json!([{"name": "taker", "type": "varbinary"}, {"name": "label", "type": "varchar"},
                            {"name": "since", "type": "timestamp"}]);
        let body = json!({"namespace": NS, "table_name": "watchlist", "schema": schema});
        assert_eq!(call(e, "POST", "/uploads", body).0, 200);
    }
    let mut csv = String::from("taker,label,since\n");
    for (t, label, since) in rows {
        csv.push_str(&format!("0x{},{label},{since}\n", hex(t)));
    }
    let target = format!("/api/v1/uploads/{NS}/watchlist/insert");
    let (status, body) = http(e, "POST", &target, KEY, "text/csv", &csv);
    assert_eq!(status, 200, "{body}");
}

/// What the watchlist join should answer: label → (trades, sum of amount_usd).
fn watched(rows: &[([u8; 20], &str, &str)]) -> BTreeMap<String, (u64, f64)> {
    let mut out = BTreeMap::new();
    for (taker, label, since) in rows {
        let since = dune_emulator::cells::timestamp(since).unwrap() / 1000;
        for t in warehouse::trades()
            .iter()
            .filter(|t| t.taker == *taker && t.block_time_ms >= since)
        {
            let a: &mut (u64, f64) = out.entry(label.to_string()).or_default();
            a.0 += 1;
            a.1 += t.amount_usd.unwrap_or(0.0);
        }
    }
    out
}

fn check_watched(got: &[Value], want: &BTreeMap<String, (u64, f64)>) {
    assert_eq!(got.len(), want.len(), "{got:?}");
    for (g, (label, (n, usd))) in got.iter().zip(want) {
        assert_eq!(
            (&g["label"], &g["trades"]),
            (&json!(label), &json!(n)),
            "{g}"
        );
        assert!(close(g["usd"].as_f64().unwrap(), *usd), "{g}");
    }
}

#[test]
fn an_uploaded_table_joins_the_catalog_and_is_read_as_it_was() {
    let e = emulator();
    let takers = warehouse::takers();
    let first = [
        (takers[0], "whale", "2024-01-01 00:00:00"),
        (takers[1], "whale", "2024-02-15 00:00:00"),
        (takers[2], "Ünïcode", "2024-03-01T12:00:00Z"),
        ([0x11; 20], "nobody", "2024-01-01 00:00:00"),
    ];
    watchlist(&e, &first, true);
    let sql = format!(
        "SELECT w.label, count(*) AS trades, sum(t.amount_usd) AS usd FROM dune.{NS}.watchlist w \
         JOIN dex.trades t ON t.taker = w.taker WHERE t.block_time >= w.since GROUP BY w.label \
         ORDER BY w.label"
    );
    let (id1, names, types, got) = complete(&e, &sql);
    assert_eq!(names, json!(["label", "trades", "usd"]));
    assert_eq!(types, json!(["varchar", "bigint", "double"]));
    check_watched(&got, &watched(&first));
    // a later insert is seen by a new execution, not by the first
    let more = [(takers[3], "late", "2024-01-01")];
    watchlist(&e, &more, false);
    let (_, _, _, got) = complete(&e, &sql);
    let both: Vec<_> = first.iter().chain(&more).copied().collect();
    check_watched(&got, &watched(&both));
    check_watched(&rows(&e, &id1, ""), &watched(&first));
    // cleared: nothing to join
    let clear = format!("/uploads/{NS}/watchlist/clear");
    assert_eq!(call(&e, "POST", &clear, Value::Null).0, 200);
    let (_, _, _, got) = complete(&e, &sql);
    assert!(got.is_empty(), "{got:?}");
}

#[test]
fn statement_errors_fail_the_execution_with_trino_messages() {
    let e = emulator();
    let cases = [
        (
            "SELECT * FROM x.y WHERE 1 = 1",
            "line 1:15: Table 'x.y' does not exist",
        ),
        (
            "SELECT t.nope FROM dex.trades t",
            "line 1:8: Column 't.nope' cannot be resolved",
        ),
        (
            "SELECT project FROM dex.trades WHERE",
            "mismatched input '<EOF>'",
        ),
        (
            "SELECT sum(amount_usd) FROM dex.trades WHERE taker = 0x1",
            "even number of digits",
        ),
    ];
    // a sum of uint256 past 2^256 - 1 fails, as in Trino
    let schema = json!([{"name": "raw", "type": "uint256"}]);
    let body = json!({"namespace": NS, "table_name": "big", "schema": schema});
    assert_eq!(call(&e, "POST", "/uploads", body).0, 200);
    let target = format!("/api/v1/uploads/{NS}/big/insert");
    let huge = "115792089237316195423570985008687907853269984665640564039457584007913129639935";
    assert_eq!(
        http(
            &e,
            "POST",
            &target,
            KEY,
            "text/csv",
            &format!("raw\n1\n{huge}\n")
        )
        .0,
        200
    );
    let (_, _, _, got) = complete(&e, &format!("SELECT * FROM dune.{NS}.big"));
    assert_eq!(got[1], json!({"raw": huge}));
    let sum = format!("SELECT sum(raw) FROM dune.{NS}.big");
    let want = "Out of range for uint256".to_string();
    let cases: Vec<(&str, &str)> = cases
        .into_iter()
        .chain([(sum.as_str(), want.as_str())])
        .collect();
    for (sql, want) in cases {
        let (id, st) = run_sql(&e, sql);
        assert_eq!(st["state"], json!("QUERY_STATE_FAILED"), "{sql}");
        let message = st["error"]["message"].as_str().unwrap();
        assert!(message.contains(want), "{sql}: {message}");
        assert!(message.ends_with(&format!("[Execution ID: {id}]")));
    }
}

#[test]
fn a_statement_over_the_whole_catalog_takes_milliseconds() {
    let e = emulator();
    let sql = "SELECT t.blockchain, e.symbol, count(*), sum(t.amount_usd) FROM dex.trades t \
               JOIN tokens.erc20 e ON e.contract_address = t.token_bought_address \
               GROUP BY t.blockchain, e.symbol ORDER BY 3 DESC";
    complete(&e, sql); // builds the database
    let start = Instant::now();
    let (_, _, _, got) = complete(&e, sql);
    let took = start.elapsed();
    let total: u64 = got.iter().map(|r| r["_col2"].as_u64().unwrap()).sum();
    assert_eq!(total, warehouse::TRADES as u64);
    assert!(took.as_millis() < 500, "{took:?}");
}

#[test]
fn datasets_list_the_catalog_and_the_uploads() {
    let e = emulator();
    watchlist(&e, &[], true);
    let (status, all) = call(&e, "GET", "/datasets", Value::Null);
    assert_eq!(status, 200, "{all}");
    let names: Vec<&str> = all["datasets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["full_name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "dex.trades",
            format!("dune.{NS}.watchlist").as_str(),
            "tokens.erc20"
        ]
    );
    assert_eq!(all["total"], json!(3));
    let (_, page) = call(
        &e,
        "GET",
        "/datasets?type=spell&limit=1&offset=1",
        Value::Null,
    );
    assert_eq!(
        (
            page["total"].clone(),
            page["datasets"][0]["full_name"].clone()
        ),
        (json!(2), json!("tokens.erc20"))
    );
    let (_, mine) = call(
        &e,
        "GET",
        &format!("/datasets?owner_handle={NS}"),
        Value::Null,
    );
    assert_eq!(mine["datasets"][0]["type"], json!("uploaded_table"));
    assert_eq!(call(&e, "GET", "/datasets?limit=251", Value::Null).0, 400);
    let (status, trades) = call(&e, "GET", "/datasets/dex.trades", Value::Null);
    assert_eq!(status, 200);
    assert_eq!(trades["owner"]["handle"], json!("dune"));
    let cols = trades["columns"].as_array().unwrap();
    assert_eq!(cols.len(), warehouse::TRADES_DEF.columns.len());
    assert_eq!(
        cols[4],
        json!({"name": "block_time", "type": "timestamp(3) with time zone", "nullable": true})
    );
    assert_eq!(cols[9]["type"], json!("uint256"));
    let (status, up) = call(
        &e,
        "GET",
        &format!("/datasets/dune.{NS}.watchlist"),
        Value::Null,
    );
    assert_eq!(
        (status, up["columns"][2]["type"].clone()),
        (200, json!("timestamp"))
    );
    let (status, missing) = call(&e, "GET", "/datasets/dex.nope", Value::Null);
    assert_eq!(
        (status, missing),
        (404, json!({"error": "Dataset not found"}))
    );
    // the Read key may read the catalog; faults match the routes' names
    let (status, _) = http(&e, "GET", "/api/v1/datasets/tokens.erc20", READ_KEY, "", "");
    assert_eq!(status, 200);
    let rule = json!([{"route": "datasets_list", "status": 503}, {"route": "datasets_get", "status": 429}]);
    http(
        &e,
        "POST",
        "/_emulator/faults",
        "",
        "application/json",
        &rule.to_string(),
    );
    assert_eq!(call(&e, "GET", "/datasets", Value::Null).0, 503);
    assert_eq!(call(&e, "GET", "/datasets/dex.trades", Value::Null).0, 429);
    assert_eq!(call(&e, "GET", "/datasets/dex.trades", Value::Null).0, 200);
}

/// uint256 and int256 over all their bits: compared, ordered, grouped, summed and cast exactly,
/// as Trino does (the SQLite engine keeps them as digits with a numeric collation).
#[test]
fn wide_integers_compare_order_and_sum_exactly() {
    let e = emulator();
    let schema = json!([{"name": "u", "type": "uint256"}, {"name": "i", "type": "int256"}]);
    let body = json!({"namespace": NS, "table_name": "wide", "schema": schema});
    assert_eq!(call(&e, "POST", "/uploads", body).0, 200);
    let two200 = "1606938044258990275541962092341162602522202993782792835301376";
    let two200p1 = "1606938044258990275541962092341162602522202993782792835301377";
    let minus = "-57896044618658097711785492504343953926634992332820282019728792003956564819968";
    let csv = format!("u,i\n{two200p1},{minus}\n9,-1\n{two200},5\n10,{two200}\n");
    let target = format!("/api/v1/uploads/{NS}/wide/insert");
    assert_eq!(http(&e, "POST", &target, KEY, "text/csv", &csv).0, 200);
    let t = format!("dune.{NS}.wide");
    let rows = |sql: String| complete(&e, &sql).3;
    let got = rows(format!("SELECT u FROM {t} ORDER BY u DESC"));
    let us: Vec<&str> = got.iter().map(|r| r["u"].as_str().unwrap()).collect();
    assert_eq!(
        us,
        [two200p1, two200, "10", "9"],
        "numeric order, not text order"
    );
    let got = rows(format!(
        "SELECT count(*) AS n FROM {t} WHERE u > CAST('{two200}' AS uint256) OR u = 9"
    ));
    assert_eq!(got[0]["n"], json!(2));
    let got = rows(format!(
        "SELECT sum(u) AS s, min(i) AS lo, max(i) AS hi FROM {t}"
    ));
    let sum = "3213876088517980551083924184682325205044405987565585670602772";
    assert_eq!(got[0], json!({"s": sum, "lo": minus, "hi": two200}));
    let got = rows(format!(
        "SELECT i > 0 AS positive, count(*) AS n FROM {t} GROUP BY 1 ORDER BY 1"
    ));
    assert_eq!(
        got,
        vec![
            json!({"positive": false, "n": 2}),
            json!({"positive": true, "n": 2})
        ]
    );
    let got = rows(format!(
        "SELECT u FROM {t} WHERE u IN (10, 11) AND i = CAST('{two200}' AS int256)"
    ));
    assert_eq!(got, vec![json!({"u": "10"})]);
    // a literal past 64 bits cannot be a SQLite integer: refused, not rounded
    let (_, st) = run_sql(&e, &format!("SELECT u FROM {t} WHERE i = {two200}"));
    assert_eq!(st["state"], json!("QUERY_STATE_FAILED"));
}

/// Calendar fields of `at_timezone(t, zone)` are the zone's (Trino's `at_timezone`), and
/// `lower`/`upper` map case over all of Unicode, as Trino's do.
#[test]
fn zoned_calendar_fields_and_unicode_case() {
    let e = emulator();
    let rows = |sql: &str| complete(&e, sql).3;
    // 2024-03-10 06:30 UTC is 2024-03-09 22:30 in Los Angeles (PST, UTC-8)
    let t = "TIMESTAMP '2024-03-10 06:30:00 UTC'";
    let got = rows(&format!(
        "SELECT date_trunc('day', at_timezone({t}, 'America/Los_Angeles')) AS d, \
         day(at_timezone({t}, 'America/Los_Angeles')) AS dd, hour(at_timezone({t}, 'UTC')) AS h, \
         day_of_week(at_timezone({t}, 'America/Los_Angeles')) AS dow, \
         at_timezone(date_trunc('month', at_timezone({t}, 'Asia/Tokyo')), 'UTC') AS m"
    ));
    assert_eq!(got[0]["d"], json!("2024-03-09 08:00:00.000 UTC"));
    assert_eq!(got[0]["dd"], json!(9));
    assert_eq!(got[0]["h"], json!(6));
    assert_eq!(got[0]["dow"], json!(6), "Saturday");
    assert_eq!(
        got[0]["m"],
        json!("2024-02-29 15:00:00.000 UTC"),
        "March 1st in Tokyo"
    );
    let got = rows("SELECT lower('ÉCOLE ΟΔΟΣ') AS l, upper('straße') AS u, sign(-2.5E0) AS s");
    assert_eq!(
        got[0],
        json!({"l": "école οδος", "u": "STRASSE", "s": -1.0})
    );
    let (_, st) = run_sql(
        &e,
        &format!("SELECT hour(at_timezone({t}, 'Mars/Olympus')) AS h"),
    );
    assert_eq!(
        st["state"],
        json!("QUERY_STATE_FAILED"),
        "an unknown zone fails"
    );
}
