//! The SQLite database raw DuneSQL runs on: built once, in memory, with the generated catalog
//! ([`crate::warehouse`]); an uploaded table is copied in when a statement first reads it and
//! brought up to date (its new chunks appended, or rebuilt after a clear) when it changed.

use super::functions::{self, MARK};
use super::lex::{Tk, lex, place};
use super::translate::{TableInfo, Tables, Translation, quote, translate};
use super::types::DType;
use crate::catalog::{ResultSet, Rows};
use crate::cells::Kind;
use crate::executions::TableLookup;
use crate::tables::{Cell, Table};
use crate::warehouse::{self, TableDef, Token, Trade};
use rusqlite::config::DbConfig;
use rusqlite::types::Value as Sql;
use rusqlite::{Connection, params_from_iter};
use serde_json::Value;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The longest a statement may run before it fails.
pub const TIME_LIMIT: Duration = Duration::from_secs(10);
/// The most rows a result may have.
pub const MAX_ROWS: usize = 1_000_000;

const DAY_US: i64 = 86_400_000_000;

/// Runs raw DuneSQL (see the [module docs](super)).
#[derive(Default)]
pub struct Engine {
    db: Mutex<Option<Db>>,
}

/// The database, once opened.
struct Db {
    conn: Connection,
    /// Uploaded tables copied in, by SQLite name.
    loaded: HashMap<String, Loaded>,
}

/// What of an uploaded table is in the database.
struct Loaded {
    id: u64,
    epoch: u64,
    chunks: usize,
}

/// The tables a statement can name, for the translator; remembers the uploads it found.
struct Schema<'a> {
    uploads: TableLookup<'a>,
    found: RefCell<Vec<Arc<Table>>>,
}

/// A catalog table's name and columns.
fn catalog_info(def: &TableDef) -> TableInfo {
    TableInfo {
        sqlite: format!("{}.{}", def.schema, def.name),
        columns: def
            .columns
            .iter()
            .map(|(n, t)| {
                (
                    n.to_string(),
                    DType::parse(t).expect("catalog types are known"),
                )
            })
            .collect(),
    }
}

impl Tables for Schema<'_> {
    fn table(&self, parts: &[String]) -> Option<TableInfo> {
        let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
        match parts.as_slice() {
            ["dex", "trades"] => Some(catalog_info(&warehouse::TRADES_DEF)),
            ["tokens", "erc20"] => Some(catalog_info(&warehouse::TOKENS_DEF)),
            ["dune", ns, name] => {
                let table = (self.uploads)(ns, name)?;
                let info = TableInfo {
                    sqlite: table.full_name(),
                    columns: table
                        .columns
                        .iter()
                        .map(|c| (c.name.clone(), DType::from_kind(c.kind)))
                        .collect(),
                };
                self.found.borrow_mut().push(table);
                Some(info)
            }
            _ => None,
        }
    }
}

impl Engine {
    /// An engine whose database is built on first use.
    pub fn new() -> Engine {
        Engine::default()
    }

    /// Runs `sql` over the catalog and the uploaded tables (`uploads`) as they are now;
    /// `now_ms` is what `now()` gives. The error is a Trino-like message.
    pub fn run(
        &self,
        sql: &str,
        uploads: TableLookup,
        now_ms: u64,
    ) -> Result<Arc<ResultSet>, String> {
        let schema = Schema {
            uploads,
            found: RefCell::new(Vec::new()),
        };
        let tr = translate(sql, &schema, now_ms)?;
        let mut guard = self.db.lock().unwrap_or_else(|e| e.into_inner());
        if guard.is_none() {
            *guard =
                Some(Db::open().map_err(|e| format!("line 1:1: the emulator's database: {e}"))?);
        }
        let db = guard.as_mut().expect("opened above");
        for table in schema.found.borrow().iter() {
            db.refresh(table)?;
        }
        db.execute(sql, &tr)
    }

    /// The SQLite statement `sql` translates to (for tests and debugging).
    pub fn translate(
        &self,
        sql: &str,
        uploads: TableLookup,
        now_ms: u64,
    ) -> Result<String, String> {
        let schema = Schema {
            uploads,
            found: RefCell::new(Vec::new()),
        };
        translate(sql, &schema, now_ms).map(|t| t.sql)
    }
}

/// A row of `dex.trades`, in [`warehouse::TRADES_DEF`]'s column order.
fn trade_row(t: &Trade) -> Vec<Sql> {
    let text = |s: &Option<String>| s.clone().map_or(Sql::Null, Sql::Text);
    vec![
        Sql::Text(t.blockchain.into()),
        Sql::Text(t.project.into()),
        t.version.map_or(Sql::Null, |v| Sql::Text(v.into())),
        Sql::Integer(t.block_date_days * DAY_US),
        Sql::Integer(t.block_time_ms * 1000),
        Sql::Integer(t.block_number),
        text(&t.token_bought_symbol),
        text(&t.token_sold_symbol),
        Sql::Real(t.token_bought_amount),
        t.token_bought_amount_raw
            .map_or(Sql::Null, |v| Sql::Text(v.to_string())),
        t.amount_usd.map_or(Sql::Null, Sql::Real),
        Sql::Blob(t.token_bought_address.to_vec()),
        Sql::Blob(t.token_sold_address.to_vec()),
        Sql::Blob(t.taker.to_vec()),
        Sql::Blob(t.tx_hash.to_vec()),
        Sql::Integer(t.evt_index),
    ]
}

/// A row of `tokens.erc20`.
fn token_row(t: &Token) -> Vec<Sql> {
    vec![
        Sql::Text(t.blockchain.into()),
        Sql::Blob(t.contract_address.to_vec()),
        t.symbol.clone().map_or(Sql::Null, Sql::Text),
        t.decimals.map_or(Sql::Null, |d| Sql::Integer(d.into())),
    ]
}

/// An uploaded value as the engine stores it; `Err` names a 256-bit value that is not a whole
/// number in its type's range (the upload's checks let none in).
fn upload_value(kind: Kind, cell: Cell<'_>) -> Result<Sql, String> {
    Ok(match cell {
        Cell::Null => Sql::Null,
        Cell::Int(d) if kind == Kind::Date => Sql::Integer(d * DAY_US),
        Cell::Int(i) if matches!(kind, Kind::Uint256 | Kind::Int256) => Sql::Text(i.to_string()),
        Cell::Int(i) => Sql::Integer(i),
        Cell::Float(f) => Sql::Real(f),
        Cell::Bool(b) => Sql::Integer(b.into()),
        Cell::Text(s) if matches!(kind, Kind::Uint256 | Kind::Int256) => {
            Sql::Text(functions::wide(s, DType::from_kind(kind)).map_err(|_| s.to_string())?)
        }
        Cell::Text(s) => Sql::Text(s.to_string()),
        Cell::Bytes(b) => Sql::Blob(b.to_vec()),
    })
}

impl Db {
    fn open() -> rusqlite::Result<Db> {
        let conn = Connection::open_in_memory()?;
        // "x" is an identifier, never a string, and LIKE is case-sensitive, as in Trino
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_DQS_DML, false)?;
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_DQS_DDL, false)?;
        conn.execute_batch("PRAGMA case_sensitive_like = ON;")?;
        functions::register(&conn)?;
        let db = Db {
            conn,
            loaded: HashMap::new(),
        };
        let trades = catalog_info(&warehouse::TRADES_DEF);
        db.create(&trades)?;
        db.insert(&trades, warehouse::trades().iter().map(trade_row))?;
        let tokens = catalog_info(&warehouse::TOKENS_DEF);
        db.create(&tokens)?;
        db.insert(&tokens, warehouse::tokens().iter().map(token_row))?;
        Ok(db)
    }

    /// (Re)creates a table, empty.
    fn create(&self, t: &TableInfo) -> rusqlite::Result<()> {
        let cols: Vec<String> = t
            .columns
            .iter()
            .map(|(n, ty)| format!("{} {}", quote(&n.to_lowercase()), ty.column_definition()))
            .collect();
        let name = quote(&t.sqlite);
        self.conn.execute_batch(&format!(
            "DROP TABLE IF EXISTS {name}; CREATE TABLE {name} ({});",
            cols.join(", ")
        ))
    }

    /// Appends rows, in one transaction.
    fn insert(&self, t: &TableInfo, rows: impl Iterator<Item = Vec<Sql>>) -> rusqlite::Result<()> {
        let tx = self.conn.unchecked_transaction()?;
        {
            let marks = vec!["?"; t.columns.len()].join(", ");
            let mut stmt = tx.prepare(&format!(
                "INSERT INTO {} VALUES ({marks})",
                quote(&t.sqlite)
            ))?;
            for row in rows {
                stmt.execute(params_from_iter(row))?;
            }
        }
        tx.commit()
    }

    /// Brings an uploaded table's copy up to date with the table as it is now.
    fn refresh(&mut self, table: &Table) -> Result<(), String> {
        let name = table.full_name();
        let (epoch, chunks) = table.chunks();
        let info = TableInfo {
            sqlite: name.clone(),
            columns: table
                .columns
                .iter()
                .map(|c| (c.name.clone(), DType::from_kind(c.kind)))
                .collect(),
        };
        let db_err = |e: rusqlite::Error| format!("line 1:1: the emulator's database: {e}");
        let start = match self.loaded.remove(&name) {
            Some(l) if l.id == table.id && l.epoch == epoch && l.chunks <= chunks.len() => l.chunks,
            _ => {
                self.create(&info).map_err(db_err)?;
                0
            }
        };
        let mut rows = Vec::new();
        for chunk in &chunks[start..] {
            for r in 0..chunk.rows as usize {
                let mut row = Vec::with_capacity(table.columns.len());
                for (c, def) in chunk.columns.iter().zip(&table.columns) {
                    row.push(upload_value(def.kind, c.cell(r)).map_err(|v| {
                        format!(
                            "line 1:1: {name} holds a {} value out of its range ({v})",
                            def.kind.name()
                        )
                    })?);
                }
                rows.push(row);
            }
        }
        self.insert(&info, rows.into_iter()).map_err(db_err)?;
        let loaded = Loaded {
            id: table.id,
            epoch,
            chunks: chunks.len(),
        };
        self.loaded.insert(name, loaded);
        Ok(())
    }

    /// Runs a translated statement, within [`TIME_LIMIT`] and [`MAX_ROWS`].
    fn execute(&mut self, original: &str, tr: &Translation) -> Result<Arc<ResultSet>, String> {
        let deadline = Instant::now() + TIME_LIMIT;
        let handler = move || Instant::now() > deadline;
        let _ = self.conn.progress_handler(10_000, Some(handler));
        let result = self.collect(original, tr);
        let _ = self.conn.progress_handler(0, None::<fn() -> bool>);
        result
    }

    /// The result's names, types and rows.
    fn collect(&self, original: &str, tr: &Translation) -> Result<Arc<ResultSet>, String> {
        let fail = |e: rusqlite::Error| error_message(&e, original);
        let mut stmt = self.conn.prepare(&tr.sql).map_err(fail)?;
        let n = stmt.column_count();
        let matched = tr.columns.len() == n;
        let declared: Vec<Option<DType>> = stmt
            .columns()
            .map(|c| c.decl_type().and_then(DType::from_declared))
            .collect();
        let sqlite_names: Vec<String> = stmt.column_names().map(str::to_string).collect();
        let mut rows: Vec<Vec<Sql>> = Vec::new();
        let mut cursor = stmt.query([]).map_err(fail)?;
        while let Some(row) = cursor.next().map_err(fail)? {
            if rows.len() == MAX_ROWS {
                return Err(format!(
                    "line 1:1: the result has more than {MAX_ROWS} rows, the most the Dune API \
                     emulator keeps"
                ));
            }
            rows.push(
                (0..n)
                    .map(|i| row.get::<_, Sql>(i))
                    .collect::<Result<_, _>>()
                    .map_err(fail)?,
            );
        }
        let mut names = Vec::with_capacity(n);
        let mut types = Vec::with_capacity(n);
        for i in 0..n {
            let inferred = if matched { tr.columns[i].ty } else { None };
            let ty = inferred
                .or(declared[i])
                .or_else(|| DType::sniff(rows.iter().map(|r| &r[i])));
            names.push(if matched {
                tr.columns[i].name.clone()
            } else {
                sqlite_names[i].clone()
            });
            types.push(ty);
        }
        let encoded: Vec<Vec<Value>> = rows
            .iter()
            .map(|r| {
                r.iter()
                    .zip(&types)
                    .map(|(v, t)| t.map_or(Value::Null, |t| t.encode(v)))
                    .collect()
            })
            .collect();
        Ok(Arc::new(ResultSet {
            names,
            types: types
                .iter()
                .map(|t| t.map_or("unknown", DType::name).to_string())
                .collect(),
            rows: Rows::Stored(encoded),
        }))
    }
}

/// `line L:C` of the first run of tokens of `sql` that reads `name` (`word`, or `a.b` with
/// its parts in any case), with its text there; the start of the statement when none does.
fn locate(sql: &str, name: &str) -> (String, String) {
    let parts: Vec<&str> = match name.contains('.') && name.len() > 1 {
        true => name.split('.').collect(),
        false => vec![name],
    };
    let found = lex(sql).ok().and_then(|toks| {
        let matches = |i: usize| {
            parts.iter().enumerate().all(|(k, p)| {
                let t = toks.get(i + 2 * k);
                let dot = k == 0 || toks.get(i + 2 * k - 1).is_some_and(|d| d.kind == Tk::Dot);
                dot && t.is_some_and(|t| t.kind != Tk::Str && t.text.eq_ignore_ascii_case(p))
            })
        };
        let i = (0..toks.len()).find(|&i| matches(i))?;
        let last = i + 2 * (parts.len() - 1);
        let end = toks.get(last + 1).map_or(sql.len(), |n| n.at);
        Some((toks[i].at, sql[toks[i].at..end].trim_end().to_string()))
    });
    let (at, text) = found.unwrap_or((0, name.to_string()));
    (place(sql, at), text)
}

/// A SQLite error as Trino would word it, placed in the original statement where it can be.
fn error_message(e: &rusqlite::Error, sql: &str) -> String {
    let msg = match e {
        rusqlite::Error::SqliteFailure(_, Some(m)) => m.clone(),
        rusqlite::Error::SqlInputError { msg, .. } => msg.clone(),
        other => other.to_string(),
    };
    // SQLite's hint for an unknown double-quoted name: a column, in DuneSQL
    let msg = msg.replace(" - should this be a string literal in single-quotes?", "");
    if let Some(p) = msg.find(MARK) {
        return format!("line 1:1: {}", &msg[p + MARK.len()..]);
    }
    if msg == "interrupted" {
        let secs = TIME_LIMIT.as_secs();
        return format!("line 1:1: the statement ran longer than the Dune API emulator's {secs}s");
    }
    if let Some(col) = msg.strip_prefix("no such column: ") {
        let col = col.replace('"', "");
        return format!("{}: Column '{col}' cannot be resolved", locate(sql, &col).0);
    }
    if let Some(col) = msg.strip_prefix("ambiguous column name: ") {
        return format!("{}: Column '{col}' is ambiguous", locate(sql, col).0);
    }
    if let Some(rest) = msg.strip_prefix("near \"") {
        let token = rest.split('"').next().unwrap_or("");
        let (at, text) = locate(sql, token);
        return format!("{at}: mismatched input '{text}'");
    }
    if msg.contains("incomplete input") {
        return format!(
            "{}: mismatched input '<EOF>'",
            place(sql, sql.trim_end().len())
        );
    }
    if msg.contains("integer overflow") {
        return "line 1:1: Numeric value out of range (bigint overflow)".into();
    }
    format!("line 1:1: the Dune API emulator cannot evaluate this statement: {msg}")
}
