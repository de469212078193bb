//! When to try a request again, and how long to wait first.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Whether a request can be sent again safely after a failure. Reads can; an execute must not
/// be sent twice once it may have reached Dune, or the query runs (and is billed) twice.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Idempotency {
    Safe,
    /// Retried only when Dune certainly did not act on it (429, or no connection made).
    Execute,
}

/// The wait before try number `attempt` (1-based retry count): exponential from 500 ms,
/// capped, with "equal jitter" (between half and all of the step), so that many sessions
/// do not retry in step.
pub fn backoff(attempt: u32, cap: Duration) -> Duration {
    let step = Duration::from_millis(500).saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
    let step = step.min(cap);
    let half = step / 2;
    half + half.mul_f64(jitter())
}

fn jitter() -> f64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let mut x = nanos as u64 ^ 0x9E37_79B9_7F4A_7C15 ^ (std::process::id() as u64) << 32;
    x ^= x >> 33;
    x = x.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    x ^= x >> 33;
    (x % 10_000) as f64 / 10_000.0
}

/// The wait a `Retry-After` header asks for (seconds; an HTTP date is not used by Dune and is
/// ignored), capped.
pub fn retry_after(header: Option<&str>, cap: Duration) -> Option<Duration> {
    let secs: f64 = header?.trim().parse().ok()?;
    if !secs.is_finite() || secs < 0.0 {
        return None;
    }
    Some(Duration::from_secs_f64(secs.min(cap.as_secs_f64())))
}

/// Whether an HTTP status is worth another try.
pub fn retryable_status(status: u16, idempotency: Idempotency) -> bool {
    match idempotency {
        Idempotency::Safe => matches!(status, 429 | 500 | 502 | 503 | 504),
        Idempotency::Execute => status == 429,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let cap = Duration::from_secs(8);
        for attempt in 1..10 {
            let d = backoff(attempt, cap);
            let step = Duration::from_millis(500 * (1 << (attempt - 1))).min(cap);
            assert!(d >= step / 2 && d <= step, "attempt {attempt}: {d:?}");
        }
    }

    #[test]
    fn retry_after_is_read_and_capped() {
        let cap = Duration::from_secs(60);
        assert_eq!(retry_after(Some("2"), cap), Some(Duration::from_secs(2)));
        assert_eq!(retry_after(Some("3600"), cap), Some(cap));
        assert_eq!(
            retry_after(Some("Wed, 21 Oct 2015 07:28:00 GMT"), cap),
            None
        );
        assert_eq!(retry_after(None, cap), None);
    }

    #[test]
    fn execute_is_only_retried_when_dune_did_not_act() {
        assert!(retryable_status(429, Idempotency::Execute));
        for s in [500, 502, 503, 504] {
            assert!(!retryable_status(s, Idempotency::Execute));
        }
        assert!(retryable_status(503, Idempotency::Safe));
        assert!(retryable_status(500, Idempotency::Safe));
        assert!(!retryable_status(501, Idempotency::Safe));
    }
}
