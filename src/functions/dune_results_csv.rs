use crate::blocking;
use crate::connection;
use crate::error::{FdwResult, OrRaise};
use crate::functions::DEFAULT_WAIT;
use dune_client::pages::{check_state, csv_all};
use dune_client::{Error, Source};
use pgrx::prelude::*;

/// Waits for the execution, then returns its CSV result: every page joined under one header
/// line. The whole text is one value, so for large results prefer dune_results or a foreign
/// table.
#[pg_extern(volatile, parallel_unsafe)]
fn dune_results_csv(execution_id: Option<&str>) -> Option<String> {
    let id = execution_id?.to_string();
    let run = || -> FdwResult<String> {
        let source = Source::execution(&id)?;
        let config = connection::for_functions()?;
        let page_size = config.page_size;
        blocking::run(config, move |client| {
            let wait = DEFAULT_WAIT;
            let status = client.wait(&id, wait, &mut |_| {})?;
            if !status.finished() {
                return Err(Error::StillRunning {
                    execution_id: id,
                    state: status.state.short().to_string(),
                    waited: wait,
                });
            }
            check_state(&id, &status.state, status.error_message.as_deref(), true)?;
            let mut text = String::new();
            csv_all(client, &source, page_size, &mut |piece| {
                text.push_str(piece)
            })?;
            Ok(text)
        })
    };
    Some(run().or_raise())
}
