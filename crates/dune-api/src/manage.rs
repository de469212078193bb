//! Query management and usage (API reference §8 and §16): reading, creating and changing
//! saved queries, and the account's credits. Writes need a key with the Read/Write scope; a
//! create is never sent twice (it would make two queries), the other changes are idempotent.

use crate::client::Client;
use crate::error::{Error, NotFound, Result};
use crate::retry::Idempotency;
use crate::source::QueryId;
use serde_json::{Map, Value};

/// A change of a saved query's state (`POST /v1/query/{id}/<action>`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum QueryAction {
    /// Archive it (it no longer runs).
    Archive,
    /// Bring it back.
    Unarchive,
    /// Make it private.
    Private,
    /// Make it public.
    Unprivate,
}

impl QueryAction {
    fn path(self) -> &'static str {
        match self {
            QueryAction::Archive => "archive",
            QueryAction::Unarchive => "unarchive",
            QueryAction::Private => "private",
            QueryAction::Unprivate => "unprivate",
        }
    }
}

/// A JSON answer, or an error naming the request it answered.
pub(crate) fn json_of(body: &[u8], what: &str) -> Result<Value> {
    serde_json::from_slice(body)
        .map_err(|e| Error::InvalidResponse(format!("{what} response: invalid JSON ({e})")))
}

impl Client {
    /// Sends `body` as JSON with `method` to `/v1<path>` and reads the JSON answer; `what`
    /// names the request in errors.
    pub(crate) fn send_json(
        &self,
        method: &str,
        path: &str,
        body: &Value,
        idem: Idempotency,
        not_found: NotFound,
        what: &str,
    ) -> Result<Value> {
        let url = self.http.url(path);
        let text = body.to_string();
        let reply = self.http.send(method, &url, Some(&text), idem, not_found)?;
        json_of(&reply.body, what)
    }
}

fn query_id_of(v: &Value, what: &str) -> Result<i64> {
    v.get("query_id")
        .and_then(Value::as_i64)
        .ok_or_else(|| Error::InvalidResponse(format!("{what} response: no query_id")))
}

impl Client {
    /// GET /v1/query/{id}: the saved query as Dune describes it (name, description, tags,
    /// version, parameters, query_sql, is_private, is_archived, owner). Errors: `NotFound`,
    /// `Forbidden` (a plan or key that may not read query definitions), every request's.
    pub fn get_query(&self, query: QueryId) -> Result<Value> {
        let url = self.http.url(&format!("/query/{query}"));
        let reply = self
            .http
            .send("GET", &url, None, Idempotency::Safe, NotFound::Query)?;
        json_of(&reply.body, "query")
    }

    /// POST /v1/query with `body` (`name` and `query_sql` at least): the new query's id. Sent
    /// once: after a failure that may have reached Dune, it is not sent again (a second
    /// query would be made), and the error says `maybe_executed`.
    pub fn create_query(&self, body: &Map<String, Value>) -> Result<i64> {
        let body = Value::Object(body.clone());
        let v = self.send_json(
            "POST",
            "/query",
            &body,
            Idempotency::Execute,
            NotFound::Query,
            "create query",
        )?;
        query_id_of(&v, "create query")
    }

    /// PATCH /v1/query/{id} with the fields to change (an empty list deletes tags or
    /// parameters): the query's id. Idempotent, so retried as reads are.
    pub fn update_query(&self, query: QueryId, changes: &Map<String, Value>) -> Result<i64> {
        let body = Value::Object(changes.clone());
        let path = format!("/query/{query}");
        let v = self.send_json(
            "PATCH",
            &path,
            &body,
            Idempotency::Safe,
            NotFound::Query,
            "update query",
        )?;
        query_id_of(&v, "update query")
    }

    /// POST /v1/query/{id}/{archive|unarchive|private|unprivate}.
    pub fn query_action(&self, query: QueryId, action: QueryAction) -> Result<()> {
        let url = self.http.url(&format!("/query/{query}/{}", action.path()));
        self.http
            .send("POST", &url, None, Idempotency::Safe, NotFound::Query)?;
        Ok(())
    }

    /// GET /v1/queries, 100 a request: the account's queries (at most `max`), as objects.
    pub fn query_objects(&self, max: usize) -> Result<Vec<Value>> {
        let mut out: Vec<Value> = Vec::new();
        loop {
            let url = format!(
                "{}?limit=100&offset={}",
                self.http.url("/queries"),
                out.len()
            );
            let reply = self
                .http
                .send("GET", &url, None, Idempotency::Safe, NotFound::Query)?;
            let v = json_of(&reply.body, "queries")?;
            let page = v
                .get("queries")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let total = v.get("total").and_then(Value::as_u64).unwrap_or(0) as usize;
            let done = page.is_empty();
            out.extend(page);
            if done || out.len() >= total || out.len() >= max {
                out.truncate(max);
                return Ok(out);
            }
        }
    }

    /// POST /v1/usage `{start_date, end_date}` (`YYYY-MM-DD`, both optional): the billing
    /// periods with credits used and included, and storage used and allowed. Costs no credits.
    pub fn usage(&self, start: Option<&str>, end: Option<&str>) -> Result<Value> {
        let mut body = Map::new();
        if let Some(s) = start {
            body.insert("start_date".into(), Value::from(s));
        }
        if let Some(e) = end {
            body.insert("end_date".into(), Value::from(e));
        }
        let body = Value::Object(body);
        self.send_json(
            "POST",
            "/usage",
            &body,
            Idempotency::Safe,
            NotFound::Query,
            "usage",
        )
    }
}
