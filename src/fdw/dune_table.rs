//! What a foreign table's `dune_table` option names, and what Dune says of it for free: one of
//! Dune's own tables (`dune_table 'dex.trades'`) or an uploaded table (`dune_table
//! 'dune.my_team.labels'`), the upload's columns, and the table's `require_filter`. Both kinds
//! are read by a DuneSQL statement (`dune_api::Select`).
//!
//! A name written `dune.<ns>.<table>` is an upload. A two-part name (`dex.trades`,
//! `my_team.labels`) is looked up once per backend in Dune's catalog (`GET
//! /v1/datasets/{slug}`, API reference §16; free, any key): a table the catalog knows, other
//! than an upload, is read as `<schema>.<table>`; a name the catalog does not know is the
//! upload `dune.<schema>.<table>`, as option `dune_table` has read it since 0.5.0.

use crate::backend::blocking;
use crate::backend::catalog::ServerInfo;
use crate::backend::connection;
use crate::backend::error::{FdwError, FdwResult};
use crate::backend::options::TableSource;
use crate::fdw::table::Table;
use dune_api::{ClientConfig, DuneRelation, DuneType, Error, TableName, UploadedColumn};
use pgrx::pg_sys;
use std::cell::RefCell;
use std::collections::HashMap;

/// What a `dune_table` names, with the columns Dune's catalog gives it (None: not known).
#[derive(Debug, Clone)]
struct Resolved {
    relation: DuneRelation,
    columns: Option<Vec<(String, DuneType)>>,
}

thread_local! {
    /// (server, option text) → what it names, for this backend's life.
    static RESOLVED: RefCell<HashMap<(String, String), Resolved>> = RefCell::new(HashMap::new());
}

/// The name the table's `dune_table` option gives, if it has one.
pub fn dune_table_name(table: &Table) -> Option<&TableName> {
    match &table.options.source {
        TableSource::DuneTable(d) => Some(&d.name),
        _ => None,
    }
}

/// What the table's `dune_table` option names (None when it has none). May ask Dune's catalog
/// once per backend (see the module's comment), as `role`.
fn resolve(table: &Table, role: pg_sys::Oid) -> FdwResult<Option<Resolved>> {
    let TableSource::DuneTable(options) = &table.options.source else {
        return Ok(None);
    };
    if options.upload {
        let relation = DuneRelation::Upload(options.name.clone());
        return Ok(Some(Resolved {
            relation,
            columns: None,
        }));
    }
    let key = (table.server.name.clone(), options.name.to_string());
    if let Some(r) = RESOLVED.with(|m| m.borrow().get(&key).cloned()) {
        return Ok(Some(r));
    }
    let found = lookup(&table.server, role, &options.name)?;
    RESOLVED.with(|m| m.borrow_mut().insert(key, found.clone()));
    Ok(Some(found))
}

fn lookup(server: &ServerInfo, role: pg_sys::Oid, name: &TableName) -> FdwResult<Resolved> {
    let config = connection::config_for(server, role, false)?;
    let slug = format!("{}.{}", name.namespace(), name.table());
    let asked = slug.clone();
    match blocking::run(config, move |c| c.dataset(&asked)) {
        Ok(d) if d.kind != "uploaded_table" => Ok(Resolved {
            relation: DuneRelation::Dataset {
                schema: name.namespace().to_string(),
                table: name.table().to_string(),
            },
            columns: Some(
                d.columns
                    .iter()
                    .map(|(n, t)| (n.clone(), DuneType::parse(t)))
                    .collect(),
            ),
        }),
        Ok(_) | Err(FdwError::Api(Error::NotFound { .. })) => Ok(Resolved {
            relation: DuneRelation::Upload(name.clone()),
            columns: None,
        }),
        Err(e) => Err(e),
    }
}

/// The table with what its `dune_table` names, and each column declared without `dune_type`
/// given the Dune type Dune says its Dune column has (for free: the catalog entry of one of
/// Dune's tables, read with the name; an upload's columns, `GET /v1/uploads`, asked only when
/// a column needs it), so that comparisons on it are pushed by what Dune will compare, not
/// by a guess. A column Dune does not list keeps no type (the scan's check names it).
pub fn typed(mut table: Table, role: pg_sys::Oid) -> FdwResult<(Table, Option<DuneRelation>)> {
    let Some(resolved) = resolve(&table, role)? else {
        return Ok((table, None));
    };
    let untyped = table
        .live_columns()
        .any(|c| c.dune.is_none() && c.param.is_none());
    let columns = match (&resolved.relation, resolved.columns) {
        (_, Some(cols)) => cols,
        (DuneRelation::Upload(name), None) if untyped => {
            let config = connection::config_for(&table.server, role, false)?;
            upload_columns(&config, name)
                .unwrap_or_default()
                .into_iter()
                .map(|c| (c.name, c.ty))
                .collect()
        }
        _ => Vec::new(),
    };
    for c in table.columns.iter_mut().flatten() {
        if c.dune.is_none() {
            c.dune = columns
                .iter()
                .find(|(n, _)| *n == c.remote)
                .map(|(_, t)| t.clone());
        }
    }
    Ok((table, Some(resolved.relation)))
}

/// The Dune columns named by `require_filter` (the table's, else the server's) that this
/// table has: a scan must restrict one of them. A name the table lacks is an error when the
/// table's own option gives it; the server's applies to those of Dune's own tables that have
/// the column, not to uploads (`upload`), which are the account's own.
pub fn required_filters(table: &Table, upload: bool) -> FdwResult<Vec<String>> {
    if upload && !table.settings.require_filter_own {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for n in &table.settings.require_filter {
        match table.named(n) {
            Some(c) => out.push(c.remote.clone()),
            None if table.settings.require_filter_own => {
                return Err(FdwError::InvalidOption {
                    message: format!(
                        "require_filter names column \"{n}\", which foreign table \"{}\" does not have",
                        table.name
                    ),
                    hint: Some("Name columns of the table, separated by commas: OPTIONS (require_filter 'block_time').".into()),
                });
            }
            None => {}
        }
    }
    Ok(out)
}

/// The upload's columns as `GET /v1/uploads` lists them (one request, free), or None when the
/// list does not have it (a team's table the list leaves out, one of Dune's own tables) or
/// cannot be read.
pub fn upload_columns(config: &ClientConfig, name: &TableName) -> Option<Vec<UploadedColumn>> {
    let full = name.to_string();
    let uploads = blocking::run(config.clone(), |c| c.uploads(100_000)).ok()?;
    uploads
        .into_iter()
        .find(|u| u.full_name == full)
        .map(|u| u.columns)
}

/// Before a scan of an upload runs (and bills) its statement: every declared column must be
/// one of the upload's, as `GET /v1/uploads` lists it (free); an error lists its columns.
/// Nothing is checked when the list does not have the table.
pub fn check_read_columns(table: &Table, role: pg_sys::Oid) -> FdwResult<()> {
    let Some(name) = dune_table_name(table) else {
        return Ok(());
    };
    let config = connection::config_for(&table.server, role, false)?;
    let Some(cols) = upload_columns(&config, name) else {
        return Ok(());
    };
    let names: Vec<String> = cols.into_iter().map(|d| d.name).collect();
    match table
        .live_columns()
        .find(|c| c.param.is_none() && !names.contains(&c.remote))
    {
        Some(c) => Err(FdwError::NoSuchColumn {
            table: table.name.clone(),
            column: c.remote.clone(),
            available: names,
        }),
        None => Ok(()),
    }
}

/// The Dune table of a table that may be written, or the error saying why it may not.
pub fn writable(table: &Table) -> FdwResult<TableName> {
    dune_table_name(table).cloned().ok_or_else(|| FdwError::Unsupported {
        message: format!("foreign table \"{}\" reads a Dune query result, which cannot be written", table.name),
        hint: "Only a foreign table with the option dune_table (an uploaded Dune table) takes INSERT, COPY and TRUNCATE: CREATE FOREIGN TABLE ... SERVER dune OPTIONS (dune_table 'my_team.labels').".into(),
    })
}
