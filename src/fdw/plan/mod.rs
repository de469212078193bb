//! Planning (GetForeignRelSize, GetForeignPaths, GetForeignJoinPaths, GetForeignUpperPaths,
//! GetForeignPlan): the callbacks, each dispatching on the kind of relation it is given. One
//! state per relation ([`rel_info::RelInfo`]) holds the request or statement as far as it is
//! known; a join's statement is built from its sides', a grouping's from its input's, and
//! GetForeignPlan only adds the path's order and rows.
//!
//! - `base.rs`: a scan of one table (quals, columns, size, paths, plan);
//! - `latest_results.rs`: the quals of `dune_latest_results`;
//! - `order_limit.rs`: ORDER BY, LIMIT/OFFSET and the final path;
//! - `parameterized.rs`: parameterized paths of result scans;
//! - `join.rs`, `grouping.rs`: joins and groupings run on Dune;
//! - `cost.rs`: costs and what the cache tells the planner;
//! - `node.rs`: plan nodes and the foreign path constructors.

pub mod base;
pub mod cost;
pub mod grouping;
pub mod join;
pub mod latest_results;
pub mod node;
pub mod order_limit;
pub mod parameterized;
pub mod rel_info;

use pgrx::pg_sys;
use pgrx::prelude::*;
use std::ffi::c_void;

#[pg_guard]
pub extern "C-unwind" fn get_foreign_rel_size(
    root: *mut pg_sys::PlannerInfo,
    baserel: *mut pg_sys::RelOptInfo,
    relid: pg_sys::Oid,
) {
    // SAFETY: the planner's root and rel for this foreign table.
    unsafe { base::size(root, baserel, relid) }
}

#[pg_guard]
pub extern "C-unwind" fn get_foreign_paths(
    root: *mut pg_sys::PlannerInfo,
    baserel: *mut pg_sys::RelOptInfo,
    _relid: pg_sys::Oid,
) {
    // SAFETY: the planner's root and rel, sized by get_foreign_rel_size.
    unsafe { base::add_paths(root, baserel) }
}

#[pg_guard]
pub extern "C-unwind" fn get_foreign_join_paths(
    root: *mut pg_sys::PlannerInfo,
    joinrel: *mut pg_sys::RelOptInfo,
    outerrel: *mut pg_sys::RelOptInfo,
    innerrel: *mut pg_sys::RelOptInfo,
    jointype: pg_sys::JoinType::Type,
    extra: *mut pg_sys::JoinPathExtraData,
) {
    // SAFETY: the planner's structures of GetForeignJoinPaths.
    unsafe { join::add_join_path(root, joinrel, (outerrel, innerrel), jointype, extra) }
}

#[pg_guard]
pub extern "C-unwind" fn get_foreign_upper_paths(
    root: *mut pg_sys::PlannerInfo,
    stage: pg_sys::UpperRelationKind::Type,
    input_rel: *mut pg_sys::RelOptInfo,
    output_rel: *mut pg_sys::RelOptInfo,
    extra: *mut c_void,
) {
    // SAFETY: the planner's structures at this stage; at the final stage, extra is its
    // FinalPathExtraData.
    unsafe {
        match stage {
            pg_sys::UpperRelationKind::UPPERREL_GROUP_AGG => {
                grouping::add_group_path(root, input_rel, output_rel)
            }
            pg_sys::UpperRelationKind::UPPERREL_ORDERED => {
                order_limit::add_grouped_order_path(root, input_rel, output_rel)
            }
            pg_sys::UpperRelationKind::UPPERREL_FINAL if !extra.is_null() => {
                let extra = extra as *mut pg_sys::FinalPathExtraData;
                order_limit::add_final_path(root, output_rel, extra);
                order_limit::add_grouped_final_path(root, input_rel, output_rel, extra)
            }
            _ => {}
        }
    }
}

#[pg_guard]
pub extern "C-unwind" fn get_foreign_plan(
    root: *mut pg_sys::PlannerInfo,
    rel: *mut pg_sys::RelOptInfo,
    _relid: pg_sys::Oid,
    best_path: *mut pg_sys::ForeignPath,
    tlist: *mut pg_sys::List,
    scan_clauses: *mut pg_sys::List,
    outer_plan: *mut pg_sys::Plan,
) -> *mut pg_sys::ForeignScan {
    // SAFETY: the planner's arguments for a path dune_fdw made for `rel`.
    unsafe {
        use pg_sys::RelOptKind::*;
        match (*rel).reloptkind {
            RELOPT_UPPER_REL | RELOPT_OTHER_UPPER_REL => grouping::plan(rel, tlist, outer_plan),
            RELOPT_JOINREL | RELOPT_OTHER_JOINREL => join::plan(rel, best_path, tlist, outer_plan),
            _ => base::plan(root, rel, best_path, (tlist, scan_clauses), outer_plan),
        }
    }
}
