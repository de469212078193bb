//! The plan nodes and paths dune_fdw makes: the ForeignScan carrying its [`ScanPlan`] as JSON,
//! its fdw_scan_tlist, and one constructor for the three kinds of foreign path, with the
//! PostgreSQL-version differences of their signatures written once.

use crate::fdw::scan_plan::ScanPlan;
use pgrx::{PgList, pg_sys};
use std::ffi::{CStr, CString, c_void};

/// Which foreign path to make.
pub(crate) enum PathKind {
    /// A scan of a base relation, parameterized by `required_outer` (NULL: not).
    Scan(*mut pg_sys::Bitmapset),
    /// A join run on Dune.
    Join,
    /// An upper relation (a grouping, the final stage) run on Dune.
    Upper,
}

/// Calls one of PostgreSQL's foreign path constructors: 13 to 16 take the same arguments, 17
/// adds `fdw_restrictinfo` before `fdw_private`, 18 adds `disabled_nodes` after the row count.
macro_rules! versioned_path {
    ($f:ident, $root:expr, $rel:expr, $target:expr, $rows:expr, $startup:expr, $total:expr,
     $keys:expr $(, $outer:expr)?; $private:expr) => {{
        let null = std::ptr::null_mut();
        #[cfg(any(feature = "pg13", feature = "pg14", feature = "pg15", feature = "pg16"))]
        let path = pg_sys::$f(
            $root, $rel, $target, $rows, $startup, $total, $keys $(, $outer)?, null, $private,
        );
        #[cfg(feature = "pg17")]
        let path = pg_sys::$f(
            $root, $rel, $target, $rows, $startup, $total, $keys $(, $outer)?, null, null,
            $private,
        );
        #[cfg(feature = "pg18")]
        let path = pg_sys::$f(
            $root, $rel, $target, $rows, 0, $startup, $total, $keys $(, $outer)?, null, null,
            $private,
        );
        path as *mut pg_sys::Path
    }};
}

/// A foreign path of `rel` returning `rows` rows at (startup, total) cost, in the order of
/// `pathkeys`, with `private` as its fdw_private and `target` its output (NULL: the
/// relation's).
///
/// # Safety
/// Arguments of the planner being run, in its memory context.
pub(crate) unsafe fn foreign_path(
    root: *mut pg_sys::PlannerInfo,
    rel: *mut pg_sys::RelOptInfo,
    kind: PathKind,
    target: *mut pg_sys::PathTarget,
    rows: f64,
    (startup, total): (f64, f64),
    (pathkeys, private): (*mut pg_sys::List, *mut pg_sys::List),
) -> *mut pg_sys::Path {
    // SAFETY: as the function requires.
    unsafe {
        match kind {
            PathKind::Scan(outer) => versioned_path!(
                create_foreignscan_path, root, rel, target, rows, startup, total, pathkeys,
                outer; private
            ),
            PathKind::Join => versioned_path!(
                create_foreign_join_path, root, rel, target, rows, startup, total, pathkeys,
                std::ptr::null_mut(); private
            ),
            PathKind::Upper => versioned_path!(
                create_foreign_upper_path, root, rel, target, rows, startup, total, pathkeys;
                private
            ),
        }
    }
}

/// A path's fdw_private marking it as `what` (`final`, `group`) for GetForeignPlan.
///
/// # Safety
/// In the planner's memory context.
pub(crate) unsafe fn marker(what: &CStr) -> *mut pg_sys::List {
    // SAFETY: a String node and a list made in the current memory context.
    unsafe {
        let node = pg_sys::makeString(pg_sys::pstrdup(what.as_ptr()));
        pg_sys::lappend(std::ptr::null_mut(), node as *mut c_void)
    }
}

/// The ForeignScan node: `plan` as JSON in fdw_private, `exprs` (parameter expressions) as
/// fdw_exprs, `scan_tlist` as fdw_scan_tlist (a join's or grouping's outputs; NIL for a
/// table's), `scanrelid` 0 for a scan with no scan relation.
///
/// # Safety
/// Planner lists and nodes of the statement being planned.
pub(crate) unsafe fn make_scan(
    (tlist, local_quals): (*mut pg_sys::List, *mut pg_sys::List),
    scanrelid: pg_sys::Index,
    exprs: &[*mut pg_sys::Node],
    plan: &ScanPlan,
    scan_tlist: *mut pg_sys::List,
    outer_plan: *mut pg_sys::Plan,
) -> *mut pg_sys::ForeignScan {
    // SAFETY: as the function requires; the String node is copyable, so plans can be cached.
    unsafe {
        let json = CString::new(plan.to_json()).expect("JSON has no NUL");
        let private = pg_sys::lappend(
            std::ptr::null_mut(),
            pg_sys::makeString(pg_sys::pstrdup(json.as_ptr())) as *mut _,
        );
        let exprs = exprs.iter().fold(std::ptr::null_mut(), |l, p| {
            pg_sys::lappend(l, *p as *mut c_void)
        });
        pg_sys::make_foreignscan(
            tlist,
            local_quals,
            scanrelid,
            exprs,
            private,
            scan_tlist,
            std::ptr::null_mut(),
            outer_plan,
        )
    }
}

/// A target list of `exprs`, numbered from 1 (a ForeignScan's fdw_scan_tlist).
///
/// # Safety
/// `exprs` must be expression nodes of the plan being made.
pub(crate) unsafe fn target_list(exprs: &[*mut pg_sys::Node]) -> *mut pg_sys::List {
    // SAFETY: as the function requires; the list is made in the current memory context.
    unsafe {
        let mut list = std::ptr::null_mut();
        for (i, &e) in exprs.iter().enumerate() {
            let te = pg_sys::makeTargetEntry(
                e as *mut pg_sys::Expr,
                (i + 1) as i16,
                std::ptr::null_mut(),
                false,
            );
            list = pg_sys::lappend(list, te as *mut c_void);
        }
        list
    }
}

/// The plan a ForeignScan carries.
///
/// # Safety
/// `plan` must be a ForeignScan made by get_foreign_plan.
pub unsafe fn plan_of(plan: *mut pg_sys::ForeignScan) -> ScanPlan {
    // SAFETY: get_foreign_plan put one String node in fdw_private.
    unsafe {
        let private = PgList::<pg_sys::String>::from_pg((*plan).fdw_private);
        let node = private.head().expect("dune_fdw plans carry their state");
        ScanPlan::from_json(&CStr::from_ptr((*node).sval).to_string_lossy())
    }
}

/// The only base relation of the query, if dune_fdw plans it. Called from our own callbacks,
/// which PostgreSQL reaches only through the FdwRoutine of a relation it plans: with one base
/// relation, that relation is one of our foreign tables.
///
/// # Safety
/// The planner's root.
pub(crate) unsafe fn single_scan(
    root: *mut pg_sys::PlannerInfo,
) -> Option<*mut pg_sys::RelOptInfo> {
    // SAFETY: the planner's root; simple_rel_array is indexed by range-table index.
    unsafe {
        let all = (*root).all_baserels;
        if pg_sys::bms_membership(all) != pg_sys::BMS_Membership::BMS_SINGLETON {
            return None;
        }
        let rel = *(*root)
            .simple_rel_array
            .add(pg_sys::bms_singleton_member(all) as usize);
        let ours = !rel.is_null()
            && (*rel).reloptkind == pg_sys::RelOptKind::RELOPT_BASEREL
            && !(*rel).fdwroutine.is_null()
            && !(*rel).fdw_private.is_null();
        ours.then_some(rel)
    }
}
