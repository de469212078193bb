//! Faults injected on request (`POST /_emulator/faults`), for tests of retries and timeouts.

use crate::http::{Misbehave, Response};
use serde::Deserialize;
use std::time::Duration;

/// One rule: on the route named (or `*`), let `skip` requests through, then misbehave on the
/// next `times` requests.
#[derive(Debug, Clone, Deserialize)]
pub struct FaultRule {
    pub route: String,
    #[serde(default)]
    pub skip: u32,
    #[serde(default = "one")]
    pub times: u32,
    /// Answer with this status instead of serving the request (nothing is executed).
    #[serde(default)]
    pub status: Option<u16>,
    /// The Retry-After header to send with `status`.
    #[serde(default)]
    pub retry_after: Option<String>,
    /// The body to send with `status` (default: Dune's error body for that status).
    #[serde(default)]
    pub body: Option<String>,
    /// Serve the request, then wait this long before answering.
    #[serde(default)]
    pub stall_ms: Option<u64>,
    /// Serve the request, then send only this many bytes of the body and close.
    #[serde(default)]
    pub cut_after: Option<usize>,
    /// Serve the request, then close the connection without an answer.
    #[serde(default)]
    pub reset: bool,
    /// Serve the request, send this many bytes of the body, then reset the connection.
    #[serde(default)]
    pub reset_after: Option<usize>,
    /// Serve the request, close the connection, then refuse connections for this long.
    #[serde(default)]
    pub refuse_ms: Option<u64>,
}

fn one() -> u32 {
    1
}

/// What a fault does to one request.
pub enum Action {
    /// Answer this instead of serving.
    Replace(Response),
    /// Serve, then misbehave while answering.
    Misbehave(Misbehave),
}

fn default_message(status: u16) -> &'static str {
    match status {
        401 => "invalid API Key",
        402 => {
            "This api request would exceed your configured limits per billing cycle. Please visit your settings on dune.com and adjust your limits to continue usage."
        }
        429 => "Too many requests",
        500 => "An internal error occured",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Injected fault",
    }
}

impl FaultRule {
    pub fn matches(&self, route: &str) -> bool {
        self.route == "*" || self.route == route
    }

    pub fn action(&self) -> Action {
        if let Some(status) = self.status {
            let mut resp = match &self.body {
                Some(b) => Response::json(status, b.clone()),
                None => Response::error(status, default_message(status)),
            };
            if let Some(ra) = &self.retry_after {
                resp = resp.with_header("Retry-After", ra);
            }
            return Action::Replace(resp);
        }
        if self.reset {
            return Action::Misbehave(Misbehave::Reset);
        }
        if let Some(n) = self.reset_after {
            return Action::Misbehave(Misbehave::ResetAfter(n));
        }
        if let Some(ms) = self.refuse_ms {
            return Action::Misbehave(Misbehave::CloseAndRefuse(Duration::from_millis(ms)));
        }
        if let Some(n) = self.cut_after {
            return Action::Misbehave(Misbehave::CutAfter(n));
        }
        Action::Misbehave(Misbehave::Stall(Duration::from_millis(
            self.stall_ms.unwrap_or(0),
        )))
    }
}

/// Picks the fault for this request, if any, and counts it against its rule.
pub fn take(rules: &mut Vec<FaultRule>, route: &str) -> Option<Action> {
    let i = rules.iter().position(|r| r.matches(route))?;
    let rule = &mut rules[i];
    if rule.skip > 0 {
        rule.skip -= 1;
        return None;
    }
    let action = rule.action();
    rule.times = rule.times.saturating_sub(1);
    if rule.times == 0 {
        rules.remove(i);
    }
    Some(action)
}
