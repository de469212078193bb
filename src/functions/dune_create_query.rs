use crate::backend::blocking;
use crate::backend::connection;
use crate::backend::error::FdwError;
use crate::backend::error::{FdwResult, OrRaise};
use crate::functions::{parameters_arg, writes};
use dune_api::Sql;
use pgrx::JsonB;
use pgrx::prelude::*;
use serde_json::{Map, Value};

/// Whether a failed create may have reached Dune (the query may be saved).
fn maybe_sent(e: &dune_api::Error) -> bool {
    use dune_api::Error::*;
    matches!(
        e,
        Server {
            maybe_executed: true,
            ..
        } | Timeout {
            maybe_executed: true,
            ..
        } | Connection {
            maybe_executed: true,
            ..
        }
    )
}

/// POST /v1/query: saves a new query on Dune; its id. `parameters` is a JSON list of Dune's
/// parameter objects (`[{"key": "day", "type": "datetime", "value": "2024-03-01 00:00:00"}]`).
/// Needs a key with the Read/Write scope. Sent once: after a failure that may have reached
/// Dune it is not sent again (it would save the query twice).
#[pg_extern(volatile, parallel_unsafe)]
fn dune_create_query(
    name: Option<&str>,
    sql: Option<&str>,
    parameters: default!(Option<JsonB>, "NULL"),
    is_private: default!(Option<bool>, "true"),
    description: default!(Option<&str>, "NULL"),
) -> i64 {
    let run = || -> FdwResult<i64> {
        let mut body = Map::new();
        let missing = |what: &str| FdwError::InvalidArgument(format!("{what} must not be NULL"));
        let (name, sql) = (
            name.ok_or_else(|| missing("name"))?,
            sql.ok_or_else(|| missing("sql"))?,
        );
        if name.trim().is_empty() {
            return Err(FdwError::InvalidArgument("name must not be empty".into()));
        }
        body.insert("name".into(), Value::from(name));
        body.insert(
            "query_sql".into(),
            Value::from(Sql::try_from(sql)?.as_str()),
        );
        // NULL: the default, private
        body.insert("is_private".into(), Value::from(is_private.unwrap_or(true)));
        if let Some(p) = parameters_arg(parameters)? {
            body.insert("parameters".into(), p);
        }
        if let Some(d) = description {
            body.insert("description".into(), Value::from(d));
        }
        let config = connection::for_functions()?;
        match writes(blocking::run(config, move |c| c.create_query(&body))) {
            Err(FdwError::Api(e)) if maybe_sent(&e) => Err(FdwError::MaybeCreated(e)),
            other => other,
        }
    };
    run().or_raise()
}
