//! What the emulator served, for tests that check what a client asked for and was billed.

use serde::Serialize;
use std::collections::{BTreeMap, VecDeque};

const LOG_LEN: usize = 1000;

#[derive(Debug, Clone, Serialize)]
pub struct LogEntry {
    pub method: String,
    pub route: String,
    pub path: String,
    pub query: String,
    /// The query string decoded, as [name, value] pairs (an api_key value left out).
    pub params: Vec<(String, String)>,
    pub body: String,
    pub status: u16,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Stats {
    /// Requests by route name (execute, sql_execute, status, results, results_csv, latest,
    /// latest_csv, cancel, query, queries).
    pub requests: BTreeMap<String, u64>,
    pub total_requests: u64,
    /// Result rows and datapoints (rows × columns, Dune's billing unit) served.
    pub rows_served: u64,
    pub datapoints_served: u64,
    pub bytes_served: u64,
    pub results_requests: u64,
    pub executions_created: u64,
    pub cancelled: Vec<String>,
    pub faults_injected: u64,
    /// The most requests answered at once (a client's requests in flight).
    pub most_in_flight: u64,
    /// The last requests, newest last; the API key is never recorded.
    pub log: VecDeque<LogEntry>,
}

impl Stats {
    pub fn record(&mut self, entry: LogEntry) {
        *self.requests.entry(entry.route.clone()).or_default() += 1;
        self.total_requests += 1;
        if self.log.len() == LOG_LEN {
            self.log.pop_front();
        }
        self.log.push_back(entry);
    }
}
