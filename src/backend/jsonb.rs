//! Result rows as jsonb datums, for `dune_results` and friends and for the `row` column of
//! `dune_latest_results`: the I/O thread prepares each row (`pg_format::prepare_objects`:
//! the exact jsonb bytes, or the row's text where it cannot build them), and the backend only
//! copies the bytes into a palloc'd datum or hands the text to jsonb_in.

use dune_api::{ExecState, Page};
use pg_format::{Cell, Prepared, prepare_objects};
use pgrx::pg_sys;
use pgrx::pgrx_sql_entity_graph::metadata::{
    ArgumentError, ReturnsError, ReturnsRef, SqlMappingRef, SqlTranslatable, TypeOrigin,
};

/// Pages the helper thread may read ahead of the backend: at most three are held (the one
/// consumed, one decoded and waiting, one being received).
pub const PAGES_AHEAD: usize = 1;

/// Whether the I/O thread may build jsonb itself: only in a UTF-8 database (elsewhere
/// jsonb_in converts `\u` escapes to the server encoding).
pub fn binary_jsonb() -> bool {
    // SAFETY: a plain read of the database encoding, on the backend thread.
    unsafe { pg_sys::GetDatabaseEncoding() == pg_sys::pg_enc::PG_UTF8 as i32 }
}

/// A result page as jsonb rows, prepared on the I/O thread: one cell per row.
pub struct JsonbPage {
    /// The execution the rows come from.
    pub execution_id: String,
    /// Dune kept only part of the result.
    pub partial: bool,
    /// One `prepare_objects` cell per row.
    pub rows: Prepared,
}

impl JsonbPage {
    /// Prepares a page's rows (on the I/O thread); `binary` as [`binary_jsonb`] said.
    pub fn of(page: Page, binary: bool) -> JsonbPage {
        JsonbPage {
            partial: page.state == ExecState::CompletedPartial,
            rows: prepare_objects(page.rows.raw_rows(), binary),
            execution_id: page.execution_id,
        }
    }
}

/// A jsonb datum already built (copied from the I/O thread's bytes, or by jsonb_in).
pub struct JsonbDatum(pub pg_sys::Datum);

impl pgrx::IntoDatum for JsonbDatum {
    fn into_datum(self) -> Option<pg_sys::Datum> {
        Some(self.0)
    }

    fn type_oid() -> pg_sys::Oid {
        pg_sys::JSONBOID
    }
}

// SAFETY: the datum is returned as the function's result, as BoxRet requires.
unsafe impl pgrx::callconv::BoxRet for JsonbDatum {
    unsafe fn box_into<'fcx>(
        self,
        fcinfo: &mut pgrx::callconv::FcInfo<'fcx>,
    ) -> pgrx::datum::Datum<'fcx> {
        // SAFETY: a valid jsonb datum built in the function's memory context.
        unsafe { fcinfo.return_raw_datum(self.0) }
    }
}

// SAFETY: the values are jsonb datums, declared as jsonb.
unsafe impl SqlTranslatable for JsonbDatum {
    const TYPE_IDENT: &'static str = pgrx::pgrx_resolved_type!(JsonbDatum);
    const TYPE_ORIGIN: TypeOrigin = TypeOrigin::External;
    const ARGUMENT_SQL: Result<SqlMappingRef, ArgumentError> = Ok(SqlMappingRef::literal("jsonb"));
    const RETURN_SQL: Result<ReturnsRef, ReturnsError> =
        Ok(ReturnsRef::One(SqlMappingRef::literal("jsonb")));
}

/// The jsonb datum of a cell made by `prepare_objects`, in the current memory context; None
/// for any other kind of cell.
pub fn jsonb_datum(page: &Prepared, cell: Cell) -> Option<JsonbDatum> {
    match cell {
        Cell::Jsonb { start, len } => {
            let bytes = page.bytes(start, len);
            // SAFETY: palloc in the current memory context, then a copy of a complete jsonb
            // datum (4-byte varlena header included) built by pg_format; palloc's memory is
            // maximally aligned, as datums need.
            let datum = unsafe {
                let p = pg_sys::palloc(bytes.len()).cast::<u8>();
                std::ptr::copy_nonoverlapping(bytes.as_ptr(), p, bytes.len());
                pg_sys::Datum::from(p)
            };
            Some(JsonbDatum(datum))
        }
        Cell::Bytes { start, .. } => {
            // SAFETY: the arena holds the row's JSON text, NUL-terminated; jsonb_in reads a C
            // string and allocates the jsonb in the current memory context.
            let datum = unsafe {
                let text = page.arena.as_ptr().add(start as usize);
                pgrx::fcinfo::direct_function_call_as_datum(
                    pg_sys::jsonb_in,
                    &[Some(pg_sys::Datum::from(text))],
                )
                .expect("jsonb_in returns a value")
            };
            Some(JsonbDatum(datum))
        }
        _ => None,
    }
}
