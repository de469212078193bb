//! Progress while a statement waits for Dune: a NOTICE when an execution changes state (with
//! its queue position and the time waited), and one every few seconds while a long result
//! downloads. Statements that end within a second say nothing; `dune_fdw.progress = off` or
//! `client_min_messages` above notice silence it. Every change is also published for other
//! sessions (`in_flight`).

use crate::gucs;
use crate::in_flight;
use dune_client::Progress;
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
    execution_id: Option<String>,
    query_id: Option<u64>,
    state: Option<(String, Option<u64>)>,
    announced: Option<(String, Option<u64>)>,
    rows: u64,
    pages: u64,
    rows_told: Option<Instant>,
}

impl Tracker {
    pub fn new(rx: Receiver<Progress>) -> Tracker {
        Tracker {
            rx,
            call: in_flight::begin(),
            start: Instant::now(),
            execution_id: None,
            query_id: None,
            state: None,
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
        if self.start.elapsed() >= QUIET && gucs::progress() {
            self.tell();
        }
    }

    fn take(&mut self, p: Progress) {
        match p {
            Progress::Started {
                execution_id,
                query_id,
            } => {
                self.execution_id = Some(execution_id.clone());
                self.query_id = query_id;
                in_flight::update(self.call, true, |c| {
                    c.execution_id = Some(execution_id);
                    c.query_id = query_id;
                });
            }
            Progress::State {
                execution_id,
                state,
                queue_position,
            } => {
                let now = (state.clone(), queue_position);
                if self.state.as_ref() == Some(&now) {
                    return;
                }
                self.execution_id.get_or_insert(execution_id.clone());
                self.state = Some(now);
                in_flight::update(self.call, true, |c| {
                    c.execution_id.get_or_insert(execution_id);
                    c.state = Some(state);
                    c.queue_position = queue_position;
                    c.state_since = in_flight::now_micros();
                });
            }
            Progress::Page { execution_id, rows } => {
                self.rows += rows;
                self.pages += 1;
                let (total, pages) = (self.rows, self.pages);
                in_flight::update(self.call, false, |c| {
                    c.execution_id.get_or_insert(execution_id);
                    c.rows_read = total;
                    c.pages_read = pages;
                });
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
                    format!("{what} finished; reading its result ({waited:.1} s)")
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
