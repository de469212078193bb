//! From prepared cells (decoded on the I/O thread by `dune_client::prepare`) to datums: words
//! become by-value datums directly, bytes become text/bytea varlenas, and everything else goes
//! through the column type's input function (numeric, json, timestamps in other forms,
//! domains, enums, varchar(n)).

use crate::fdw::table::Column;
use dune_client::prepare::{Cell, Prepared, Target};
use pgrx::IntoDatum;
use pgrx::pg_sys;
use std::ffi::CString;

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
    pub target: Target,
    typmod: i32,
    input_fn: pg_sys::Oid,
    ioparam: pg_sys::Oid,
    pub role: Option<ViewRole>,
}

fn target_of(type_oid: pg_sys::Oid) -> Target {
    match type_oid {
        pg_sys::INT2OID => Target::Int2,
        pg_sys::INT4OID => Target::Int4,
        pg_sys::INT8OID => Target::Int8,
        pg_sys::FLOAT4OID => Target::Float4,
        pg_sys::FLOAT8OID => Target::Float8,
        pg_sys::BOOLOID => Target::Bool,
        pg_sys::TEXTOID => Target::Text,
        pg_sys::BYTEAOID => Target::Bytes,
        pg_sys::TIMESTAMPTZOID => Target::TimestampTz,
        pg_sys::TIMESTAMPOID => Target::Timestamp,
        pg_sys::DATEOID => Target::Date,
        pg_sys::JSONBOID | pg_sys::JSONOID => Target::Json,
        _ => Target::Raw,
    }
}

impl Attr {
    pub fn dropped() -> Attr {
        Attr {
            name: String::new(),
            remote: None,
            target: Target::Raw,
            typmod: -1,
            input_fn: pg_sys::InvalidOid,
            ioparam: pg_sys::InvalidOid,
            role: None,
        }
    }

    pub fn new(col: &Column, view: bool) -> Attr {
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
            target: target_of(col.type_oid),
            typmod: col.typmod,
            input_fn,
            ioparam,
            role,
        }
    }
}

/// The datum of a prepared cell (None for NULL; Bad cells are the caller's). Input functions
/// may raise their own ERROR, which the scan's error context completes with table, column, row
/// and value.
///
/// # Safety
/// Must run on the backend thread, in the memory context the datum should live in; `cell`
/// comes from `page`.
pub unsafe fn cell_datum(attr: &Attr, page: &Prepared, cell: Cell) -> Option<pg_sys::Datum> {
    // SAFETY: by-value datums are built from words of the right type; varlenas are palloc'd by
    // cstring_to_text_with_len (text and bytea share the layout); input functions get the
    // arena's NUL-terminated text, as they expect.
    unsafe {
        match (attr.target, cell) {
            (_, Cell::Null | Cell::Bad(_)) => None,
            (Target::Int2, Cell::Word(w)) => (w as i64 as i16).into_datum(),
            (Target::Int4, Cell::Word(w)) => (w as i64 as i32).into_datum(),
            (Target::Int8, Cell::Word(w)) => (w as i64).into_datum(),
            (Target::Float4, Cell::Word(w)) => f32::from_bits(w as u32).into_datum(),
            (Target::Float8, Cell::Word(w)) => f64::from_bits(w).into_datum(),
            (Target::Bool, Cell::Word(w)) => (w != 0).into_datum(),
            (Target::TimestampTz | Target::Timestamp, Cell::Word(w)) => {
                Some(pg_sys::Datum::from(w as i64))
            }
            (Target::Date, Cell::Word(w)) => Some(pg_sys::Datum::from(w as i64 as i32)),
            (Target::Text | Target::Bytes, Cell::Bytes { start, len }) => {
                let bytes = page.bytes(start, len);
                Some(pg_sys::Datum::from(pg_sys::cstring_to_text_with_len(
                    bytes.as_ptr().cast(),
                    len as i32,
                )))
            }
            (_, Cell::Bytes { start, .. }) => {
                let text = page.arena.as_ptr().add(start as usize);
                Some(pg_sys::OidInputFunctionCall(
                    attr.input_fn,
                    text.cast_mut().cast(),
                    attr.ioparam,
                    attr.typmod,
                ))
            }
            // not produced for these targets (jsonb datums are built for the functions only)
            (_, Cell::Word(_) | Cell::Jsonb { .. }) => None,
        }
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
