//! What can go wrong talking to Dune, worded for the person who has to act on it.

use std::fmt;
use std::time::Duration;

/// Every failure of a Dune call, each variant worded (its `Display`) for the person who acts
/// on it; the extension maps each to a SQLSTATE.
#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    /// Input rejected before anything was sent.
    InvalidArgument(String),
    /// 400: Dune rejected the request (its message).
    BadRequest(String),
    /// 401: the key was rejected.
    Unauthorized(String),
    /// 402: a credit or datapoint limit.
    LimitExceeded(String),
    /// 403: the key may not do this.
    Forbidden(String),
    /// 404 for a query, a latest result, or an execution.
    NotFound {
        /// What was not found.
        what: NotFound,
        /// Dune's message.
        message: String,
    },
    /// 429 after every retry.
    RateLimited {
        /// Dune's message.
        message: String,
        /// Requests sent, retries included.
        attempts: u32,
    },
    /// 5xx (or another unexpected status) after every retry.
    Server {
        /// The HTTP status.
        status: u16,
        /// Dune's message, or the body's start.
        message: String,
        /// Requests sent, retries included.
        attempts: u32,
        /// An execute that got this answer may still have started the query.
        maybe_executed: bool,
    },
    /// No answer within the request timeout.
    Timeout {
        /// The request timeout.
        after: Duration,
        /// Requests sent, retries included.
        attempts: u32,
        /// An execute that timed out may have started the query.
        maybe_executed: bool,
    },
    /// The connection failed or broke.
    Connection {
        /// What broke.
        message: String,
        /// Requests sent, retries included.
        attempts: u32,
        /// An execute whose connection broke after sending may have started the query.
        maybe_executed: bool,
    },
    /// An answer that is not what the API promises.
    InvalidResponse(String),
    /// The response was larger than the configured cap.
    ResponseTooLarge {
        /// The cap, in bytes (`max_response_bytes`).
        limit: u64,
    },
    /// The execution ended in QUERY_STATE_FAILED, with Dune's message.
    ExecutionFailed {
        /// The execution.
        execution_id: String,
        /// Dune's error message.
        message: String,
    },
    /// The execution ended without a result (CANCELLED, EXPIRED, or an unknown terminal state).
    ExecutionEnded {
        /// The execution.
        execution_id: String,
        /// The state it ended in, as Dune spells it.
        state: String,
    },
    /// The wait ran out while the execution was still running.
    StillRunning {
        /// The execution.
        execution_id: String,
        /// Its state, without the `QUERY_STATE_` prefix.
        state: String,
        /// How long the caller waited.
        waited: Duration,
    },
    /// The caller asked to stop.
    Cancelled,
}

/// What a 404 was about (the request decides it: Dune's texts differ little).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum NotFound {
    /// The saved query does not exist (or the key cannot see it).
    Query,
    /// The query has no result for that parameter combination yet.
    LatestResult,
    /// The execution does not exist (or expired).
    Execution,
    /// The uploaded table does not exist (or the key cannot see it).
    Table,
}

impl Error {
    /// Whether a request that is never sent twice (an execute, a create, an insert) may have
    /// reached Dune and been acted on: a 5xx answer, a timeout or a connection broken after the
    /// request was sent. Such a request is not sent again.
    pub fn maybe_executed(&self) -> bool {
        matches!(
            self,
            Error::Server {
                maybe_executed: true,
                ..
            } | Error::Timeout {
                maybe_executed: true,
                ..
            } | Error::Connection {
                maybe_executed: true,
                ..
            }
        )
    }
}

fn tries(n: u32) -> String {
    if n == 1 {
        "1 try".into()
    } else {
        format!("{n} tries")
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidArgument(m) => write!(f, "{m}"),
            Error::BadRequest(m) => write!(f, "Dune rejected the request: {m}"),
            Error::Unauthorized(m) => write!(f, "Dune rejected the API key: {m}"),
            Error::LimitExceeded(m) => write!(
                f,
                "Dune refused the request for a limit of the account: {m}"
            ),
            Error::Forbidden(m) => write!(f, "Dune refused access: {m}"),
            Error::NotFound { message, .. } => write!(f, "Dune: {message}"),
            Error::RateLimited { message, attempts } => {
                write!(
                    f,
                    "Dune rate limit still exceeded after {}: {message}",
                    tries(*attempts)
                )
            }
            Error::Server {
                status,
                message,
                attempts,
                ..
            } => {
                write!(
                    f,
                    "Dune API error {status} after {}: {message}",
                    tries(*attempts)
                )
            }
            Error::Timeout {
                after, attempts, ..
            } => {
                write!(
                    f,
                    "Dune API did not answer within {} ms ({})",
                    after.as_millis(),
                    tries(*attempts)
                )
            }
            Error::Connection {
                message, attempts, ..
            } => {
                write!(
                    f,
                    "could not talk to the Dune API ({}): {message}",
                    tries(*attempts)
                )
            }
            Error::InvalidResponse(m) => write!(f, "unexpected answer from the Dune API: {m}"),
            Error::ResponseTooLarge { limit } => {
                write!(f, "a Dune API response exceeded the limit of {limit} bytes")
            }
            Error::ExecutionFailed { message, .. } => write!(f, "Dune execution failed: {message}"),
            Error::ExecutionEnded {
                execution_id,
                state,
            } => {
                write!(
                    f,
                    "Dune execution {execution_id} ended in state {state} without a result"
                )
            }
            Error::StillRunning {
                execution_id,
                state,
                waited,
            } => write!(
                f,
                "Dune execution {execution_id} is still {state} after waiting {:.1} s",
                waited.as_secs_f64()
            ),
            Error::Cancelled => write!(f, "cancelled"),
        }
    }
}

impl std::error::Error for Error {}

/// A result whose error is [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
