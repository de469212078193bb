//! Cancelling on Dune an execution that its caller gave up on, so that it does not go on
//! spending credits.

use crate::cancel::Cancel;
use crate::client::Client;
use crate::config::ClientConfig;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The guards of this process not yet disarmed: what [`cancel_armed`] cancels when the process
/// is about to end without running destructors.
static ARMED: Mutex<Vec<(u64, ClientConfig, String)>> = Mutex::new(Vec::new());
static NEXT_TOKEN: AtomicU64 = AtomicU64::new(1);

/// Sends a cancel for the execution when dropped, unless disarmed first. The cancel is best
/// effort and time-boxed (5 s, one retry).
pub struct AbandonGuard {
    token: u64,
    config: ClientConfig,
    execution_id: Option<String>,
}

fn armed() -> std::sync::MutexGuard<'static, Vec<(u64, ClientConfig, String)>> {
    ARMED.lock().unwrap_or_else(|p| p.into_inner())
}

/// Takes the guard's entry out of the armed list; false if someone else already took it.
fn unregister(token: u64) -> bool {
    let mut list = armed();
    let before = list.len();
    list.retain(|(t, _, _)| *t != token);
    list.len() != before
}

impl AbandonGuard {
    pub fn new(config: &ClientConfig, execution_id: &str) -> AbandonGuard {
        let token = NEXT_TOKEN.fetch_add(1, Ordering::Relaxed);
        armed().push((token, config.clone(), execution_id.to_string()));
        AbandonGuard {
            token,
            config: config.clone(),
            execution_id: Some(execution_id.to_string()),
        }
    }

    /// The execution finished: nothing to cancel.
    pub fn disarm(&mut self) {
        self.execution_id = None;
        unregister(self.token);
    }
}

impl Drop for AbandonGuard {
    fn drop(&mut self) {
        if let Some(id) = self.execution_id.take()
            && unregister(self.token)
        {
            let mut config = self.config.clone();
            config.request_timeout = Duration::from_secs(5);
            config.max_retries = 1;
            let _ = Client::new(config, Cancel::new()).cancel_execution(&id);
        }
    }
}

/// Cancels every execution whose guard is still armed, one request each, within `budget` in
/// all. For a process about to exit (its threads die with it, guards and all). Returns how
/// many cancels Dune accepted.
pub fn cancel_armed(budget: Duration) -> usize {
    let list = std::mem::take(&mut *armed());
    let end = Instant::now() + budget;
    let mut done = 0;
    for (_, mut config, id) in list {
        let left = end.saturating_duration_since(Instant::now());
        if left < Duration::from_millis(50) {
            break;
        }
        config.request_timeout = left;
        config.connect_timeout = config.connect_timeout.min(left);
        config.max_retries = 0;
        if Client::new(config, Cancel::new())
            .cancel_execution(&id)
            .is_ok()
        {
            done += 1;
        }
    }
    done
}
