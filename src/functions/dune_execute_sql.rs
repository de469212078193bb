use crate::backend::blocking;
use crate::backend::connection;
use crate::backend::error::{FdwResult, OrRaise};
use dune_api::{Performance, Sql};
use pgrx::prelude::*;

/// POST /v1/sql/execute: starts an execution of raw DuneSQL and returns its id.
#[pg_extern(volatile, parallel_unsafe)]
fn dune_execute_sql(
    sql: Option<&str>,
    performance: default!(Option<&str>, "NULL"),
) -> Option<String> {
    let run = |sql: &str| -> FdwResult<String> {
        let sql = Sql::try_from(sql)?;
        let performance = Performance::from_option(performance)?;
        let config = connection::for_functions()?;
        let id = blocking::run(config, move |c| c.execute_sql(&sql, performance.as_ref()))?;
        Ok(id.into())
    };
    Some(run(sql?).or_raise())
}
