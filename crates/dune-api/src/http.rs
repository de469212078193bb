//! One request to Dune, with a timeout, bounded retries and a size cap. URLs are built here
//! (never taken from a response host), and the key only ever travels in a header.

use crate::cancel::Cancel;
use crate::config::ClientConfig;
use crate::error::{Error, NotFound, Result};
use crate::retry::{Idempotency, backoff, retry_after, retryable_status};
use std::io::{ErrorKind, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use ureq::Agent;

/// A response with a 2xx status.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Percent-encoding of a query-string component (RFC 3986 unreserved characters kept).
pub fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// `base?k=v&...` with every key and value encoded.
pub fn with_query(base: &str, query: &[(String, String)]) -> String {
    if query.is_empty() {
        return base.to_string();
    }
    let qs: Vec<String> = query
        .iter()
        .map(|(k, v)| format!("{}={}", encode_component(k), encode_component(v)))
        .collect();
    format!("{base}?{}", qs.join("&"))
}

/// The slowest upload a request body is given time for: 1 Mbit/s (128 KiB a second).
pub const MIN_UPLOAD_BYTES_PER_SEC: f64 = 131_072.0;

/// A request body and its `Content-Type`.
#[derive(Clone, Copy)]
pub struct Body<'a> {
    pub bytes: &'a [u8],
    pub content_type: &'a str,
}

enum Failure {
    /// No connection was made: nothing reached Dune.
    NotConnected(String),
    TimedOut {
        connected: bool,
    },
    Broken(String),
    TooLarge,
}

pub struct Http {
    agent: Agent,
    pub config: ClientConfig,
    pub cancel: Cancel,
    /// How many answers were 429 (rate limited), retried or not.
    rate_limited: AtomicU64,
}

fn classify(e: ureq::Error, connected_hint: bool) -> Failure {
    match e {
        ureq::Error::Timeout(t) => {
            let connected = !matches!(t, ureq::Timeout::Connect | ureq::Timeout::Resolve);
            Failure::TimedOut {
                connected: connected && connected_hint,
            }
        }
        ureq::Error::HostNotFound => Failure::NotConnected("host not found".into()),
        ureq::Error::ConnectionFailed => Failure::NotConnected("connection failed".into()),
        ureq::Error::BodyExceedsLimit(_) => Failure::TooLarge,
        ureq::Error::Io(io) if never_connected(&io) => Failure::NotConnected(io.to_string()),
        ureq::Error::Io(io) if io.kind() == ErrorKind::TimedOut => Failure::TimedOut {
            connected: connected_hint,
        },
        other => Failure::Broken(other.to_string()),
    }
}

/// Whether an I/O error happened before a connection existed (so nothing reached Dune).
fn never_connected(io: &std::io::Error) -> bool {
    matches!(
        io.kind(),
        ErrorKind::ConnectionRefused
            | ErrorKind::AddrNotAvailable
            | ErrorKind::NetworkUnreachable
            | ErrorKind::HostUnreachable
    ) || io.to_string().contains("failed to lookup address")
}

/// Dune's `{"error": "..."}` message, or the start of the body.
fn api_message(body: &[u8]) -> String {
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body)
        && let Some(m) = v.get("error").and_then(|e| {
            e.as_str()
                .map(str::to_string)
                .or_else(|| e.get("message")?.as_str().map(str::to_string))
        })
    {
        return m;
    }
    let text = String::from_utf8_lossy(&body[..body.len().min(300)])
        .trim()
        .to_string();
    if text.is_empty() {
        "(empty body)".into()
    } else {
        text
    }
}

impl Http {
    pub fn new(config: ClientConfig, cancel: Cancel) -> Http {
        let agent: Agent = Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(config.request_timeout))
            .timeout_connect(Some(config.connect_timeout))
            .max_redirects(0)
            .user_agent(concat!("dune_fdw/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Http {
            agent,
            config,
            cancel,
            rate_limited: AtomicU64::new(0),
        }
    }

    /// How many answers so far were 429 (rate limited), retried or not.
    pub fn rate_limited(&self) -> u64 {
        self.rate_limited.load(Ordering::Relaxed)
    }

    /// The time a request with a body of `bytes` may take: `request_timeout` plus the time
    /// to send the body at [`MIN_UPLOAD_BYTES_PER_SEC`] (an insert of 64 MiB may take 512 s
    /// more), so that a large upload over a slow link is not cut off and left in doubt.
    fn timeout_for(&self, bytes: usize) -> Duration {
        self.config.request_timeout
            + Duration::from_secs_f64(bytes as f64 / MIN_UPLOAD_BYTES_PER_SEC)
    }

    /// `<api_url>/v1<path>`.
    pub fn url(&self, path: &str) -> String {
        format!("{}/v1{path}", self.config.api_url)
    }

    fn once(
        &self,
        method: &str,
        url: &str,
        body: Option<Body<'_>>,
    ) -> std::result::Result<Reply, Failure> {
        let key = self.config.api_key.expose();
        let result = match (method, body) {
            ("GET", None) => self.agent.get(url).header("X-Dune-Api-Key", key).call(),
            ("DELETE", None) => self.agent.delete(url).header("X-Dune-Api-Key", key).call(),
            (_, None) => self
                .agent
                .post(url)
                .header("X-Dune-Api-Key", key)
                .send_empty(),
            (_, Some(b)) => {
                let request = if method == "PATCH" {
                    self.agent.patch(url)
                } else {
                    self.agent.post(url)
                };
                request
                    .config()
                    .timeout_global(Some(self.timeout_for(b.bytes.len())))
                    .build()
                    .header("X-Dune-Api-Key", key)
                    .header("Content-Type", b.content_type)
                    .send(b.bytes)
            }
        };
        let mut resp = result.map_err(|e| classify(e, true))?;
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
            .collect();
        // A results page is megabytes: read it into a buffer of its announced length rather
        // than one that doubles as it fills (which holds up to three times the body at once
        // and leaves the allocator with blocks of every size).
        let limit = self.config.max_response_bytes;
        let announced = resp.body().content_length().unwrap_or(0);
        if announced > limit {
            return Err(Failure::TooLarge);
        }
        let mut bytes = Vec::new();
        // a length the memory cannot hold is not fatal: the buffer then grows as it fills
        let _ = bytes.try_reserve_exact(announced as usize);
        resp.body_mut()
            .with_config()
            .limit(limit)
            .reader()
            .read_to_end(&mut bytes)
            .map_err(|e| classify(ureq::Error::from(e), true))?;
        Ok(Reply {
            status,
            headers,
            body: bytes,
        })
    }

    fn sleep(&self, d: Duration) -> Result<()> {
        if self.cancel.sleep(d) {
            Ok(())
        } else {
            Err(Error::Cancelled)
        }
    }

    /// Sends a request with a JSON body (or none), trying again on 429/500/502/503/504 and
    /// network failures (for an execute: only where Dune certainly did not act on it). `what`
    /// says what a 404 means.
    pub fn send(
        &self,
        method: &str,
        url: &str,
        body: Option<&str>,
        idem: Idempotency,
        what: NotFound,
    ) -> Result<Reply> {
        let body = body.map(|b| Body {
            bytes: b.as_bytes(),
            content_type: "application/json",
        });
        self.send_body(method, url, body, idem, what)
    }

    /// [`Http::send`] with a body of any content type (an upload's CSV or NDJSON rows).
    pub fn send_body(
        &self,
        method: &str,
        url: &str,
        body: Option<Body<'_>>,
        idem: Idempotency,
        what: NotFound,
    ) -> Result<Reply> {
        let mut attempt = 0u32;
        loop {
            if self.cancel.is_cancelled() {
                return Err(Error::Cancelled);
            }
            attempt += 1;
            let may_retry = attempt <= self.config.max_retries;
            let answer = self.once(method, url, body);
            if matches!(&answer, Ok(reply) if reply.status == 429) {
                self.rate_limited.fetch_add(1, Ordering::Relaxed);
            }
            let wait = match answer {
                Ok(reply) if (200..300).contains(&reply.status) => return Ok(reply),
                Ok(reply) if may_retry && retryable_status(reply.status, idem) => {
                    retry_after(reply.header("retry-after"), self.config.max_retry_wait)
                        .unwrap_or_else(|| backoff(attempt, self.config.max_retry_wait))
                }
                Ok(reply) => {
                    let message = self.config.api_key.redact(&api_message(&reply.body));
                    return Err(status_error(reply.status, message, attempt, idem, what));
                }
                Err(failure) => {
                    let (retryable, error) = self.failure_error(failure, attempt, idem);
                    if !(may_retry && retryable) {
                        return Err(error);
                    }
                    backoff(attempt, self.config.max_retry_wait)
                }
            };
            self.sleep(wait)?;
        }
    }

    /// The error a failed try means, and whether trying again is safe: never for an execute
    /// that may have reached Dune.
    fn failure_error(&self, failure: Failure, attempt: u32, idem: Idempotency) -> (bool, Error) {
        let execute = idem == Idempotency::Execute;
        let connection = |message: String, maybe_executed| Error::Connection {
            message: self.config.api_key.redact(&message),
            attempts: attempt,
            maybe_executed,
        };
        match failure {
            Failure::TooLarge => (
                false,
                Error::ResponseTooLarge {
                    limit: self.config.max_response_bytes,
                },
            ),
            Failure::NotConnected(message) => (true, connection(message, false)),
            Failure::TimedOut { connected } => {
                let maybe_executed = connected && execute;
                let error = Error::Timeout {
                    after: self.config.request_timeout,
                    attempts: attempt,
                    maybe_executed,
                };
                (!maybe_executed, error)
            }
            Failure::Broken(message) => (!execute, connection(message, execute)),
        }
    }
}

/// The error of a final non-2xx answer (Dune API reference: "Errors"): 400, 401, 402, 403 and
/// 404 by their meaning, 429 once retries ran out, anything else as a server error.
fn status_error(
    status: u16,
    message: String,
    attempt: u32,
    idem: Idempotency,
    what: NotFound,
) -> Error {
    match status {
        // 409: a conflict with what exists (a table created twice, §10.1): the request itself
        // was refused, as after a 400
        400 | 409 => Error::BadRequest(message),
        // the front end's "URI Too Long" / "Request Header Fields Too Large": the request
        // (pushed filters) was too large; read as after a 400
        414 | 431 => Error::BadRequest(format!("HTTP {status}: the request is too large")),
        401 => Error::Unauthorized(message),
        402 => Error::LimitExceeded(message),
        403 => Error::Forbidden(message),
        404 => Error::NotFound { what, message },
        429 => Error::RateLimited {
            message,
            attempts: attempt,
        },
        _ => Error::Server {
            status,
            message,
            attempts: attempt,
            maybe_executed: idem == Idempotency::Execute && status >= 500,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings_are_fully_encoded() {
        let q = vec![
            (
                "filters".to_string(),
                "\"a b\" = 'it''s' AND x > 1".to_string(),
            ),
            ("params.Time Period".to_string(), "day&x=1".to_string()),
        ];
        assert_eq!(
            with_query("http://h/api/v1/x", &q),
            "http://h/api/v1/x?filters=%22a%20b%22%20%3D%20%27it%27%27s%27%20AND%20x%20%3E%201&params.Time%20Period=day%26x%3D1"
        );
        assert_eq!(encode_component("ü"), "%C3%BC");
    }

    #[test]
    fn api_messages_are_extracted() {
        assert_eq!(
            api_message(br#"{"error":"invalid API Key"}"#),
            "invalid API Key"
        );
        assert_eq!(
            api_message(b"<html>bad gateway</html>"),
            "<html>bad gateway</html>"
        );
        assert_eq!(api_message(b""), "(empty body)");
    }
}
