//! What a client reports while it works: the executions it starts or follows, their states,
//! and the result pages it reads. The caller turns these into progress messages and listings
//! of calls in flight; a client without a sink reports nothing.

use std::sync::mpsc::Sender;

/// One thing a client did, as it happened.
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    /// An execution was started by this client (`query_id` is None for raw SQL).
    Started {
        /// The new execution.
        execution_id: String,
        /// Its saved query.
        query_id: Option<u64>,
    },
    /// A status read: the state as Dune spells it, and the queue position while pending.
    State {
        /// The execution.
        execution_id: String,
        /// Its state, as Dune spells it.
        state: String,
        /// Its queue position while pending.
        queue_position: Option<u64>,
        /// What the execution cost, once Dune says (`execution_cost_credits`, API reference
        /// §16).
        cost_credits: Option<f64>,
    },
    /// A results page arrived with this many rows.
    Page {
        /// The execution read.
        execution_id: String,
        /// Rows in the page.
        rows: u64,
    },
}

/// Where a client sends its progress; sending never blocks and never fails the request.
#[derive(Debug, Clone, Default)]
pub struct ProgressSink(Option<Sender<Progress>>);

impl ProgressSink {
    /// A sink sending to `tx`.
    pub fn new(tx: Sender<Progress>) -> ProgressSink {
        ProgressSink(Some(tx))
    }

    /// Sends `p`, if anyone listens.
    pub fn report(&self, p: Progress) {
        if let Some(tx) = &self.0 {
            let _ = tx.send(p);
        }
    }
}
