//! Query management (API reference §8: create, read, update, archive, private), the account's
//! usage (§16: `POST /v1/usage`) and key scopes (§16: a Read key may not write).
//!
//! Queries of the data file can be edited; created ones get ids from 50,000,000 and, when
//! executed, run their `query_sql` as raw SQL does. Credits used grow with what was served:
//! 10 credits an execution and 1 per 1,000 datapoints (the emulator's own tariff: Dune's
//! varies by tier and plan).

use crate::State;
use crate::catalog::{Catalog, QueryDef};
use crate::http::{Request, Response};
use crate::time::{civil_from_days, now_ms};
use serde_json::{Map, Value, json};

/// The first id given to a created query.
pub const FIRST_CREATED_ID: u64 = 50_000_000;

/// The account's handle: the owner of its queries and the namespace of its uploads.
pub const OWNER_HANDLE: &str = "dune_fdw_emulator";

/// A key that may read but not write (`Read` scope).
pub const READ_ONLY_KEY: &str = "emulator-read-key";

/// The message of a write with a Read key.
pub const READ_SCOPE_MESSAGE: &str =
    "This API key has the Read scope: this request needs a key with the Read/Write scope";

/// A query as the management endpoints see it.
#[derive(Debug, Clone)]
pub struct ManagedQuery {
    pub query_id: u64,
    pub name: String,
    pub description: String,
    pub tags: Vec<Value>,
    pub parameters: Vec<Value>,
    pub query_sql: String,
    pub is_private: bool,
    pub is_archived: bool,
    pub version: u64,
}

impl ManagedQuery {
    fn of_catalog(q: &QueryDef) -> ManagedQuery {
        let parameters = q
            .parameters
            .iter()
            .map(|p| {
                let mut m = json!({"key": p.key, "type": p.kind, "value": p.value});
                if let Some(opts) = &p.enum_options {
                    m["enumOptions"] = json!(opts);
                }
                if p.multiselect {
                    m["isMultiselect"] = json!(true);
                }
                m
            })
            .collect();
        ManagedQuery {
            query_id: q.query_id,
            name: q.name.clone(),
            description: q.description.clone(),
            tags: Vec::new(),
            parameters,
            query_sql: format!(
                "-- served by the dune_fdw emulator\nselect * from query_{}",
                q.query_id
            ),
            is_private: q.is_private,
            is_archived: false,
            version: 1,
        }
    }

    /// An item of `GET /v1/queries` (Dune's `ResolvedQueryOverview`: `id`, name, description,
    /// owner, tags, created_at, updated_at).
    pub fn overview(&self) -> Value {
        let at = crate::time::rfc3339(crate::SEEDED_AT_MS);
        json!({
            "id": self.query_id,
            "name": self.name,
            "description": self.description,
            "owner": OWNER_HANDLE,
            "tags": self.tags,
            "created_at": at,
            "updated_at": at,
        })
    }

    /// The query object of `GET /v1/query/{id}`.
    pub fn to_json(&self) -> Value {
        json!({
            "query_id": self.query_id,
            "name": self.name,
            "description": self.description,
            "tags": self.tags,
            "version": self.version,
            "parameters": self.parameters,
            "query_engine": "v2 Dune SQL",
            "query_sql": self.query_sql,
            "is_private": self.is_private,
            "is_archived": self.is_archived,
            "is_unsaved": false,
            "owner": OWNER_HANDLE,
        })
    }
}

/// Whether `key` is a Read-scope key.
pub fn read_only(key: &str) -> bool {
    key == READ_ONLY_KEY
}

/// The query `id` as it stands now (edited, created, or as the data file has it).
pub fn query(state: &State, id: u64) -> Option<ManagedQuery> {
    if let Some(q) = state.lock().queries.get(&id) {
        return Some(q.clone());
    }
    state.catalog.get(id).map(ManagedQuery::of_catalog)
}

/// Every query, the data file's first, then the created ones.
pub fn all_queries(state: &State) -> Vec<ManagedQuery> {
    let mut out: Vec<ManagedQuery> = state
        .catalog
        .queries
        .iter()
        .map(|q| query(state, q.query_id).unwrap_or_else(|| ManagedQuery::of_catalog(q)))
        .collect();
    let inner = state.lock();
    out.extend(
        inner
            .queries
            .values()
            .filter(|q| q.query_id >= FIRST_CREATED_ID)
            .cloned(),
    );
    out
}

fn body(req: &Request) -> Result<Map<String, Value>, Response> {
    match serde_json::from_slice::<Value>(&req.body) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(Response::error(400, "Invalid request body payload")),
    }
}

/// Dune's `Parameter` objects: each with a string `key`, a known `type` and a string `value`.
fn parameters(v: &Value) -> Result<Vec<Value>, Response> {
    let bad = || Response::error(400, "Invalid request body payload: parameters");
    let list = v.as_array().ok_or_else(bad)?;
    for p in list {
        let key = p.get("key").and_then(Value::as_str).unwrap_or("");
        let kind = p.get("type").and_then(Value::as_str).unwrap_or("");
        let value_ok = p.get("value").is_none_or(|v| v.is_string() || v.is_array());
        if key.is_empty() || !["text", "number", "datetime", "enum"].contains(&kind) || !value_ok {
            return Err(bad());
        }
    }
    Ok(list.clone())
}

fn strings(v: &Value) -> Result<Vec<Value>, Response> {
    match v.as_array() {
        Some(a) if a.iter().all(Value::is_string) => Ok(a.clone()),
        _ => Err(Response::error(400, "Invalid request body payload: tags")),
    }
}

/// `POST /v1/query`: `{name*, query_sql*, description, parameters, tags, is_private}`.
pub fn create(state: &State, req: &Request) -> Response {
    let b = match body(req) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let text = |k: &str| b.get(k).and_then(Value::as_str).map(str::to_string);
    let (Some(name), Some(query_sql)) = (text("name"), text("query_sql")) else {
        return Response::error(
            400,
            "Invalid request body payload: name and query_sql are required",
        );
    };
    if name.trim().is_empty() {
        return Response::error(400, "Invalid request body payload: name");
    }
    let params = match b.get("parameters").map(parameters).transpose() {
        Ok(p) => p.unwrap_or_default(),
        Err(r) => return r,
    };
    let tags = match b.get("tags").map(strings).transpose() {
        Ok(t) => t.unwrap_or_default(),
        Err(r) => return r,
    };
    let mut inner = state.lock();
    let query_id = FIRST_CREATED_ID
        + inner
            .queries
            .keys()
            .filter(|&&k| k >= FIRST_CREATED_ID)
            .count() as u64;
    inner.queries.insert(
        query_id,
        ManagedQuery {
            query_id,
            name,
            description: text("description").unwrap_or_default(),
            tags,
            parameters: params,
            query_sql,
            is_private: b
                .get("is_private")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            is_archived: false,
            version: 1,
        },
    );
    Response::json(200, json!({ "query_id": query_id }).to_string())
}

/// Applies `f` to query `id` (kept as edited) and answers `{"query_id": id}`.
fn edit(state: &State, id: &str, unarchive: bool, f: impl FnOnce(&mut ManagedQuery)) -> Response {
    let Some(mut q) = id.parse::<u64>().ok().and_then(|id| query(state, id)) else {
        return Response::error(404, "Query not found");
    };
    // archiving "makes it uneditable and unexecutable" until it is unarchived
    if q.is_archived && !unarchive {
        return Response::error(403, "Query is archived");
    }
    f(&mut q);
    let query_id = q.query_id;
    state.lock().queries.insert(query_id, q);
    Response::json(200, json!({ "query_id": query_id }).to_string())
}

/// `PATCH /v1/query/{id}`: any of `{name, query_sql, description, tags, parameters}`; an
/// empty array deletes tags or parameters.
pub fn update(state: &State, req: &Request, id: &str) -> Response {
    let b = match body(req) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let params = match b.get("parameters").map(parameters).transpose() {
        Ok(p) => p,
        Err(r) => return r,
    };
    let tags = match b.get("tags").map(strings).transpose() {
        Ok(t) => t,
        Err(r) => return r,
    };
    let text = |k: &str| b.get(k).and_then(Value::as_str).map(str::to_string);
    if text("name").is_some_and(|n| n.trim().is_empty()) {
        return Response::error(400, "Invalid request body payload: name");
    }
    edit(state, id, false, |q| {
        q.name = text("name").unwrap_or(q.name.clone());
        q.description = text("description").unwrap_or(q.description.clone());
        q.query_sql = text("query_sql").unwrap_or(q.query_sql.clone());
        q.parameters = params.unwrap_or(q.parameters.clone());
        q.tags = tags.unwrap_or(q.tags.clone());
        q.version += 1;
    })
}

/// `POST /v1/query/{id}/{archive|unarchive|private|unprivate}`.
pub fn flag(state: &State, id: &str, action: &str) -> Response {
    edit(
        state,
        id,
        action == "unarchive" || action == "archive",
        |q| match action {
            "archive" => q.is_archived = true,
            "unarchive" => q.is_archived = false,
            "private" => q.is_private = true,
            _ => q.is_private = false,
        },
    )
}

/// The executable definition of a created query: its SQL, run as raw SQL is.
pub fn created_sql(state: &State, id: u64) -> Option<String> {
    (id >= FIRST_CREATED_ID)
        .then(|| state.lock().queries.get(&id).map(|q| q.query_sql.clone()))
        .flatten()
}

/// Whether query `id` was archived (executing it is refused, as Dune refuses it).
pub fn archived(state: &State, id: u64) -> bool {
    state.lock().queries.get(&id).is_some_and(|q| q.is_archived)
}

/// A `YYYY-MM-DD` day of the calendar (month 1 to 12, day 1 to 31).
fn calendar_day(s: &str) -> bool {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| s.get(r).and_then(|t| t.parse::<u32>().ok());
    s.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && num(0..4).is_some()
        && num(5..7).is_some_and(|m| (1..=12).contains(&m))
        && num(8..10).is_some_and(|d| (1..=31).contains(&d))
}

fn day(ms: u64) -> String {
    let (y, m, d) = civil_from_days((ms / 86_400_000) as i64);
    format!("{y:04}-{m:02}-{d:02}")
}

/// `POST /v1/usage` `{start_date, end_date}` (both optional, `YYYY-MM-DD`): the current
/// billing period (this month) if it overlaps, with the credits used so far.
pub fn usage(state: &State, req: &Request, catalog: &Catalog) -> Response {
    let b = if req.body.iter().all(u8::is_ascii_whitespace) {
        Map::new()
    } else {
        match body(req) {
            Ok(b) => b,
            Err(r) => return r,
        }
    };
    let date = |k: &str| -> Result<Option<String>, Response> {
        match b.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if calendar_day(s) => Ok(Some(s.clone())),
            _ => Err(Response::error(
                400,
                &format!("Invalid request body payload: {k} must be YYYY-MM-DD"),
            )),
        }
    };
    let (from, to) = match (date("start_date"), date("end_date")) {
        (Ok(f), Ok(t)) => (f, t),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let today = day(now_ms());
    let start = format!("{}-01", &today[..7]);
    let end = {
        let (y, m) = (
            today[..4].parse::<i64>().unwrap_or(2026),
            today[5..7].parse::<u32>().unwrap_or(1),
        );
        if m == 12 {
            format!("{}-01-01", y + 1)
        } else {
            format!("{y:04}-{:02}-01", m + 1)
        }
    };
    let uploaded = crate::uploads::bytes_used(state);
    let overlaps =
        from.as_ref().is_none_or(|f| *f < end) && to.as_ref().is_none_or(|t| *t >= start);
    let inner = state.lock();
    let credits = inner.billed_executions as f64 * 10.0 + inner.billed_datapoints as f64 / 1000.0;
    let private_queries = catalog
        .queries
        .iter()
        .map(|q| {
            inner
                .queries
                .get(&q.query_id)
                .map_or(q.is_private, |m| m.is_private)
        })
        .filter(|&p| p)
        .count()
        + inner
            .queries
            .values()
            .filter(|q| q.is_private && q.query_id >= FIRST_CREATED_ID)
            .count();
    let periods: Vec<Value> = if overlaps {
        vec![
            json!({"start_date": start, "end_date": end, "credits_used": credits, "credits_included": 2500.0}),
        ]
    } else {
        Vec::new()
    };
    Response::json(
        200,
        json!({
            "billing_periods": periods,
            "bytes_used": uploaded,
            "bytes_allowed": 1_000_000_000u64,
            "private_queries": private_queries,
            "private_dashboards": 0,
        })
        .to_string(),
    )
}
