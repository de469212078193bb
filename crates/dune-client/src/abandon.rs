//! Cancelling on Dune an execution that its caller gave up on, so that it does not go on
//! spending credits.

use crate::cancel::Cancel;
use crate::client::Client;
use crate::config::ClientConfig;
use std::time::Duration;

/// Sends a cancel for the execution when dropped, unless disarmed first. The cancel is best
/// effort and time-boxed (5 s, one retry).
pub struct AbandonGuard {
    config: ClientConfig,
    execution_id: Option<String>,
}

impl AbandonGuard {
    pub fn new(config: &ClientConfig, execution_id: &str) -> AbandonGuard {
        AbandonGuard {
            config: config.clone(),
            execution_id: Some(execution_id.to_string()),
        }
    }

    /// The execution finished: nothing to cancel.
    pub fn disarm(&mut self) {
        self.execution_id = None;
    }
}

impl Drop for AbandonGuard {
    fn drop(&mut self) {
        if let Some(id) = self.execution_id.take() {
            let mut config = self.config.clone();
            config.request_timeout = Duration::from_secs(5);
            config.max_retries = 1;
            let _ = Client::new(config, Cancel::new()).cancel_execution(&id);
        }
    }
}
