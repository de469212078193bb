//! What a foreign-table scan reads: resolving its source (a latest result, possibly refreshed
//! when older than max_age; a new execution; raw SQL; a fixed execution), then its pages.

use crate::abandon::AbandonGuard;
use crate::client::{Client, Read, Source};
use crate::error::{Error, Result};
use crate::models::Page;
use crate::pages::{Pager, check_state};
use crate::time::parse_rfc3339_ms;
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone, PartialEq)]
pub enum ScanSource {
    /// The latest result of a saved query; re-executed first when older than `max_age`.
    Latest {
        query_id: i64,
        params: Option<Value>,
        max_age: Option<Duration>,
        performance: Option<String>,
    },
    /// A new execution of a saved query.
    Execute {
        query_id: i64,
        params: Option<Value>,
        performance: Option<String>,
    },
    /// A new execution of raw DuneSQL.
    Sql {
        sql: String,
        performance: Option<String>,
    },
    /// An existing execution.
    Execution(String),
}

#[derive(Debug, Clone)]
pub struct ScanSpec {
    pub source: ScanSource,
    pub read: Read,
    /// The most rows wanted (a pushed LIMIT).
    pub limit: Option<u64>,
    pub page_size: u64,
    /// How long to wait for an execution.
    pub wait: Duration,
}

pub enum ScanEvent {
    Page(Box<Page>),
    /// Something the user should know (sent as a NOTICE).
    Notice(String),
}

/// The execution a scan started, kept across rescans so that a rescan reads the same
/// execution instead of running the query again.
pub type Started = Arc<Mutex<Option<String>>>;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn run_and_wait(
    client: &Client,
    spec: &ScanSpec,
    started: &Started,
    execute: &dyn Fn() -> Result<String>,
) -> Result<String> {
    if let Some(id) = started.lock().map_err(|_| Error::Cancelled)?.clone() {
        return Ok(id);
    }
    let id = execute()?;
    let mut guard = AbandonGuard::new(client.config(), &id, client.cancel_flag());
    let status = client.wait(&id, spec.wait, &mut |_| {})?;
    if !status.finished() {
        return Err(Error::StillRunning {
            execution_id: id,
            state: status.state.short().to_string(),
            waited: spec.wait,
        });
    }
    guard.disarm();
    check_state(&id, &status.state, status.error_message.as_deref(), true)?;
    *started.lock().map_err(|_| Error::Cancelled)? = Some(id.clone());
    Ok(id)
}

fn wait_for(client: &Client, id: &str, spec: &ScanSpec) -> Result<()> {
    let status = client.wait(id, spec.wait, &mut |_| {})?;
    if !status.finished() {
        return Err(Error::StillRunning {
            execution_id: id.to_string(),
            state: status.state.short().to_string(),
            waited: spec.wait,
        });
    }
    check_state(id, &status.state, status.error_message.as_deref(), true)
}

/// Reads the scan's pages into `emit` until the result ends, the limit is reached, or `emit`
/// returns false. If Dune rejects the pushed filters or sort (400), the scan reads without
/// them (the rows are filtered by PostgreSQL anyway) and says so.
pub fn scan(
    client: &Client,
    spec: &ScanSpec,
    started: &Started,
    emit: &mut dyn FnMut(ScanEvent) -> bool,
) -> Result<()> {
    let source = match &spec.source {
        ScanSource::Execution(id) => {
            wait_for(client, id, spec)?;
            Source::execution(id)?
        }
        ScanSource::Execute {
            query_id,
            params,
            performance,
        } => {
            let id = run_and_wait(client, spec, started, &|| {
                client.execute_query(*query_id, params.as_ref(), performance.as_deref())
            })?;
            Source::Execution(id)
        }
        ScanSource::Sql { sql, performance } => {
            let id = run_and_wait(client, spec, started, &|| {
                client.execute_sql(sql, performance.as_deref())
            })?;
            Source::Execution(id)
        }
        ScanSource::Latest {
            query_id, params, ..
        } => match started.lock().map_err(|_| Error::Cancelled)?.clone() {
            Some(id) => Source::Execution(id),
            None => Source::latest(*query_id, params.as_ref())?,
        },
    };
    let pushed = spec.read != Read::default();
    let mut pager = Pager::new(
        source.clone(),
        spec.read.clone(),
        spec.limit,
        spec.page_size,
    );
    let first = match pager.next_page(client) {
        Err(Error::BadRequest(message)) if pushed => {
            emit(ScanEvent::Notice(format!(
                "Dune rejected the pushed-down columns, filters or sort ({message}); reading without them, PostgreSQL filters the rows"
            )));
            pager = Pager::new(source, Read::default(), None, spec.page_size);

            pager.next_page(client)?
        }
        other => other?,
    };
    if let (
        ScanSource::Latest {
            query_id,
            params,
            max_age: Some(max_age),
            performance,
        },
        Some(page),
    ) = (&spec.source, &first)
    {
        let ended = page
            .execution_ended_at
            .as_deref()
            .and_then(parse_rfc3339_ms);
        let stale = ended.is_none_or(|t| now_ms() - t > max_age.as_millis() as i64);
        if stale && started.lock().map_err(|_| Error::Cancelled)?.is_none() {
            emit(ScanEvent::Notice(format!(
                "the latest result of query {query_id} is older than max_age; running the query again"
            )));
            let id = run_and_wait(client, spec, started, &|| {
                client.execute_query(*query_id, params.as_ref(), performance.as_deref())
            })?;
            let _ = id;
            let mut fresh = spec.clone();
            fresh.source = ScanSource::Latest {
                query_id: *query_id,
                params: params.clone(),
                max_age: None,
                performance: performance.clone(),
            };
            return scan(client, &fresh, started, emit);
        }
    }
    let mut next = first;
    while let Some(page) = next {
        if !emit(ScanEvent::Page(Box::new(page))) {
            return Ok(());
        }
        next = pager.next_page(client)?;
    }
    Ok(())
}
