//! IMPORT FOREIGN SCHEMA: one foreign table per Dune query, named query_<id>, with the columns
//! and types of the query's latest result. `LIMIT TO (query_1258228, ...)` names the queries;
//! without it, the account's queries (GET /v1/queries) are imported.

use crate::blocking;
use crate::connection;
use crate::error::{FdwError, FdwResult, OrRaise};
use crate::fdw::catalog::{current_role, def_elems, server_by_oid};
use crate::options::{self, Object};
use dune_client::error::NotFound;
use dune_client::pages::check_state;

use dune_client::types::create_foreign_table;
use dune_client::{Error, Read, Source};
use pgrx::prelude::*;
use pgrx::{PgList, pg_sys};
use serde_json::Value;
use std::ffi::{CStr, CString};

const MAX_IMPORTED: usize = 1000;
fn query_id_of(name: &str) -> FdwResult<i64> {
    name.strip_prefix("query_")
        .and_then(|d| d.parse::<i64>().ok())
        .filter(|id| *id > 0)
        .ok_or_else(|| FdwError::InvalidOption {
            message: format!("\"{name}\" does not name a Dune query"),
            hint: Some("Tables to import are named query_<id>, as in LIMIT TO (query_1258228, query_1252207).".into()),
        })
}

fn import(
    stmt: *mut pg_sys::ImportForeignSchemaStmt,
    server_oid: pg_sys::Oid,
) -> FdwResult<Vec<String>> {
    let server = server_by_oid(server_oid)?;
    let config = connection::config_for(&server, current_role(), true)?;
    // SAFETY: the statement as parsed by PostgreSQL: options are DefElems, the table list
    // RangeVars.
    let (list_type, names, options) = unsafe {
        let names: Vec<String> = PgList::<pg_sys::RangeVar>::from_pg((*stmt).table_list)
            .iter_ptr()
            .map(|rv| CStr::from_ptr((*rv).relname).to_string_lossy().into_owned())
            .collect();
        ((*stmt).list_type, names, def_elems((*stmt).options))
    };
    for (k, v) in &options {
        if ["query_id", "sql", "execution_id", "view"].contains(&k.as_str()) {
            return Err(FdwError::InvalidOption {
                message: format!("option \"{k}\" cannot be given to IMPORT FOREIGN SCHEMA"),
                hint: Some("Each imported table gets its own query_id; other table options (params, mode, max_age, performance, fetch_size) pass through.".into()),
            });
        }
        options::check(Object::Table, k, v)?;
    }
    let params: Option<Value> = match options.iter().find(|(k, _)| k == "params") {
        Some((_, text)) => Some(
            serde_json::from_str(text)
                .map_err(|e| FdwError::InvalidArgument(format!("params is not JSON: {e}")))?,
        ),
        None => None,
    };
    let explicit = list_type == pg_sys::ImportForeignSchemaType::FDW_IMPORT_SCHEMA_LIMIT_TO;
    let ids: Vec<i64> = if explicit {
        names
            .iter()
            .map(|n| query_id_of(n))
            .collect::<FdwResult<_>>()?
    } else {
        let excluded: Vec<&String> = names.iter().collect();
        blocking::run(config.clone(), |c| c.list_queries(MAX_IMPORTED))?
            .into_iter()
            .filter(|id| !excluded.contains(&&format!("query_{id}")))
            .collect()
    };
    let mut statements = Vec::new();
    for id in ids {
        let source = Source::latest(id, params.as_ref())?;
        let meta = blocking::run(config.clone(), move |c| {
            let page = c.results_page(&source, &Read::default(), 0, 1)?;
            check_state(
                &page.execution_id,
                &page.state,
                page.error_message.as_deref(),
                true,
            )?;
            Ok(page.metadata)
        });

        let meta = match meta {
            Ok(Some(m)) if !m.column_names.is_empty() => m,
            Ok(_) => {
                return Err(FdwError::Api(Error::InvalidResponse(format!(
                    "the latest result of query {id} has no column metadata"
                ))));
            }
            Err(FdwError::Api(Error::NotFound { what, .. })) if !explicit => {
                let why = if what == NotFound::Query {
                    "not found"
                } else {
                    "no latest result yet"
                };
                pgrx::notice!("skipping query {id}: {why}");
                continue;
            }
            Err(FdwError::Api(Error::NotFound {
                what: NotFound::LatestResult,
                message,
            })) => {
                return Err(FdwError::Api(Error::NotFound {
                    what: NotFound::LatestResult,
                    message: format!(
                        "query {id} has no latest result to take its columns from ({message})"
                    ),
                }));
            }
            Err(e) => return Err(e),
        };
        statements.push(create_foreign_table(
            id,
            &meta.column_names,
            &meta.column_types,
            &server.name,
            &options,
        ));
    }
    Ok(statements)
}

#[pg_guard]
pub extern "C-unwind" fn import_foreign_schema(
    stmt: *mut pg_sys::ImportForeignSchemaStmt,
    server_oid: pg_sys::Oid,
) -> *mut pg_sys::List {
    let statements = import(stmt, server_oid).or_raise();
    let mut list: *mut pg_sys::List = std::ptr::null_mut();
    for s in statements {
        let c = CString::new(s.replace('\0', "")).expect("NULs removed");
        // SAFETY: pstrdup copies into the current (statement) memory context; PostgreSQL
        // parses and runs each string.
        unsafe { list = pg_sys::lappend(list, pg_sys::pstrdup(c.as_ptr()) as *mut _) };
    }
    list
}
