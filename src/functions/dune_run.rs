use crate::backend::error::{FdwResult, OrRaise};
use crate::backend::jsonb::JsonbDatum;
use crate::backend::waits::wait_of;
use crate::functions::jsonb_rows::RowStream;
use crate::functions::params_arg;
use dune_api::{Performance, QueryId, ResultSource};
use pgrx::JsonB;
use pgrx::datum::Interval;
use pgrx::prelude::*;

/// Executes a saved query, waits for it (up to `timeout`), and returns its rows. If the
/// statement gives up on the execution (timeout, cancel, an error), it is cancelled on Dune.
#[pg_extern(volatile, parallel_unsafe)]
fn dune_run(
    query_id: Option<i64>,
    params: default!(Option<JsonB>, "NULL"),
    performance: default!(Option<&str>, "NULL"),
    timeout: default!(Interval, "'30 minutes'"),
) -> SetOfIterator<'static, JsonbDatum> {
    let Some(query_id) = query_id else {
        return SetOfIterator::empty();
    };
    let run = || -> FdwResult<RowStream> {
        let wait = wait_of(timeout)?;
        let source = ResultSource::Execute {
            query: QueryId::try_from(query_id)?,
            params: params_arg(params)?,
            performance: Performance::from_option(performance)?,
        };
        RowStream::start(source, wait)
    };
    SetOfIterator::new(run().or_raise())
}
