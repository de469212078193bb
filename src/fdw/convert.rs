//! From prepared cells (decoded on the I/O thread by `pg_format::prepare`) to datums: words
//! become by-value datums directly, bytes become text/bytea varlenas, and everything else goes
//! through the column type's input function (numeric, json, timestamps in other forms,
//! domains, enums, varchar(n)). A value that does not fit raises an error whose context names
//! the table, column, row and value ([`ConversionLocation`], as postgres_fdw's
//! `conversion_error_callback`).

use crate::fdw::table::Column;
use pg_format::{Cell, Prepared, Target, shorten, type_rule};
use pgrx::IntoDatum;
use pgrx::pg_sys;
use std::ffi::{CStr, CString, c_char, c_int, c_void};

unsafe extern "C" {
    // errcontext_msg is variadic, which pgrx's bindings leave out; declared here by hand.
    fn errcontext_msg(fmt: *const c_char, ...) -> c_int;
}

/// What a column of the latest-results table (`dune_latest_results`) holds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LatestResultsRole {
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
    pub role: Option<LatestResultsRole>,
    /// The query parameter this column returns (option `param`): not read from the result.
    pub param: Option<String>,
    /// The column's type.
    pub type_oid: pg_sys::Oid,
}

/// How a column's values are decoded: by the type table, except that a typmod the fast path
/// does not apply (timestamp(p), timestamptz(p)) sends the value to the input function, which
/// rounds it as PostgreSQL always does (varchar(n), numeric(p,s), time(p), interval and bit(n)
/// go there anyway).
fn target_for(col: &Column) -> Target {
    match type_rule(col.type_oid.to_u32()).target {
        Target::Timestamp | Target::TimestampTz if col.typmod >= 0 => Target::Raw,
        target => target,
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
            param: None,
            type_oid: pg_sys::InvalidOid,
        }
    }

    /// The attribute of `col`, a column of the latest-results table when `latest`.
    pub fn new(col: &Column, latest: bool) -> Attr {
        let (mut input_fn, mut ioparam) = (pg_sys::InvalidOid, pg_sys::InvalidOid);
        // SAFETY: a catalog lookup for a valid type oid (the column's).
        unsafe { pg_sys::getTypeInputInfo(col.type_oid, &mut input_fn, &mut ioparam) };
        let role = match (latest, col.name.as_str()) {
            (true, "query_id") => Some(LatestResultsRole::QueryId),
            (true, "params") => Some(LatestResultsRole::Params),
            (true, "execution_id") => Some(LatestResultsRole::ExecutionId),
            (true, "row_number") => Some(LatestResultsRole::RowNumber),
            (true, "row") => Some(LatestResultsRole::Row),
            _ => None,
        };
        Attr {
            name: col.name.clone(),
            remote: col.param.is_none().then(|| col.remote.clone()),
            target: target_for(col),
            typmod: col.typmod,
            input_fn,
            ioparam,
            role,
            param: col.param.clone(),
            type_oid: col.type_oid,
        }
    }

    /// The datum of `text` read by the column type's input function (with its typmod).
    ///
    /// # Safety
    /// Backend thread, in the memory context the datum should live in.
    pub unsafe fn datum_from_text(&self, text: &std::ffi::CStr) -> pg_sys::Datum {
        // SAFETY: the column type's input function, given NUL-terminated text.
        unsafe {
            pg_sys::OidInputFunctionCall(
                self.input_fn,
                text.as_ptr().cast_mut(),
                self.ioparam,
                self.typmod,
            )
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

/// Where a conversion is, for the error context of a value that does not fit: pointers, set
/// per value at no cost; the text is only made if an error needs it.
pub struct ConversionLocation {
    pub table: String,
    pub column: *const String,
    pub row: u64,
    /// The NUL-terminated text given to an input function.
    pub value: *const c_char,
}

impl ConversionLocation {
    pub fn new(table: &str) -> ConversionLocation {
        ConversionLocation {
            table: table.to_string(),
            column: std::ptr::null(),
            row: 0,
            value: std::ptr::null(),
        }
    }

    /// Runs `f` with this location as the error context of anything it raises.
    ///
    /// # Safety
    /// Backend thread; `self` must not move while `f` runs (it is borrowed for the call).
    pub unsafe fn enter<R>(&mut self, f: impl FnOnce(&mut Self) -> R) -> R {
        // SAFETY: the entry lives on this stack frame; ContextGuard pops it however `f` ends.
        unsafe {
            let mut cb = pg_sys::ErrorContextCallback {
                previous: pg_sys::error_context_stack,
                callback: Some(conversion_context),
                arg: self as *mut ConversionLocation as *mut c_void,
            };
            let _restore = ContextGuard(cb.previous);
            pg_sys::error_context_stack = &mut cb;
            f(self)
        }
    }
}

/// Pops our error context entry however the conversion ends: normally, or by unwinding from
/// an ERROR that pgrx re-raises later (by then our stack frame is gone).
struct ContextGuard(*mut pg_sys::ErrorContextCallback);

impl Drop for ContextGuard {
    fn drop(&mut self) {
        // SAFETY: restores the stack as it was before `enter` pushed its entry.
        unsafe { pg_sys::error_context_stack = self.0 };
    }
}

/// Adds "column, table, row, value" to any error raised while converting a value.
unsafe extern "C-unwind" fn conversion_context(arg: *mut c_void) {
    // SAFETY: arg is the scan's ConversionLocation, alive for the whole conversion.
    unsafe {
        let p = &*(arg as *const ConversionLocation);
        if p.column.is_null() || p.value.is_null() {
            return;
        }
        let value = format!("\"{}\"", CStr::from_ptr(p.value).to_string_lossy());
        let text = format!(
            "column \"{}\" of foreign table \"{}\", row {}, value {}",
            *p.column,
            p.table,
            p.row,
            shorten(&value)
        );
        let c = CString::new(text.replace('\0', "")).unwrap_or_default();
        pg_sys::set_errcontext_domain(std::ptr::null());
        errcontext_msg(c"%s".as_ptr(), c.as_ptr());
    }
}
