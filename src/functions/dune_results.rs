use crate::connection;
use crate::error::{FdwResult, OrRaise};
use crate::functions::DEFAULT_WAIT_SECS;
use crate::rows::{RowStream, send_pages};
use dune_client::pages::check_state;
use dune_client::{Error, Pager, Read, Source};
use pgrx::JsonB;
use pgrx::prelude::*;
use std::time::Duration;

/// Waits for the execution as dune_wait does, then returns one jsonb object per result row
/// (keys are column names, values as Dune encodes them), reading page by page.
#[pg_extern(volatile, parallel_unsafe)]
fn dune_results(execution_id: Option<&str>) -> SetOfIterator<'static, JsonB> {
    let Some(id) = execution_id else {
        return SetOfIterator::empty();
    };
    let run = || -> FdwResult<RowStream> {
        let source = Source::execution(id)?;
        let config = connection::for_functions()?;
        let page_size = config.page_size;
        let id = id.to_string();
        RowStream::start(config, move |client, out| {
            let status = client.wait(&id, Duration::from_secs(DEFAULT_WAIT_SECS), &mut |_| {})?;
            if !status.finished() {
                return Err(Error::StillRunning {
                    execution_id: id,
                    state: status.state.short().to_string(),
                    waited: Duration::from_secs(DEFAULT_WAIT_SECS),
                });
            }
            check_state(&id, &status.state, status.error_message.as_deref(), true)?;
            send_pages(
                client,
                Pager::new(source, Read::default(), None, page_size),
                out,
            )
        })
    };
    SetOfIterator::new(run().or_raise())
}
