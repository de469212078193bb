//! Writing to a Dune table (a foreign table with option `dune_table`): INSERT and COPY FROM
//! append rows through `POST /v1/uploads/{ns}/{table}/insert` (API reference §9) as NDJSON, in
//! batches of `insert_batch_bytes`; TRUNCATE clears the table. UPDATE and DELETE are refused:
//! Dune's uploaded tables only append and clear.
//!
//! Rows are checked and encoded on the backend (`pg_format::NdjsonBatch`); a batch is sent by
//! a helper thread while the next one fills, one request at a time and in order, so that when
//! a batch fails nothing after it was sent and the error says exactly how many rows were
//! written before. An insert is never sent twice once it may have reached Dune
//! (`dune_api::Client::insert_rows`).

use crate::backend::blocking::{self, Stream};
use crate::backend::connection;
use crate::backend::error::{BadUpload, FdwError, FdwResult, InsertFailure, OrRaise};
use crate::fdw::table::Table;
use dune_api::{ClientConfig, InsertFormat, Inserted, TableName};
use pg_format::{NdjsonBatch, RowWriter, UploadType, accepts, oid, upload_type_for};
use pgrx::prelude::*;
use pgrx::{FromDatum, PgList, PgMemoryContexts, pg_sys};
use std::ffi::{CStr, c_int, c_void};
use std::sync::atomic::{AtomicBool, Ordering};

/// The most NDJSON bytes of a statement's first insert request (1 MiB).
const FIRST_BATCH_BYTES: usize = 1 << 20;

/// How a column's datums are read.
#[derive(Debug, Clone, Copy)]
enum Read {
    Bool,
    Int2,
    Int4,
    Int8,
    Float4,
    Float8,
    Bytea,
    Timestamp,
    Date,
    /// A varlena text (text, varchar, bpchar).
    Text,
    /// Through the type's output function (numeric, uuid, json, ...).
    Output(pg_sys::Oid),
}

/// One column written to Dune.
struct Target {
    attno: usize,
    local: String,
    key: String,
    dune: UploadType,
    /// The Dune column takes NULL (true when Dune's schema was not read).
    nullable: bool,
    read: Read,
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
    target: TableName,
    config: ClientConfig,
    columns: Vec<Target>,
    batch: NdjsonBatch,
    batch_bytes: usize,
    in_flight: Option<InFlight>,
    /// Rows Dune has acknowledged.
    written: u64,
    /// Rows given to the statement so far (the next row is number `seen + 1`).
    seen: u64,
}

/// How a column of base type `type_oid` is read.
fn read_of(type_oid: u32) -> Read {
    match type_oid {
        oid::BOOL => Read::Bool,
        oid::INT2 => Read::Int2,
        oid::INT4 => Read::Int4,
        oid::INT8 => Read::Int8,
        oid::FLOAT4 => Read::Float4,
        oid::FLOAT8 => Read::Float8,
        oid::BYTEA => Read::Bytea,
        oid::TIMESTAMP | oid::TIMESTAMPTZ => Read::Timestamp,
        oid::DATE => Read::Date,
        oid::TEXT | oid::VARCHAR | oid::BPCHAR => Read::Text,
        other => {
            let (mut out, mut varlena) = (pg_sys::InvalidOid, false);
            // SAFETY: a type of a column of an open relation exists; getTypeOutputInfo only
            // reads the syscache and writes the two out-parameters.
            unsafe { pg_sys::getTypeOutputInfo(pg_sys::Oid::from(other), &mut out, &mut varlena) };
            Read::Output(out)
        }
    }
}

fn type_name(type_oid: pg_sys::Oid) -> String {
    // SAFETY: format_type_be palloc's the name of an existing type in the current context.
    unsafe {
        CStr::from_ptr(pg_sys::format_type_be(type_oid))
            .to_string_lossy()
            .into_owned()
    }
}

/// The column's Dune type: its `dune_type` option, else the type Dune's table declares for it
/// (`dune_columns`), else the type map of `upload_type_for`; an error names a column whose
/// values Dune cannot take, or that the Dune table does not have.
fn target_of(
    table: &Table,
    attno: usize,
    c: &crate::fdw::table::Column,
    dune_columns: Option<&[DuneColumn]>,
) -> FdwResult<Target> {
    let (mut base, mut typmod) = (c.type_oid, c.typmod);
    // SAFETY: getBaseTypeAndTypmod reads the syscache for an existing type (a domain's base
    // type and its typmod).
    unsafe { base = pg_sys::getBaseTypeAndTypmod(base, &mut typmod) };
    let (remote_type, nullable) = match dune_columns {
        Some(cols) => match cols.iter().find(|d| d.name == c.remote) {
            Some(d) => (UploadType::parse(&d.dune_type), d.nullable),
            None => return Err(not_in_dune(table, c, cols)),
        },
        None => (None, true),
    };
    let declared = c.dune_name.as_deref().and_then(UploadType::parse);
    let Some(dune) = declared
        .or(remote_type)
        .or_else(|| upload_type_for(base.to_u32(), typmod))
    else {
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
    Ok(Target {
        attno,
        local: c.name.clone(),
        key: c.remote.clone(),
        dune,
        nullable,
        read: read_of(base.to_u32()),
    })
}

fn not_in_dune(table: &Table, c: &crate::fdw::table::Column, cols: &[DuneColumn]) -> FdwError {
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

/// Before a scan of a Dune table runs (and bills) its execution: every declared column must be
/// one of the Dune table's, as `GET /v1/uploads` lists it (free); an error lists its columns.
/// Nothing is checked when the list does not have the table.
pub fn check_read_columns(table: &Table, role: pg_sys::Oid) -> FdwResult<()> {
    let Some(target) = table.options.dune_table.as_ref() else {
        return Ok(());
    };
    let config = connection::config_for(&table.server, role, false)?;
    let Some(cols) = dune_columns(&config, target) else {
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

/// A column of the Dune table, as `GET /v1/uploads` lists it.
struct DuneColumn {
    name: String,
    dune_type: String,
    nullable: bool,
}

/// The Dune table's columns and types as `GET /v1/uploads` lists them (one request), or None
/// when the list does not have it (a team's table the list leaves out) or cannot be read: the
/// types then come from `dune_type` and the type map.
fn dune_columns(config: &ClientConfig, target: &TableName) -> Option<Vec<DuneColumn>> {
    let full = target.to_string();
    let tables = blocking::run(config.clone(), |c| c.list_tables(100_000)).ok()?;
    let t = tables
        .iter()
        .find(|t| t.get("full_name").and_then(|n| n.as_str()) == Some(full.as_str()))?;
    let cols = t.get("columns")?.as_array()?;
    Some(
        cols.iter()
            .filter_map(|c| {
                Some(DuneColumn {
                    name: c.get("name")?.as_str()?.to_string(),
                    dune_type: c.get("type")?.as_str()?.to_string(),
                    nullable: c.get("nullable").and_then(|n| n.as_bool()) != Some(false),
                })
            })
            .collect(),
    )
}

/// Whether this transaction block was told that rows written to Dune stay written.
static WARNED: AtomicBool = AtomicBool::new(false);

/// The WARNING, once per transaction block, that a rollback cannot take back what Dune wrote.
pub fn warn_once_per_transaction(target: &str, what: &str) {
    // SAFETY: reads the backend's transaction state.
    if !unsafe { pg_sys::IsTransactionBlock() } || WARNED.swap(true, Ordering::Relaxed) {
        return;
    }
    for event in [
        pgrx::PgXactCallbackEvent::Commit,
        pgrx::PgXactCallbackEvent::Abort,
        pgrx::PgXactCallbackEvent::Prepare,
    ] {
        pgrx::register_xact_callback(event, || WARNED.store(false, Ordering::Relaxed));
    }
    pgrx::warning!(
        "{what} {target} happens on Dune as the statement runs: a ROLLBACK, or an error caught by a savepoint or an EXCEPTION block, will not undo it"
    );
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
        let remote = dune_columns(&config, &target);
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
            columns.push(target_of(table, i, c, remote.as_deref())?);
        }
        let batch_bytes = match table.options.insert_batch_bytes {
            Some(n) => n,
            None => crate::backend::options::insert_batch_bytes(&table.server.options)?,
        } as usize;
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
    unsafe fn push(&mut self, slot: *mut pg_sys::TupleTableSlot) -> FdwResult<()> {
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
                unsafe { write_value(w, c, datum) }
                    .map_err(|(problem, value)| (c, problem, value))?;
            }
            Ok::<(), (&Target, String, String)>(())
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
    fn finish(&mut self) -> FdwResult<()> {
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

/// The Dune table of a table that may be written, or the error saying why it may not.
pub fn writable(table: &Table) -> FdwResult<TableName> {
    table.options.dune_table.clone().ok_or_else(|| FdwError::Unsupported {
        message: format!("foreign table \"{}\" reads a Dune query result, which cannot be written", table.name),
        hint: "Only a foreign table with the option dune_table (an uploaded Dune table) takes INSERT, COPY and TRUNCATE: CREATE FOREIGN TABLE ... SERVER dune OPTIONS (dune_table 'my_team.labels').".into(),
    })
}

/// A float's shortest text, with PostgreSQL's spellings of the values JSON has no number for.
fn float_text(v: f64, shortest: String) -> String {
    match v {
        v if v.is_nan() => "NaN".into(),
        f64::INFINITY => "Infinity".into(),
        f64::NEG_INFINITY => "-Infinity".into(),
        _ => shortest,
    }
}

/// How a time Dune cannot hold is shown: `infinity`, `-infinity`, or its era.
fn out_of_range_text(infinity: bool, minus_infinity: bool) -> String {
    match (infinity, minus_infinity) {
        (true, _) => "infinity".into(),
        (_, true) => "-infinity".into(),
        _ => "a time outside the years 1 to 9999".into(),
    }
}

/// Writes one non-null datum of column `c`; Err((problem, value text)) when Dune's type
/// cannot hold it.
///
/// # Safety
/// `datum` is a non-null value of the column's type, valid in the current memory context.
unsafe fn write_value(
    w: &mut RowWriter,
    c: &Target,
    datum: pg_sys::Datum,
) -> Result<(), (String, String)> {
    let key = c.key.as_str();
    let show = |s: String| pg_format::shorten(&s);
    // SAFETY: per this function's contract, each arm reads the datum as its type.
    unsafe {
        match c.read {
            Read::Bool => {
                w.boolean(key, datum.value() != 0);
                Ok(())
            }
            Read::Int2 | Read::Int4 | Read::Int8 => {
                let v = match c.read {
                    Read::Int2 => datum.value() as i16 as i64,
                    Read::Int4 => datum.value() as i32 as i64,
                    _ => datum.value() as i64,
                };
                w.integer(key, v, c.dune).map_err(|p| (p, v.to_string()))
            }
            Read::Float4 => {
                let v = f32::from_bits(datum.value() as u32);
                let text = float_text(v as f64, format!("{v:?}"));
                w.float(key, v as f64, &text).map_err(|p| (p, text))
            }
            Read::Float8 => {
                let v = f64::from_bits(datum.value() as u64);
                let text = float_text(v, format!("{v:?}"));
                w.float(key, v, &text).map_err(|p| (p, text))
            }
            Read::Bytea => {
                let bytes = <&[u8]>::from_datum(datum, false).unwrap_or_default();
                w.bytes(key, bytes);
                Ok(())
            }
            Read::Timestamp => {
                let v = datum.value() as i64;
                w.timestamp(key, v)
                    .map_err(|p| (p, out_of_range_text(v == i64::MAX, v == i64::MIN)))
            }
            Read::Date => {
                let v = datum.value() as i32;
                w.date(key, v, c.dune)
                    .map_err(|p| (p, out_of_range_text(v == i32::MAX, v == i32::MIN)))
            }
            Read::Text => {
                let text = <&str>::from_datum(datum, false).unwrap_or_default();
                w.text(key, text);
                Ok(())
            }
            Read::Output(f) => {
                let text =
                    CStr::from_ptr(pg_sys::OidOutputFunctionCall(f, datum)).to_string_lossy();
                match c.dune {
                    UploadType::Varchar => {
                        w.text(key, &text);
                        Ok(())
                    }
                    t => w
                        .numeric(key, &text, t)
                        .map_err(|p| (p, show(text.into_owned()))),
                }
            }
        }
    }
}

/// IsForeignRelUpdatable: INSERT for a table with `dune_table` (information_schema shows it
/// insertable); nothing for a table of query results.
#[pg_guard]
pub extern "C-unwind" fn is_foreign_rel_updatable(rel: pg_sys::Relation) -> c_int {
    // SAFETY: the relation is open; Table::load reads its catalog entries.
    let relid = unsafe { (*rel).rd_id };
    match Table::load(relid) {
        Ok(t) if t.options.dune_table.is_some() => 1 << pg_sys::CmdType::CMD_INSERT,
        _ => 0,
    }
}

/// PlanForeignModify: INSERT into a Dune table plans nothing; UPDATE, DELETE, ON CONFLICT,
/// and writes to query results are refused here, before anything runs.
#[pg_guard]
pub extern "C-unwind" fn plan_foreign_modify(
    root: *mut pg_sys::PlannerInfo,
    plan: *mut pg_sys::ModifyTable,
    result_relation: pg_sys::Index,
    _subplan_index: c_int,
) -> *mut pg_sys::List {
    // SAFETY: the planner passes its own PlannerInfo and ModifyTable; the range table entry of
    // the result relation is a foreign table the planner holds a lock on.
    unsafe {
        let rte = pg_sys::planner_rt_fetch(result_relation, root);
        let table = Table::load((*rte).relid).or_raise();
        let target = writable(&table).or_raise();
        let op = (*plan).operation;
        if op != pg_sys::CmdType::CMD_INSERT {
            let verb = if op == pg_sys::CmdType::CMD_UPDATE {
                "UPDATE"
            } else {
                "DELETE"
            };
            FdwError::Unsupported {
                message: format!("{verb} is not possible on foreign table \"{}\": Dune's uploaded tables only take appended rows and clears", table.name),
                hint: format!("INSERT appends rows to {target}; TRUNCATE {} clears it (then insert what should stay).", table.name),
            }
            .raise()
        }
        if (*plan).onConflictAction != pg_sys::OnConflictAction::ONCONFLICT_NONE {
            FdwError::Unsupported {
                message: format!("INSERT ... ON CONFLICT is not possible on foreign table \"{}\": a Dune table has no unique keys", table.name),
                hint: "Insert only the new rows (WHERE NOT EXISTS over the foreign table), or TRUNCATE and insert everything.".into(),
            }
            .raise()
        }
        std::ptr::null_mut()
    }
}

/// The role whose user mapping a modify uses (the table's checkAsUser, else the current user).
fn role_of(rinfo: *mut pg_sys::ResultRelInfo, estate: *mut pg_sys::EState) -> pg_sys::Oid {
    // SAFETY: ExecGetResultRelCheckAsUser reads the estate's range table for this result relation.
    #[cfg(not(any(feature = "pg13", feature = "pg14", feature = "pg15")))]
    let role = unsafe { pg_sys::ExecGetResultRelCheckAsUser(rinfo, estate) };
    #[cfg(any(feature = "pg13", feature = "pg14", feature = "pg15"))]
    let role = {
        // SAFETY: a partition that rows are routed to has no range table entry of its own
        // (index 0 from PostgreSQL 14 on): its root's entry says whose rights apply.
        let index = unsafe {
            let own = (*rinfo).ri_RangeTableIndex;
            #[cfg(not(feature = "pg13"))]
            let own = if own == 0 && !(*rinfo).ri_RootResultRelInfo.is_null() {
                (*(*rinfo).ri_RootResultRelInfo).ri_RangeTableIndex
            } else {
                own
            };
            own
        };
        if index == 0 {
            // SAFETY: plain getter.
            return unsafe { pg_sys::GetUserId() };
        }
        // SAFETY: the result relation's range table index is valid in this estate.
        let rte = unsafe { pg_sys::exec_rt_fetch(index, estate) };
        // SAFETY: a range table entry of the running statement.
        unsafe { (*rte).checkAsUser }
    };
    if role == pg_sys::InvalidOid {
        // SAFETY: plain getter.
        unsafe { pg_sys::GetUserId() }
    } else {
        role
    }
}

/// Starts an insert: the state goes to `ri_FdwState`, in the query's memory (dropped with it,
/// on errors too).
unsafe fn begin(rinfo: *mut pg_sys::ResultRelInfo, estate: *mut pg_sys::EState) {
    // SAFETY: the executor passes an open result relation of a foreign table and its estate;
    // CurrentMemoryContext is the query's context while it begins a node.
    unsafe {
        let relid = (*(*rinfo).ri_RelationDesc).rd_id;
        let table = Table::load(relid).or_raise();
        let inserter = Inserter::new(&table, role_of(rinfo, estate)).or_raise();
        warn_once_per_transaction(&inserter.target.to_string(), "writing rows to");
        let ptr = PgMemoryContexts::For((*estate).es_query_cxt).leak_and_drop_on_delete(inserter);
        (*rinfo).ri_FdwState = ptr as *mut c_void;
    }
}

/// BeginForeignModify (INSERT; nothing for EXPLAIN without ANALYZE).
#[pg_guard]
pub extern "C-unwind" fn begin_foreign_modify(
    mtstate: *mut pg_sys::ModifyTableState,
    rinfo: *mut pg_sys::ResultRelInfo,
    _fdw_private: *mut pg_sys::List,
    _subplan_index: c_int,
    eflags: c_int,
) {
    if eflags & pg_sys::EXEC_FLAG_EXPLAIN_ONLY as c_int != 0 {
        return;
    }
    // SAFETY: the ModifyTableState of the running statement.
    unsafe { begin(rinfo, (*mtstate).ps.state) }
}

/// BeginForeignInsert: COPY FROM and rows routed to a foreign partition (an INSERT ... ON
/// CONFLICT routed there is refused: PlanForeignModify never sees it).
#[pg_guard]
pub extern "C-unwind" fn begin_foreign_insert(
    mtstate: *mut pg_sys::ModifyTableState,
    rinfo: *mut pg_sys::ResultRelInfo,
) {
    // SAFETY: the ModifyTableState of the running statement (COPY makes one too, without a
    // plan).
    unsafe {
        let plan = (*mtstate).ps.plan as *mut pg_sys::ModifyTable;
        if !plan.is_null() && (*plan).onConflictAction != pg_sys::OnConflictAction::ONCONFLICT_NONE
        {
            FdwError::Unsupported {
                message: "INSERT ... ON CONFLICT is not possible into a Dune table (here a partition the rows are routed to): a Dune table has no unique keys".into(),
                hint: "Insert only the new rows (WHERE NOT EXISTS), or TRUNCATE and insert everything.".into(),
            }
            .raise()
        }
        begin(rinfo, (*mtstate).ps.state)
    }
}

/// ExecForeignInsert: adds the row to the batch; returns the slot (RETURNING sees the row as
/// given).
#[pg_guard]
pub extern "C-unwind" fn exec_foreign_insert(
    estate: *mut pg_sys::EState,
    rinfo: *mut pg_sys::ResultRelInfo,
    slot: *mut pg_sys::TupleTableSlot,
    _plan_slot: *mut pg_sys::TupleTableSlot,
) -> *mut pg_sys::TupleTableSlot {
    // SAFETY: ri_FdwState was set by begin(); the slot belongs to the result relation; the
    // per-tuple memory context is reset by the executor (ModifyTable, COPY) for every row, so
    // detoasted values and output-function text live only as long as the row.
    unsafe {
        let state = &mut *((*rinfo).ri_FdwState as *mut Inserter);
        pg_sys::slot_getallattrs(slot);
        if (*estate).es_per_tuple_exprcontext.is_null() {
            pg_sys::MakePerTupleExprContext(estate);
        }
        let rows = (*(*estate).es_per_tuple_exprcontext).ecxt_per_tuple_memory;
        PgMemoryContexts::For(rows)
            .switch_to(|_| state.push(slot))
            .or_raise();
        slot
    }
}

/// EndForeignModify / EndForeignInsert: sends the last batch and waits for every answer.
#[pg_guard]
pub extern "C-unwind" fn end_foreign_modify(
    _estate: *mut pg_sys::EState,
    rinfo: *mut pg_sys::ResultRelInfo,
) {
    // SAFETY: ri_FdwState is NULL (EXPLAIN only) or the Inserter set by begin().
    unsafe {
        if let Some(state) = ((*rinfo).ri_FdwState as *mut Inserter).as_mut() {
            state.finish().or_raise();
        }
    }
}

/// ExecForeignTruncate: clears each table on Dune, after checking that every one is a Dune
/// table (a table of query results cannot be cleared).
#[cfg(not(feature = "pg13"))]
#[pg_guard]
pub extern "C-unwind" fn exec_foreign_truncate(
    rels: *mut pg_sys::List,
    _behavior: pg_sys::DropBehavior::Type,
    _restart_seqs: bool,
) {
    // SAFETY: rels is the list of open foreign relations of this server being truncated.
    let relids: Vec<pg_sys::Oid> = unsafe {
        PgList::<pg_sys::RelationData>::from_pg(rels)
            .iter_ptr()
            .map(|r| (*r).rd_id)
            .collect()
    };
    let tables: Vec<(Table, TableName)> = relids
        .into_iter()
        .map(|relid| {
            let table = Table::load(relid)?;
            let target = writable(&table)?;
            Ok((table, target))
        })
        .collect::<FdwResult<_>>()
        .or_raise();
    let mut cleared: Vec<String> = Vec::new();
    for (table, target) in tables {
        // SAFETY: plain getter.
        let role = unsafe { pg_sys::GetUserId() };
        warn_once_per_transaction(&target.to_string(), "clearing");
        let name = target.clone();
        let done =
            connection::config_for(&table.server, role, false).and_then(
                |config| match blocking::run(config, move |c| c.clear_table(&name)) {
                    Err(FdwError::Api(dune_api::Error::Forbidden(message))) => {
                        Err(FdwError::WriteForbidden {
                            message,
                            server: table.server.name.clone(),
                        })
                    }
                    other => other,
                },
            );
        if let Err(e) = done {
            if !cleared.is_empty() {
                pgrx::warning!(
                    "TRUNCATE cleared {} on Dune before it failed on {target}",
                    cleared.join(", ")
                );
            }
            e.raise()
        }
        cleared.push(target.to_string());
    }
}
