//! Blocking Dune I/O without a deaf backend: the requests, retries and sleeps run on a helper
//! thread that owns no Postgres state and calls no Postgres function; the backend waits for its
//! messages in 10 ms slices and services interrupts (cancel, statement_timeout, terminate)
//! between them. When the backend stops listening (an ERROR, the end of a scan), the helper is
//! told to stop and does within one request timeout.

use crate::error::{FdwError, FdwResult};
use dune_client::{Cancel, Client, ClientConfig, Error};
use pgrx::pg_sys;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::time::Duration;

const SLICE: Duration = Duration::from_millis(10);

enum Msg<T> {
    Item(T),
    Done,
    Failed(Error),
}

/// Items produced by a helper thread, read on the backend thread.
pub struct Stream<T> {
    rx: Receiver<Msg<T>>,
    cancel: Cancel,
    finished: bool,
}

/// Hands items to the backend; false once the backend has stopped listening.
pub struct Emitter<T> {
    tx: SyncSender<Msg<T>>,
}

impl<T> Emitter<T> {
    pub fn emit(&self, item: T) -> bool {
        self.tx.send(Msg::Item(item)).is_ok()
    }
}

/// Spawns `f` on a new thread with every signal blocked, so that Postgres' signal handlers
/// keep running on the backend thread only.
fn spawn_quiet(f: impl FnOnce() + Send + 'static) -> std::io::Result<()> {
    // SAFETY: sigfillset initialises the set; pthread_sigmask swaps this thread's mask and the
    // old one is restored right after the spawn, so the new thread inherits "all blocked".
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
        let spawned = std::thread::Builder::new()
            .name("dune_fdw io".into())
            .spawn(f);
        libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
        spawned.map(|_| ())
    }
}

impl<T: Send + 'static> Stream<T> {
    /// Runs `producer` on a helper thread with its own client. At most `depth` items wait in
    /// the channel: memory stays bounded however large the result.
    pub fn start(
        config: ClientConfig,
        depth: usize,
        producer: impl FnOnce(&Client, &Emitter<T>) -> Result<(), Error> + Send + 'static,
    ) -> FdwResult<Stream<T>> {
        let cancel = Cancel::new();
        let client = Client::new(config, cancel.clone());
        let (tx, rx) = mpsc::sync_channel(depth);
        spawn_quiet(move || {
            let emitter = Emitter { tx };
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                producer(&client, &emitter)
            }));
            let last = match outcome {
                Ok(Ok(())) => Msg::Done,
                Ok(Err(e)) => Msg::Failed(e),
                Err(p) => {
                    let what = p
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| p.downcast_ref::<String>().cloned())
                        .unwrap_or_default();
                    Msg::Failed(Error::InvalidResponse(format!(
                        "internal error in the Dune I/O thread: {what}"
                    )))
                }
            };
            let _ = emitter.tx.send(last);
        })
        .map_err(|e| FdwError::Internal(format!("could not start the Dune I/O thread: {e}")))?;
        Ok(Stream {
            rx,
            cancel,
            finished: false,
        })
    }

    /// The next item; None at the end. Waits as long as needed, but an interrupt (Ctrl-C,
    /// statement_timeout, pg_terminate_backend) raises its ERROR here within 10 ms.
    pub fn next(&mut self) -> Option<Result<T, Error>> {
        if self.finished {
            return None;
        }
        loop {
            match self.rx.recv_timeout(SLICE) {
                Ok(Msg::Item(item)) => return Some(Ok(item)),
                Ok(Msg::Done) => {
                    self.finished = true;
                    return None;
                }
                Ok(Msg::Failed(e)) => {
                    self.finished = true;
                    return Some(Err(e));
                }
                Err(RecvTimeoutError::Timeout) => {
                    pg_sys::check_for_interrupts!();
                }
                Err(RecvTimeoutError::Disconnected) => {
                    self.finished = true;
                    return Some(Err(Error::InvalidResponse(
                        "the Dune I/O thread stopped unexpectedly".into(),
                    )));
                }
            }
        }
    }
}

impl<T> Drop for Stream<T> {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// Runs one blocking call on a helper thread and waits for it, interruptibly.
pub fn run<T: Send + 'static>(
    config: ClientConfig,
    f: impl FnOnce(&Client) -> Result<T, Error> + Send + 'static,
) -> FdwResult<T> {
    let mut stream = Stream::start(config, 1, move |client, out| {
        let value = f(client)?;
        out.emit(value);
        Ok(())
    })?;
    match stream.next() {
        Some(Ok(v)) => Ok(v),
        Some(Err(e)) => Err(e.into()),
        None => Err(FdwError::Internal(
            "the Dune I/O thread ended without an answer".into(),
        )),
    }
}
