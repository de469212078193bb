//! Table uploads (API reference §9 and §16): create a table with a schema, list the account's
//! tables, upload a CSV whole, insert rows (CSV or NDJSON, all or nothing), clear and delete.
//! Uploaded tables are read back with raw SQL (`SELECT … FROM dune.<namespace>.<table>`, see
//! [`crate::executions::plan_sql`]) and count in `/v1/usage`'s `bytes_used`.
//!
//! Where Dune does not document a behaviour, the emulator's choice is marked "[inferred]":
//! - creating a table that exists answers 409 (Dune says only that the request fails);
//! - a namespace is lowercase letters, digits and underscores, and a table is created only in
//!   the key's own namespace ([`OWNER_HANDLE`]) or one of its teams' ([`TEAMS`]); any other
//!   answers 403;
//! - `GET /v1/uploads` lists tables by full name, 50 by default;
//! - a CSV uploaded whole (`POST /v1/uploads/csv`) becomes `dune.<account>.dataset_<name>`, as
//!   the official Python SDK's end-to-end test against Dune shows (it deletes
//!   `dataset_<name>` after `upload_csv(<name>)`); the answer names the table as it was given;
//! - `bytes_written` of an insert is the rows' size as the emulator counts it (see
//!   [`crate::tables::Chunk::bytes`]), the measure `table_size_bytes` and `bytes_used` use.

use crate::State;
use crate::cells::Kind;
use crate::http::{Request, Response};
use crate::ingest;
use crate::manage::OWNER_HANDLE;
use crate::tables::{Chunk, ColumnDef, Snapshot, Table};
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;
use std::sync::Arc;

/// The most tables one `GET /v1/uploads` lists.
pub const MAX_LIST_LIMIT: u64 = 10_000;

/// The table `dune.<namespace>.<name>`, if it exists.
pub fn find(state: &State, namespace: &str, name: &str) -> Option<Arc<Table>> {
    let key = (namespace.to_string(), name.to_string());
    state.lock().uploads.get(&key).cloned()
}

/// The bytes every uploaded table holds (`bytes_used` of `/v1/usage`).
pub fn bytes_used(state: &State) -> u64 {
    let tables: Vec<Arc<Table>> = state.lock().uploads.values().cloned().collect();
    tables.iter().map(|t| t.size().1).sum()
}

fn not_found(namespace: &str, name: &str) -> Response {
    Response::error(404, &format!("Table dune.{namespace}.{name} not found"))
}

fn body(req: &Request) -> Result<Map<String, Value>, Response> {
    match serde_json::from_slice::<Value>(&req.body) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(Response::error(400, "Invalid request body payload")),
    }
}

/// The teams the emulator's account belongs to: it may create tables in their namespaces.
pub const TEAMS: [&str; 1] = ["my_team"];

fn valid_namespace(ns: &str) -> Result<(), Response> {
    let ok = !ns.is_empty()
        && ns
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !ok {
        return Err(Response::error(
            400,
            &format!("Invalid namespace '{ns}': use lowercase letters, digits and underscores"),
        ));
    }
    if ns != OWNER_HANDLE && !TEAMS.contains(&ns) {
        return Err(Response::error(
            403,
            &format!(
                "Namespace '{ns}' is neither your namespace ({OWNER_HANDLE}) nor one of your teams'"
            ),
        ));
    }
    Ok(())
}

fn valid_table_name(name: &str) -> Result<(), Response> {
    let ok = name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && name.bytes().next().is_some_and(|b| !b.is_ascii_digit());
    ok.then_some(()).ok_or_else(|| {
        Response::error(
            400,
            &format!(
                "Invalid table name '{name}': use lowercase letters, digits and underscores, \
                 not starting with a digit"
            ),
        )
    })
}

/// Column names: not empty, not starting with a digit or a special character, no two alike
/// (whatever their case, as Trino folds identifiers).
fn valid_columns(columns: &[ColumnDef]) -> Result<(), Response> {
    if columns.is_empty() {
        return Err(Response::error(400, "The schema has no columns"));
    }
    let mut seen = BTreeSet::new();
    for c in columns {
        if !c
            .name
            .chars()
            .next()
            .is_some_and(|ch| ch.is_ascii_alphabetic())
        {
            return Err(Response::error(
                400,
                &format!(
                    "Invalid column name '{}': a column name can't start with a digit or a \
                     special character",
                    c.name
                ),
            ));
        }
        if !seen.insert(c.name.to_ascii_lowercase()) {
            return Err(Response::error(
                400,
                &format!("Duplicate column name '{}'", c.name),
            ));
        }
    }
    Ok(())
}

/// The `schema` of a create request: `[{name, type, nullable?=true}]`.
fn schema(v: Option<&Value>) -> Result<Vec<ColumnDef>, Response> {
    let bad = |what: &str| Response::error(400, &format!("Invalid request body payload: {what}"));
    let list = v.and_then(Value::as_array).ok_or_else(|| bad("schema"))?;
    let mut out = Vec::with_capacity(list.len());
    for c in list {
        let name = c.get("name").and_then(Value::as_str);
        let kind = c.get("type").and_then(Value::as_str);
        let (Some(name), Some(kind)) = (name, kind) else {
            return Err(bad("each column of the schema needs a name and a type"));
        };
        let nullable = match c.get("nullable") {
            None | Some(Value::Null) => true,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(bad("nullable must be true or false")),
        };
        let Some(kind) = Kind::parse(kind) else {
            return Err(Response::error(
                400,
                &format!(
                    "Invalid type '{kind}' for column '{name}': the types are {}",
                    Kind::names()
                ),
            ));
        };
        out.push(ColumnDef {
            name: name.to_string(),
            kind,
            nullable,
        });
    }
    valid_columns(&out)?;
    Ok(out)
}

fn text(b: &Map<String, Value>, key: &str) -> Option<String> {
    b.get(key).and_then(Value::as_str).map(str::to_string)
}

fn with_details(mut table: Table, b: &Map<String, Value>) -> Table {
    table.description = text(b, "description").unwrap_or_default();
    table.is_private = b
        .get("is_private")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    table
}

/// `POST /v1/uploads` (old `POST /v1/table/create`).
pub fn create(state: &State, req: &Request) -> Response {
    let b = match body(req) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let (Some(ns), Some(name)) = (text(&b, "namespace"), text(&b, "table_name")) else {
        return Response::error(
            400,
            "Invalid request body payload: namespace, table_name and schema are required",
        );
    };
    let columns = match valid_namespace(&ns)
        .and_then(|_| valid_table_name(&name))
        .and_then(|_| schema(b.get("schema")))
    {
        Ok(c) => c,
        Err(r) => return r,
    };
    let table = with_details(Table::new(&ns, &name, columns), &b);
    let full_name = table.full_name();
    let mut inner = state.lock();
    let key = (ns.clone(), name.clone());
    if inner.uploads.contains_key(&key) {
        // [inferred] Dune says only that the request fails: 409, as a conflict
        return Response::error(409, &format!("Table {full_name} already exists"));
    }
    inner.uploads.insert(key, Arc::new(table));
    Response::json(
        200,
        json!({
            "namespace": ns,
            "table_name": name,
            "full_name": full_name,
            "example_query": format!("select * from {full_name} limit 10"),
            "message": "Table created successfully",
        })
        .to_string(),
    )
}

/// `GET /v1/uploads?limit=&offset=` (old `GET /v1/tables`).
pub fn list(state: &State, req: &Request) -> Response {
    let (limit, offset) = match req.limit_offset(50, MAX_LIST_LIMIT) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let tables: Vec<Arc<Table>> = state.lock().uploads.values().cloned().collect();
    let page: Vec<Value> = tables
        .iter()
        .skip(offset as usize)
        .take(limit as usize)
        .map(|t| {
            t.to_json(if t.namespace == OWNER_HANDLE {
                "user"
            } else {
                "team"
            })
        })
        .collect();
    let mut out = json!({ "tables": page });
    let next = offset + limit;
    if next < tables.len() as u64 {
        out["next_offset"] = json!(next);
    }
    Response::json(200, out.to_string())
}

/// `POST /v1/uploads/csv` (old `POST /v1/table/upload/csv`): `{table_name, data, description,
/// is_private}`; creates or overwrites `dune.<account>.dataset_<table_name>` with the column
/// types inferred from the CSV ([`ingest::infer_csv`]).
pub fn upload_csv(state: &State, req: &Request) -> Response {
    let b = match body(req) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let (Some(name), Some(data)) = (text(&b, "table_name"), text(&b, "data")) else {
        return Response::error(
            400,
            "Invalid request body payload: table_name and data are required",
        );
    };
    if let Err(r) = valid_table_name(&name) {
        return r;
    }
    let (columns, chunk) = match ingest::infer_csv(&data) {
        Ok(x) => x,
        Err(e) => return Response::error(400, &e),
    };
    if let Err(r) = valid_columns(&columns) {
        return r;
    }
    let stored = format!("dataset_{name}");
    let table = with_details(Table::new(OWNER_HANDLE, &stored, columns), &b);
    table.append(chunk);
    state
        .lock()
        .uploads
        .insert((OWNER_HANDLE.to_string(), stored), Arc::new(table));
    Response::json(
        200,
        json!({ "table_name": name, "success": true }).to_string(),
    )
}

/// `POST /v1/uploads/{namespace}/{table}/insert`: a CSV (`text/csv`) or NDJSON
/// (`application/x-ndjson`) body, written whole or not at all.
pub fn insert(state: &State, req: &Request, ns: &str, name: &str) -> Response {
    let Some(table) = find(state, ns, name) else {
        return not_found(ns, name);
    };
    let content_type = req
        .header("content-type")
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let read: fn(&[ColumnDef], &str) -> Result<Chunk, String> = match content_type.as_str() {
        "text/csv" => ingest::from_csv,
        "application/x-ndjson" => ingest::from_ndjson,
        other => {
            return Response::error(
                400,
                &format!(
                    "Unsupported Content-Type '{other}': use text/csv or application/x-ndjson"
                ),
            );
        }
    };
    let text = match std::str::from_utf8(&req.body) {
        Ok(t) => t,
        Err(e) => {
            let at = e.valid_up_to();
            return Response::error(400, &format!("The body is not UTF-8 (byte {at})"));
        }
    };
    let chunk = match read(&table.columns, text) {
        Ok(c) => c,
        Err(e) => return Response::error(400, &e),
    };
    let (rows, bytes) = (chunk.rows, chunk.bytes);
    table.append(chunk);
    Response::json(
        200,
        json!({ "rows_written": rows, "bytes_written": bytes, "name": table.full_name() })
            .to_string(),
    )
}

/// `POST /v1/uploads/{namespace}/{table}/clear`: removes the rows, keeps the schema.
pub fn clear(state: &State, ns: &str, name: &str) -> Response {
    let Some(table) = find(state, ns, name) else {
        return not_found(ns, name);
    };
    table.clear();
    let message = format!("Table {} successfully cleared", table.full_name());
    Response::json(200, json!({ "message": message }).to_string())
}

/// `DELETE /v1/uploads/{namespace}/{table}`.
pub fn delete(state: &State, ns: &str, name: &str) -> Response {
    let key = (ns.to_string(), name.to_string());
    if state.lock().uploads.remove(&key).is_none() {
        return not_found(ns, name);
    }
    let message = format!("Table {ns}.{name} successfully deleted");
    Response::json(200, json!({ "message": message }).to_string())
}

/// An order-free digest of the rows: the sum of each row's FNV-1a hash (of its values in
/// Dune's JSON encoding), so two tables with the same rows in any order have the same digest.
fn digest(snap: &Snapshot, columns: usize) -> String {
    let mut sum = 0u64;
    let mut row_text = String::new();
    for row in 0..snap.len() {
        row_text.clear();
        for c in 0..columns {
            row_text.push_str(&snap.cell(row, c).to_string());
            row_text.push('\u{1f}');
        }
        let h = row_text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
        });
        sum = sum.wrapping_add(h);
    }
    format!("{sum:016x}")
}

/// `GET /_emulator/uploads/{namespace}/{table}?limit=&offset=`: the table's row count, an
/// order-free digest of every row, and rows (1,000 by default) as arrays in column order.
pub fn control(state: &State, req: &Request, what: &str) -> Response {
    let Some((ns, name)) = what.trim_end_matches('/').split_once('/') else {
        return Response::error(404, "Not found");
    };
    let Some(table) = find(state, ns, name) else {
        return not_found(ns, name);
    };
    let (limit, offset) = match req.limit_offset(1000, u64::MAX) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let all: Vec<usize> = (0..table.columns.len()).collect();
    let snap = table.snapshot(all.clone(), None);
    let rows: Vec<Value> = (offset..snap.len().min(offset.saturating_add(limit)))
        .map(|r| Value::Array(all.iter().map(|&c| snap.cell(r, c)).collect()))
        .collect();
    let out = json!({
        "full_name": table.full_name(),
        "column_names": table.columns.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
        "column_types": table.columns.iter().map(|c| c.kind.name()).collect::<Vec<_>>(),
        "row_count": snap.len(),
        "table_size_bytes": table.size().1,
        "digest": digest(&snap, all.len()),
        "rows": rows,
    });
    Response::json(200, out.to_string())
}
