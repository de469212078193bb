use crate::backend::error::{FdwResult, OrRaise};
use crate::backend::jsonb::JsonbDatum;
use crate::backend::waits::DEFAULT_WAIT;
use crate::functions::jsonb_rows::RowStream;
use dune_api::{ExecutionId, ResultSource};
use pgrx::prelude::*;

/// Waits for the execution as dune_wait does, then returns one jsonb object per result row
/// (keys are column names, values as Dune encodes them), reading page by page.
#[pg_extern(volatile, parallel_unsafe)]
fn dune_results(execution_id: Option<&str>) -> SetOfIterator<'static, JsonbDatum> {
    let Some(id) = execution_id else {
        return SetOfIterator::empty();
    };
    let run = || -> FdwResult<RowStream> {
        let source = ResultSource::Execution(ExecutionId::try_from(id)?);
        RowStream::start(source, DEFAULT_WAIT)
    };
    SetOfIterator::new(run().or_raise())
}
