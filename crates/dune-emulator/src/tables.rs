//! Uploaded tables, stored by column: each insert becomes one immutable chunk appended to its
//! table (nothing already stored is copied), and an execution reading a table keeps the list
//! of chunks it saw, so later inserts, clears or deletes never change its result.

use crate::cells::{Kind, Stored};
use crate::time::{dune_date, dune_timestamp_plain, now_ms, rfc3339};
use serde_json::{Value, json};
use std::fmt::Write;
use std::sync::{Arc, Mutex, MutexGuard};

/// One column of an upload schema.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnDef {
    pub name: String,
    pub kind: Kind,
    pub nullable: bool,
}

/// The values of one column of a chunk.
#[derive(Debug, Clone)]
enum Values {
    /// integer, bigint; timestamp (microseconds, UTC); date (days).
    Ints(Vec<i64>),
    Floats(Vec<f64>),
    Bools(Vec<bool>),
    /// varchar (UTF-8), varbinary, int256/uint256 (decimal digits): one buffer, and where
    /// each value ends in it.
    Bytes {
        buf: Vec<u8>,
        ends: Vec<u32>,
    },
}

/// One column of a chunk, filled value by value.
#[derive(Debug, Clone)]
pub struct Column {
    kind: Kind,
    values: Values,
    /// Which values are NULL; empty while none is.
    nulls: Vec<bool>,
    len: usize,
}

impl Column {
    /// An empty column of type `kind`.
    pub fn new(kind: Kind) -> Column {
        let values = match kind {
            Kind::Integer | Kind::Bigint | Kind::Timestamp | Kind::Date => Values::Ints(Vec::new()),
            Kind::Double => Values::Floats(Vec::new()),
            Kind::Boolean => Values::Bools(Vec::new()),
            _ => Values::Bytes {
                buf: Vec::new(),
                ends: Vec::new(),
            },
        };
        Column {
            kind,
            values,
            nulls: Vec::new(),
            len: 0,
        }
    }

    /// Appends a checked value (of this column's type); the bytes it counts for.
    pub fn push(&mut self, v: Stored<'_>) -> u64 {
        let null = v == Stored::Null;
        if null || !self.nulls.is_empty() {
            self.nulls.resize(self.len, false);
            self.nulls.push(null);
        }
        self.len += 1;
        match (&mut self.values, v) {
            (Values::Ints(x), Stored::Int(i)) => x.push(i),
            (Values::Floats(x), Stored::Float(f)) => x.push(f),
            (Values::Bools(x), Stored::Bool(b)) => x.push(b),
            (Values::Bytes { buf, ends }, Stored::Text(t)) => {
                buf.extend_from_slice(t.as_bytes());
                ends.push(buf.len() as u32);
                return t.len() as u64;
            }
            (Values::Bytes { buf, ends }, Stored::Bytes(b)) => {
                buf.extend_from_slice(&b);
                ends.push(buf.len() as u32);
                return b.len() as u64;
            }
            (Values::Ints(x), _) => x.push(0),
            (Values::Floats(x), _) => x.push(0.0),
            (Values::Bools(x), _) => x.push(false),
            (Values::Bytes { buf, ends }, _) => ends.push(buf.len() as u32),
        }
        match self.kind {
            _ if null => 0,
            Kind::Boolean => 1,
            Kind::Integer | Kind::Date => 4,
            _ => 8,
        }
    }

    fn bytes(&self, row: usize) -> &[u8] {
        match &self.values {
            Values::Bytes { buf, ends } => {
                let start = if row == 0 { 0 } else { ends[row - 1] as usize };
                &buf[start..ends[row] as usize]
            }
            _ => &[],
        }
    }

    /// The value of `row` in Dune's JSON encoding of results (API reference §11).
    pub fn value(&self, row: usize) -> Value {
        if self.nulls.get(row) == Some(&true) {
            return Value::Null;
        }
        match (&self.values, self.kind) {
            (Values::Ints(x), Kind::Timestamp) => {
                Value::from(dune_timestamp_plain(x[row].div_euclid(1000)))
            }
            (Values::Ints(x), Kind::Date) => Value::from(dune_date(x[row] * 86_400_000)),
            (Values::Ints(x), _) => Value::from(x[row]),
            (Values::Floats(x), _) => Value::from(x[row]),
            (Values::Bools(x), _) => Value::from(x[row]),
            (Values::Bytes { .. }, Kind::Varbinary) => {
                let mut s = String::with_capacity(2 + 2 * self.bytes(row).len());
                s.push_str("0x");
                for b in self.bytes(row) {
                    let _ = write!(s, "{b:02x}");
                }
                Value::from(s)
            }
            (Values::Bytes { .. }, _) => {
                Value::from(String::from_utf8_lossy(self.bytes(row)).into_owned())
            }
        }
    }

    /// The value of `row` as it is stored (for the SQL engine).
    pub fn cell(&self, row: usize) -> Cell<'_> {
        if self.nulls.get(row) == Some(&true) {
            return Cell::Null;
        }
        match &self.values {
            Values::Ints(x) => Cell::Int(x[row]),
            Values::Floats(x) => Cell::Float(x[row]),
            Values::Bools(x) => Cell::Bool(x[row]),
            Values::Bytes { .. } if self.kind == Kind::Varbinary => Cell::Bytes(self.bytes(row)),
            Values::Bytes { .. } => Cell::Text(std::str::from_utf8(self.bytes(row)).unwrap_or("")),
        }
    }

    /// The number of values.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the column has no values.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// A stored value, borrowed: timestamps in microseconds (UTC), dates in days, int256 and
/// uint256 as decimal text.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell<'a> {
    Null,
    Int(i64),
    Float(f64),
    Bool(bool),
    Text(&'a str),
    Bytes(&'a [u8]),
}

/// The rows of one insert, by column, never changed once stored.
#[derive(Debug, Clone)]
pub struct Chunk {
    pub columns: Vec<Column>,
    pub rows: u64,
    /// The rows' approximate size: 8 bytes a number or timestamp, 4 an integer or date, 1 a
    /// boolean, the length of a text or binary value, 0 a NULL.
    pub bytes: u64,
}

impl Chunk {
    /// An empty chunk for these columns.
    pub fn new(columns: &[ColumnDef]) -> Chunk {
        Chunk {
            columns: columns.iter().map(|c| Column::new(c.kind)).collect(),
            rows: 0,
            bytes: 0,
        }
    }
}

/// What an uploaded table holds now.
#[derive(Debug, Default)]
struct Contents {
    chunks: Vec<Arc<Chunk>>,
    rows: u64,
    bytes: u64,
    updated_ms: u64,
    /// How many times the table was cleared.
    epoch: u64,
}

/// Ids of tables, so that a table deleted and created again is a new table.
static NEXT_TABLE_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// An uploaded table: its schema (fixed at creation) and its rows.
#[derive(Debug)]
pub struct Table {
    /// Unique in the process.
    pub id: u64,
    pub namespace: String,
    pub name: String,
    pub columns: Vec<ColumnDef>,
    pub description: String,
    pub is_private: bool,
    pub created_ms: u64,
    contents: Mutex<Contents>,
}

impl Table {
    /// A new, empty table.
    pub fn new(namespace: &str, name: &str, columns: Vec<ColumnDef>) -> Table {
        let now = now_ms();
        Table {
            id: NEXT_TABLE_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            namespace: namespace.to_string(),
            name: name.to_string(),
            columns,
            description: String::new(),
            is_private: false,
            created_ms: now,
            contents: Mutex::new(Contents {
                updated_ms: now,
                ..Contents::default()
            }),
        }
    }

    fn contents(&self) -> MutexGuard<'_, Contents> {
        self.contents.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `dune.<namespace>.<name>`.
    pub fn full_name(&self) -> String {
        format!("dune.{}.{}", self.namespace, self.name)
    }

    /// Appends the rows of one insert, all at once.
    pub fn append(&self, chunk: Chunk) {
        let mut c = self.contents();
        c.rows += chunk.rows;
        c.bytes += chunk.bytes;
        c.updated_ms = now_ms();
        if chunk.rows > 0 {
            c.chunks.push(Arc::new(chunk));
        }
    }

    /// Removes every row (the schema stays).
    pub fn clear(&self) {
        let mut c = self.contents();
        *c = Contents {
            updated_ms: now_ms(),
            epoch: c.epoch + 1,
            ..Contents::default()
        };
    }

    /// The chunks held now, with the number of times the table was cleared (chunks are only
    /// appended between two clears).
    pub fn chunks(&self) -> (u64, Vec<Arc<Chunk>>) {
        let c = self.contents();
        (c.epoch, c.chunks.clone())
    }

    /// (rows, approximate bytes) held now.
    pub fn size(&self) -> (u64, u64) {
        let c = self.contents();
        (c.rows, c.bytes)
    }

    /// The rows held now, as an execution sees them: these columns (by position), at most
    /// `limit` rows.
    pub fn snapshot(&self, columns: Vec<usize>, limit: Option<u64>) -> Snapshot {
        let c = self.contents();
        let mut starts = Vec::with_capacity(c.chunks.len());
        let mut total = 0;
        for chunk in &c.chunks {
            starts.push(total);
            total += chunk.rows;
        }
        Snapshot {
            chunks: c.chunks.clone(),
            starts,
            columns,
            count: limit.map_or(total, |l| l.min(total)),
        }
    }

    /// An item of `GET /v1/uploads`.
    pub fn to_json(&self, owner_type: &str) -> Value {
        let (bytes, updated) = {
            let c = self.contents();
            (c.bytes, c.updated_ms)
        };
        let columns: Vec<Value> = self
            .columns
            .iter()
            .map(|c| json!({"name": c.name, "type": c.kind.name(), "nullable": c.nullable}))
            .collect();
        json!({
            "full_name": self.full_name(),
            "is_private": self.is_private,
            "table_size_bytes": bytes.to_string(),
            "created_at": rfc3339(self.created_ms),
            "updated_at": rfc3339(updated),
            "owner": {"handle": self.namespace, "type": owner_type},
            "columns": columns,
        })
    }
}

/// The rows of a table as one execution saw them.
#[derive(Debug)]
pub struct Snapshot {
    chunks: Vec<Arc<Chunk>>,
    /// The row number each chunk starts at.
    starts: Vec<u64>,
    /// The table's columns read, in the result's order.
    columns: Vec<usize>,
    count: u64,
}

impl Snapshot {
    /// The number of rows.
    pub fn len(&self) -> u64 {
        self.count
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The value of the result's column `col` in row `row`, in Dune's JSON encoding.
    pub fn cell(&self, row: u64, col: usize) -> Value {
        let i = self.starts.partition_point(|&s| s <= row) - 1;
        let local = (row - self.starts[i]) as usize;
        self.chunks[i].columns[self.columns[col]].value(local)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(name: &str, kind: Kind) -> ColumnDef {
        ColumnDef {
            name: name.into(),
            kind,
            nullable: true,
        }
    }

    #[test]
    fn values_come_back_in_dune_encoding() {
        let defs = [
            def("t", Kind::Timestamp),
            def("d", Kind::Date),
            def("b", Kind::Varbinary),
            def("u", Kind::Uint256),
        ];
        let mut chunk = Chunk::new(&defs);
        chunk.columns[0].push(Stored::Int(1_709_671_859_123_456));
        chunk.columns[1].push(Stored::Int(19_782));
        chunk.columns[2].push(Stored::Bytes(vec![0xde, 0xad]));
        chunk.columns[3].push(Stored::Text("123".into()));
        chunk.columns[0].push(Stored::Null);
        chunk.columns[1].push(Stored::Null);
        chunk.columns[2].push(Stored::Bytes(vec![]));
        chunk.columns[3].push(Stored::Null);
        chunk.rows = 2;
        let c = &chunk.columns;
        assert_eq!(c[0].value(0), json!("2024-03-05 20:50:59.123"));
        assert_eq!(c[1].value(0), json!("2024-02-29"));
        assert_eq!(c[2].value(0), json!("0xdead"));
        assert_eq!(c[3].value(0), json!("123"));
        assert_eq!(c[0].value(1), Value::Null);
        assert_eq!(c[2].value(1), json!("0x"));
        assert_eq!(c[3].value(1), Value::Null);
    }

    #[test]
    fn a_snapshot_keeps_what_it_saw() {
        let table = Table::new("ns", "t", vec![def("n", Kind::Bigint)]);
        let batch = |from: i64, n: i64| {
            let mut chunk = Chunk::new(&table.columns);
            for i in from..from + n {
                chunk.bytes += chunk.columns[0].push(Stored::Int(i));
            }
            chunk.rows = n as u64;
            chunk
        };
        table.append(batch(0, 3));
        table.append(batch(3, 2));
        let seen = table.snapshot(vec![0], None);
        table.append(batch(5, 1));
        table.clear();
        assert_eq!(seen.len(), 5);
        let all: Vec<Value> = (0..5).map(|r| seen.cell(r, 0)).collect();
        assert_eq!(all, (0..5).map(Value::from).collect::<Vec<_>>());
        assert_eq!(table.size(), (0, 0));
        assert_eq!(table.snapshot(vec![0], Some(2)).len(), 0);
    }
}
