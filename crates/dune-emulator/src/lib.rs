//! A local emulator of the Dune Analytics API v1, as Dune's public API reference describes it
//! (docs.dune.com/api-reference: executions, status, results in JSON and CSV, latest results,
//! cancel, queries), so that dune_fdw, its tests, its demo and its benchmark run without the
//! internet.
//!
//! It is an independent reader of the API: it shares no parsing, encoding or comparison code
//! with the client crates (`dune-api`, `pg-format`) and must never be "deduplicated" with
//! them. Its filter parser, time formats and value encodings are written again here on
//! purpose, so that a bug in the client cannot hide behind the same bug in the emulator; where
//! Dune behaves differently from what the client assumes, the emulator behaves like Dune.
//!
//! Start it in-process with [`Emulator::start`] or as the `dune-emulator` binary.
//!
//! Table uploads (§9: create, list, CSV upload, insert, clear, delete; see [`uploads`]) are
//! kept in memory, by column, and read back with raw SQL.
//!
//! Raw DuneSQL (`POST /v1/sql/execute`, or a query created with SQL) runs for real when the
//! execution is created: on SQLite, after a documented dialect translation ([`dunesql`]),
//! over a deterministic catalog (`dex.trades`, `tokens.erc20`: [`warehouse`]) and the
//! uploaded tables as they are then. `GET /v1/datasets[/{slug}]` lists those tables
//! ([`datasets`]).
//!
//! Control routes, for tests (no API key needed):
//! - `GET /_emulator/health`; `GET /_emulator/stats[?brief]` (requests, pages and rows served,
//!   faults injected, a log of requests); `POST /_emulator/reset` (stats and faults);
//! - `POST /_emulator/faults` (one rule or a list, see [`faults::FaultRule`]; rules match a
//!   route name: `execute`, `sql_execute`, `status`, `results`, `results_csv`, `cancel`,
//!   `latest`, `latest_csv`, `query`, `queries`, `create_query`, `update_query`,
//!   `query_flag`, `usage`, `uploads_create`, `uploads_list`, `uploads_csv`,
//!   `uploads_insert`, `uploads_clear`, `uploads_delete`, `datasets_list`, `datasets_get`, or
//!   `*`); `DELETE /_emulator/faults`;
//! - `POST /_emulator/refuse?ms=N` (refuse connections for a while);
//!   `POST /_emulator/settings` (timings, caps, network, `add_api_key`);
//! - `GET /_emulator/uploads/<namespace>/<table>[?limit=&offset=]`: an uploaded table's
//!   `row_count`, `digest` (an order-free hash of every row: the same rows inserted in any
//!   order give the same digest, a row lost or doubled changes it), `table_size_bytes`,
//!   `column_names`, `column_types` and `rows` (arrays in column order, values in Dune's
//!   results encoding, 1,000 from `offset` by default); 404 for an unknown table.

pub mod catalog;
pub mod cells;
pub mod datasets;
pub mod dunesql;
pub mod encode;
pub mod executions;
pub mod faults;
pub mod filter;
pub mod http;
pub mod ingest;
pub mod manage;
pub mod routes;
pub mod stats;
pub mod synth;
pub mod tables;
pub mod time;
pub mod ulid;
pub mod uploads;
pub mod warehouse;

use catalog::Catalog;
use executions::{Execution, Outcome};
use faults::FaultRule;
use stats::Stats;
use std::collections::{BTreeMap, HashMap};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

/// The API key the emulator accepts unless told otherwise.
pub const DEFAULT_API_KEY: &str = "emulator-key";

/// When the emulator's seeded latest results ran: 2024-01-12 21:34:37 UTC.
pub const SEEDED_AT_MS: u64 = 1_705_095_277_447;

#[derive(Debug, Clone)]
pub struct Settings {
    /// Keys accepted in `X-Dune-Api-Key` or `api_key`.
    pub api_keys: Vec<String>,
    /// Accept any non-empty key.
    pub any_key: bool,
    /// Default time an execution waits in the queue, then runs (per query overrides apply).
    pub pending_ms: u64,
    pub execution_ms: u64,
    /// The datapoint cap per results request (Dune's default is 250,000).
    pub max_datapoints: u64,
    /// Bytes of results pages kept for repeated requests (0 turns the cache off).
    pub page_cache_bytes: usize,
    /// Emulated network: milliseconds before the first byte of every answer.
    pub latency_ms: u64,
    /// Emulated network: bodies paced to this many megabits per second (0: unlimited).
    pub bandwidth_mbps: u64,
    /// Report `total_row_count` of the whole result even when `filters` keep fewer rows (the
    /// API reference does not say which Dune does; off: the filtered count).
    pub total_ignores_filters: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            api_keys: vec![DEFAULT_API_KEY.to_string()],
            any_key: false,
            pending_ms: 300,
            execution_ms: 1200,
            max_datapoints: 250_000,
            page_cache_bytes: 1 << 30,
            latency_ms: 0,
            bandwidth_mbps: 0,
            total_ignores_filters: false,
        }
    }
}

/// (execution id, filters, sort_by): what a computed row order depends on.
pub type ViewKey = (String, String, String);

/// Everything the emulator knows, behind one lock.
pub struct Inner {
    pub settings: Settings,
    pub executions: HashMap<String, Execution>,
    /// (query id, canonical parameters) → newest completed execution id.
    pub latest: HashMap<(u64, String), String>,
    pub faults: Vec<FaultRule>,
    pub stats: Stats,
    /// Row orders computed for filtered or sorted reads.
    pub views: Vec<(ViewKey, Arc<Vec<u64>>)>,
    /// Results pages already served, newest last, as a storage-backed server would serve them
    /// again without recomputing (completed results never change).
    pub pages: std::collections::VecDeque<(String, CachedPage)>,
    pub pages_bytes: usize,
    /// Queries created or edited through the management endpoints, by id.
    pub queries: std::collections::BTreeMap<u64, manage::ManagedQuery>,
    /// What this account was billed for (`POST /v1/usage`; not cleared by a stats reset).
    pub billed_executions: u64,
    pub billed_datapoints: u64,
    /// Uploaded tables, by (namespace, table name).
    pub uploads: BTreeMap<(String, String), Arc<tables::Table>>,
}

/// A results page kept for the next identical request.
#[derive(Clone)]
pub struct CachedPage {
    pub response: http::Response,
    pub rows: u64,
    pub datapoints: u64,
}

pub struct State {
    pub catalog: Catalog,
    /// Runs raw DuneSQL (its database is built on first use).
    pub sql: dunesql::Engine,
    inner: Mutex<Inner>,
    /// Refuses connections for a while when a fault asks.
    pub gate: Arc<http::Gate>,
    /// Requests being answered at once, and the most so far (`most_in_flight` in the stats).
    pub busy: Arc<http::Busy>,
}

impl State {
    pub fn new(catalog: Catalog, settings: Settings) -> State {
        let state = State {
            catalog,
            sql: dunesql::Engine::new(),
            gate: Default::default(),
            busy: Default::default(),
            inner: Mutex::new(Inner {
                settings,
                executions: HashMap::new(),
                latest: HashMap::new(),
                faults: Vec::new(),
                stats: Stats::default(),
                views: Vec::new(),
                pages: Default::default(),
                pages_bytes: 0,
                queries: Default::default(),
                billed_executions: 0,
                billed_datapoints: 0,
                uploads: BTreeMap::new(),
            }),
        };
        state.seed_latest();
        state
    }

    /// What was served so far, with the most requests answered at once.
    pub fn stats(&self) -> Stats {
        let mut stats = self.lock().stats.clone();
        stats.most_in_flight = self.busy.most();
        stats
    }

    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Each query marked `latest` starts with one completed execution of its default
    /// parameters, with a fixed id and time so that documentation examples stay true.
    fn seed_latest(&self) {
        let mut inner = self.lock();
        for q in self.catalog.queries.iter().filter(|q| q.latest) {
            let params = q
                .resolve_params(&BTreeMap::new())
                .expect("defaults are known");
            let id = ulid::ulid_with(SEEDED_AT_MS, q.query_id);
            let outcome = match &q.fail {
                Some(m) => Outcome::Failed(m.clone()),
                None if q.partial => Outcome::Partial(q.result(&params)),
                None => Outcome::Rows(q.result(&params)),
            };
            inner
                .latest
                .insert((q.query_id, canonical(&params)), id.clone());
            inner.executions.insert(
                id.clone(),
                Execution {
                    id,
                    query_id: q.query_id,
                    params,
                    submitted_ms: SEEDED_AT_MS,
                    pending_ms: 16,
                    execution_ms: 18_272,
                    outcome,
                    cancelled_ms: None,
                },
            );
        }
    }
}

/// The canonical text of a parameter set, the key of "latest result for these parameters".
pub fn canonical(params: &BTreeMap<String, String>) -> String {
    serde_json::to_string(params).expect("strings serialize")
}

/// A running emulator; stops when dropped.
pub struct Emulator {
    addr: SocketAddr,
    pub state: Arc<State>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Emulator {
    /// Listens on 127.0.0.1:`port` (0 picks a free port) and serves in background threads.
    pub fn start(port: u16, catalog: Catalog, settings: Settings) -> std::io::Result<Emulator> {
        let listener = TcpListener::bind(("127.0.0.1", port))?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State::new(catalog, settings));
        let stop = Arc::new(AtomicBool::new(false));
        let handler_state = state.clone();
        let handler = Arc::new(move |req: &http::Request| routes::handle(&handler_state, req));
        let stop2 = stop.clone();
        let gate = state.gate.clone();
        let busy = state.busy.clone();
        let thread = std::thread::spawn(move || http::serve(listener, handler, stop2, gate, busy));
        Ok(Emulator {
            addr,
            state,
            stop,
            thread: Some(thread),
        })
    }

    /// The emulator with the shipped data file and default settings.
    pub fn start_default() -> std::io::Result<Emulator> {
        let catalog = Catalog::parse(catalog::DEFAULT_DATA).map_err(std::io::Error::other)?;
        Emulator::start(0, catalog, Settings::default())
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The value for a server's `api_url`: `http://127.0.0.1:<port>/api`.
    pub fn api_url(&self) -> String {
        format!("http://{}/api", self.addr)
    }

    pub fn stats(&self) -> Stats {
        self.state.stats()
    }

    pub fn reset_stats(&self) {
        self.state.lock().stats = Stats::default();
        self.state.busy.reset();
    }

    pub fn add_fault(&self, rule: FaultRule) {
        self.state.lock().faults.push(rule);
    }

    pub fn settings(&self, f: impl FnOnce(&mut Settings)) {
        f(&mut self.state.lock().settings);
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(self.addr); // wake the accept loop
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
