//! Writing to an upload (a foreign table with option `dune_table`): INSERT and COPY FROM
//! append rows through `POST /v1/uploads/{ns}/{table}/insert` (API reference §9) as NDJSON, in
//! batches of `insert_batch_bytes` (`inserter.rs`, values by `encode.rs`); TRUNCATE clears the
//! table. UPDATE and DELETE are refused: Dune's uploaded tables only append and clear.

mod encode;
mod inserter;

use crate::backend::blocking;
use crate::backend::connection;
use crate::backend::error::{FdwError, FdwResult, OrRaise};
use crate::fdw::dune_table::{dune_table_name, writable};
use crate::fdw::table::Table;
use dune_api::TableName;
use inserter::Inserter;
use pgrx::prelude::*;
use pgrx::{PgList, PgMemoryContexts, pg_sys};
use std::ffi::{c_int, c_void};
use std::sync::atomic::{AtomicBool, Ordering};

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

/// IsForeignRelUpdatable: INSERT for a table with `dune_table` (information_schema shows it
/// insertable); nothing for a table of query results.
#[pg_guard]
pub extern "C-unwind" fn is_foreign_rel_updatable(rel: pg_sys::Relation) -> c_int {
    // SAFETY: the relation is open; Table::load reads its catalog entries.
    let relid = unsafe { (*rel).rd_id };
    match Table::load(relid) {
        Ok(t) if dune_table_name(&t).is_some() => 1 << pg_sys::CmdType::CMD_INSERT,
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
