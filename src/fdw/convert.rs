//! Dune values to PostgreSQL datums, by the declared column type: fast paths for the common
//! types, the type's input function for everything else (numeric, timestamps, domains, enums).
//! Reading Dune's encodings is done by `dune_client::values`.

use crate::fdw::table::Column;
use dune_client::values;
use pgrx::pg_sys;
use pgrx::{IntoDatum, JsonB};
use serde_json::Value;
use std::ffi::CString;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    Int2,
    Int4,
    Int8,
    Float4,
    Float8,
    Bool,
    Text,
    Bytea,
    Jsonb,
    /// JSON text through the type's input function (json).
    JsonText,
    /// The value's text through the type's input function.
    Input,
}

/// What a column of the latest-results view holds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ViewRole {
    QueryId,
    Params,
    ExecutionId,
    RowNumber,
    Row,
}

#[derive(Debug, Clone)]
pub struct Attr {
    pub name: String,
    /// The Dune column read (None for a dropped column).
    pub remote: Option<String>,
    pub kind: Kind,
    pub typmod: i32,
    input_fn: pg_sys::Oid,
    ioparam: pg_sys::Oid,
    pub role: Option<ViewRole>,
}

impl Attr {
    pub fn dropped() -> Attr {
        Attr {
            name: String::new(),
            remote: None,
            kind: Kind::Text,
            typmod: -1,
            input_fn: pg_sys::InvalidOid,
            ioparam: pg_sys::InvalidOid,
            role: None,
        }
    }

    pub fn new(col: &Column, view: bool) -> Attr {
        let kind = match col.type_oid {
            pg_sys::INT2OID => Kind::Int2,
            pg_sys::INT4OID => Kind::Int4,
            pg_sys::INT8OID => Kind::Int8,
            pg_sys::FLOAT4OID => Kind::Float4,
            pg_sys::FLOAT8OID => Kind::Float8,
            pg_sys::BOOLOID => Kind::Bool,
            pg_sys::TEXTOID => Kind::Text,
            pg_sys::BYTEAOID => Kind::Bytea,
            pg_sys::JSONBOID => Kind::Jsonb,
            pg_sys::JSONOID => Kind::JsonText,
            _ => Kind::Input,
        };
        let (mut input_fn, mut ioparam) = (pg_sys::InvalidOid, pg_sys::InvalidOid);
        // SAFETY: a catalog lookup for a valid type oid (the column's).
        unsafe { pg_sys::getTypeInputInfo(col.type_oid, &mut input_fn, &mut ioparam) };
        let role = match (view, col.name.as_str()) {
            (true, "query_id") => Some(ViewRole::QueryId),
            (true, "params") => Some(ViewRole::Params),
            (true, "execution_id") => Some(ViewRole::ExecutionId),
            (true, "row_number") => Some(ViewRole::RowNumber),
            (true, "row") => Some(ViewRole::Row),
            _ => None,
        };
        Attr {
            name: col.name.clone(),
            remote: Some(col.remote.clone()),
            kind,
            typmod: col.typmod,
            input_fn,
            ioparam,
            role,
        }
    }
}

/// The datum for `v` in a column described by `attr`; None for SQL NULL. An Err is the
/// problem, for the caller's message. Input functions may raise their own ERROR, which the
/// scan's error context completes with table, column, row and value.
///
/// # Safety
/// Must run on the backend thread, in the memory context the datum should live in.
pub unsafe fn to_datum(attr: &Attr, v: &Value) -> Result<Option<pg_sys::Datum>, String> {
    if v.is_null() {
        return Ok(None);
    }
    // SAFETY: datums are built by pgrx's IntoDatum (palloc in the current context) or by the
    // type's own input function, called with its documented arguments.
    unsafe {
        Ok(match attr.kind {
            Kind::Int2 => (values::integer(v, i16::MIN as i64, i16::MAX as i64, "smallint")?
                as i16)
                .into_datum(),
            Kind::Int4 => (values::integer(v, i32::MIN as i64, i32::MAX as i64, "integer")? as i32)
                .into_datum(),
            Kind::Int8 => values::integer(v, i64::MIN, i64::MAX, "bigint")?.into_datum(),
            Kind::Float4 => (values::float(v)? as f32).into_datum(),
            Kind::Float8 => values::float(v)?.into_datum(),
            Kind::Bool => values::boolean(v)?.into_datum(),
            Kind::Text => match v {
                Value::String(s) => values::checked(s)?.into_datum(),
                other => values::text(other)?.as_str().into_datum(),
            },

            Kind::Bytea => values::bytes(v)?.into_datum(),
            Kind::Jsonb => JsonB(v.clone()).into_datum(),
            Kind::JsonText | Kind::Input => {
                let text = if attr.kind == Kind::JsonText {
                    v.to_string()
                } else {
                    values::text(v)?
                };
                let c = CString::new(text).map_err(|_| "contains a NUL character".to_string())?;
                Some(pg_sys::OidInputFunctionCall(
                    attr.input_fn,
                    c.as_ptr().cast_mut(),
                    attr.ioparam,
                    attr.typmod,
                ))
            }
        })
    }
}

/// Parses `text` with the input function of `type_oid` (for option values such as max_age).
pub fn parse_typed(type_oid: pg_sys::Oid, text: &str) -> pg_sys::Datum {
    let (mut input_fn, mut ioparam) = (pg_sys::InvalidOid, pg_sys::InvalidOid);
    let c = CString::new(text.replace('\0', "")).expect("NULs removed");
    // SAFETY: catalog lookup and input function call for a built-in type; an invalid text
    // raises the type's own ERROR.
    unsafe {
        pg_sys::getTypeInputInfo(type_oid, &mut input_fn, &mut ioparam);
        pg_sys::OidInputFunctionCall(input_fn, c.as_ptr().cast_mut(), ioparam, -1)
    }
}
