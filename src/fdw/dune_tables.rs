//! Foreign tables over Dune's own tables (`dune_table 'dex.trades'`) and uploaded tables
//! (`dune_table 'dune.my_team.labels'`): which of the two a name means, and how a scan's
//! DuneSQL types its literals. The statement itself is written by `dune_api::Select`.
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
use crate::fdw::table::{Column, Table};
use dune_api::{DuneRelation, Error, LiteralType, TableName};
use pg_format::{DuneKind, Family, type_rule};
use pgrx::pg_sys;
use std::cell::RefCell;
use std::collections::HashMap;

thread_local! {
    /// (server, option text) → what it names, for this backend's life.
    static RESOLVED: RefCell<HashMap<(String, String), DuneRelation>> = RefCell::new(HashMap::new());
}

/// What the table's `dune_table` option names (None when it has none). May ask Dune's catalog
/// once per backend (see the module's comment), as `role`.
pub fn relation(table: &Table, role: pg_sys::Oid) -> FdwResult<Option<DuneRelation>> {
    let Some(name) = table.options.dune_table.as_ref() else {
        return Ok(None);
    };
    if table.options.dune_table_upload {
        return Ok(Some(DuneRelation::Upload(name.clone())));
    }
    let key = (table.server.name.clone(), name.to_string());
    if let Some(r) = RESOLVED.with(|m| m.borrow().get(&key).cloned()) {
        return Ok(Some(r));
    }
    let found = lookup(&table.server, role, name)?;
    RESOLVED.with(|m| m.borrow_mut().insert(key, found.clone()));
    Ok(Some(found))
}

fn lookup(server: &ServerInfo, role: pg_sys::Oid, name: &TableName) -> FdwResult<DuneRelation> {
    let config = connection::config_for(server, role, false)?;
    let slug = format!("{}.{}", name.namespace(), name.table());
    let asked = slug.clone();
    match blocking::run(config, move |c| c.dataset(&asked)) {
        Ok(d) if d.kind != "uploaded_table" => Ok(DuneRelation::Dataset {
            schema: name.namespace().to_string(),
            table: name.table().to_string(),
        }),
        Ok(_) | Err(FdwError::Api(Error::NotFound { .. })) => {
            Ok(DuneRelation::Upload(name.clone()))
        }
        Err(e) => Err(e),
    }
}

/// How literals compared with `col` are written in DuneSQL: by its Dune type (`dune_type`,
/// which IMPORT sets), else by its PostgreSQL type.
pub fn literal_type(col: &Column) -> LiteralType {
    match col.dune {
        Some(DuneKind::Text) => LiteralType::Varchar,
        Some(DuneKind::Integer) => LiteralType::Integer,
        Some(DuneKind::Double | DuneKind::Real) => LiteralType::Double,
        Some(DuneKind::Decimal { .. }) => LiteralType::Exact(
            col.dune_name
                .clone()
                .unwrap_or_else(|| "decimal(38, 0)".into()),
        ),
        Some(DuneKind::Boolean) => LiteralType::Boolean,
        Some(DuneKind::Binary) => LiteralType::Varbinary,
        Some(DuneKind::Date) => LiteralType::Date,
        Some(DuneKind::Timestamp { zoned }) => LiteralType::Timestamp { zoned },
        Some(DuneKind::Other) => LiteralType::Unknown,
        None => match type_rule(col.type_oid.to_u32()).family {
            Family::Number => match col.type_oid {
                pg_sys::INT2OID | pg_sys::INT4OID | pg_sys::INT8OID => LiteralType::Integer,
                pg_sys::FLOAT4OID | pg_sys::FLOAT8OID => LiteralType::Double,
                _ => LiteralType::Unknown,
            },
            Family::Bool => LiteralType::Boolean,
            Family::Text => LiteralType::Varchar,
            Family::Bytes => LiteralType::Varbinary,
            Family::TimestampTz => LiteralType::Timestamp { zoned: true },
            Family::Timestamp => LiteralType::Timestamp { zoned: false },
            Family::Date => LiteralType::Date,
            Family::Other => LiteralType::Unknown,
        },
    }
}

/// The Dune columns named by `require_filter` (the table's, else the server's) that this
/// table has: a scan must restrict one of them. A name the table lacks is an error when the
/// table's own option gives it (the server's applies to the tables that have the column).
pub fn required_filters(table: &Table) -> FdwResult<Vec<String>> {
    let (names, own) = match &table.options.require_filter {
        Some(n) => (n.clone(), true),
        None => (
            crate::backend::options::require_filter(&table.server.options),
            false,
        ),
    };
    let mut out = Vec::new();
    for n in names {
        match table.named(&n) {
            Some(c) => out.push(c.remote.clone()),
            None if own => {
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
