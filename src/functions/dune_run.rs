use crate::connection;
use crate::error::{FdwResult, OrRaise};
use crate::functions::{json_arg, wait_of};
use crate::rows::{RowStream, spec};
use dune_client::scan::ScanSource;
use dune_client::validate;
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
) -> SetOfIterator<'static, crate::rows::JsonbDatum> {
    let Some(query_id) = query_id else {
        return SetOfIterator::empty();
    };
    let run = || -> FdwResult<RowStream> {
        let wait = wait_of(timeout)?;
        let params = json_arg(params);
        validate::query_id(query_id)?;
        validate::params(params.as_ref())?;
        let performance = validate::performance(performance)?.map(str::to_string);
        let config = connection::for_functions()?;
        let spec = spec(
            &config,
            ScanSource::Execute {
                query_id,
                params,
                performance,
            },
            wait,
        );
        RowStream::start(config, spec)
    };
    SetOfIterator::new(run().or_raise())
}
