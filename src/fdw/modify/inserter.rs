//! One INSERT or COPY into an upload: rows checked and encoded on the backend into NDJSON
//! batches of `insert_batch_bytes`, a batch sent by a helper thread while the next one fills,
//! one request at a time and in order, so that when a batch fails nothing after it was sent
//! and the error says exactly how many rows were written before. An insert is never sent twice
//! once it may have reached Dune (`dune_api::Client::insert_rows`).

use super::encode::{DatumKind, datum_kind, type_name, write_value};
use crate::backend::blocking::Stream;
use crate::backend::connection;
use crate::backend::error::{BadUpload, FdwError, FdwResult, InsertFailure};
use crate::fdw::dune_table::{upload_columns, writable};
use crate::fdw::table::{Column, Table};
use dune_api::{ClientConfig, InsertFormat, Inserted, TableName, UploadedColumn};
use pg_format::{NdjsonBatch, UploadType, accepts, column_type};
use pgrx::pg_sys;

/// The most NDJSON bytes of a statement's first insert request (1 MiB).
const FIRST_BATCH_BYTES: usize = 1 << 20;

/// One column written to Dune.
struct WriteColumn {
    attno: usize,
    local: String,
    key: String,
    dune: UploadType,
    /// The Dune column takes NULL (true when Dune's schema was not read).
    nullable: bool,
    kind: DatumKind,
}

/// A batch sent and not yet answered.
struct InFlight {
    stream: Stream<Inserted>,
    first: u64,
    rows: u64,
}

/// The state of one INSERT or COPY into a Dune table. Dropped with the query's memory; when
/// the statement did not reach its end (another error, a cancel) after rows were sent, a
/// WARNING says how many were written and which may still be.
pub struct Inserter {
    table: String,
    /// The table's server (named in the hint of a 403).
    server: String,
    /// What was written is accounted for: the statement's end was reached, or an error of
    /// this inserter said it.
    finished: bool,
    pub(super) target: TableName,
    config: ClientConfig,
    columns: Vec<WriteColumn>,
    batch: NdjsonBatch,
    batch_bytes: usize,
    in_flight: Option<InFlight>,
    /// Rows Dune has acknowledged.
    written: u64,
    /// Rows given to the statement so far (the next row is number `seen + 1`).
    seen: u64,
}

/// The column's Dune type (see `pg_format::column_type`: its `dune_type` option, else the
/// type the upload declares for it, else the type map); an error names a column whose values
/// Dune cannot take, or that the upload does not have.
fn write_column(
    table: &Table,
    attno: usize,
    c: &Column,
    remote: Option<&[UploadedColumn]>,
) -> FdwResult<WriteColumn> {
    let (mut base, mut typmod) = (c.type_oid, c.typmod);
    // SAFETY: getBaseTypeAndTypmod reads the syscache for an existing type (a domain's base
    // type and its typmod).
    unsafe { base = pg_sys::getBaseTypeAndTypmod(base, &mut typmod) };
    let (remote_type, nullable) = match remote {
        Some(cols) => match cols.iter().find(|d| d.name == c.remote) {
            Some(d) => (Some(&d.ty), d.nullable),
            None => return Err(not_in_dune(table, c, cols)),
        },
        None => (None, true),
    };
    let Some(dune) = column_type(base.to_u32(), typmod, c.dune.as_ref(), remote_type) else {
        return Err(FdwError::Unsupported {
            message: format!(
                "column \"{}\" of foreign table \"{}\" has type {}, which has no counterpart in Dune's uploaded tables",
                c.name,
                table.name,
                type_name(c.type_oid)
            ),
            hint: format!(
                "Dune's upload types are {}. Cast the column in a view or in the INSERT's SELECT, and declare the foreign table column with a type that maps (text, bytea, numeric, timestamptz, ...).",
                dune_api::UPLOAD_TYPES.join(", ")
            ),
        });
    };
    if !accepts(dune, base.to_u32()) {
        return Err(FdwError::Unsupported {
            message: format!(
                "column \"{}\" of foreign table \"{}\" is {} here and {} on Dune: its values cannot be written there",
                c.name,
                table.name,
                type_name(c.type_oid),
                dune.name()
            ),
            hint: "Declare the column with a matching type (varbinary ↔ bytea, varchar ↔ text, timestamp ↔ timestamptz, the integer types ↔ integers or numeric), or set its dune_type option.".into(),
        });
    }
    Ok(WriteColumn {
        attno,
        local: c.name.clone(),
        key: c.remote.clone(),
        dune,
        nullable,
        kind: datum_kind(base.to_u32()),
    })
}

fn not_in_dune(table: &Table, c: &Column, cols: &[UploadedColumn]) -> FdwError {
    let names: Vec<&str> = cols.iter().map(|d| d.name.as_str()).collect();
    FdwError::Unsupported {
        message: format!(
            "column \"{}\" of foreign table \"{}\" is not a column of the Dune table (its columns are {})",
            c.remote,
            table.name,
            names.join(", ")
        ),
        hint: "Drop the column from the foreign table, or map it to a Dune column: ALTER FOREIGN TABLE ... ALTER COLUMN ... OPTIONS (ADD column_name '...').".into(),
    }
}

impl Inserter {
    /// The state for inserting into `table` as `role`; errors for a table without
    /// `dune_table`, parameter columns, and columns Dune cannot take.
    pub fn new(table: &Table, role: pg_sys::Oid) -> FdwResult<Inserter> {
        let target = writable(table)?;
        // SAFETY: plain getter.
        if unsafe { pg_sys::GetDatabaseEncoding() } != pg_sys::pg_enc::PG_UTF8 as i32 {
            return Err(FdwError::Unsupported {
                message: format!(
                    "writing to {target} needs a database in UTF8: Dune's uploads are UTF-8 text"
                ),
                hint: "Create the database WITH ENCODING 'UTF8' (or insert from one).".into(),
            });
        }
        let config = connection::config_for(&table.server, role, false)?;
        let remote = upload_columns(&config, &target);
        let mut columns = Vec::new();
        for (i, c) in table.columns.iter().enumerate() {
            let Some(c) = c else { continue };
            if c.param.is_some() {
                return Err(FdwError::Unsupported {
                    message: format!(
                        "column \"{}\" of foreign table \"{}\" stands for a query parameter, which a Dune table does not have",
                        c.name, table.name
                    ),
                    hint: "Drop the column's param option.".into(),
                });
            }
            columns.push(write_column(table, i, c, remote.as_deref())?);
        }
        let batch_bytes = table.settings.insert_batch_bytes as usize;
        Ok(Inserter {
            table: table.name.clone(),
            server: table.server.name.clone(),
            finished: false,
            target,
            config,
            columns,
            batch: NdjsonBatch::with_capacity(batch_bytes.min(FIRST_BATCH_BYTES) + 4096),
            batch_bytes,
            in_flight: None,
            written: 0,
            seen: 0,
        })
    }

    /// Adds one row (sending the batch once it holds `insert_batch_bytes`).
    ///
    /// # Safety
    /// `slot` is a slot of the table's row type with all its attributes deformed.
    pub(super) unsafe fn push(&mut self, slot: *mut pg_sys::TupleTableSlot) -> FdwResult<()> {
        self.seen += 1;
        let row = self.seen;
        // SAFETY: per this function's contract.
        let (values, nulls) = unsafe { ((*slot).tts_values, (*slot).tts_isnull) };
        let columns = &self.columns;
        let refused = self.batch.row(|w| {
            for c in columns {
                // SAFETY: attno indexes the slot's deformed attributes.
                let (datum, null) = unsafe { (*values.add(c.attno), *nulls.add(c.attno)) };
                if null {
                    if !c.nullable {
                        return Err((
                            c,
                            "is NULL, and the Dune column is not nullable".to_string(),
                            "NULL".to_string(),
                        ));
                    }
                    w.null(&c.key);
                    continue;
                }
                // SAFETY: the datum is a non-null value of the column's type.
                unsafe { write_value(w, (&c.key, c.kind, c.dune), datum) }
                    .map_err(|(problem, value)| (c, problem, value))?;
            }
            Ok::<(), (&WriteColumn, String, String)>(())
        });
        if let Err((c, problem, value)) = refused {
            let (local, dune) = (c.local.clone(), c.dune.name().to_string());
            self.wait()?; // the rows written so far are then known exactly
            self.finished = true;
            return Err(FdwError::BadUpload(Box::new(BadUpload {
                table: self.table.clone(),
                column: local,
                row,
                dune_type: dune,
                value,
                problem,
                written: self.written,
            })));
        }
        // the first batch is small, so that what Dune refuses (a missing column, a read-only
        // key) is known before many rows are encoded
        let limit = if self.written == 0 && self.in_flight.is_none() {
            self.batch_bytes.min(FIRST_BATCH_BYTES)
        } else {
            self.batch_bytes
        };
        if self.batch.len() >= limit {
            self.send()?;
        } else {
            self.poll()?;
        }
        Ok(())
    }

    /// Waits for the batch in flight, then sends the current one (if it has rows).
    fn send(&mut self) -> FdwResult<()> {
        self.wait()?;
        if self.batch.is_empty() {
            return Ok(());
        }
        let (body, rows) = self.batch.take();
        let first = self.seen - rows + 1;
        let name = self.target.clone();
        let stream = Stream::start(self.config.clone(), 1, move |client, out| {
            out.emit(client.insert_rows(&name, InsertFormat::Ndjson, &body)?);
            Ok(())
        })?;
        self.in_flight = Some(InFlight {
            stream,
            first,
            rows,
        });
        Ok(())
    }

    /// Waits for the batch in flight, if any, and counts its rows as written.
    fn wait(&mut self) -> FdwResult<()> {
        // the batch stays in_flight while waiting: if an interrupt raises here, the WARNING
        // of Drop names it
        let Some(f) = self.in_flight.as_mut() else {
            return Ok(());
        };
        let answer = f.stream.next();
        let f = self.in_flight.take().expect("checked above");
        self.settle(f, answer)
    }

    /// Takes the answer of the batch in flight if it has come (without waiting): a refusal
    /// stops the statement at the next row rather than at the next batch.
    fn poll(&mut self) -> FdwResult<()> {
        let Some(f) = self.in_flight.as_mut() else {
            return Ok(());
        };
        match f.stream.try_next() {
            None => Ok(()),
            answer => {
                let f = self.in_flight.take().expect("checked above");
                self.settle(f, answer)
            }
        }
    }

    /// Counts an answered batch, or makes its error.
    fn settle(
        &mut self,
        f: InFlight,
        answer: Option<Result<Inserted, dune_api::Error>>,
    ) -> FdwResult<()> {
        let error = match answer {
            Some(Ok(inserted)) => {
                match inserted.rows {
                    Some(n) if n != f.rows => pgrx::warning!(
                        "Dune reports {n} rows written for a batch of {} rows into {}",
                        f.rows,
                        self.target
                    ),
                    None => pgrx::warning!(
                        "Dune accepted a batch of {} rows into {} without saying how many it wrote; they are counted as written",
                        f.rows,
                        self.target
                    ),
                    _ => {}
                }
                self.written += f.rows;
                return Ok(());
            }
            Some(Err(e)) => e,
            None => dune_api::Error::Connection {
                message: "the insert thread ended without an answer".into(),
                attempts: 1,
                maybe_executed: true,
            },
        };
        self.finished = true;
        Err(FdwError::Insert(Box::new(InsertFailure {
            table: self.table.clone(),
            target: self.target.to_string(),
            server: self.server.clone(),
            written: self.written,
            first: f.first,
            rows: f.rows,
            error,
        })))
    }

    /// Sends what is left and waits for every batch: the end of the statement.
    pub(super) fn finish(&mut self) -> FdwResult<()> {
        self.send()?;
        self.wait()?;
        self.finished = true;
        Ok(())
    }
}

impl Drop for Inserter {
    fn drop(&mut self) {
        if self.finished || (self.written == 0 && self.in_flight.is_none()) {
            return;
        }
        let doubt = match &self.in_flight {
            Some(f) => format!(
                "; rows {} to {} were being sent and may be written",
                f.first,
                f.first + f.rows - 1
            ),
            None => String::new(),
        };
        pgrx::warning!(
            "the statement writing to {} (foreign table \"{}\") stopped after {} rows were written to Dune{doubt}: a rollback does not undo them",
            self.target,
            self.table,
            self.written
        );
    }
}
