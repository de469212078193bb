//! Blocking Dune I/O without a deaf backend: the requests, retries and sleeps run on a helper
//! thread that owns no Postgres state and calls no Postgres function; the backend waits for its
//! messages in 10 ms slices and services interrupts (cancel, statement_timeout, terminate)
//! between them. When the backend stops listening (an ERROR, the end of a scan), the helper is
//! told to stop and does within one request timeout. While it waits, the backend also looks at
//! its client connection every 0.5 s, shows `wait_event_type = 'Extension'` in
//! pg_stat_activity, and reports progress (`progress.rs`).

use crate::backend::error::{FdwError, FdwResult};
use crate::backend::progress::Tracker;
use dune_api::{Cancel, Client, ClientConfig, Error, ProgressSink};
use pgrx::pg_sys;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::time::{Duration, Instant};

const SLICE: Duration = Duration::from_millis(10);

/// How often a wait looks whether the client is still connected.
const CLIENT_CHECK: Duration = Duration::from_millis(500);

/// How long a backend that exits (terminated, or its client gone) spends cancelling on Dune
/// the executions its statements started and did not finish.
const EXIT_CANCEL_BUDGET: Duration = Duration::from_secs(3);

/// How long a cancel sent for an abandoned statement may take (it runs on its own thread).
const ABANDON_CANCEL_BUDGET: Duration = Duration::from_secs(5);

#[cfg(not(feature = "pg13"))]
unsafe extern "C" {
    static FeBeWaitSet: *mut std::ffi::c_void;
    fn pq_check_connection() -> bool;
}

/// Raises FATAL "connection to client lost" if the client has gone away. PostgreSQL only looks
/// when it next talks to the client, or every client_connection_check_interval when that is
/// set; a Dune wait can last minutes without either, so it looks itself.
fn check_client() {
    #[cfg(not(feature = "pg13"))]
    // SAFETY: runs on the backend thread. pq_check_connection needs the frontend wait set,
    // which exists only in a backend serving a client (not in background workers); with
    // client_connection_check_interval set, PostgreSQL does this check itself.
    unsafe {
        if pg_sys::client_connection_check_interval == 0
            && !pg_sys::MyProcPort.is_null()
            && !FeBeWaitSet.is_null()
            && pg_sys::whereToSendOutput == pg_sys::CommandDest::DestRemote
            && pg_sys::WaitEventSetCanReportClosed()
            && !pq_check_connection()
        {
            pg_sys::ClientConnectionLost = 1;
            pg_sys::InterruptPending = 1;
        }
    }
    pg_sys::check_for_interrupts!();
}

/// Shows the backend as waiting on an extension in pg_stat_activity (wait_event_type
/// `Extension`) while it waits for Dune, and as not waiting otherwise.
fn report_waiting(waiting: bool) {
    // SAFETY: my_wait_event_info always points at a valid location in a backend (the shared
    // PGPROC field or a local dummy); this is what pgstat_report_wait_start/end do.
    unsafe {
        if !pg_sys::my_wait_event_info.is_null() {
            *pg_sys::my_wait_event_info = if waiting {
                pg_sys::PG_WAIT_EXTENSION
            } else {
                0
            };
        }
    }
}

/// Registers, once per backend, the exit callback that cancels abandoned executions: when a
/// backend ends by FATAL (pg_terminate_backend, client gone) no Rust destructor runs, so the
/// helper threads' own cancels would be lost with the process.
fn cancel_on_exit() {
    static REGISTERED: std::sync::Once = std::sync::Once::new();
    #[pgrx::pg_guard]
    unsafe extern "C-unwind" fn on_exit(_code: i32, _arg: pg_sys::Datum) {
        dune_api::cancel_armed(EXIT_CANCEL_BUDGET);
        crate::backend::in_flight::remove_file();
    }
    REGISTERED.call_once(|| {
        // SAFETY: called on the backend thread; the callback calls no Postgres function.
        unsafe { pg_sys::before_shmem_exit(Some(on_exit), pg_sys::Datum::from(0)) }
    });
}

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
    /// When the client connection was last looked at.
    checked: Instant,
    progress: Tracker,
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
        cancel_on_exit();
        let cancel = Cancel::new();
        let (progress_tx, progress_rx) = mpsc::channel();
        let client =
            Client::new(config, cancel.clone()).with_progress(ProgressSink::new(progress_tx));
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
        crate::backend::alloc::read_started();
        Ok(Stream {
            rx,
            cancel,
            finished: false,
            checked: Instant::now(),
            progress: Tracker::new(progress_rx),
        })
    }

    /// The next item; None at the end. Waits as long as needed, but an interrupt (Ctrl-C,
    /// statement_timeout, pg_terminate_backend) raises its ERROR here within 10 ms.
    pub fn next(&mut self) -> Option<Result<T, Error>> {
        if self.finished {
            return None;
        }
        self.progress.poll();
        if self.checked.elapsed() >= CLIENT_CHECK {
            check_client();
            self.checked = Instant::now();
        }
        // Fast path: the item is already there (a streaming scan, most of the time).
        match self.rx.try_recv() {
            Ok(msg) => return self.take(msg),
            Err(mpsc::TryRecvError::Empty) => {}
            Err(mpsc::TryRecvError::Disconnected) => return self.take_disconnected(),
        }
        report_waiting(true);
        let result = loop {
            match self.rx.recv_timeout(SLICE) {
                Ok(msg) => break self.take(msg),
                Err(RecvTimeoutError::Timeout) => {
                    // An ERROR or FATAL raised here unwinds through pgrx; the wait event is
                    // cleared by PostgreSQL's error recovery (pgstat_report_wait_end).
                    pg_sys::check_for_interrupts!();
                    if self.checked.elapsed() >= CLIENT_CHECK {
                        check_client();
                        report_waiting(true);
                        self.checked = Instant::now();
                    }
                    self.progress.poll();
                }
                Err(RecvTimeoutError::Disconnected) => break self.take_disconnected(),
            }
        };
        report_waiting(false);
        result
    }

    /// The next item if it has come, without waiting; None if not yet (or at the end).
    pub fn try_next(&mut self) -> Option<Result<T, Error>> {
        if self.finished {
            return None;
        }
        match self.rx.try_recv() {
            Ok(msg) => self.take(msg),
            Err(mpsc::TryRecvError::Empty) => None,
            Err(mpsc::TryRecvError::Disconnected) => self.take_disconnected(),
        }
    }

    fn take(&mut self, msg: Msg<T>) -> Option<Result<T, Error>> {
        match msg {
            Msg::Item(item) => Some(Ok(item)),
            Msg::Done => {
                self.finished = true;
                None
            }
            Msg::Failed(e) => {
                self.finished = true;
                Some(Err(e))
            }
        }
    }

    fn take_disconnected(&mut self) -> Option<Result<T, Error>> {
        self.finished = true;
        Some(Err(Error::InvalidResponse(
            "the Dune I/O thread stopped unexpectedly".into(),
        )))
    }
}

impl<T> Drop for Stream<T> {
    fn drop(&mut self) {
        self.cancel.cancel();
        crate::backend::alloc::read_ended();
        // The helper cancels on Dune what it started, once its current request ends; if that
        // request is stalled, that may be a whole request timeout away. Do it now instead.
        if !self.finished && dune_api::any_abandoned() {
            let _ = spawn_quiet(|| {
                dune_api::cancel_abandoned(ABANDON_CANCEL_BUDGET);
            });
        }
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
