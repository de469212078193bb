//! The quals of `dune_latest_results`: `query_id = …` or `query_id IN (…)` names the queries
//! whose latest results are read, `params = …` the parameter set; nothing else is sent.

use crate::fdw::datum::output_text;
use crate::fdw::deparse::{Ctx, clause, strip};
use dune_api::{Expr, Literal, PValue};
use pg_format::Family;
use pgrx::{PgList, pg_sys};
use std::ffi::CStr;

/// `params = <constant or parameter>` on the latest-results table: the parameter set asked for.
unsafe fn latest_params_value(ctx: &mut Ctx, other: *mut pg_sys::Node) -> Option<PValue> {
    // SAFETY: casts follow node tag checks.
    unsafe {
        let other = strip(other);
        match (*other).type_ {
            pg_sys::NodeTag::T_Const if !(*(other as *mut pg_sys::Const)).constisnull => {
                let c = other as *mut pg_sys::Const;
                Some(PValue::Lit(Literal::Text(output_text(
                    (*c).consttype,
                    (*c).constvalue,
                ))))
            }
            pg_sys::NodeTag::T_Param => {
                ctx.params.push(other);
                Some(PValue::Param(ctx.params.len() - 1))
            }
            _ => None,
        }
    }
}

/// An equality on `query_id` or `params` of the latest-results table.
unsafe fn latest_equality(
    ctx: &mut Ctx,
    e: *mut pg_sys::OpExpr,
    query_ids: &mut Vec<PValue>,
    params: &mut Option<PValue>,
) -> bool {
    // SAFETY: an OpExpr whose args are expression nodes.
    unsafe {
        let args: Vec<*mut pg_sys::Node> = PgList::<pg_sys::Node>::from_pg((*e).args)
            .iter_ptr()
            .collect();
        let name = pg_sys::get_opname((*e).opno);
        if args.len() != 2 || name.is_null() || CStr::from_ptr(name).to_bytes() != b"=" {
            return false;
        }
        let Some(col) = ctx.column(args[0]).cloned() else {
            return false;
        };
        let found = match col.name.as_str() {
            "query_id" if query_ids.is_empty() => ctx.value(args[1], Family::Number).map(|v| {
                query_ids.push(v);
            }),
            "params" if params.is_none() => {
                latest_params_value(ctx, args[1]).map(|v| *params = Some(v))
            }
            _ => None,
        };
        found.is_some()
    }
}

/// The latest-results table's qual on `query_id` (= or IN) or `params` (=), if `node` is one.
pub(crate) unsafe fn latest_results_qual(
    ctx: &mut Ctx,
    node: *mut pg_sys::Node,
    query_ids: &mut Vec<PValue>,
    params: &mut Option<PValue>,
) -> bool {
    // SAFETY: casts follow node tag checks.
    unsafe {
        let node = strip(node);
        match (*node).type_ {
            pg_sys::NodeTag::T_OpExpr => {
                latest_equality(ctx, node as *mut pg_sys::OpExpr, query_ids, params)
            }
            pg_sys::NodeTag::T_ScalarArrayOpExpr if query_ids.is_empty() => {
                let mut scratch = Ctx::new(ctx.varno, ctx.table);
                match clause(&mut scratch, node).map(|p| p.filter) {
                    // constants only: a parameter of the scratch context would be lost
                    Some(Expr::In { expr, values, .. })
                        if scratch.params.is_empty()
                            && matches!(&*expr, Expr::Column(c) if ctx
                                .table
                                .named("query_id")
                                .is_some_and(|q| q.remote == c.name)) =>
                    {
                        *query_ids = values;
                        true
                    }
                    _ => false,
                }
            }
            _ => false,
        }
    }
}
