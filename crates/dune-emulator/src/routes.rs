//! The Dune API v1 routes, plus the emulator's own `/_emulator/*` control routes.

use crate::catalog::ResultSet;
use crate::encode::{csv_field, json_row, sorted_names, value_bytes};
use crate::executions::{Execution, Outcome, Phase, plan_sql};
use crate::faults::{self, Action, FaultRule};
use crate::filter::{self, Expr, SqlType, sql_type};
use crate::http::{Misbehave, Network, Request, Response, url_encode};
use crate::stats::{LogEntry, Stats};
use crate::time::now_ms;
use crate::ulid::{is_well_formed, new_ulid};
use crate::{CachedPage, State, canonical, datasets, manage, uploads};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

const PERFORMANCE_TIERS: [&str; 4] = ["small", "medium", "large", "free"];
const DATAPOINT_LIMIT_MESSAGE: &str = "This api request would exceed your configured limits per request. Please visit your settings on dune.com and adjust your limits to continue usage.";

enum Route<'a> {
    Execute(&'a str),
    SqlExecute,
    Status(&'a str),
    Results(&'a str, bool),
    Cancel(&'a str),
    Latest(&'a str, bool),
    Query(&'a str),
    Queries,
    CreateQuery,
    UpdateQuery(&'a str),
    QueryFlag(&'a str, &'a str),
    Usage,
    UploadsCreate,
    UploadsList,
    UploadsCsv,
    UploadsInsert(&'a str, &'a str),
    UploadsClear(&'a str, &'a str),
    UploadsDelete(&'a str, &'a str),
    DatasetsList,
    DatasetsGet(&'a str),
    Unknown,
}

impl Route<'_> {
    fn name(&self) -> &'static str {
        match self {
            Route::Execute(_) => "execute",
            Route::SqlExecute => "sql_execute",
            Route::Status(_) => "status",
            Route::Results(_, false) => "results",
            Route::Results(_, true) => "results_csv",
            Route::Cancel(_) => "cancel",
            Route::Latest(_, false) => "latest",
            Route::Latest(_, true) => "latest_csv",
            Route::Query(_) => "query",
            Route::Queries => "queries",
            Route::CreateQuery => "create_query",
            Route::UpdateQuery(_) => "update_query",
            Route::QueryFlag(..) => "query_flag",
            Route::Usage => "usage",
            Route::UploadsCreate => "uploads_create",
            Route::UploadsList => "uploads_list",
            Route::UploadsCsv => "uploads_csv",
            Route::UploadsInsert(..) => "uploads_insert",
            Route::UploadsClear(..) => "uploads_clear",
            Route::UploadsDelete(..) => "uploads_delete",
            Route::DatasetsList => "datasets_list",
            Route::DatasetsGet(_) => "datasets_get",
            Route::Unknown => "unknown",
        }
    }
}

fn classify<'a>(method: &str, path: &'a str) -> Route<'a> {
    let Some(rest) = path.strip_prefix("/api/v1/") else {
        return Route::Unknown;
    };
    let segs: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
    match (method, segs.as_slice()) {
        ("POST", ["query", id, "execute"]) => Route::Execute(id),
        ("POST", ["sql", "execute"]) => Route::SqlExecute,
        ("GET", ["execution", id, "status"]) => Route::Status(id),
        ("GET", ["execution", id, "results"]) => Route::Results(id, false),
        ("GET", ["execution", id, "results", "csv"]) => Route::Results(id, true),
        ("POST", ["execution", id, "cancel"]) => Route::Cancel(id),
        ("GET", ["query", id, "results"]) => Route::Latest(id, false),
        ("GET", ["query", id, "results", "csv"]) => Route::Latest(id, true),
        ("GET", ["query", id]) => Route::Query(id),
        ("GET", ["queries"]) => Route::Queries,
        ("POST", ["query"]) => Route::CreateQuery,
        ("PATCH", ["query", id]) => Route::UpdateQuery(id),
        (
            "POST",
            [
                "query",
                id,
                action @ ("archive" | "unarchive" | "private" | "unprivate"),
            ],
        ) => Route::QueryFlag(id, action),
        ("POST", ["usage"]) => Route::Usage,
        ("GET", ["datasets"]) => Route::DatasetsList,
        ("GET", ["datasets", slug]) => Route::DatasetsGet(slug),
        _ => classify_uploads(method, &segs),
    }
}

/// The table upload routes (API reference §9), new paths and the deprecated `/v1/table/*` ones.
fn classify_uploads<'a>(method: &str, segs: &[&'a str]) -> Route<'a> {
    match (method, segs) {
        ("POST", ["uploads"] | ["table", "create"]) => Route::UploadsCreate,
        ("GET", ["uploads"] | ["tables"]) => Route::UploadsList,
        ("POST", ["uploads", "csv"] | ["table", "upload", "csv"]) => Route::UploadsCsv,
        ("POST", ["uploads" | "table", ns, t, "insert"]) => Route::UploadsInsert(ns, t),
        ("POST", ["uploads" | "table", ns, t, "clear"]) => Route::UploadsClear(ns, t),
        ("DELETE", ["uploads" | "table", ns, t]) => Route::UploadsDelete(ns, t),
        _ => Route::Unknown,
    }
}

/// Serves one request.
/// The longest request target (path and query string) the front end accepts; past it, 414, as
/// HTTP front ends answer (8 KiB is common).
pub const MAX_REQUEST_TARGET: usize = 8192;

pub fn handle(state: &State, req: &Request) -> Response {
    if req.path.len() + req.raw_query.len() + 1 > MAX_REQUEST_TARGET {
        return Response::error(414, "URI Too Long");
    }
    if let Some(what) = req.path.strip_prefix("/_emulator/uploads/")
        && req.method == "GET"
    {
        return crate::uploads::control(state, req, what);
    }
    if let Some(what) = req.path.strip_prefix("/_emulator/") {
        return control(state, req, what);
    }
    let route = classify(&req.method, &req.path);
    let name = route.name();
    let fault = faults::take(&mut state.lock().faults, name);
    let injected = fault.is_some();
    let resp = match fault {
        Some(Action::Replace(r)) => r,
        other => {
            let mut r = serve(state, req, &route);
            if let Some(Action::Misbehave(m)) = other {
                r.misbehave = Some(m);
            }
            r
        }
    };
    if injected {
        state.lock().stats.faults_injected += 1;
    }
    if let Some(Misbehave::CloseAndRefuse(d)) = resp.misbehave {
        state.gate.refuse(d, None);
    }
    let entry = LogEntry {
        method: req.method.clone(),
        route: name.to_string(),
        path: req.path.clone(),
        query: redact_query(&req.raw_query),
        params: req
            .query
            .iter()
            .map(|(k, v)| {
                let v = if k == "api_key" { "REDACTED" } else { v };
                (k.clone(), v.to_string())
            })
            .collect(),
        body: String::from_utf8_lossy(&req.body[..req.body.len().min(4096)]).into_owned(),
        status: resp.status,
    };
    let mut inner = state.lock();
    inner.stats.record(entry);
    let mut resp = resp;
    resp.network = Network {
        latency: Duration::from_millis(inner.settings.latency_ms),
        bytes_per_second: inner.settings.bandwidth_mbps * 125_000,
    };
    resp
}

fn redact_query(raw: &str) -> String {
    raw.split('&')
        .map(|p| {
            if p.starts_with("api_key=") {
                "api_key=REDACTED"
            } else {
                p
            }
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn key_of(req: &Request) -> &str {
    req.header("x-dune-api-key")
        .or_else(|| req.param("api_key"))
        .unwrap_or("")
}

fn authorized(state: &State, req: &Request) -> bool {
    let key = key_of(req);
    let inner = state.lock();
    !key.is_empty()
        && (inner.settings.any_key
            || inner.settings.api_keys.iter().any(|k| k == key)
            // the Read-scope key goes with the default key (not with a list given at start)
            || (manage::read_only(key)
                && inner.settings.api_keys.iter().any(|k| k == crate::DEFAULT_API_KEY)))
}

/// Routes that change the account (API reference §16: they need the Read/Write scope).
fn writes(route: &Route) -> bool {
    matches!(
        route,
        Route::CreateQuery
            | Route::UpdateQuery(_)
            | Route::QueryFlag(..)
            | Route::UploadsCreate
            | Route::UploadsCsv
            | Route::UploadsInsert(..)
            | Route::UploadsClear(..)
            | Route::UploadsDelete(..)
    )
}

fn serve(state: &State, req: &Request, route: &Route) -> Response {
    if matches!(route, Route::Unknown) {
        return Response::error(404, "Not found");
    }
    if !authorized(state, req) {
        return Response::error(401, "invalid API Key");
    }
    if writes(route) && manage::read_only(key_of(req)) {
        return Response::error(403, manage::READ_SCOPE_MESSAGE);
    }
    let host = req.header("host").unwrap_or("127.0.0.1");
    let base = format!("http://{host}/api");
    match *route {
        Route::Execute(id) => execute_query(state, req, id),
        Route::SqlExecute => execute_sql(state, req),
        Route::Status(id) => with_execution(state, id, |e, now| {
            Response::json(200, Value::Object(e.status(now)).to_string())
        }),
        Route::Cancel(id) => cancel(state, id),
        Route::Results(id, csv) => results(state, req, id, csv, &base),
        Route::Latest(id, csv) => latest(state, req, id, csv, &base),
        Route::Query(id) => read_query(state, id),
        Route::Queries => list_queries(state, req),
        Route::CreateQuery => manage::create(state, req),
        Route::UpdateQuery(id) => manage::update(state, req, id),
        Route::QueryFlag(id, action) => manage::flag(state, id, action),
        Route::Usage => manage::usage(state, req, &state.catalog),
        Route::UploadsCreate => uploads::create(state, req),
        Route::UploadsList => uploads::list(state, req),
        Route::UploadsCsv => uploads::upload_csv(state, req),
        Route::UploadsInsert(ns, t) => uploads::insert(state, req, ns, t),
        Route::UploadsClear(ns, t) => uploads::clear(state, ns, t),
        Route::UploadsDelete(ns, t) => uploads::delete(state, ns, t),
        Route::DatasetsList => datasets::list(state, req),
        Route::DatasetsGet(slug) => datasets::get(state, slug),
        Route::Unknown => unreachable!(),
    }
}

fn invalid_execution(id: &str) -> Response {
    Response::error(
        400,
        &format!("The requested execution ID (ID: {id}) is invalid."),
    )
}

fn with_execution(
    state: &State,
    id: &str,
    f: impl FnOnce(&Execution, u64) -> Response,
) -> Response {
    if !is_well_formed(id) {
        return invalid_execution(id);
    }
    let inner = state.lock();
    match inner.executions.get(&id.to_ascii_uppercase()) {
        Some(e) => f(e, now_ms()),
        None => Response::error(404, "Execution not found"),
    }
}

fn performance(req: &Request, body: &Map<String, Value>) -> Result<(), Response> {
    let tier = body
        .get("performance")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| req.param("performance").map(str::to_string));
    match tier {
        Some(t) if !PERFORMANCE_TIERS.contains(&t.as_str()) => {
            Err(Response::error(400, "Invalid request body payload"))
        }
        _ => Ok(()),
    }
}

fn json_body(req: &Request) -> Result<Map<String, Value>, Response> {
    if req.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(&req.body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(Value::Null) => Ok(Map::new()),
        _ => Err(Response::error(400, "Invalid request body payload")),
    }
}

fn create_execution(
    state: &State,
    query_id: u64,
    params: BTreeMap<String, String>,
    outcome: Outcome,
    timing: (Option<u64>, Option<u64>),
) -> Response {
    let now = now_ms();
    let mut inner = state.lock();
    let id = new_ulid(now);
    let execution = Execution {
        id: id.clone(),
        query_id,
        params,
        submitted_ms: now,
        pending_ms: timing.0.unwrap_or(inner.settings.pending_ms),
        execution_ms: timing.1.unwrap_or(inner.settings.execution_ms),
        outcome,
        cancelled_ms: None,
    };
    let state_name = execution.phase(now).state();
    inner.executions.insert(id.clone(), execution);
    inner.stats.executions_created += 1;
    inner.billed_executions += 1;
    Response::json(
        200,
        json!({ "execution_id": id, "state": state_name }).to_string(),
    )
}

fn execute_query(state: &State, req: &Request, id: &str) -> Response {
    let body = match json_body(req) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let query_id = id.parse::<u64>().unwrap_or(0);
    if manage::archived(state, query_id) {
        return Response::error(403, "Query is archived");
    }
    if let Some(sql) = manage::created_sql(state, query_id) {
        if let Err(r) = performance(req, &body) {
            return r;
        }
        return run_sql(state, query_id, &sql);
    }
    let Some(query) = state.catalog.get(query_id) else {
        return Response::error(404, "Query not found");
    };
    if let Err(r) = performance(req, &body) {
        return r;
    }
    let given: BTreeMap<String, Value> = match body.get("query_parameters") {
        None | Some(Value::Null) => BTreeMap::new(),
        Some(Value::Object(m)) => m.clone().into_iter().collect(),
        Some(_) => return Response::error(400, "Invalid request body payload"),
    };
    let params = match query.resolve_params(&given) {
        Ok(p) => p,
        Err(msg) => return Response::error(400, &msg),
    };
    let outcome = match &query.fail {
        Some(msg) => Outcome::Failed(msg.clone()),
        None if query.partial => Outcome::Partial(query.result(&params)),
        None => Outcome::Rows(query.result(&params)),
    };
    create_execution(
        state,
        query.query_id,
        params,
        outcome,
        (query.pending_ms, query.execution_ms),
    )
}

fn execute_sql(state: &State, req: &Request) -> Response {
    let body = match json_body(req) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(sql) = body.get("sql").and_then(Value::as_str) else {
        return Response::error(400, "Invalid request body payload");
    };
    if let Err(r) = performance(req, &body) {
        return r;
    }
    run_sql(state, 0, sql)
}

/// An execution of raw SQL (of `query_id`, 0 for `/v1/sql/execute`): its rows, or a failure
/// with the engine's message.
fn run_sql(state: &State, query_id: u64, sql: &str) -> Response {
    let outcome = match plan_sql(
        &state.sql,
        &state.catalog,
        &|ns, t| uploads::find(state, ns, t),
        sql,
    ) {
        Ok(r) => Outcome::Rows(r),
        Err(msg) => Outcome::Failed(msg),
    };
    create_execution(state, query_id, BTreeMap::new(), outcome, (None, None))
}

fn cancel(state: &State, id: &str) -> Response {
    if !is_well_formed(id) {
        return invalid_execution(id);
    }
    let now = now_ms();
    let mut inner = state.lock();
    let Some(e) = inner.executions.get_mut(&id.to_ascii_uppercase()) else {
        return Response::error(404, "Execution not found");
    };
    let success = !e.phase(now).finished();
    if success {
        e.cancelled_ms = Some(now);
        let id = e.id.clone();
        inner.stats.cancelled.push(id);
    }
    Response::json(200, json!({ "success": success }).to_string())
}

/// Resolves `params.<name>` entries against the query's parameters. Partial sets take the
/// defaults for the rest; none at all means "any parameter set".
fn latest(state: &State, req: &Request, id: &str, csv: bool, base: &str) -> Response {
    let query_id = id.parse::<u64>().unwrap_or(0);
    let query = state.catalog.get(query_id);
    if query.is_none() && manage::created_sql(state, query_id).is_none() {
        return Response::error(404, "Query not found");
    }
    // a multi-select value travels as the same name repeated: it becomes a list
    let mut given: BTreeMap<String, Value> = BTreeMap::new();
    for (k, v) in &req.query {
        let Some(name) = k.strip_prefix("params.") else {
            continue;
        };
        match given.get_mut(name) {
            None => {
                given.insert(name.to_string(), Value::from(v.clone()));
            }
            Some(Value::Array(items)) => items.push(Value::from(v.clone())),
            Some(first) => *first = Value::from(vec![first.clone(), Value::from(v.clone())]),
        }
    }
    let wanted = if given.is_empty() {
        None
    } else {
        match query.map(|q| q.resolve_params(&given)) {
            Some(Ok(p)) => Some(canonical(&p)),
            _ => {
                return Response::error(404, "No results found for this query and parameters");
            }
        }
    };
    let now = now_ms();
    let newest = {
        let inner = state.lock();
        let mut best: Option<(u64, String)> = None;
        for e in inner.executions.values() {
            if e.query_id != query_id || !e.phase(now).has_result() {
                continue;
            }
            if wanted.as_ref().is_some_and(|w| *w != canonical(&e.params)) {
                continue;
            }
            let ended = e.submitted_ms + e.pending_ms + e.execution_ms;
            if best.as_ref().is_none_or(|(t, _)| ended > *t) {
                best = Some((ended, e.id.clone()));
            }
        }
        best.map(|(_, id)| id).or_else(|| {
            let key = (query_id, wanted.clone()?);
            inner.latest.get(&key).cloned()
        })
    };
    match newest {
        Some(exec_id) => results(state, req, &exec_id, csv, base),
        None => Response::error(404, "No results found for this query and parameters"),
    }
}

struct Read {
    columns: Vec<usize>,
    filters: Option<(String, Expr)>,
    sort: Vec<(usize, bool)>,
    sort_text: String,
    limit: Option<u64>,
    offset: u64,
    sample: Option<u64>,
    ignore_cap: bool,
}

fn parse_u64(req: &Request, name: &str) -> Result<Option<u64>, Response> {
    match req.param(name) {
        None => Ok(None),
        Some(v) => v
            .parse::<u64>()
            .map(Some)
            .map_err(|_| Response::error(400, &format!("invalid value for {name}: {v}"))),
    }
}

fn parse_read(req: &Request, r: &ResultSet) -> Result<Read, Response> {
    let find = |name: &str| {
        r.column_index(name)
            .ok_or_else(|| Response::error(400, &format!("column not found: {name}")))
    };
    let columns = match req.param("columns") {
        Some(list) if !list.is_empty() => filter::parse_columns(list)
            .map_err(|e| Response::error(400, &format!("invalid columns: {e}")))?
            .iter()
            .map(|c| find(c))
            .collect::<Result<Vec<_>, _>>()?,
        _ => (0..r.names.len()).collect(),
    };
    let filters = match req.param("filters") {
        Some(f) if !f.trim().is_empty() => {
            let e = filter::parse_filters(f)
                .map_err(|e| Response::error(400, &format!("invalid filters: {e}")))?;
            let mut cols = Vec::new();
            filter::columns_of(&e, &mut cols);
            for c in cols {
                find(&c)?;
            }
            let type_of = |name: &str| {
                let t = r
                    .column_index(name)
                    .map_or("unknown", |c| r.types[c].as_str());
                (sql_type(t), t.to_string())
            };
            filter::type_check(&e, &type_of)
                .map_err(|m| Response::error(400, &format!("invalid filters: {m}")))?;
            Some((f.to_string(), e))
        }
        _ => None,
    };
    let sort_text = req.param("sort_by").unwrap_or("").to_string();
    let sort = if sort_text.trim().is_empty() {
        Vec::new()
    } else {
        filter::parse_sort(&sort_text)
            .map_err(|e| Response::error(400, &format!("invalid sort_by: {e}")))?
            .into_iter()
            .map(|(c, desc)| find(&c).map(|i| (i, desc)))
            .collect::<Result<Vec<_>, _>>()?
    };
    let read = Read {
        columns,
        filters,
        sort,
        sort_text,
        limit: parse_u64(req, "limit")?,
        offset: parse_u64(req, "offset")?.unwrap_or(0),
        sample: parse_u64(req, "sample_count")?,
        ignore_cap: req.param("ignore_max_datapoints_per_request") == Some("true"),
    };
    if read.sample.is_some()
        && (read.limit.is_some() || req.param("offset").is_some() || read.filters.is_some())
    {
        return Err(Response::error(
            400,
            "sample_count cannot be combined with limit, offset or filters",
        ));
    }
    Ok(read)
}

/// The row order for a filtered or sorted read, computed once per (execution, filters,
/// sort_by) and kept for the next pages.
fn view(state: &State, exec_id: &str, r: &ResultSet, read: &Read) -> Option<Arc<Vec<u64>>> {
    if read.filters.is_none() && read.sort.is_empty() {
        return None;
    }
    let key = (
        exec_id.to_string(),
        read.filters
            .as_ref()
            .map(|(t, _)| t.clone())
            .unwrap_or_default(),
        read.sort_text.clone(),
    );
    if let Some((_, v)) = state.lock().views.iter().find(|(k, _)| *k == key) {
        return Some(v.clone());
    }
    // each column's index and type, looked up once rather than for every row
    let columns: std::collections::HashMap<&str, (usize, SqlType)> = r
        .names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), (i, sql_type(&r.types[i]))))
        .collect();
    let type_of = |name: &str| columns.get(name).map_or(SqlType::Other, |c| c.1);
    let mut rows: Vec<u64> = match &read.filters {
        None => (0..r.len()).collect(),
        Some((_, e)) => (0..r.len())
            .filter(|&row| {
                let get = |name: &str| columns.get(name).map_or(Value::Null, |c| r.cell(row, c.0));
                filter::eval(e, &get, &type_of)
            })
            .collect(),
    };
    if !read.sort.is_empty() {
        let mut keyed: Vec<(Vec<Value>, u64)> = rows
            .iter()
            .map(|&row| {
                (
                    read.sort.iter().map(|(c, _)| r.cell(row, *c)).collect(),
                    row,
                )
            })
            .collect();
        keyed.sort_by(|(a, _), (b, _)| {
            for (i, (_, desc)) in read.sort.iter().enumerate() {
                let ty = sql_type(&r.types[read.sort[i].0]);
                let o = filter::order_cells(ty, &a[i], &b[i]);
                let o = if *desc && !(a[i].is_null() || b[i].is_null()) {
                    o.reverse()
                } else {
                    o
                };
                if o != std::cmp::Ordering::Equal {
                    return o;
                }
            }
            std::cmp::Ordering::Equal
        });
        rows = keyed.into_iter().map(|(_, row)| row).collect();
    }
    let v = Arc::new(rows);
    let mut inner = state.lock();
    if inner.views.len() >= 8 {
        inner.views.remove(0);
    }
    inner.views.push((key, v.clone()));
    Some(v)
}

const ENVELOPE_KEYS: [&str; 9] = [
    "execution_id",
    "query_id",
    "state",
    "is_execution_finished",
    "submitted_at",
    "expires_at",
    "execution_started_at",
    "execution_ended_at",
    "cancelled_at",
];

/// What a results request needs of an execution, read under the lock.
struct Snapshot {
    phase: Phase,
    status: Map<String, Value>,
    rows: Option<Arc<ResultSet>>,
    pending_ms: u64,
    execution_ms: u64,
}

fn snapshot(state: &State, id: &str, now: u64) -> Option<Snapshot> {
    let inner = state.lock();
    let e = inner.executions.get(id)?;
    Some(Snapshot {
        phase: e.phase(now),
        status: e.status(now),
        rows: e.outcome.rows().cloned(),
        pending_ms: e.pending_time_millis(),
        execution_ms: e.execution_time_millis(),
    })
}

/// The `total_row_count` to report: "rows in the whole result" (API reference §5.3). Whether
/// Dune counts them before or after `filters` is not documented, so either can be asked for
/// (`total_ignores_filters`); the filtered count by default.
fn reported_total(state: &State, unfiltered: u64, filtered: u64) -> u64 {
    if state.lock().settings.total_ignores_filters {
        unfiltered
    } else {
        filtered
    }
}

/// The positions (in the filtered and sorted view) a request reads, or Dune's 402.
fn positions(read: &Read, total: u64, cap: u64) -> Result<Vec<u64>, Response> {
    let ncols = read.columns.len().max(1) as u64;
    let remaining = total.saturating_sub(read.offset);
    if let Some(n) = read.sample {
        return Ok(if n >= total {
            (0..total).collect()
        } else {
            (0..n).map(|i| i * total / n.max(1)).collect()
        });
    }
    let page = match read.limit {
        Some(l) if read.ignore_cap => l.min(remaining),
        Some(l) => l.min((cap / ncols).max(1)).min(remaining),
        None if !read.ignore_cap && remaining * ncols > cap => {
            return Err(Response::error(402, DATAPOINT_LIMIT_MESSAGE));
        }
        None => remaining,
    };
    Ok((read.offset..read.offset + page).collect())
}

/// The `next_uri` of a page: the request's own parameters with the next offset.
fn next_uri_of(
    req: &Request,
    read: &Read,
    page: (u64, u64),
    id: &str,
    csv: bool,
    base: &str,
) -> String {
    let (rows, off) = page;
    let mut q: Vec<(String, String)> = Vec::new();
    for name in [
        "allow_partial_results",
        "columns",
        "filters",
        "ignore_max_datapoints_per_request",
    ] {
        if let Some(v) = req.param(name) {
            q.push((name.into(), v.into()));
        }
    }
    q.push(("limit".into(), read.limit.unwrap_or(rows).to_string()));
    q.push(("offset".into(), off.to_string()));
    if let Some(v) = req.param("sort_by") {
        q.push(("sort_by".into(), v.into()));
    }
    let qs: Vec<String> = q
        .iter()
        .map(|(k, v)| format!("{k}={}", url_encode(v)))
        .collect();
    format!(
        "{base}/v1/execution/{id}/results{}?{}",
        if csv { "/csv" } else { "" },
        qs.join("&")
    )
}

/// One page, ready to be written: its rows, columns and where the next one starts.
struct PageOut<'a> {
    r: &'a ResultSet,
    read: &'a Read,
    row_ids: Vec<u64>,
    names: Vec<String>,
    next: Option<(u64, String)>,
}

fn csv_page(p: &PageOut) -> Response {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    let _ = w.write_record(&p.names);
    for &row in &p.row_ids {
        let fields: Vec<String> = p
            .read
            .columns
            .iter()
            .map(|&c| csv_field(&p.r.cell(row, c)))
            .collect();
        let _ = w.write_record(&fields);
    }
    let body = w.into_inner().unwrap_or_default();
    let mut resp = crate::http::Response::new(200, "text/csv", body);
    if let Some((off, uri)) = &p.next {
        resp = resp
            .with_header("x-dune-next-offset", &off.to_string())
            .with_header("x-dune-next-uri", uri);
    }
    resp
}

fn json_page(p: &PageOut, envelope: Map<String, Value>, snap: &Snapshot, total: u64) -> Response {
    let sorted = sorted_names(&p.names);
    let mut rows_json = String::with_capacity(p.row_ids.len() * 64);
    let mut values = Vec::with_capacity(p.names.len());
    let mut page_bytes = 0u64;
    for (i, &row) in p.row_ids.iter().enumerate() {
        values.clear();
        for &c in &p.read.columns {
            let v = p.r.cell(row, c);
            page_bytes += value_bytes(&v);
            values.push(v);
        }
        if i > 0 {
            rows_json.push(',');
        }
        json_row(&mut rows_json, &sorted, &values);
    }
    let types: Vec<String> = p
        .read
        .columns
        .iter()
        .map(|&c| p.r.types[c].clone())
        .collect();
    let metadata = json!({
        "column_names": p.names,
        "column_types": types,
        "row_count": p.row_ids.len(),
        "result_set_bytes": page_bytes,
        "total_row_count": total,
        "total_result_set_bytes": p.r.estimate_bytes(&p.read.columns, total),
        "datapoint_count": p.row_ids.len() as u64 * p.read.columns.len().max(1) as u64,
        "pending_time_millis": snap.pending_ms,
        "execution_time_millis": snap.execution_ms,
    });
    let mut body = Value::Object(envelope).to_string();
    body.pop();
    body.push_str(",\"result\":{\"rows\":[");
    body.push_str(&rows_json);
    body.push_str("],\"metadata\":");
    body.push_str(&metadata.to_string());
    body.push('}');
    if let Some((off, uri)) = &p.next {
        body.push_str(&format!(
            ",\"next_offset\":{off},\"next_uri\":{}",
            Value::from(uri.as_str())
        ));
    }
    body.push('}');
    Response::json(200, body)
}

/// Counts a page served and keeps it for identical requests, within the cache's bytes.
fn remember_page(state: &State, cache_key: String, page: &CachedPage) {
    let mut inner = state.lock();
    count_page(&mut inner.stats, page);
    inner.billed_datapoints += page.datapoints;
    let size = page.response.body.len();
    if size <= inner.settings.page_cache_bytes {
        while inner.pages_bytes + size > inner.settings.page_cache_bytes {
            let Some((_, old)) = inner.pages.pop_front() else {
                break;
            };
            inner.pages_bytes -= old.response.body.len();
        }
        inner.pages_bytes += size;
        inner.pages.push_back((cache_key, page.clone()));
    }
}

fn results(state: &State, req: &Request, id: &str, csv: bool, base: &str) -> Response {
    if !is_well_formed(id) {
        return invalid_execution(id);
    }
    let id = id.to_ascii_uppercase();
    let Some(snap) = snapshot(state, &id, now_ms()) else {
        return Response::error(404, "Execution not found");
    };
    let mut envelope = Map::new();
    for k in ENVELOPE_KEYS {
        if let Some(v) = snap.status.get(k) {
            envelope.insert(k.to_string(), v.clone());
        }
    }
    if snap.phase == Phase::CompletedPartial && req.param("allow_partial_results") != Some("true") {
        return Response::error(
            400,
            "Partial Result, please request with 'allow_partial_results=true'",
        );
    }
    if !snap.phase.has_result() {
        if let Some(err) = snap.status.get("error") {
            envelope.insert("error".into(), err.clone());
        }
        if csv {
            let text = format!("Execution is not completed: {}", snap.phase.state());
            return Response::error(400, &text);
        }
        return Response::json(200, Value::Object(envelope).to_string());
    }
    let cache_key = format!("{id}|{csv}|{base}|{}", redact_query(&req.raw_query));
    if let Some(hit) = cached_page(state, &cache_key) {
        return hit;
    }
    let r = snap.rows.clone().expect("completed executions have rows");
    let read = match parse_read(req, &r) {
        Ok(read) => read,
        Err(resp) => return resp,
    };
    let view = view(state, &id, &r, &read);
    let total = view.as_ref().map_or(r.len(), |v| v.len() as u64);
    let cap = state.lock().settings.max_datapoints;
    let row_ids: Vec<u64> = match positions(&read, total, cap) {
        Ok(p) => p
            .iter()
            .map(|&p| view.as_ref().map_or(p, |v| v[p as usize]))
            .collect(),
        Err(resp) => return resp,
    };
    let next_offset = match read.sample {
        None if read.offset + (row_ids.len() as u64) < total => {
            Some(read.offset + row_ids.len() as u64)
        }
        _ => None,
    };
    let next = next_offset.map(|off| {
        let uri = next_uri_of(req, &read, (row_ids.len() as u64, off), &id, csv, base);
        (off, uri)
    });
    let out = PageOut {
        r: &r,
        read: &read,
        names: read.columns.iter().map(|&c| r.names[c].clone()).collect(),
        row_ids,
        next,
    };
    let response = if csv {
        csv_page(&out)
    } else {
        json_page(&out, envelope, &snap, reported_total(state, r.len(), total))
    };
    let page = CachedPage {
        response,
        rows: out.row_ids.len() as u64,
        datapoints: out.row_ids.len() as u64 * read.columns.len() as u64,
    };
    remember_page(state, cache_key, &page);
    page.response
}

fn count_page(stats: &mut Stats, page: &CachedPage) {
    stats.results_requests += 1;
    stats.rows_served += page.rows;
    stats.datapoints_served += page.datapoints;
    stats.bytes_served += page.response.body.len() as u64;
}

/// A page served before for the same request (completed results never change).
fn cached_page(state: &State, key: &str) -> Option<Response> {
    let mut inner = state.lock();
    let page = inner
        .pages
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, p)| p.clone())?;
    count_page(&mut inner.stats, &page);
    inner.billed_datapoints += page.datapoints;
    Some(page.response)
}

fn read_query(state: &State, id: &str) -> Response {
    match id.parse::<u64>().ok().and_then(|q| manage::query(state, q)) {
        Some(q) => Response::json(200, q.to_json().to_string()),
        None => Response::error(404, "Query not found"),
    }
}

fn list_queries(state: &State, req: &Request) -> Response {
    // Dune's default page is 20 queries; each item is an overview (`id`, not `query_id`)
    let limit = req
        .param("limit")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(20);
    let offset = req
        .param("offset")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0);
    let all = manage::all_queries(state);
    let page: Vec<Value> = all
        .iter()
        .skip(offset)
        .take(limit)
        .map(manage::ManagedQuery::overview)
        .collect();
    Response::json(
        200,
        json!({ "queries": page, "total": all.len() }).to_string(),
    )
}

/// `/_emulator/*`: counters, faults and settings for tests.
fn control(state: &State, req: &Request, what: &str) -> Response {
    match (req.method.as_str(), what) {
        ("GET", "health") => Response::json(200, "{\"ok\":true}".into()),
        ("GET", "stats") => {
            let mut stats = state.stats();
            if req.param("brief").is_some() {
                stats.log.clear();
            }
            Response::json(200, serde_json::to_string(&stats).unwrap_or_default())
        }
        ("POST", "reset") => {
            let mut inner = state.lock();
            inner.stats = Stats::default();
            inner.faults.clear();
            state.busy.reset();
            Response::json(200, "{\"ok\":true}".into())
        }
        ("POST", "faults") => {
            let rules: Result<Vec<FaultRule>, _> = serde_json::from_slice::<Value>(&req.body)
                .and_then(|v| match v {
                    Value::Array(_) => serde_json::from_value(v),
                    other => serde_json::from_value(other).map(|r| vec![r]),
                });
            match rules {
                Ok(rules) => {
                    state.lock().faults.extend(rules);
                    Response::json(200, "{\"ok\":true}".into())
                }
                Err(e) => Response::error(400, &format!("bad fault rule: {e}")),
            }
        }
        ("POST", "refuse") => {
            // Stop listening now, for `ms` milliseconds: the next connections are refused.
            let ms = req
                .param("ms")
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(1000);
            state.gate.refuse(
                std::time::Duration::from_millis(ms.min(60_000)),
                Some(req.conn),
            );
            Response::json(200, "{\"ok\":true}".into())
        }
        ("DELETE", "faults") => {
            state.lock().faults.clear();
            Response::json(200, "{\"ok\":true}".into())
        }
        ("POST", "settings") => {
            let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
            let mut inner = state.lock();
            let s = &mut inner.settings;
            if let Some(v) = body.get("pending_ms").and_then(Value::as_u64) {
                s.pending_ms = v;
            }
            if let Some(v) = body.get("execution_ms").and_then(Value::as_u64) {
                s.execution_ms = v;
            }
            if let Some(v) = body.get("max_datapoints").and_then(Value::as_u64) {
                s.max_datapoints = v;
            }
            if let Some(v) = body.get("latency_ms").and_then(Value::as_u64) {
                s.latency_ms = v;
            }
            if let Some(v) = body.get("bandwidth_mbps").and_then(Value::as_u64) {
                s.bandwidth_mbps = v;
            }
            if let Some(v) = body.get("total_ignores_filters").and_then(Value::as_bool) {
                s.total_ignores_filters = v;
            }
            if let Some(Value::String(k)) = body.get("add_api_key")
                && !s.api_keys.contains(k)
            {
                s.api_keys.push(k.clone());
            }
            Response::json(200, "{\"ok\":true}".into())
        }
        _ => Response::error(404, "Not found"),
    }
}
