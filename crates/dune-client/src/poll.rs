//! Waiting for an execution: status polls that start quick and slow down as the execution
//! runs, so that a long one costs few requests (20 over a minute) yet is noticed soon after
//! it ends (within 5 s).

use crate::client::Client;
use crate::error::Result;
use crate::models::Status;
use std::time::{Duration, Instant};

const STEPS_MS: [u64; 10] = [200, 300, 500, 750, 1000, 1500, 2000, 3000, 4000, 5000];

/// The delay before each next status call.
#[derive(Debug, Default)]
pub struct PollSchedule {
    n: usize,
}

impl PollSchedule {
    pub fn next_delay(&mut self) -> Duration {
        let d = STEPS_MS[self.n.min(STEPS_MS.len() - 1)];
        self.n += 1;
        Duration::from_millis(d)
    }
}

impl Client {
    /// Polls until the execution finishes or `timeout` passes, and returns the last status
    /// (which is not finished if the time ran out). `on_status` sees every status read.
    pub fn wait(
        &self,
        execution_id: &str,
        timeout: Duration,
        on_status: &mut dyn FnMut(&Status),
    ) -> Result<Status> {
        let start = Instant::now();
        let mut schedule = PollSchedule::default();
        loop {
            let status = self.status(execution_id)?;
            on_status(&status);
            let elapsed = start.elapsed();
            if status.finished() || elapsed >= timeout {
                return Ok(status);
            }
            let delay = schedule.next_delay().min(timeout - elapsed);
            self.sleep(delay)?;
        }
    }
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
