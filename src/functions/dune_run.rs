use crate::connection;
use crate::error::{FdwResult, OrRaise};
use crate::functions::{json_arg, wait_of};
use crate::rows::{RowStream, send_pages};
use dune_client::pages::check_state;
use dune_client::{Cancel, Client, ClientConfig, Error, Pager, Read, Source};
use pgrx::JsonB;
use pgrx::datum::Interval;
use pgrx::prelude::*;
use std::time::Duration;

/// Cancels an execution this statement started if the statement gives up on it (timeout,
/// Ctrl-C, statement_timeout, an error), so that Dune does not go on spending credits.
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

/// Executes a saved query, waits for it (up to `timeout`), and returns its rows.
#[pg_extern(volatile, parallel_unsafe)]
fn dune_run(
    query_id: Option<i64>,
    params: default!(Option<JsonB>, "NULL"),
    performance: default!(Option<&str>, "NULL"),
    timeout: default!(Interval, "'30 minutes'"),
) -> SetOfIterator<'static, JsonB> {
    let Some(query_id) = query_id else {
        return SetOfIterator::empty();
    };
    let run = || -> FdwResult<RowStream> {
        let wait = wait_of(timeout)?;
        let params = json_arg(params);
        let performance = performance.map(str::to_string);
        let config = connection::for_functions()?;
        let page_size = config.page_size;
        RowStream::start(config, move |client, out| {
            let id = client.execute_query(query_id, params.as_ref(), performance.as_deref())?;
            let mut guard = AbandonGuard::new(client.config(), &id);
            let status = client.wait(&id, wait, &mut |_| {})?;
            if !status.finished() {
                return Err(Error::StillRunning {
                    execution_id: id,
                    state: status.state.short().to_string(),
                    waited: wait,
                });
            }
            guard.disarm();
            check_state(&id, &status.state, status.error_message.as_deref(), true)?;
            send_pages(
                client,
                Pager::new(Source::Execution(id), Read::default(), None, page_size),
                out,
            )
        })
    };
    SetOfIterator::new(run().or_raise())
}
