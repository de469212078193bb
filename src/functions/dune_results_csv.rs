use crate::backend::blocking;
use crate::backend::connection;
use crate::backend::error::{FdwResult, OrRaise};
use crate::backend::waits::DEFAULT_WAIT;
use dune_api::ExecutionId;
use pgrx::prelude::*;

/// Waits for the execution, then returns its CSV result: every page joined under one header
/// line. The whole text is one value, so for large results prefer dune_results or a foreign
/// table.
#[pg_extern(volatile, parallel_unsafe)]
fn dune_results_csv(execution_id: Option<&str>) -> Option<String> {
    let run = |id: &str| -> FdwResult<String> {
        let id = ExecutionId::try_from(id)?;
        let config = connection::for_functions()?;
        let page_size = config.page_size;
        blocking::run(config, move |client| {
            client.result_csv(&id, DEFAULT_WAIT, page_size)
        })
    };
    Some(run(execution_id?).or_raise())
}
