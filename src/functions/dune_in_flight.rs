use crate::backend::in_flight;
use crate::functions::timestamp;
use pgrx::datum::TimestampWithTimeZone;
use pgrx::pg_sys;
use pgrx::prelude::*;

/// The Dune calls in flight in this PostgreSQL server, one row per execution followed or result
/// being read: which backend (join pg_stat_activity on pid for the statement), the execution,
/// its state and queue position, the rows read so far, and what the execution cost once Dune
/// says (`execution_cost_credits`, API reference §16). Other roles' calls are shown to
/// superusers and members of pg_read_all_stats only.
// The row type must be spelled out here for pgrx to name the SQL columns.
#[allow(clippy::type_complexity)]
#[pg_extern(volatile, parallel_safe)]
fn dune_in_flight() -> TableIterator<
    'static,
    (
        name!(pid, i32),
        name!(usename, Option<String>),
        name!(execution_id, Option<String>),
        name!(query_id, Option<i64>),
        name!(state, Option<String>),
        name!(queue_position, Option<i64>),
        name!(started_at, Option<TimestampWithTimeZone>),
        name!(state_since, Option<TimestampWithTimeZone>),
        name!(rows_read, i64),
        name!(pages_read, i64),
        name!(execution_cost_credits, Option<f64>),
    ),
> {
    // SAFETY: catalog and privilege lookups on the backend thread, inside a transaction.
    let (me, see_all) = unsafe {
        let me = pg_sys::GetUserId();
        let all = pg_sys::superuser()
            || pg_sys::has_privs_of_role(me, pg_sys::Oid::from(pg_sys::ROLE_PG_READ_ALL_STATS));
        (me, all)
    };
    let rows = in_flight::read_all(me.to_u32(), see_all);
    TableIterator::new(rows.into_iter().map(|(doc, c)| {
        // SAFETY: a syscache lookup; noerr = true returns NULL for a dropped role.
        let user = unsafe {
            let p = pg_sys::GetUserNameFromId(pg_sys::Oid::from(doc.role), true);
            (!p.is_null()).then(|| std::ffi::CStr::from_ptr(p).to_string_lossy().into_owned())
        };
        (
            doc.pid,
            user,
            c.execution_id,
            c.query_id.map(|q| q as i64),
            c.state,
            c.queue_position.map(|q| q as i64),
            timestamp(c.started_at),
            timestamp(c.state_since),
            c.rows_read as i64,
            c.pages_read as i64,
            c.cost_credits,
        )
    }))
}
