use crate::backend::blocking;
use crate::backend::connection;
use crate::backend::error::{FdwResult, OrRaise};
use crate::functions::writes;
use dune_api::TableName;
use pgrx::prelude::*;

/// POST /v1/uploads/{namespace}/{table_name}/clear: deletes every row of a Dune table and
/// keeps the table; Dune's message. Cannot be rolled back. Needs a Read/Write key.
#[pg_extern(volatile, parallel_unsafe)]
fn dune_clear_table(namespace: &str, table_name: &str) -> String {
    let run = || -> FdwResult<String> {
        let name = TableName::new(namespace, table_name)?;
        let config = connection::for_functions()?;
        writes(blocking::run(config, move |c| c.clear_table(&name)))
    };
    run().or_raise()
}
