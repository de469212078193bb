//! The Dune API v1 endpoints dune_fdw uses.

use crate::cancel::Cancel;
use crate::config::ClientConfig;
use crate::error::{Error, NotFound, Result};
use crate::http::{Http, with_query};
use crate::models::{Page, Status, execution_id_from};
use crate::progress::{Progress, ProgressSink};

use crate::retry::Idempotency;
use crate::validate;
use serde_json::{Map, Value};
use std::time::Duration;

/// Where results come from: one execution, or the latest result of a saved query (for a
/// parameter combination, or any).
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    Execution(String),
    Latest {
        query_id: u64,
        params: Vec<(String, String)>,
    },
}

impl Source {
    /// The latest result of `query_id`, for `params` (a JSON object) when given.
    pub fn latest(query_id: i64, params: Option<&Value>) -> Result<Source> {
        let query_id = validate::query_id(query_id)?;
        let params = validate::params(params)?
            .map(|m| {
                m.iter()
                    .flat_map(|(k, v)| {
                        validate::param_text(v)
                            .into_iter()
                            .map(move |t| (format!("params.{k}"), t))
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(Source::Latest { query_id, params })
    }

    pub fn execution(id: &str) -> Result<Source> {
        Ok(Source::Execution(validate::execution_id(id)?.to_string()))
    }
}

/// What to read of a result (Dune's `columns`, `filters`, `sort_by`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Read {
    pub columns: Option<Vec<String>>,
    pub filters: Option<String>,
    pub sort_by: Option<String>,
}

/// A column list for `columns`: names with a comma, quote or space are double-quoted.
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
    fn query(&self, offset: u64, limit: u64) -> Vec<(String, String)> {
        let mut q = vec![
            ("allow_partial_results".to_string(), "true".to_string()),
            ("limit".to_string(), limit.to_string()),
            ("offset".to_string(), offset.to_string()),
        ];
        if let Some(c) = &self.columns {
            q.push(("columns".into(), columns_param(c)));
        }
        if let Some(f) = &self.filters {
            q.push(("filters".into(), f.clone()));
        }
        if let Some(s) = &self.sort_by {
            q.push(("sort_by".into(), s.clone()));
        }
        q
    }
}

/// A page of CSV: the text (with its header line) and the offset of the next page.
#[derive(Debug)]
pub struct CsvPage {
    pub text: String,
    pub next_offset: Option<u64>,
    pub next_uri: Option<String>,
}

pub struct Client {
    http: Http,
    progress: ProgressSink,
}

impl Client {
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

    pub fn config(&self) -> &ClientConfig {
        &self.http.config
    }

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
    ) -> Result<String> {
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
        self.report(Progress::Started {
            execution_id: id.clone(),
            query_id,
        });
        Ok(id)
    }

    /// POST /v1/query/{id}/execute: starts an execution; returns its id.
    pub fn execute_query(
        &self,
        query_id: i64,
        params: Option<&Value>,
        performance: Option<&str>,
    ) -> Result<String> {
        let query_id = validate::query_id(query_id)?;
        let params = validate::params(params)?;
        let performance = validate::performance(performance)?;
        let mut body = Map::new();
        if let Some(p) = params {
            body.insert("query_parameters".into(), Value::Object(p.clone()));
        }
        if let Some(t) = performance {
            body.insert("performance".into(), Value::from(t));
        }
        self.execute(&format!("/query/{query_id}/execute"), body, Some(query_id))
    }

    /// POST /v1/sql/execute: runs raw DuneSQL; returns the execution id.
    pub fn execute_sql(&self, sql: &str, performance: Option<&str>) -> Result<String> {
        let sql = validate::sql(sql)?;
        let performance = validate::performance(performance)?;
        let mut body = Map::new();
        body.insert("sql".into(), Value::from(sql));
        if let Some(t) = performance {
            body.insert("performance".into(), Value::from(t));
        }
        self.execute("/sql/execute", body, None)
    }

    /// GET /v1/execution/{id}/status.
    pub fn status(&self, execution_id: &str) -> Result<Status> {
        let id = validate::execution_id(execution_id)?;
        let url = self.http.url(&format!("/execution/{id}/status"));
        let reply = self
            .http
            .send("GET", &url, None, Idempotency::Safe, NotFound::Execution)?;
        let status = Status::from_json(&reply.body)?;
        self.report(Progress::State {
            execution_id: status.execution_id.clone(),
            state: status.state.as_str().to_string(),
            queue_position: status.queue_position,
        });
        Ok(status)
    }

    /// POST /v1/execution/{id}/cancel; whether Dune cancelled it.
    pub fn cancel_execution(&self, execution_id: &str) -> Result<bool> {
        let id = validate::execution_id(execution_id)?;
        let url = self.http.url(&format!("/execution/{id}/cancel"));
        let reply = self
            .http
            .send("POST", &url, None, Idempotency::Safe, NotFound::Execution)?;
        let v: Value = serde_json::from_slice(&reply.body)
            .map_err(|e| Error::InvalidResponse(format!("cancel response: invalid JSON ({e})")))?;
        Ok(v.get("success").and_then(Value::as_bool).unwrap_or(false))
    }

    /// GET /v1/queries: the ids of the account's queries (at most `max`).
    pub fn list_queries(&self, max: usize) -> Result<Vec<i64>> {
        let mut ids = Vec::new();
        loop {
            let query = vec![
                ("limit".to_string(), "100".to_string()),
                ("offset".to_string(), ids.len().to_string()),
            ];
            let url = with_query(&self.http.url("/queries"), &query);
            let reply = self
                .http
                .send("GET", &url, None, Idempotency::Safe, NotFound::Query)?;
            let v: Value = serde_json::from_slice(&reply.body).map_err(|e| {
                Error::InvalidResponse(format!("queries response: invalid JSON ({e})"))
            })?;
            let page: Vec<i64> = v
                .get("queries")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|q| q.get("query_id").and_then(Value::as_i64))
                        .collect()
                })
                .unwrap_or_default();
            let total = v.get("total").and_then(Value::as_u64).unwrap_or(0) as usize;
            let done = page.is_empty();
            ids.extend(page);
            if done || ids.len() >= total.min(max) {
                ids.truncate(max);
                return Ok(ids);
            }
        }
    }

    fn results_url(
        &self,
        source: &Source,
        csv: bool,
        query: Vec<(String, String)>,
    ) -> (String, NotFound) {
        let suffix = if csv { "/csv" } else { "" };
        match source {
            Source::Execution(id) => (
                with_query(
                    &self.http.url(&format!("/execution/{id}/results{suffix}")),
                    &query,
                ),
                NotFound::Execution,
            ),
            Source::Latest { query_id, params } => {
                let mut q = params.clone();
                q.extend(query);
                (
                    with_query(
                        &self.http.url(&format!("/query/{query_id}/results{suffix}")),
                        &q,
                    ),
                    NotFound::LatestResult,
                )
            }
        }
    }

    /// One JSON page of results, `limit` rows from `offset`.
    pub fn results_page(
        &self,
        source: &Source,
        read: &Read,
        offset: u64,
        limit: u64,
    ) -> Result<Page> {
        let (url, what) = self.results_url(source, false, read.query(offset, limit));
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
    pub fn csv_page(
        &self,
        source: &Source,
        read: &Read,
        offset: u64,
        limit: u64,
        next_uri: Option<&str>,
    ) -> Result<CsvPage> {
        let own = format!("{}/v1/", self.http.config.api_url);
        let (url, what) = match next_uri {
            Some(u) if u.starts_with(&own) => (u.to_string(), NotFound::Execution),
            _ => self.results_url(source, true, read.query(offset, limit)),
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
