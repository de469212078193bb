use crate::blocking;
use crate::connection;
use crate::error::{FdwResult, OrRaise};
use pgrx::prelude::*;

/// POST /v1/sql/execute: starts an execution of raw DuneSQL and returns its id.
#[pg_extern(volatile, parallel_unsafe)]
fn dune_execute_sql(
    sql: Option<&str>,
    performance: default!(Option<&str>, "NULL"),
) -> Option<String> {
    let sql = sql?.to_string();
    let run = || -> FdwResult<String> {
        let performance = performance.map(str::to_string);
        let config = connection::for_functions()?;
        blocking::run(config, move |c| c.execute_sql(&sql, performance.as_deref()))
    };
    Some(run().or_raise())
}
