//! Parameterized paths of a result scan (postgres_fdw's way): a join clause Dune can evaluate
//! with the outer side's value as a constant becomes a filter of the inner scan, the outer
//! values nestloop parameters in fdw_exprs, read once per outer key within
//! `max_reads_per_scan`. A join clause that gives a parameter column its value makes the
//! parameter set the outer side's. A Dune table's scan has none: each read would be an
//! execution.

use crate::fdw::deparse::{Ctx, QueryParam, clause, param_equality, strip};
use crate::fdw::table::Table;
use dune_api::{Expr, PValue};
use pgrx::{PgList, pg_sys};
use std::ffi::c_void;

/// Whether a join clause can be sent to Dune with its outer side as a parameter.
unsafe fn pushable_join_clause(
    baserel: *mut pg_sys::RelOptInfo,
    table: &Table,
    ri: *mut pg_sys::RestrictInfo,
) -> bool {
    // SAFETY: a RestrictInfo of the planner, over expression nodes.
    unsafe {
        if !pg_sys::join_clause_is_movable_to(ri, baserel) {
            return false;
        }
        let mut ctx = Ctx::new((*baserel).relid, table);
        ctx.outer = true;
        let node = (*ri).clause as *mut pg_sys::Node;
        (param_equality(&mut ctx, node).is_some() || clause(&mut ctx, node).is_some())
            && !ctx.params.is_empty()
    }
}

/// What an equivalence-class member must be for `generate_implied_equalities_for_column`: the
/// column (varno, attno) in `arg`.
unsafe extern "C-unwind" fn member_is_column(
    _root: *mut pg_sys::PlannerInfo,
    _rel: *mut pg_sys::RelOptInfo,
    _ec: *mut pg_sys::EquivalenceClass,
    em: *mut pg_sys::EquivalenceMember,
    arg: *mut c_void,
) -> bool {
    // SAFETY: arg is the (varno, attno) pair join_outers passes; em is the planner's member.
    unsafe {
        let (varno, attno) = *(arg as *const (u32, i16));
        let e = strip((*em).em_expr as *mut pg_sys::Node);
        if e.is_null() || (*e).type_ != pg_sys::NodeTag::T_Var {
            return false;
        }
        let v = e as *mut pg_sys::Var;
        (*v).varno as u32 == varno && (*v).varattno == attno && (*v).varlevelsup == 0
    }
}

/// The sets of outer relations a parameterized path of this scan may take its filter values
/// from: one per join clause (or equality implied by an equivalence class) that Dune can
/// evaluate with the outer value as a constant, as postgres_fdw's parameterized paths; and
/// whether a join clause gives a parameter column its value.
pub(crate) unsafe fn join_outers(
    root: *mut pg_sys::PlannerInfo,
    baserel: *mut pg_sys::RelOptInfo,
    table: &Table,
) -> JoinOuters {
    // SAFETY: the planner's structures, read and combined with its own functions.
    unsafe {
        let mut found = JoinOuters {
            outers: Vec::new(),
            params_from: std::ptr::null_mut(),
        };
        if table.is_latest_results() {
            return found;
        }
        let mut clauses: Vec<*mut pg_sys::RestrictInfo> =
            PgList::<pg_sys::RestrictInfo>::from_pg((*baserel).joininfo)
                .iter_ptr()
                .collect();
        if (*baserel).has_eclass_joins {
            for (attno, _) in table.live_columns_with_attno() {
                let mut arg = ((*baserel).relid, attno);
                let implied = pg_sys::generate_implied_equalities_for_column(
                    root,
                    baserel,
                    Some(member_is_column),
                    &mut arg as *mut (u32, i16) as *mut c_void,
                    (*baserel).lateral_referencers,
                );
                clauses.extend(PgList::<pg_sys::RestrictInfo>::from_pg(implied).iter_ptr());
            }
        }
        for ri in clauses {
            if !pushable_join_clause(baserel, table, ri) {
                continue;
            }
            let all = pg_sys::bms_union((*ri).clause_relids, (*baserel).lateral_relids);
            let outer = pg_sys::bms_difference(all, (*baserel).relids);
            let mut ctx = Ctx::new((*baserel).relid, table);
            ctx.outer = true;
            if param_equality(&mut ctx, (*ri).clause as *mut pg_sys::Node).is_some() {
                found.params_from = pg_sys::bms_union(found.params_from, outer);
            }
            found.add(outer);
        }
        // the path that takes every parameter column's value at once
        if !found.params_from.is_null() {
            found.add(found.params_from);
        }
        found
    }
}

/// The outer relations of the parameterized paths of a scan.
pub(crate) struct JoinOuters {
    /// One set of outer relations per path.
    pub(crate) outers: Vec<*mut pg_sys::Bitmapset>,
    /// The relations the parameter columns take their values from (NULL: none): a path that
    /// does not have them all would read another parameter set.
    params_from: *mut pg_sys::Bitmapset,
}

impl JoinOuters {
    unsafe fn add(&mut self, outer: *mut pg_sys::Bitmapset) {
        // SAFETY: planner bitmapsets.
        unsafe {
            if !pg_sys::bms_is_empty(outer)
                && !self.outers.iter().any(|&o| pg_sys::bms_equal(o, outer))
            {
                self.outers.push(outer);
            }
        }
    }

    /// Whether a path with these outer relations (NULL: none) ignores a parameter column's value.
    pub(crate) unsafe fn misses_params(&self, outer: *mut pg_sys::Bitmapset) -> bool {
        // SAFETY: planner bitmapsets.
        unsafe { !self.params_from.is_null() && !pg_sys::bms_is_subset(self.params_from, outer) }
    }
}

/// The filters and parameter values a parameterized path adds (its join clauses not among
/// the relation's own quals) (its join clauses, the outer
/// values as parameters).
pub(crate) unsafe fn join_filters(
    baserel: *mut pg_sys::RelOptInfo,
    (table, params): (&Table, &[*mut pg_sys::Node]),
    best_path: *mut pg_sys::ForeignPath,
    scan_clauses: *mut pg_sys::List,
) -> JoinQuals {
    // SAFETY: the planner's path and clauses; scan_clauses holds RestrictInfos.
    unsafe {
        let mut ctx = Ctx::new((*baserel).relid, table);
        ctx.params = params.to_vec();
        ctx.outer = true;
        let mut filters = Vec::new();
        let mut param_values = Vec::new();
        if !(*best_path).path.param_info.is_null() {
            for ri in PgList::<pg_sys::RestrictInfo>::from_pg(scan_clauses).iter_ptr() {
                if pg_sys::list_member_ptr((*baserel).baserestrictinfo, ri as *const c_void) {
                    continue;
                }
                let node = (*ri).clause as *mut pg_sys::Node;
                if let Some(p) = param_equality(&mut ctx, node) {
                    param_values.push(p);
                } else if let Some(p) = clause(&mut ctx, node) {
                    filters.push(p.filter);
                }
            }
        }
        JoinQuals {
            filters,
            param_values,
            exprs: ctx.params,
        }
    }
}

/// What GetForeignPlan adds for a parameterized path, and every parameter expression of the
/// scan (the relation's own first).
pub(crate) struct JoinQuals {
    pub(crate) filters: Vec<Expr<PValue>>,
    pub(crate) param_values: Vec<QueryParam>,
    pub(crate) exprs: Vec<*mut pg_sys::Node>,
}
