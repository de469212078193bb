//! Cancelling on Dune an execution that its caller gave up on, so that it does not go on
//! spending credits.

use crate::cancel::Cancel;
use crate::client::Client;
use crate::config::ClientConfig;
use crate::source::ExecutionId;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The guards of this process not yet disarmed: what [`cancel_armed`] cancels when the process
/// is about to end without running destructors.
static ARMED: Mutex<Vec<Armed>> = Mutex::new(Vec::new());
static NEXT_TOKEN: AtomicU64 = AtomicU64::new(1);
/// Cancels being sent right now, by any thread: a process about to exit waits for them.
static SENDING: AtomicUsize = AtomicUsize::new(0);

/// Counts one cancel being sent while alive.
struct Sending;

impl Sending {
    fn start() -> Sending {
        SENDING.fetch_add(1, Ordering::SeqCst);
        Sending
    }
}

impl Drop for Sending {
    fn drop(&mut self) {
        SENDING.fetch_sub(1, Ordering::SeqCst);
    }
}

struct Armed {
    token: u64,
    config: ClientConfig,
    execution_id: ExecutionId,
    /// The stop flag of the client that started it: raised when its caller gave up.
    owner: Cancel,
}

/// Sends a cancel for the execution when dropped, unless disarmed first. The cancel is best
/// effort and time-boxed (5 s, one retry). What to cancel lives in the armed list, under the
/// guard's token.
pub struct AbandonGuard {
    token: u64,
}

fn armed() -> std::sync::MutexGuard<'static, Vec<Armed>> {
    ARMED.lock().unwrap_or_else(|p| p.into_inner())
}

/// Takes the guard's entry out of the armed list; None if someone else already took it.
fn unregister(token: u64) -> Option<Armed> {
    let mut list = armed();
    let i = list.iter().position(|a| a.token == token)?;
    Some(list.swap_remove(i))
}

impl AbandonGuard {
    /// `owner` is the stop flag of the client that started the execution.
    pub fn new(config: &ClientConfig, execution_id: &ExecutionId, owner: &Cancel) -> AbandonGuard {
        let token = NEXT_TOKEN.fetch_add(1, Ordering::Relaxed);
        armed().push(Armed {
            token,
            config: config.clone(),
            execution_id: execution_id.clone(),
            owner: owner.clone(),
        });
        AbandonGuard { token }
    }

    /// The execution finished: nothing to cancel.
    pub fn disarm(&mut self) {
        unregister(self.token);
    }
}

impl Drop for AbandonGuard {
    fn drop(&mut self) {
        let _sending = Sending::start(); // before leaving the list: an exiting process waits
        if let Some(Armed {
            mut config,
            execution_id,
            ..
        }) = unregister(self.token)
        {
            config.request_timeout = Duration::from_secs(5);
            config.max_retries = 1;
            let _ = Client::new(config, Cancel::new()).cancel_execution(&execution_id);
        }
    }
}

/// Cancels every execution whose guard is still armed, one request each, and waits for the
/// cancels other threads are sending, within `budget` in all. For a process about to exit (its
/// threads die with it, guards and all). Returns how many cancels Dune accepted here.
pub fn cancel_armed(budget: Duration) -> usize {
    let end = Instant::now() + budget;
    let list = std::mem::take(&mut *armed());
    let done = send_cancels(list, budget);
    while SENDING.load(Ordering::SeqCst) > 0 && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(5));
    }
    done
}

/// Whether some caller gave up on an execution whose guard is still armed (its thread may be
/// stuck in a slow request and not get to send the cancel soon).
pub fn any_abandoned() -> bool {
    armed().iter().any(|a| a.owner.is_cancelled())
}

/// Cancels the executions whose callers gave up, without waiting for their threads.
pub fn cancel_abandoned(budget: Duration) -> usize {
    let _sending = Sending::start(); // before the entries leave the list: no window unseen
    let list = {
        let mut all = armed();
        let (gone, keep): (Vec<Armed>, Vec<Armed>) =
            all.drain(..).partition(|a| a.owner.is_cancelled());
        *all = keep;
        gone
    };
    send_cancels(list, budget)
}

fn send_cancels(list: Vec<Armed>, budget: Duration) -> usize {
    let _sending = Sending::start();
    let end = Instant::now() + budget;

    let mut done = 0;
    for Armed {
        mut config,
        execution_id: id,
        ..
    } in list
    {
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
