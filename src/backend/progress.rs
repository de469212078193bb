//! Progress while a statement waits for Dune: a NOTICE when an execution changes state (with
//! its queue position and the time waited), and one every few seconds while a long result
//! downloads. Statements that end within a second say nothing; `dune_fdw.progress = off` or
//! `client_min_messages` above notice silence it. Calls that last longer than that second are
//! also published for other sessions (`in_flight`); quick ones cost no file I/O.

use crate::backend::gucs;
use crate::backend::in_flight;
use dune_api::Progress;
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

/// Nothing is said before a statement has waited this long.
const QUIET: Duration = Duration::from_secs(1);
/// How often a long download reports rows read.
const ROWS_EVERY: Duration = Duration::from_secs(5);

pub struct Tracker {
    rx: Receiver<Progress>,
    call: u64,
    start: Instant,
    started_at: u64,
    state_since: u64,
    /// Something changed since the call was last published; a state change is urgent.
    changed: Option<bool>,
    execution_id: Option<String>,
    query_id: Option<u64>,
    state: Option<(String, Option<u64>)>,
    /// What the execution cost, once Dune said.
    cost_credits: Option<f64>,
    announced: Option<(String, Option<u64>)>,
    rows: u64,
    pages: u64,
    rows_told: Option<Instant>,
}

impl Tracker {
    pub fn new(rx: Receiver<Progress>) -> Tracker {
        Tracker {
            rx,
            call: in_flight::new_id(),
            start: Instant::now(),
            started_at: in_flight::now_micros(),
            state_since: in_flight::now_micros(),
            changed: None,
            execution_id: None,
            query_id: None,
            state: None,
            cost_credits: None,
            announced: None,
            rows: 0,
            pages: 0,
            rows_told: None,
        }
    }

    /// Takes in what the I/O thread reported and says what is worth saying. Backend thread.
    pub fn poll(&mut self) {
        while let Ok(p) = self.rx.try_recv() {
            self.take(p);
        }
        if self.start.elapsed() >= QUIET {
            if let Some(urgent) = self.changed.take() {
                in_flight::publish(self.call, self.as_call(), urgent);
            }
            if gucs::progress() {
                self.tell();
            }
        }
    }

    fn as_call(&self) -> in_flight::Call {
        let (state, queue_position) = self.state.clone().unzip();
        in_flight::Call {
            execution_id: self.execution_id.clone(),
            query_id: self.query_id,
            state,
            queue_position: queue_position.flatten(),
            started_at: self.started_at,
            state_since: self.state_since,
            rows_read: self.rows,
            pages_read: self.pages,
            cost_credits: self.cost_credits,
        }
    }

    fn take(&mut self, p: Progress) {
        match p {
            Progress::Started {
                execution_id,
                query_id,
            } => {
                self.execution_id = Some(execution_id);
                self.query_id = query_id;
                self.changed = Some(true);
            }
            Progress::State {
                execution_id,
                state,
                queue_position,
                cost_credits,
            } => {
                if cost_credits.is_some() && cost_credits != self.cost_credits {
                    self.cost_credits = cost_credits;
                    self.changed = Some(true);
                }
                let now = (state, queue_position);
                if self.state.as_ref() == Some(&now) {
                    return;
                }
                self.execution_id.get_or_insert(execution_id);
                self.state = Some(now);
                self.state_since = in_flight::now_micros();
                self.changed = Some(true);
            }
            Progress::Page { execution_id, rows } => {
                self.execution_id.get_or_insert(execution_id);
                self.rows += rows;
                self.pages += 1;
                self.changed.get_or_insert(false); // row counts: published at most once a second
            }
        }
    }

    fn tell(&mut self) {
        let waited = self.start.elapsed().as_secs_f64();
        if self.state != self.announced
            && let Some((state, position)) = self.state.clone()
        {
            let what = match (self.execution_id.as_deref(), self.query_id) {
                (Some(id), Some(q)) => format!("Dune execution {id} of query {q}"),
                (Some(id), None) => format!("Dune execution {id}"),
                _ => "the Dune execution".to_string(),
            };
            let short = state.strip_prefix("QUERY_STATE_").unwrap_or(&state);
            let message = match (short, position) {
                ("PENDING", Some(p)) => {
                    format!("{what} is queued at position {p} ({waited:.1} s)")
                }
                ("PENDING", None) => format!("{what} is queued ({waited:.1} s)"),
                ("EXECUTING", _) => format!("{what} is running ({waited:.1} s)"),
                ("COMPLETED" | "COMPLETED_PARTIAL", _) => {
                    let cost = self
                        .cost_credits
                        .map(|c| format!("; it cost {c} credits"))
                        .unwrap_or_default();
                    format!("{what} finished; reading its result ({waited:.1} s){cost}")
                }
                _ => String::new(), // failures and cancellations are told by their ERROR
            };
            self.announced = self.state.clone();
            if !message.is_empty() {
                pgrx::notice!("{message}");
            }
        }
        let due = self
            .rows_told
            .map_or(self.start.elapsed() >= ROWS_EVERY, |t| {
                t.elapsed() >= ROWS_EVERY
            });
        if due && self.rows > 0 {
            self.rows_told = Some(Instant::now());
            pgrx::notice!(
                "read {} rows in {} pages from Dune ({waited:.1} s)",
                self.rows,
                self.pages
            );
        }
    }
}

impl Drop for Tracker {
    fn drop(&mut self) {
        in_flight::end(self.call);
    }
}

/// Warns once per statement that Dune kept only part of a result.
#[derive(Debug, Default)]
pub struct PartialWarning {
    warned: bool,
}

impl PartialWarning {
    /// The WARNING, the first time only.
    pub fn warn(&mut self, execution_id: &str) {
        if !self.warned {
            self.warned = true;
            pgrx::warning!(
                "Dune stored only part of the result of execution {execution_id} (QUERY_STATE_COMPLETED_PARTIAL): these rows are not the whole result"
            );
        }
    }
}
