//! What every kind of scan's executor shares: the [`Executor`] trait the callbacks drive, the
//! [`ScanSetup`] each is given, and the recheck of local quals a final path needs.

use crate::backend::connection;
use crate::backend::error::FdwResult;
use crate::fdw::convert::Attr;
use crate::fdw::scan_plan::ScanPlan;
use crate::fdw::table::{Column, Table};
use dune_api::{ClientConfig, ParamValue};
use pgrx::pg_sys;

/// What every executor is given: the client settings and one Attr per attribute of its rows.
pub struct ScanSetup {
    pub config: ClientConfig,
    pub attrs: Vec<Attr>,
}

/// A way of executing a scan of one kind.
pub trait Executor {
    /// Starts reading with these parameter values, at the first row asked for after begin or
    /// a rescan.
    fn start(&mut self, values: &[ParamValue]) -> FdwResult<()>;
    /// Fills `slot` with the next row and returns true, or returns false at the end.
    ///
    /// # Safety
    /// `node` is the scan being executed and `slot` its scan slot, cleared, with the
    /// scan's descriptor.
    unsafe fn fill(
        &mut self,
        node: *mut pg_sys::ForeignScanState,
        slot: *mut pg_sys::TupleTableSlot,
    ) -> bool;
    /// Forgets what was read (a rescan), stopping the helper thread; keeps what a rescan must
    /// reuse (the execution a scan started).
    fn reset(&mut self);
}

/// Whether the row in `slot` satisfies the scan's local quals, as ExecScan will check them (a
/// final path whose filters Dune refused applies its LIMIT and OFFSET to matching rows only).
///
/// # Safety
/// `node` is the scan being executed and `slot` holds one of its rows.
pub unsafe fn quals_hold(
    node: *mut pg_sys::ForeignScanState,
    slot: *mut pg_sys::TupleTableSlot,
) -> bool {
    // SAFETY: what ExecQual does (an inline function, not exported): the qual ExprState built
    // by ExecInitNode for this node, evaluated in the per-tuple memory of its own context.
    unsafe {
        let qual = (*node).ss.ps.qual;
        if qual.is_null() {
            return true;
        }
        let econtext = (*node).ss.ps.ps_ExprContext;
        (*econtext).ecxt_scantuple = slot;
        let old = pg_sys::MemoryContextSwitchTo((*econtext).ecxt_per_tuple_memory);
        let mut isnull = false;
        let eval = (*qual).evalfunc.expect("an initialised ExprState");
        let result = eval(qual, econtext, &mut isnull);
        pg_sys::MemoryContextSwitchTo(old);
        !isnull && result.value() != 0
    }
}

/// What an executor of `plan` over `table` needs, reading as `role`: the client settings
/// (the plan's settings over the server's) and one Attr per attribute of its rows.
pub fn setup_for(table: &Table, plan: &ScanPlan, role: pg_sys::Oid) -> FdwResult<ScanSetup> {
    let mut config = connection::config_for(&table.server, role, false)?;
    let settings = plan.settings();
    config.page_size = settings.fetch_size;
    config.fetch_concurrency = settings.fetch_concurrency as usize;
    config.ignore_max_datapoints = settings.ignore_max_datapoints;
    let latest = table.is_latest_results();
    let outputs = match plan {
        ScanPlan::Statement(s) => s.outputs.as_deref(),
        _ => None,
    };
    let attrs = match outputs {
        // a joined or grouped scan's rows are its outputs c1, c2, … (fdw_scan_tlist)
        Some(outputs) => outputs
            .iter()
            .enumerate()
            .map(|(i, &(type_oid, typmod))| {
                let name = format!("c{}", i + 1);
                let col = Column {
                    name: name.clone(),
                    remote: name,
                    type_oid: pg_sys::Oid::from(type_oid),
                    typmod,
                    dune: None,
                    deterministic: true,
                    param: None,
                };
                Attr::new(&col, false)
            })
            .collect(),
        None => table
            .columns
            .iter()
            .map(|c| {
                c.as_ref()
                    .map_or_else(Attr::dropped, |c| Attr::new(c, latest))
            })
            .collect(),
    };
    Ok(ScanSetup { config, attrs })
}
