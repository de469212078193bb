//! Waiting for an execution: status polls that start quick and slow down as the execution
//! runs, so that a long one costs few requests (20 over a minute) yet is noticed soon after
//! it ends (within 5 s).

use crate::client::Client;
use crate::error::{Error, Result};
use crate::models::Status;
use crate::pages::check_state;
use crate::source::ExecutionId;
use std::time::{Duration, Instant};

const STEPS_MS: [u64; 10] = [200, 300, 500, 750, 1000, 1500, 2000, 3000, 4000, 5000];

/// The delay before each next status call.
#[derive(Debug, Default)]
struct PollSchedule {
    n: usize,
}

impl PollSchedule {
    fn next_delay(&mut self) -> Duration {
        let d = STEPS_MS[self.n.min(STEPS_MS.len() - 1)];
        self.n += 1;
        Duration::from_millis(d)
    }
}

impl Client {
    /// Polls until the execution finishes or `timeout` passes, and returns the last status
    /// (which is not finished if the time ran out): 200 ms apart at first, 5 s at most.
    pub fn wait(&self, execution_id: &ExecutionId, timeout: Duration) -> Result<Status> {
        let start = Instant::now();
        let mut schedule = PollSchedule::default();
        loop {
            let status = self.status(execution_id)?;
            let elapsed = start.elapsed();
            if status.finished() || elapsed >= timeout {
                return Ok(status);
            }
            let delay = schedule.next_delay().min(timeout - elapsed);
            self.sleep(delay)?;
        }
    }

    /// Waits as [`Client::wait`] does, and requires a result: `StillRunning` when `timeout`
    /// passed first, `ExecutionFailed` or `ExecutionEnded` when the execution ended without
    /// one (failed, cancelled, expired).
    pub fn wait_until_finished(&self, id: &ExecutionId, timeout: Duration) -> Result<Status> {
        let status = self.wait(id, timeout)?;
        require_finished(id, &status, timeout)?;
        require_result(id, &status)?;
        Ok(status)
    }
}

/// `StillRunning` unless the status is finished.
pub(crate) fn require_finished(id: &ExecutionId, status: &Status, waited: Duration) -> Result<()> {
    if status.finished() {
        return Ok(());
    }
    Err(Error::StillRunning {
        execution_id: id.to_string(),
        state: status.state.short().to_string(),
        waited,
    })
}

/// The error a finished execution's state means, if it has no result.
pub(crate) fn require_result(id: &ExecutionId, status: &Status) -> Result<()> {
    check_state(
        id.as_str(),
        &status.state,
        status.error_message.as_deref(),
        true,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minute_long_execution_costs_at_most_twenty_polls() {
        let mut s = PollSchedule::default();
        let (mut t, mut polls) = (0u64, 1);
        let ends_at = 60_500;
        while t < ends_at {
            t += s.next_delay().as_millis() as u64;
            polls += 1;
        }
        assert!(polls <= 20, "{polls} polls");
        assert!(t - ends_at <= 6_050, "noticed {} ms late", t - ends_at);
    }
}
