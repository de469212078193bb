//! IMPORT FOREIGN SCHEMA. From the remote schema `dune`: one foreign table per Dune query,
//! named query_<id>, with the columns and types of the query's latest result; `LIMIT TO
//! (query_1258228, ...)` names the queries; without it, the account's queries (GET
//! /v1/queries) are imported. From any other remote schema (`dex`, `tokens`,
//! `dune.my_team`): the tables of Dune's catalog in that schema (`GET /v1/datasets/{slug}`
//! for each name of LIMIT TO, else `GET /v1/datasets`, API reference §16), typed from the
//! catalog, with the table option `dune_table '<schema>.<table>'`.

use crate::backend::blocking;
use crate::backend::catalog::{ServerInfo, current_role, def_elems, server_by_oid};
use crate::backend::connection;
use crate::backend::error::{FdwError, FdwResult, OrRaise};
use crate::backend::options::{self, Object, SOURCE_OPTIONS};
use dune_api::{ClientConfig, Error, NotFound, Params, QueryId, ResultMetadata};
use pg_format::{create_dune_table, create_foreign_table};
use pgrx::prelude::*;
use pgrx::{PgList, pg_sys};
use std::ffi::{CStr, CString};

const MAX_IMPORTED: usize = 1000;

/// The remote schema whose tables are the account's queries; any other names a schema of
/// Dune's catalog.
const QUERIES_SCHEMA: &str = "dune";

fn query_id_of(name: &str) -> FdwResult<QueryId> {
    name.strip_prefix("query_")
        .and_then(|d| d.parse::<i64>().ok())
        .and_then(|id| QueryId::try_from(id).ok())
        .ok_or_else(|| FdwError::InvalidOption {
            message: format!("\"{name}\" does not name a Dune query"),
            hint: Some("Tables to import are named query_<id>, as in LIMIT TO (query_1258228, query_1252207).".into()),
        })
}

/// The statement's parts: LIMIT TO or EXCEPT, the table names, the options.
unsafe fn statement_parts(
    stmt: *mut pg_sys::ImportForeignSchemaStmt,
) -> (bool, Vec<String>, Vec<(String, String)>) {
    // SAFETY: the statement as parsed by PostgreSQL: options are DefElems, the table list
    // RangeVars.
    unsafe {
        let names = PgList::<pg_sys::RangeVar>::from_pg((*stmt).table_list)
            .iter_ptr()
            .map(|rv| CStr::from_ptr((*rv).relname).to_string_lossy().into_owned())
            .collect();
        let explicit =
            (*stmt).list_type == pg_sys::ImportForeignSchemaType::FDW_IMPORT_SCHEMA_LIMIT_TO;
        (explicit, names, def_elems((*stmt).options))
    }
}

/// Checks the options that pass through to every imported table; returns their `params`.
fn pass_through(options: &[(String, String)]) -> FdwResult<Option<Params>> {
    for (k, v) in options {
        if SOURCE_OPTIONS.contains(&k.as_str()) {
            return Err(FdwError::InvalidOption {
                message: format!("option \"{k}\" cannot be given to IMPORT FOREIGN SCHEMA"),
                hint: Some("Each imported table gets its own query_id; other table options (params, mode, max_age, performance, fetch_size, fetch_concurrency) pass through.".into()),
            });
        }
        options::check(Object::Table, k, v)?;
    }
    let params = options.iter().find(|(k, _)| k == "params");
    Ok(params
        .map(|(_, text)| Params::from_text(text))
        .transpose()?
        .flatten())
}

/// The queries to import: those named (LIMIT TO), or the account's but those named (EXCEPT).
fn queries(config: &ClientConfig, explicit: bool, names: &[String]) -> FdwResult<Vec<QueryId>> {
    if explicit {
        return names.iter().map(|n| query_id_of(n)).collect();
    }
    let listed = blocking::run(config.clone(), |c| c.list_queries(MAX_IMPORTED))?;
    Ok(listed
        .into_iter()
        .filter(|id| !names.contains(&format!("query_{id}")))
        .filter_map(|id| QueryId::try_from(id).ok())
        .collect())
}

/// The columns of a query's latest result; None to skip the query (whole-account import).
fn columns_of(
    config: &ClientConfig,
    query: QueryId,
    params: Option<&Params>,
    explicit: bool,
) -> FdwResult<Option<ResultMetadata>> {
    let params = params.cloned();
    let meta = blocking::run(config.clone(), move |c| {
        c.latest_metadata(query, params.as_ref())
    });
    match meta {
        Ok(Some(m)) if !m.column_names.is_empty() => Ok(Some(m)),
        Ok(_) if explicit => Err(FdwError::NoColumns { query: query.get() }),
        Ok(_) => {
            pgrx::notice!("skipping query {query}: its latest result has no columns");
            Ok(None)
        }
        Err(FdwError::Api(Error::NotFound { what, .. })) if !explicit => {
            let why = if what == NotFound::Query {
                "not found"
            } else {
                "no latest result yet"
            };
            pgrx::notice!("skipping query {query}: {why}");
            Ok(None)
        }
        Err(FdwError::Api(Error::NotFound {
            what: NotFound::LatestResult,
            message,
        })) => Err(FdwError::Api(Error::NotFound {
            what: NotFound::LatestResult,
            message: format!(
                "query {query} has no latest result to take its columns from ({message})"
            ),
        })),
        Err(e) => Err(e),
    }
}

/// The query's parameters that become columns (key, Dune type): every single-value
/// parameter; and all of them, with their types and defaults, as the JSON of the table option
/// `query_parameters` (for the user to read: `\det+`). Reading a query's definition needs a
/// plan that allows it (API reference §8): where Dune refuses, the table is imported without
/// them, with a NOTICE.
fn parameters_of(config: &ClientConfig, query: QueryId) -> (Vec<(String, String)>, Option<String>) {
    match blocking::run(config.clone(), move |c| c.query_parameters(query)) {
        Ok(params) => {
            let doc: Vec<serde_json::Value> = params
                .iter()
                .map(|p| {
                    serde_json::json!({"key": p.key, "type": p.kind, "default": p.default,
                        "multiselect": p.multiselect})
                })
                .collect();
            let columns = params
                .into_iter()
                .filter(|p| !p.multiselect)
                .map(|p| (p.key, p.kind))
                .collect();
            let doc = (!doc.is_empty()).then(|| serde_json::Value::from(doc).to_string());
            (columns, doc)
        }
        Err(e) => {
            let why = match e {
                FdwError::Api(api) => api.to_string(),
                other => format!("{other:?}"),
            };
            pgrx::notice!(
                "query {query}: its parameters could not be read ({why}); no parameter columns"
            );
            (Vec::new(), None)
        }
    }
}

/// The table options an import of Dune's tables passes through: those a `dune_table` table
/// takes (a query's options are refused by name).
fn dataset_options(options: &[(String, String)]) -> FdwResult<()> {
    for (k, v) in options {
        if SOURCE_OPTIONS.contains(&k.as_str()) || ["params", "mode"].contains(&k.as_str()) {
            return Err(FdwError::InvalidOption {
                message: format!("option \"{k}\" cannot be given to IMPORT FOREIGN SCHEMA of Dune's tables"),
                hint: Some("Each imported table gets its own dune_table; require_filter, max_age, performance, fetch_size and fetch_concurrency pass through.".into()),
            });
        }
        options::check(Object::Table, k, v)?;
    }
    Ok(())
}

/// IMPORT of the tables of Dune's schema `schema` (`dex`, `dune.my_team`).
fn import_datasets(
    config: &ClientConfig,
    server: &ServerInfo,
    schema: &str,
    (explicit, names, options): (bool, Vec<String>, Vec<(String, String)>),
) -> FdwResult<Vec<String>> {
    dataset_options(&options)?;
    let datasets = if explicit {
        let mut found = Vec::new();
        for n in &names {
            let slug = format!("{schema}.{n}");
            let asked = slug.clone();
            match blocking::run(config.clone(), move |c| c.dataset(&asked)) {
                Ok(d) => found.push(d),
                Err(FdwError::Api(Error::NotFound { message, .. })) => {
                    return Err(FdwError::Api(Error::NotFound {
                        what: NotFound::Table,
                        message: format!("Dune's catalog has no table {slug} ({message})"),
                    }));
                }
                Err(e) => return Err(e),
            }
        }
        found
    } else {
        let prefix = format!("{schema}.");
        let all = blocking::run(config.clone(), move |c| {
            c.list_datasets(&prefix, MAX_IMPORTED)
        })?;
        all.into_iter()
            .filter(|d| !names.iter().any(|n| d.full_name == format!("{schema}.{n}")))
            .collect()
    };
    let mut statements = Vec::new();
    for d in datasets {
        let local = d
            .full_name
            .rsplit('.')
            .next()
            .unwrap_or(&d.full_name)
            .to_string();
        if d.columns.is_empty() {
            pgrx::notice!(
                "skipping {}: Dune's catalog lists no columns for it",
                d.full_name
            );
            continue;
        }
        let (cols, types): (Vec<String>, Vec<String>) = d.columns.into_iter().unzip();
        statements.push(create_dune_table(
            &local,
            &d.full_name,
            &cols,
            &types,
            &server.name,
            &options,
        ));
    }
    Ok(statements)
}

fn import(
    stmt: *mut pg_sys::ImportForeignSchemaStmt,
    server_oid: pg_sys::Oid,
) -> FdwResult<Vec<String>> {
    let server: ServerInfo = server_by_oid(server_oid)?;
    let config = connection::config_for(&server, current_role(), true)?;
    // SAFETY: the statement PostgreSQL hands to ImportForeignSchema.
    let (explicit, names, options) = unsafe { statement_parts(stmt) };
    // SAFETY: remote_schema is the statement's name, a C string.
    let schema = unsafe {
        CStr::from_ptr((*stmt).remote_schema)
            .to_string_lossy()
            .into_owned()
    };
    if schema != QUERIES_SCHEMA {
        return import_datasets(&config, &server, &schema, (explicit, names, options));
    }
    let params = pass_through(&options)?;
    let mut statements = Vec::new();
    for query in queries(&config, explicit, &names)? {
        if let Some(meta) = columns_of(&config, query, params.as_ref(), explicit)? {
            let (columns, doc) = parameters_of(&config, query);
            let mut table_options = options.clone();
            table_options.extend(doc.map(|d| ("query_parameters".to_string(), d)));
            statements.push(create_foreign_table(
                i64::from(query),
                &meta.column_names,
                &meta.column_types,
                &columns,
                &server.name,
                &table_options,
            ));
        }
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
