use crate::backend::blocking;
use crate::backend::connection;
use crate::backend::error::{FdwResult, OrRaise};
use crate::functions::{parameters_arg, writes};
use dune_api::{QueryId, Sql};
use pgrx::JsonB;
use pgrx::prelude::*;
use serde_json::{Map, Value};

/// PATCH /v1/query/{query_id}: changes a saved query; NULL leaves a field as it is (an empty
/// JSON list of `parameters` deletes them). The query's id. Needs a Read/Write key.
#[pg_extern(volatile, parallel_unsafe)]
fn dune_update_query(
    query_id: Option<i64>,
    name: default!(Option<&str>, "NULL"),
    sql: default!(Option<&str>, "NULL"),
    parameters: default!(Option<JsonB>, "NULL"),
    description: default!(Option<&str>, "NULL"),
) -> Option<i64> {
    let query_id = query_id?;
    let run = || -> FdwResult<i64> {
        let query = QueryId::try_from(query_id)?;
        let mut changes = Map::new();
        if let Some(n) = name {
            if n.trim().is_empty() {
                return Err(crate::backend::error::FdwError::InvalidArgument(
                    "name must not be empty".into(),
                ));
            }
            changes.insert("name".into(), Value::from(n));
        }
        if let Some(s) = sql {
            changes.insert("query_sql".into(), Value::from(Sql::try_from(s)?.as_str()));
        }
        if let Some(p) = parameters_arg(parameters)? {
            changes.insert("parameters".into(), p);
        }
        if let Some(d) = description {
            changes.insert("description".into(), Value::from(d));
        }
        if changes.is_empty() {
            return Ok(query_id); // nothing to change: nothing sent
        }
        let config = connection::for_functions()?;
        writes(blocking::run(config, move |c| {
            c.update_query(query, &changes)
        }))
    };
    Some(run().or_raise())
}
