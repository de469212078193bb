//! Result rows as jsonb for the set-returning functions, streamed: the I/O thread reads page
//! N+1 and prepares its rows while PostgreSQL consumes page N, so at most three pages
//! are held (consumed, waiting, being received). The I/O thread also builds each row's jsonb
//! datum (`dune_client::jsonb`), so the backend only copies it; rows it cannot build exactly as
//! jsonb_in would go to jsonb_in.

use crate::blocking::Stream;
use crate::error::{FdwError, FdwResult};
use dune_client::prepare::{Cell, Prepared, prepare_objects};
use dune_client::scan::{ScanEvent, ScanSpec, Started, scan};
use dune_client::{ClientConfig, ExecState, Read};
use pgrx::pg_sys;
use pgrx::pgrx_sql_entity_graph::metadata::{
    ArgumentError, ReturnsError, ReturnsRef, SqlMappingRef, SqlTranslatable, TypeOrigin,
};
use std::time::Duration;

/// Pages the helper thread may read ahead of the backend.
pub const PAGES_AHEAD: usize = 1;

/// What the functions read: everything of `source`, waiting up to `wait` for an execution.
pub fn spec(
    config: &ClientConfig,
    source: dune_client::scan::ScanSource,
    wait: Duration,
) -> ScanSpec {
    ScanSpec {
        source,
        read: Read::default(),
        limit: None,
        page_size: config.page_size,
        wait,
    }
}

/// A jsonb datum already built (copied from the I/O thread's bytes, or by jsonb_in).
pub struct JsonbDatum(pg_sys::Datum);

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

enum Event {
    Rows {
        execution_id: String,
        partial: bool,
        objects: Prepared,
    },
    Notice(String),
}

pub struct RowStream {
    events: Stream<Event>,
    page: Prepared,
    next: usize,
    warned_partial: bool,
}

impl RowStream {
    pub fn start(config: ClientConfig, spec: ScanSpec) -> FdwResult<RowStream> {
        // jsonb is built on the I/O thread where it can be exactly what jsonb_in would build:
        // in a UTF-8 database (elsewhere jsonb_in converts \u escapes to the server encoding).
        // SAFETY: a plain read of the database encoding, on the backend thread.
        let binary = unsafe { pg_sys::GetDatabaseEncoding() } == pg_sys::pg_enc::PG_UTF8 as i32;
        let events = Stream::start(config, PAGES_AHEAD, move |client, out| {
            scan(
                client,
                &spec,
                &Started::default(),
                &mut |event| match event {
                    ScanEvent::Page(page) => out.emit(Event::Rows {
                        partial: page.state == ExecState::CompletedPartial,
                        objects: prepare_objects(&page.rows, binary),
                        execution_id: page.execution_id,
                    }),
                    ScanEvent::Notice(text) => out.emit(Event::Notice(text)),
                },
            )
        })?;
        Ok(RowStream {
            events,
            page: Prepared::default(),
            next: 0,
            warned_partial: false,
        })
    }
}

/// Warns once that Dune kept only part of a result.
pub fn warn_partial(execution_id: &str, warned: &mut bool) {
    if !*warned {
        *warned = true;
        pgrx::warning!(
            "Dune stored only part of the result of execution {execution_id} (QUERY_STATE_COMPLETED_PARTIAL): these rows are not the whole result"
        );
    }
}

impl Iterator for RowStream {
    type Item = JsonbDatum;

    fn next(&mut self) -> Option<JsonbDatum> {
        loop {
            match self.page.cells.get(self.next) {
                Some(&Cell::Jsonb { start, len }) => {
                    self.next += 1;
                    let bytes = self.page.bytes(start, len);
                    // SAFETY: palloc in the current (per-call) memory context, then a copy of a
                    // complete jsonb datum (4-byte varlena header included) built by
                    // dune_client::jsonb; palloc's memory is maximally aligned, as datums need.
                    let datum = unsafe {
                        let p = pg_sys::palloc(bytes.len()).cast::<u8>();
                        std::ptr::copy_nonoverlapping(bytes.as_ptr(), p, bytes.len());
                        pg_sys::Datum::from(p)
                    };
                    return Some(JsonbDatum(datum));
                }
                Some(&Cell::Bytes { start, .. }) => {
                    self.next += 1;
                    // SAFETY: the arena holds the row's JSON text, NUL-terminated; jsonb_in
                    // reads a C string and allocates the jsonb in the current memory context.
                    let datum = unsafe {
                        let text = self.page.arena.as_ptr().add(start as usize);
                        pgrx::fcinfo::direct_function_call_as_datum(
                            pg_sys::jsonb_in,
                            &[Some(pg_sys::Datum::from(text))],
                        )
                        .expect("jsonb_in returns a value")
                    };
                    return Some(JsonbDatum(datum));
                }
                _ => {}
            }
            match self.events.next()? {
                Ok(Event::Rows {
                    execution_id,
                    partial,
                    objects,
                }) => {
                    if partial {
                        warn_partial(&execution_id, &mut self.warned_partial);
                    }
                    self.page = objects;
                    self.next = 0;
                }
                Ok(Event::Notice(text)) => pgrx::notice!("{text}"),
                Err(e) => FdwError::from(e).raise(),
            }
        }
    }
}
