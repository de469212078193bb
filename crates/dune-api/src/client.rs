//! The Dune API v1 endpoints dune_fdw uses.

use crate::cancel::Cancel;
use crate::config::ClientConfig;
use crate::error::{Error, NotFound, Result};
use crate::http::{Http, with_query};
use crate::models::{Page, Status, execution_id_from};
use crate::progress::{Progress, ProgressSink};

use crate::retry::Idempotency;
use crate::source::{ExecutionId, Params, Performance, QueryId, ResultSource, Sql};
use serde_json::{Map, Value};
use std::time::Duration;

/// Where result pages are read from, on the wire: one execution, or the latest result of a
/// saved query (for a parameter combination, or any). Built from a [`ResultSource`] once the
/// execution, if any, is known.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Location {
    Execution(ExecutionId),
    Latest {
        query: QueryId,
        params: Vec<(String, String)>,
    },
}

impl Location {
    pub(crate) fn latest(query: QueryId, params: Option<&Params>) -> Location {
        Location::Latest {
            query,
            params: params.map(Params::query_pairs).unwrap_or_default(),
        }
    }
}

/// What to read of a result: Dune's `columns`, `filters` and `sort_by` request parameters
/// (Dune API reference: "Get Execution Result"), each None to leave it out.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Read {
    /// The Dune columns to return, None for all.
    pub columns: Option<Vec<String>>,
    /// A filter expression (see [`crate::conjunction`]).
    pub filters: Option<String>,
    /// A sort expression (see [`crate::sort_by`]).
    pub sort_by: Option<String>,
    /// Dune's `sample_count`: about this many rows spread over the result, in one request
    /// (API reference §5.1: not with `limit`, `offset` or `filters`, which are then left out).
    pub sample_count: Option<u64>,
}

/// A column list for `columns`: names with a comma, quote or space are double-quoted, and a
/// quote inside is doubled (`a,"Total Volume"`).
pub fn columns_param(columns: &[String]) -> String {
    columns
        .iter()
        .map(|c| {
            if c.contains([',', '"', ' ']) {
                format!("\"{}\"", c.replace('"', "\"\""))
            } else {
                c.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

impl Read {
    fn query(&self, offset: u64, limit: u64, ignore_cap: bool) -> Vec<(String, String)> {
        let mut q = vec![("allow_partial_results".to_string(), "true".to_string())];
        match self.sample_count {
            Some(n) => q.push(("sample_count".into(), n.to_string())),
            None => {
                q.push(("limit".into(), limit.to_string()));
                q.push(("offset".into(), offset.to_string()));
            }
        }
        if ignore_cap {
            q.push(("ignore_max_datapoints_per_request".into(), "true".into()));
        }
        if let Some(c) = &self.columns {
            q.push(("columns".into(), columns_param(c)));
        }
        if let Some(f) = self
            .filters
            .as_ref()
            .filter(|_| self.sample_count.is_none())
        {
            q.push(("filters".into(), f.clone()));
        }
        if let Some(s) = &self.sort_by {
            q.push(("sort_by".into(), s.clone()));
        }
        q
    }
}

/// A parameter of a saved query (API reference §8, `Parameter`).
#[derive(Debug, Clone, PartialEq)]
pub struct QueryParameter {
    /// Its name (`Time Period`).
    pub key: String,
    /// Dune's type: `text`, `number`, `datetime` or `enum`.
    pub kind: String,
    /// The default value, as text.
    pub default: Option<String>,
    /// It takes a list of values.
    pub multiselect: bool,
}

/// A page of CSV: the text (with its header line) and the offset of the next page.
#[derive(Debug)]
pub(crate) struct CsvPage {
    pub(crate) text: String,
    pub(crate) next_offset: Option<u64>,
    pub(crate) next_uri: Option<String>,
}

/// A blocking client of one Dune account: every request has a timeout, retries are bounded,
/// and an execute is never sent twice (`http.rs`). Methods that take user input take the
/// checked newtypes of [`crate::source`], so nothing unchecked is sent.
pub struct Client {
    pub(crate) http: Http,
    progress: ProgressSink,
}

impl Client {
    /// A client with these settings; `cancel` stops its requests and sleeps from another
    /// thread.
    pub fn new(config: ClientConfig, cancel: Cancel) -> Client {
        Client {
            http: Http::new(config, cancel),
            progress: ProgressSink::default(),
        }
    }

    /// The same client, reporting its executions, states and pages to `sink`.
    pub fn with_progress(mut self, sink: ProgressSink) -> Client {
        self.progress = sink;
        self
    }

    pub(crate) fn report(&self, p: Progress) {
        self.progress.report(p);
    }

    /// The settings the client was made with.
    pub fn config(&self) -> &ClientConfig {
        &self.http.config
    }

    /// How many of this client's requests Dune answered 429 (rate limited) so far, retried
    /// or not (API reference §10.2: read endpoints share one per-minute bucket).
    pub fn rate_limited(&self) -> u64 {
        self.http.rate_limited()
    }

    /// The flag that stops this client's requests.
    pub fn cancel_flag(&self) -> &Cancel {
        &self.http.cancel
    }

    pub(crate) fn sleep(&self, d: Duration) -> Result<()> {
        if self.http.cancel.sleep(d) {
            Ok(())
        } else {
            Err(Error::Cancelled)
        }
    }

    /// Sends an execute; the new execution's id, reported as started.
    fn execute(
        &self,
        path: &str,
        body: Map<String, Value>,
        query_id: Option<u64>,
    ) -> Result<ExecutionId> {
        let url = self.http.url(path);
        let body = Value::Object(body).to_string();
        let reply = self.http.send(
            "POST",
            &url,
            Some(&body),
            Idempotency::Execute,
            NotFound::Query,
        )?;
        let id = execution_id_from(&reply.body)?;
        let id = ExecutionId::try_from(id.as_str()).map_err(|_| {
            Error::InvalidResponse(format!("execute response: \"{id}\" is not an execution id"))
        })?;
        self.report(Progress::Started {
            execution_id: id.to_string(),
            query_id,
        });
        Ok(id)
    }

    /// POST /v1/query/{id}/execute (Dune API reference: "Execute Query"): starts an execution; returns its id.
    /// Errors: as every request (`Error`); a 5xx or a broken connection after sending says
    /// `maybe_executed`.
    pub fn execute_query(
        &self,
        query: QueryId,
        params: Option<&Params>,
        performance: Option<&Performance>,
    ) -> Result<ExecutionId> {
        let mut body = Map::new();
        if let Some(p) = params {
            body.insert("query_parameters".into(), Value::Object(p.as_map().clone()));
        }
        if let Some(t) = performance {
            body.insert("performance".into(), Value::from(t.as_str()));
        }
        self.execute(&format!("/query/{query}/execute"), body, Some(query.get()))
    }

    /// POST /v1/sql/execute (Dune API reference: "Execute SQL"): runs raw DuneSQL; returns the execution id.
    pub fn execute_sql(&self, sql: &Sql, performance: Option<&Performance>) -> Result<ExecutionId> {
        let mut body = Map::new();
        body.insert("sql".into(), Value::from(sql.as_str()));
        if let Some(t) = performance {
            body.insert("performance".into(), Value::from(t.as_str()));
        }
        self.execute("/sql/execute", body, None)
    }

    /// Starts the execution a source asks for: `Execute` and `Sql` start one; `Latest` and
    /// `Execution` start nothing (None).
    pub fn execute_source(&self, source: &ResultSource) -> Result<Option<ExecutionId>> {
        match source {
            ResultSource::Execute {
                query,
                params,
                performance,
            } => self
                .execute_query(*query, params.as_ref(), performance.as_ref())
                .map(Some),
            ResultSource::Sql { sql, performance } => {
                self.execute_sql(sql, performance.as_ref()).map(Some)
            }
            ResultSource::Latest { .. } | ResultSource::Execution(_) => Ok(None),
        }
    }

    /// GET /v1/execution/{id}/status (Dune API reference: "Get Execution Status").
    pub fn status(&self, id: &ExecutionId) -> Result<Status> {
        let url = self.http.url(&format!("/execution/{id}/status"));
        let reply = self
            .http
            .send("GET", &url, None, Idempotency::Safe, NotFound::Execution)?;
        let status = Status::from_json(&reply.body)?;
        self.report(Progress::State {
            execution_id: status.execution_id.clone(),
            state: status.state.as_str().to_string(),
            queue_position: status.queue_position,
            cost_credits: status
                .raw
                .get("execution_cost_credits")
                .and_then(Value::as_f64),
        });
        Ok(status)
    }

    /// POST /v1/execution/{id}/cancel (Dune API reference: "Cancel Execution"); whether Dune cancelled it (false when
    /// it had already finished).
    pub fn cancel_execution(&self, id: &ExecutionId) -> Result<bool> {
        let url = self.http.url(&format!("/execution/{id}/cancel"));
        let reply = self
            .http
            .send("POST", &url, None, Idempotency::Safe, NotFound::Execution)?;
        let v: Value = serde_json::from_slice(&reply.body)
            .map_err(|e| Error::InvalidResponse(format!("cancel response: invalid JSON ({e})")))?;
        Ok(v.get("success").and_then(Value::as_bool).unwrap_or(false))
    }

    /// GET /v1/query/{id} (API reference §8): the saved query's parameters, with their Dune
    /// types (`text`, `number`, `datetime`, `enum`) and default values. Errors: `NotFound`
    /// (no such query), `Forbidden` (the plan or key may not read query definitions), every
    /// request's.
    pub fn query_parameters(&self, query: QueryId) -> Result<Vec<QueryParameter>> {
        let url = self.http.url(&format!("/query/{query}"));
        let reply = self
            .http
            .send("GET", &url, None, Idempotency::Safe, NotFound::Query)?;
        let v: Value = serde_json::from_slice(&reply.body)
            .map_err(|e| Error::InvalidResponse(format!("query response: invalid JSON ({e})")))?;
        let params = v.get("parameters").and_then(Value::as_array);
        Ok(params
            .into_iter()
            .flatten()
            .filter_map(|p| {
                let text = |k: &str| p.get(k).and_then(Value::as_str).map(str::to_string);
                Some(QueryParameter {
                    key: text("key")?,
                    kind: text("type").unwrap_or_else(|| "text".into()),
                    default: text("value"),
                    multiselect: p.get("isMultiselect").and_then(Value::as_bool) == Some(true),
                })
            })
            .collect())
    }

    /// GET /v1/queries: the ids of the account's queries (at most `max`), 100 per request
    /// (Dune's list items carry `id`, its `ResolvedQueryOverview`; `query_id` is read too).
    pub fn list_queries(&self, max: usize) -> Result<Vec<i64>> {
        Ok(self
            .query_objects(max)?
            .iter()
            .filter_map(|q| {
                q.get("id")
                    .or_else(|| q.get("query_id"))
                    .and_then(Value::as_i64)
            })
            .collect())
    }

    fn results_url(
        &self,
        source: &Location,
        csv: bool,
        query_string: Vec<(String, String)>,
    ) -> (String, NotFound) {
        let suffix = if csv { "/csv" } else { "" };
        match source {
            Location::Execution(id) => (
                with_query(
                    &self.http.url(&format!("/execution/{id}/results{suffix}")),
                    &query_string,
                ),
                NotFound::Execution,
            ),
            Location::Latest { query, params } => {
                let mut q = params.clone();
                q.extend(query_string);
                (
                    with_query(
                        &self.http.url(&format!("/query/{query}/results{suffix}")),
                        &q,
                    ),
                    NotFound::LatestResult,
                )
            }
        }
    }

    /// One JSON page of results, `limit` rows from `offset` (Dune API reference: "Get Execution Result").
    pub(crate) fn results_page(
        &self,
        source: &Location,
        read: &Read,
        offset: u64,
        limit: u64,
    ) -> Result<Page> {
        let (url, what) = self.results_url(
            source,
            false,
            read.query(offset, limit, self.http.config.ignore_max_datapoints),
        );
        let reply = self.http.send("GET", &url, None, Idempotency::Safe, what)?;
        let page = Page::from_json(reply.body)?;
        self.report(Progress::Page {
            execution_id: page.execution_id.clone(),
            rows: page.rows.len() as u64,
        });
        Ok(page)
    }

    /// One CSV page of results. A `next_uri` from the previous page is followed when it points
    /// at this client's own API URL.
    pub(crate) fn csv_page(
        &self,
        source: &Location,
        read: &Read,
        offset: u64,
        limit: u64,
        next_uri: Option<&str>,
    ) -> Result<CsvPage> {
        let own = format!("{}/v1/", self.http.config.api_url);
        let (url, what) = match next_uri {
            Some(u) if u.starts_with(&own) => (u.to_string(), NotFound::Execution),
            _ => self.results_url(
                source,
                true,
                read.query(offset, limit, self.http.config.ignore_max_datapoints),
            ),
        };
        let reply = self.http.send("GET", &url, None, Idempotency::Safe, what)?;
        let next_offset = reply
            .header("x-dune-next-offset")
            .and_then(|v| v.trim().parse().ok());
        let next_uri = reply.header("x-dune-next-uri").map(str::to_string);
        let text = String::from_utf8(reply.body)
            .map_err(|_| Error::InvalidResponse("CSV results are not valid UTF-8".into()))?;
        Ok(CsvPage {
            text,
            next_offset,
            next_uri,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_with_special_characters_are_quoted() {
        let cols = vec!["a".to_string(), "Total Volume".into(), "we\"ird,col".into()];
        assert_eq!(columns_param(&cols), "a,\"Total Volume\",\"we\"\"ird,col\"");
    }
}
