//! Reading a [`ResultSource`]: resolving it to an execution (waiting for one it starts, or
//! refreshing a latest result older than `max_age`), then its pages, one at a time. Serves the
//! foreign-table scans and the set-returning functions alike.

use crate::abandon::AbandonGuard;
use crate::ahead::{self, Ahead, Handed};
use crate::cache::{LatestSeen, ResultCache, Serve, StatementSeen, Writer};
use crate::client::{Client, Location, Read};
use crate::config::ClientConfig;
use crate::error::{Error, NotFound, Result};
use crate::models::Page;
use crate::pages::Pager;
use crate::poll::{require_finished, require_result};
use crate::source::{ExecutionId, Params, QueryId, ResultSource};
use crate::time::{now_ms, parse_rfc3339_ms};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What to read: the source, what of it (columns, filters, sort), at most `limit` rows,
/// `page_size` rows a request, waiting up to `wait` for an execution.
#[derive(Debug, Clone)]
pub struct ReadSpec {
    /// Where the rows come from.
    pub source: ResultSource,
    /// The request parameters that narrow the result.
    pub read: Read,
    /// The most rows wanted (a pushed LIMIT).
    pub limit: Option<u64>,
    /// Rows of the (filtered, sorted) result to skip first (Dune's `offset`).
    pub offset: u64,
    /// Rows per results request (Dune's `limit`).
    pub page_size: u64,
    /// The most results requests in flight at once, once the row count is known
    /// (`ahead.rs`); 1 reads one page after the other.
    pub concurrency: usize,
    /// How long to wait for an execution.
    pub wait: Duration,
}

impl ReadSpec {
    /// All of `source`, with `config`'s page size and concurrency, waiting up to `wait`.
    pub fn all(source: ResultSource, config: &ClientConfig, wait: Duration) -> ReadSpec {
        ReadSpec {
            source,
            read: Read::default(),
            limit: None,
            offset: 0,
            page_size: config.page_size,
            concurrency: config.fetch_concurrency,
            wait,
        }
    }
}

/// What a read hands to its consumer.
pub enum ReadEvent {
    /// The next page, in order.
    Page(Box<Page>),
    /// Something the user should know (sent as a NOTICE).
    Notice(String),
    /// Dune rejected the pushed filters: the pages that follow are read without them, and
    /// without the limit and offset, which the consumer applies after its own filtering.
    Unfiltered,
}

/// The execution a read started or settled on, kept across rescans so that a rescan reads the
/// same execution instead of running the query again.
pub type Started = Arc<Mutex<Option<ExecutionId>>>;

fn started_id(started: &Started) -> Result<Option<ExecutionId>> {
    Ok(started.lock().map_err(|_| Error::Cancelled)?.clone())
}

/// Starts the execution `source` asks for (once: a rescan reuses it) and waits for its result.
/// If the wait runs out or fails, the execution is cancelled on Dune (`AbandonGuard`).
fn run_and_wait(
    client: &Client,
    source: &ResultSource,
    wait: Duration,
    started: &Started,
) -> Result<ExecutionId> {
    if let Some(id) = started_id(started)? {
        return Ok(id);
    }
    let Some(id) = client.execute_source(source)? else {
        return Err(Error::InvalidArgument("nothing to execute".into()));
    };
    let mut guard = AbandonGuard::new(client.config(), &id, client.cancel_flag());
    let status = client.wait(&id, wait)?;
    require_finished(&id, &status, wait)?;
    guard.disarm();
    require_result(&id, &status)?;
    *started.lock().map_err(|_| Error::Cancelled)? = Some(id.clone());
    Ok(id)
}

/// Where the pages of `spec.source` are read from.
fn location(client: &Client, spec: &ReadSpec, started: &Started) -> Result<Location> {
    Ok(match &spec.source {
        // read at once: a finished execution needs no status request first (`read`)
        ResultSource::Execution(id) => Location::Execution(id.clone()),
        ResultSource::Execute { .. } | ResultSource::Sql { .. } => {
            Location::Execution(run_and_wait(client, &spec.source, spec.wait, started)?)
        }
        ResultSource::Latest { query, params, .. } => match started_id(started)? {
            Some(id) => Location::Execution(id),
            None => Location::latest(*query, params.as_ref()),
        },
    })
}

/// The pager and its first page. If Dune rejects the pushed filters (400, or a request too
/// large for its front end), reads again without them, then without the column list too, and
/// says so; the sort is always kept (the caller's rows must come in its order) and the limit
/// and offset go with the filters ([`ReadEvent::Unfiltered`]).
fn open(
    client: &Client,
    spec: &ReadSpec,
    at: Location,
    emit: &mut dyn FnMut(ReadEvent) -> bool,
) -> Result<Opened> {
    let no_filters = Read {
        filters: None,
        ..spec.read.clone()
    };
    let bare = Read {
        columns: None,
        ..no_filters.clone()
    };
    let mut tries = vec![(spec.read.clone(), (spec.offset, spec.limit))];
    if no_filters != spec.read {
        tries.push((no_filters.clone(), (0, None)));
    }
    if bare != no_filters {
        tries.push((bare, (0, None)));
    }
    let last = tries.len() - 1;
    for (i, (read, rows)) in tries.into_iter().enumerate() {
        let what = if read.filters.is_some() {
            "filters"
        } else {
            "columns"
        };
        let mut pager = Pager::new(at.clone(), read, rows, spec.page_size);
        let asked = Instant::now();
        match pager.next_page(client) {
            Err(Error::BadRequest(message)) if i < last => {
                emit(ReadEvent::Notice(format!(
                    "Dune rejected the pushed-down {what} ({message}); reading without them, PostgreSQL filters the rows"
                )));
                if i == 0 {
                    emit(ReadEvent::Unfiltered);
                }
            }
            other => return Ok((pager, other?, asked.elapsed())),
        }
    }
    unreachable!("the last try returns")
}

/// A read's pager, its first page, and how long that page took to come.
type Opened = (Pager, Option<Page>, Duration);

/// [`open`], holding back what it says until it succeeds; an execution still running is
/// waited for (polling its status) and opened again, so that what the first try said is not
/// said twice.
fn open_finished(
    client: &Client,
    spec: &ReadSpec,
    at: Location,
    emit: &mut dyn FnMut(ReadEvent) -> bool,
) -> Result<Opened> {
    let mut held = Vec::new();
    let opened = match (
        open(client, spec, at.clone(), &mut |e| {
            held.push(e);
            true
        }),
        &spec.source,
    ) {
        (Err(Error::StillRunning { .. }), ResultSource::Execution(id)) => {
            held.clear();
            client.wait_until_finished(id, spec.wait)?;
            open(client, spec, at, &mut |e| {
                held.push(e);
                true
            })?
        }
        (opened, _) => opened?,
    };
    for event in held {
        emit(event);
    }
    Ok(opened)
}

/// The source that refreshes a latest result older than its `max_age`, if it is one.
fn refresh_of(spec: &ReadSpec, first: Option<&Page>) -> Option<ResultSource> {
    let ResultSource::Latest {
        query,
        params,
        max_age: Some(max_age),
        performance,
    } = &spec.source
    else {
        return None;
    };
    let ended = first
        .and_then(|page| page.execution_ended_at.as_deref())
        .and_then(parse_rfc3339_ms);
    let stale = ended.is_none_or(|t| now_ms() - t > max_age.as_millis() as i64);
    stale.then(|| ResultSource::Execute {
        query: *query,
        params: params.clone(),
        performance: performance.clone(),
    })
}

/// Reads the pages of `spec` into `emit` until the result ends, the limit is reached, or
/// `emit` returns false. Errors: every request's, and the execution's own failure. With a
/// cache (`ClientConfig::cache`), a read of an execution it holds is served from it without a
/// request, and the pages a read receives from Dune are kept for the next one (`cache.rs`).
pub fn read(
    client: &Client,
    spec: &ReadSpec,
    started: &Started,
    emit: &mut dyn FnMut(ReadEvent) -> bool,
) -> Result<()> {
    let mut at = location(client, spec, started)?;
    let cache = match &client.config().cache {
        Some(settings) if spec.read.sample_count.is_none() => {
            ResultCache::for_account(settings, client.config())
        }
        _ => return read_from(client, spec, started, at, emit),
    };
    match from_cache(client, &cache, spec, &at, started, emit)? {
        Cached::Served => return Ok(()),
        Cached::ReadFrom(execution) => at = execution,
        Cached::Miss => {}
    }
    let mut writer: Option<Writer> = None;
    let mut writing = true;
    let outcome = read_from(client, spec, started, at, &mut |event| {
        match &event {
            ReadEvent::Page(page) if writing => {
                if writer.is_none() {
                    remember_latest(&cache, spec, page);
                    remember_statement(&cache, spec, page);
                    writer = cache.writer(page, &spec.read, spec.offset);
                }
                if let Some(w) = writer.as_mut()
                    && !w.append(page)
                {
                    if let Some(w) = writer.take() {
                        w.abandon();
                    }
                    writing = false;
                }
            }
            // read without the filters: the rows are not those of the request
            ReadEvent::Unfiltered => {
                if let Some(w) = writer.take() {
                    w.abandon();
                }
                writing = false;
            }
            _ => {}
        }
        emit(event)
    });
    match (&outcome, writer) {
        (Ok(()), Some(w)) => w.finish(),
        (_, Some(w)) => w.abandon(),
        _ => {}
    }
    outcome
}

/// What the cache does for a read.
enum Cached {
    /// The rows were served from it.
    Served,
    /// The latest result is an execution it does not hold: read that execution.
    ReadFrom(Location),
    /// Nothing held: read as usual.
    Miss,
}

/// Serves `spec` from the cache when it holds the rows: an execution known before reading is
/// looked up at once; a latest result only when a latest execution of that query and
/// parameter set was seen before, after asking Dune which execution is the latest with one
/// row of one column (one datapoint; as dune-client's `get_latest_result` asks with one row).
fn from_cache(
    client: &Client,
    cache: &ResultCache,
    spec: &ReadSpec,
    at: &Location,
    started: &Started,
    emit: &mut dyn FnMut(ReadEvent) -> bool,
) -> Result<Cached> {
    let execution = match (at, &spec.source) {
        (Location::Execution(id), _) => id.clone(),
        (Location::Latest { .. }, ResultSource::Latest { query, params, .. }) => {
            match latest_execution(client, cache, spec, at, (*query, params.as_ref()))? {
                Some(id) => id,
                None => return Ok(Cached::Miss),
            }
        }
        _ => return Ok(Cached::Miss),
    };
    // the statement reads this execution from now on (a rescan too, even if nothing came)
    if let Ok(mut s) = started.lock()
        && s.is_none()
        && matches!(spec.source, ResultSource::Latest { .. })
    {
        *s = Some(execution.clone());
    }
    let Some(hit) = cache.lookup(execution.as_str(), &spec.read, spec.offset, spec.limit) else {
        return Ok(Cached::ReadFrom(Location::Execution(execution)));
    };
    let mut emitted = false;
    let served = hit.serve(&mut |page| {
        if !emitted && hit.serve == Serve::Unfiltered && spec.read.filters.is_some() {
            emit(ReadEvent::Unfiltered);
        }
        emitted = true;
        emit(ReadEvent::Page(Box::new(page)))
    });
    match served {
        Ok(()) => Ok(Cached::Served),
        // a damaged entry: dropped, and read from Dune if nothing of it was handed on
        Err(e) => {
            hit.discard();
            if emitted {
                Err(e)
            } else {
                Ok(Cached::ReadFrom(Location::Execution(execution)))
            }
        }
    }
}

/// Which execution is a query's latest result, asked with one row of one column, when the
/// cache may hold it (the latest execution of these parameters was seen, or an execution of
/// the query is held); None to read as usual (nothing held, a stale result under `max_age`,
/// or Dune cannot answer the question: the column is gone, no latest result).
fn latest_execution(
    client: &Client,
    cache: &ResultCache,
    spec: &ReadSpec,
    at: &Location,
    (query, params): (QueryId, Option<&Params>),
) -> Result<Option<ExecutionId>> {
    // not seen with these parameters, but an execution of the query is held (another
    // parameter set may name the same execution): worth one datapoint to ask
    let seen = match cache.latest_seen(query, params) {
        Some(seen) => seen,
        None => match cache.holds_query(query) {
            Some(column) => LatestSeen {
                execution_id: String::new(),
                column,
                total_row_count: None,
            },
            None => return Ok(None),
        },
    };
    let probe_column = seen.column.clone();
    let probe = Read {
        columns: seen.column.clone().map(|c| vec![c]),
        ..Read::default()
    };
    let page = match Pager::new(at.clone(), probe, (0, Some(1)), 1).fetch_at(client, 0, 1) {
        Ok(page) => page,
        // the column is gone (the query was edited), or no latest result: read as usual
        Err(Error::BadRequest(_) | Error::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(e),
    };
    if refresh_of(spec, Some(&page)).is_some() {
        return Ok(None);
    }
    let Ok(id) = ExecutionId::try_from(page.execution_id.as_str()) else {
        return Ok(None);
    };
    // the probe asks for no filter: its total is the whole result's
    let total = page.metadata.as_ref().and_then(|m| m.total_row_count);
    if seen.execution_id != page.execution_id || seen.total_row_count != total {
        let seen = LatestSeen {
            execution_id: page.execution_id.clone(),
            column: probe_column,
            total_row_count: total,
        };
        cache.remember_latest(query, params, &seen);
    }
    Ok(Some(id))
}

/// Remembers the execution a latest-result read is reading, with a column to ask it for
/// cheaply and, when read without filters, its row count (the planner's size).
fn remember_latest(cache: &ResultCache, spec: &ReadSpec, first: &Page) {
    let ResultSource::Latest { query, params, .. } = &spec.source else {
        return;
    };
    let meta = first.metadata.as_ref();
    let seen = LatestSeen {
        execution_id: first.execution_id.clone(),
        column: meta.and_then(|m| m.column_names.first().cloned()),
        total_row_count: meta
            .and_then(|m| m.total_row_count)
            .filter(|_| spec.read.filters.is_none()),
    };
    cache.remember_latest(*query, params.as_ref(), &seen);
}

/// Remembers the execution of a DuneSQL statement, for a later scan with `max_age` to read it
/// instead of running the same statement again.
fn remember_statement(cache: &ResultCache, spec: &ReadSpec, first: &Page) {
    let ResultSource::Sql { sql, .. } = &spec.source else {
        return;
    };
    if let Some(ended_ms) = first
        .execution_ended_at
        .as_deref()
        .and_then(parse_rfc3339_ms)
    {
        let seen = StatementSeen {
            execution_id: first.execution_id.clone(),
            ended_ms,
        };
        cache.remember_statement(sql.as_str(), &seen);
    }
}

/// [`read`] without the cache, from `at`.
fn read_from(
    client: &Client,
    spec: &ReadSpec,
    started: &Started,
    at: Location,
    emit: &mut dyn FnMut(ReadEvent) -> bool,
) -> Result<()> {
    let opened = open_finished(client, spec, at, emit);
    // a latest result older than max_age, or none at all (as stale as can be): run the query
    let missing = matches!(
        &opened,
        Err(Error::NotFound {
            what: NotFound::LatestResult,
            ..
        })
    );
    let refresh = match &opened {
        _ if missing => refresh_of(spec, None),
        Ok((_, Some(page), _)) => refresh_of(spec, Some(page)),
        _ => None,
    };
    if let Some(refresh) = refresh
        && started_id(started)?.is_none()
    {
        if let ResultSource::Execute { query, .. } = &refresh {
            emit(ReadEvent::Notice(if missing {
                format!(
                    "query {query} has no latest result for these parameters; running it (max_age)"
                )
            } else {
                format!(
                    "the latest result of query {query} is older than max_age; running the query again"
                )
            }));
        }
        run_and_wait(client, &refresh, spec.wait, started)?;
        // the started execution is now the one the latest result is read from (the caller's
        // cache writer keeps its pages)
        let at = location(client, spec, started)?;
        return read_from(client, spec, started, at, emit);
    }
    let (mut pager, first, first_took) = opened?;
    let mut ahead = first.as_ref().and_then(|page| {
        let total = page.metadata.as_ref().and_then(|m| m.total_row_count);
        ahead::plan(pager.position(), page, total, spec.concurrency, first_took)
    });
    let mut next = first;
    while let Some(page) = next {
        if !emit(ReadEvent::Page(Box::new(page))) {
            return Ok(());
        }
        if let Some(plan) = ahead.take() {
            let fetch = |offset, want| pager.fetch_at(client, offset, want);
            let mut hand = |h: Handed<Page>| match h {
                Handed::Page(page) => emit(ReadEvent::Page(Box::new(page))),
                Handed::Notice(text) => emit(ReadEvent::Notice(text)),
            };
            match ahead::read_ahead(client, &fetch, plan, spec.concurrency, &mut hand)? {
                Ahead::Done => return Ok(()),
                Ahead::Beyond(offset, rows) => pager.skip_to(offset, rows),
            }
        }
        next = pager.next_page(client)?;
    }
    Ok(())
}
