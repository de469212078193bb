use crate::connection;
use crate::error::{FdwResult, OrRaise};
use crate::functions::DEFAULT_WAIT;
use crate::rows::{RowStream, spec};
use dune_client::scan::ScanSource;
use dune_client::validate;
use pgrx::prelude::*;

/// Waits for the execution as dune_wait does, then returns one jsonb object per result row
/// (keys are column names, values as Dune encodes them), reading page by page.
#[pg_extern(volatile, parallel_unsafe)]
fn dune_results(execution_id: Option<&str>) -> SetOfIterator<'static, crate::rows::JsonbDatum> {
    let Some(id) = execution_id else {
        return SetOfIterator::empty();
    };
    let run = || -> FdwResult<RowStream> {
        let id = validate::execution_id(id)?.to_string();
        let config = connection::for_functions()?;
        let spec = spec(&config, ScanSource::Execution(id), DEFAULT_WAIT);
        RowStream::start(config, spec)
    };
    SetOfIterator::new(run().or_raise())
}
