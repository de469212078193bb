//! Expressions DuneSQL computes with PostgreSQL's answer (postgres_fdw's `is_foreign_expr`,
//! with `pg_format::shippable` as its table): columns whose local value is Dune's, constants,
//! parameters, and the functions and operators of the table over them, with each session
//! setting an answer depends on made to agree (a timestamptz's calendar fields are taken at
//! the session's `TimeZone`, read when the scan starts). Conditions over such expressions are
//! sent exactly or not at all.

use super::ctx::{Ctx, builtin, family, list_nodes, op_name, op_of, stable_value, strip};
use crate::fdw::datum::datum_literal;
use dune_api::{Arith, DuneType, Expr, Func, Literal, Op, PValue};
use pg_format::{
    Compare, FIELDS, Family, Needs, Ship, Shipped, TRUNC_UNITS, assumed_dune_type, oid,
};
use pgrx::{PgList, pg_sys};
use std::ffi::CStr;

/// An expression DuneSQL computes with PostgreSQL's answer: its DuneSQL, its PostgreSQL type,
/// and the Dune type a value compared with it is written in.
pub struct Typed {
    pub expr: Expr<PValue>,
    pub ty: pg_sys::Oid,
    pub dune: Option<DuneType>,
}

fn typed(expr: Expr<PValue>, ty: pg_sys::Oid) -> Typed {
    Typed {
        expr,
        ty,
        dune: assumed_dune_type(ty.to_u32()),
    }
}

fn text(s: &str) -> Expr<PValue> {
    Expr::Value {
        value: PValue::Lit(Literal::Text(s.to_string())),
        ty: Some(DuneType::Varchar { length: None }),
    }
}

/// The non-NULL constant `node` is, with its type.
unsafe fn constant(node: *mut pg_sys::Node) -> Option<(pg_sys::Datum, pg_sys::Oid)> {
    // SAFETY: checked to be a Const before the cast.
    unsafe {
        let node = strip(node);
        if node.is_null() || (*node).type_ != pg_sys::NodeTag::T_Const {
            return None;
        }
        let c = node as *mut pg_sys::Const;
        (!(*c).constisnull).then(|| ((*c).constvalue, (*c).consttype))
    }
}

/// A constant's text (a unit, a field), lowercased.
unsafe fn constant_text(node: *mut pg_sys::Node) -> Option<String> {
    // SAFETY: a text constant's datum.
    unsafe {
        match constant(node)? {
            (d, t) if t == pg_sys::TEXTOID => match datum_literal(d, t)? {
                Literal::Text(s) => Some(s.to_ascii_lowercase()),
                _ => None,
            },
            _ => None,
        }
    }
}

/// A constant integer's value.
unsafe fn constant_int(node: *mut pg_sys::Node) -> Option<i64> {
    // SAFETY: an integer constant's datum.
    unsafe {
        match datum_literal(constant(node)?.0, constant(node)?.1)? {
            Literal::Number(n) => n.parse().ok(),
            _ => None,
        }
    }
}

/// The session's `TimeZone` as a value of the statement: `current_setting('TimeZone')`,
/// evaluated when the scan starts like any parameter (one per deparsing).
unsafe fn session_zone(ctx: &mut Ctx) -> Expr<PValue> {
    if ctx.zone.is_none() {
        // SAFETY: nodes made in the planner's memory context; current_setting(text) is a
        // stable built-in function.
        let call = unsafe {
            let name = pg_sys::cstring_to_text(c"TimeZone".as_ptr());
            let arg = pg_sys::makeConst(
                pg_sys::TEXTOID,
                -1,
                pg_sys::DEFAULT_COLLATION_OID,
                -1,
                pg_sys::Datum::from(name),
                false,
                false,
            );
            let args = pg_sys::lappend(std::ptr::null_mut(), arg.cast());
            pg_sys::makeFuncExpr(
                pg_sys::Oid::from(pg_sys::F_CURRENT_SETTING_TEXT),
                pg_sys::TEXTOID,
                args,
                pg_sys::InvalidOid,
                pg_sys::DEFAULT_COLLATION_OID,
                pg_sys::CoercionForm::COERCE_EXPLICIT_CALL,
            )
        };
        ctx.zone = Some(ctx.param(call.cast(), pg_sys::TEXTOID));
    }
    Expr::Value {
        value: ctx.zone.clone().expect("set above"),
        ty: Some(DuneType::Varchar { length: None }),
    }
}

/// `t` taken at the session's zone, when the call `needs` it.
unsafe fn zoned(ctx: &mut Ctx, t: Expr<PValue>, needs: Needs) -> Expr<PValue> {
    if needs != Needs::Zone {
        return t;
    }
    // SAFETY: the planner's memory context.
    let zone = unsafe { session_zone(ctx) };
    Expr::Call {
        func: Func::AtTimezone,
        args: vec![t, zone],
    }
}

/// Whether a call's collation maps case as Unicode does: the database's default collation,
/// whose ctype is not C or POSIX (where PostgreSQL maps ASCII letters only).
unsafe fn case_mapping(collation: pg_sys::Oid) -> bool {
    if collation != pg_sys::DEFAULT_COLLATION_OID {
        return false;
    }
    // SAFETY: reads a GUC's value, a NUL-terminated string owned by the GUC machinery.
    let ctype = unsafe {
        let v = pg_sys::GetConfigOption(c"lc_ctype".as_ptr(), false, false);
        if v.is_null() {
            return false;
        }
        CStr::from_ptr(v).to_string_lossy().into_owned()
    };
    !matches!(ctype.as_str(), "C" | "POSIX" | "")
}

/// `substr`'s start (≥ 1) and length (≥ 0), `replace`'s search (not empty), a double
/// division's divisor (not zero): constants within bounds.
unsafe fn constants_in_bounds(func: Option<Func>, args: &[*mut pg_sys::Node]) -> bool {
    // SAFETY: the call's argument nodes.
    unsafe {
        match func {
            Some(Func::Substr) => {
                constant_int(args[1]).is_some_and(|s| s >= 1)
                    && args
                        .get(2)
                        .is_none_or(|&n| constant_int(n).is_some_and(|l| l >= 0))
            }
            Some(Func::Replace) => constant_text(args[1]).is_some_and(|s| !s.is_empty()),
            _ => match constant(args[1]) {
                Some((d, t)) if t == pg_sys::FLOAT8OID => f64::from_bits(d.value() as u64) != 0.0,
                _ => false,
            },
        }
    }
}

/// The arguments as expressions, every one of them.
unsafe fn all(ctx: &mut Ctx, args: &[*mut pg_sys::Node]) -> Option<Vec<Typed>> {
    // SAFETY: the call's argument nodes.
    args.iter()
        .map(|&a| unsafe { expression(ctx, a) })
        .collect()
}

/// `date_trunc(unit, t)` and `extract(field from t)`: a constant unit or field, `t` at the
/// session's zone when it is a timestamptz (then the result back in UTC).
unsafe fn calendar(
    ctx: &mut Ctx,
    shipped: Shipped,
    args: &[*mut pg_sys::Node],
    result: pg_sys::Oid,
) -> Option<Typed> {
    // SAFETY: the call's argument nodes.
    unsafe {
        let unit = constant_text(args[0])?;
        let t = expression(ctx, args[1])?.expr;
        let t = zoned(ctx, t, shipped.needs);
        if shipped.ship == Ship::DateTrunc {
            if !TRUNC_UNITS.contains(&unit.as_str()) {
                return None;
            }
            let mut e = Expr::Call {
                func: Func::DateTrunc,
                args: vec![text(&unit), t],
            };
            if shipped.needs == Needs::Zone {
                e = Expr::Call {
                    func: Func::AtTimezone,
                    args: vec![e, text("UTC")],
                };
            }
            return Some(typed(e, result));
        }
        let func = FIELDS.iter().find(|(f, _)| *f == unit)?.1;
        let mut e = Expr::Call {
            func,
            args: vec![t],
        };
        if unit == "dow" {
            let seven = Expr::Value {
                value: PValue::Lit(Literal::Number("7".into())),
                ty: Some(DuneType::Bigint),
            };
            e = Expr::Arith {
                left: Box::new(e),
                op: Arith::Mod,
                right: Box::new(seven),
            };
        }
        Some(Typed {
            expr: e,
            ty: result,
            dune: Some(DuneType::Bigint),
        })
    }
}

/// A call of a function of the shippable table.
unsafe fn function(ctx: &mut Ctx, f: *mut pg_sys::FuncExpr) -> Option<Typed> {
    // SAFETY: the planner's FuncExpr; catalog lookups by oid.
    unsafe {
        if pg_sys::get_func_namespace((*f).funcid)
            != pg_sys::Oid::from(pg_sys::PG_CATALOG_NAMESPACE)
        {
            return None;
        }
        let name = CStr::from_ptr(pg_sys::get_func_name((*f).funcid))
            .to_str()
            .ok()?;
        let args = list_nodes((*f).args);
        let types: Vec<u32> = args.iter().map(|&a| pg_sys::exprType(a).to_u32()).collect();
        let shipped = pg_format::function(name, &types)?;
        let result = (*f).funcresulttype;
        match shipped.ship {
            Ship::DateTrunc | Ship::Extract => return calendar(ctx, shipped, &args, result),
            Ship::Widen => {
                let arg = expression(ctx, args[0])?;
                let e = match result {
                    pg_sys::FLOAT8OID => Expr::Cast {
                        expr: Box::new(arg.expr),
                        ty: DuneType::Double,
                    },
                    _ => arg.expr,
                };
                return Some(typed(e, result));
            }
            _ => {}
        }
        let Ship::Func(func) = shipped.ship else {
            return None;
        };
        let allowed = match shipped.needs {
            Needs::CaseMapping => case_mapping((*f).inputcollid),
            Needs::ConstantArguments => constants_in_bounds(Some(func), &args),
            _ => true,
        };
        if !allowed {
            return None;
        }
        let args = all(ctx, &args)?.into_iter().map(|a| a.expr).collect();
        Some(typed(Expr::Call { func, args }, result))
    }
}

/// An arithmetic or string operator of the shippable table.
unsafe fn operator(ctx: &mut Ctx, e: *mut pg_sys::OpExpr) -> Option<Typed> {
    // SAFETY: the planner's OpExpr; catalog lookups by oid.
    unsafe {
        if !builtin((*e).opno) {
            return None;
        }
        let name = op_name((*e).opno)?;
        let args = list_nodes((*e).args);
        let (left, right) = match args.as_slice() {
            [r] => (0, pg_sys::exprType(*r).to_u32()),
            [l, r] => (pg_sys::exprType(*l).to_u32(), pg_sys::exprType(*r).to_u32()),
            _ => return None,
        };
        let shipped = pg_format::operator(&name, left, right)?;
        if shipped.needs == Needs::ConstantArguments && !constants_in_bounds(None, &args) {
            return None;
        }
        let mut ops = all(ctx, &args)?.into_iter().map(|a| Box::new(a.expr));
        let e2 = match shipped.ship {
            Ship::Negate => Expr::Negate(ops.next()?),
            Ship::Arith(op) => Expr::Arith {
                left: ops.next()?,
                op,
                right: ops.next()?,
            },
            _ => return None,
        };
        Some(typed(e2, (*e).opresulttype))
    }
}

/// `CASE WHEN c THEN v … [ELSE e] END` (a simple `CASE x WHEN …` is not sent).
unsafe fn case(ctx: &mut Ctx, c: *mut pg_sys::CaseExpr) -> Option<Typed> {
    // SAFETY: the planner's CaseExpr; its whens are CaseWhen nodes.
    unsafe {
        if !(*c).arg.is_null() {
            return None;
        }
        let mut whens = Vec::new();
        for w in PgList::<pg_sys::CaseWhen>::from_pg((*c).args).iter_ptr() {
            let cond = condition(ctx, (*w).expr as *mut pg_sys::Node)?;
            let value = expression(ctx, (*w).result as *mut pg_sys::Node)?;
            whens.push((cond, value.expr));
        }
        let def = (*c).defresult as *mut pg_sys::Node;
        let null = |n: *mut pg_sys::Node| {
            let n = strip(n);
            n.is_null()
                || ((*n).type_ == pg_sys::NodeTag::T_Const
                    && (*(n as *mut pg_sys::Const)).constisnull)
        };
        let otherwise = match null(def) {
            true => None,
            false => Some(Box::new(expression(ctx, def)?.expr)),
        };
        Some(typed(Expr::Case { whens, otherwise }, (*c).casetype))
    }
}

/// `coalesce(a, b, …)` of arguments of one type.
unsafe fn coalesce(ctx: &mut Ctx, c: *mut pg_sys::CoalesceExpr) -> Option<Typed> {
    // SAFETY: the planner's CoalesceExpr.
    unsafe {
        let args = all(ctx, &list_nodes((*c).args))?;
        if args.iter().any(|a| a.ty != (*c).coalescetype) {
            return None;
        }
        let args = args.into_iter().map(|a| a.expr).collect();
        Some(typed(
            Expr::Call {
                func: Func::Coalesce,
                args,
            },
            (*c).coalescetype,
        ))
    }
}

/// A value: a constant, a parameter, or an expression without columns whose value cannot
/// change during the statement (evaluated once, when the scan starts).
unsafe fn value(ctx: &mut Ctx, node: *mut pg_sys::Node) -> Option<Typed> {
    // SAFETY: the planner's node.
    unsafe {
        let ty = pg_sys::exprType(node);
        if family(ty) == Family::Other {
            return None;
        }
        let v = match (*node).type_ {
            pg_sys::NodeTag::T_Const => {
                let (d, t) = constant(node)?;
                PValue::Lit(datum_literal(d, t)?)
            }
            pg_sys::NodeTag::T_Param => ctx.param(node, ty),
            _ if ctx.expressions && stable_value(node) => ctx.param(node, ty),
            _ => return None,
        };
        let dune = assumed_dune_type(ty.to_u32());
        Some(Typed {
            expr: Expr::Value {
                value: v,
                ty: dune.clone(),
            },
            ty,
            dune,
        })
    }
}

/// `node` as an expression DuneSQL computes with PostgreSQL's answer, if it is one.
///
/// # Safety
/// `node` must be NULL or a valid expression node of the planner.
pub unsafe fn expression(ctx: &mut Ctx, node: *mut pg_sys::Node) -> Option<Typed> {
    // SAFETY: every cast follows a node tag check.
    unsafe {
        let node = strip(node);
        if node.is_null() {
            return None;
        }
        if let Some((rel, col)) = ctx.column_ref(node) {
            // a column whose local value is Dune's value
            if !matches!(col.rule().compare, Compare::Exact { .. }) {
                return None;
            }
            return Some(Typed {
                expr: Expr::column(rel, &col.remote),
                ty: col.type_oid,
                dune: col.literal_type(),
            });
        }
        match (*node).type_ {
            pg_sys::NodeTag::T_Var => None,
            pg_sys::NodeTag::T_FuncExpr => function(ctx, node.cast()),
            pg_sys::NodeTag::T_OpExpr if pg_sys::exprType(node) != pg_sys::BOOLOID => {
                operator(ctx, node.cast())
            }
            pg_sys::NodeTag::T_CaseExpr => case(ctx, node.cast()),
            pg_sys::NodeTag::T_CoalesceExpr => coalesce(ctx, node.cast()),
            _ if pg_sys::exprType(node) == pg_sys::BOOLOID && !stable_value(node) => {
                condition(ctx, node).map(|e| typed(e, pg_sys::BOOLOID))
            }
            _ => value(ctx, node),
        }
    }
}

/// Whether `l op r` compares as PostgreSQL compares: the same kind of type on both sides
/// (numbers of the integer or double types, a date or timestamp type with itself, text,
/// bytea and booleans for equality only; text under a collation that compares equal only what
/// is equal).
unsafe fn comparable(lt: &Typed, rt: &Typed, op: Op, collation: pg_sys::Oid) -> bool {
    // integers and doubles; a numeric only as a value (a constant, a parameter: compared
    // exactly as a decimal on both sides) or as a whole number DuneSQL computes as a bigint
    // (`extract`)
    let number = |t: &Typed| {
        [oid::INT2, oid::INT4, oid::INT8, oid::FLOAT8].contains(&t.ty.to_u32())
            || (t.ty == pg_sys::NUMERICOID
                && (matches!(t.expr, Expr::Value { .. }) || t.dune == Some(DuneType::Bigint)))
    };
    let (l, r) = (lt.ty, rt.ty);
    let equality = matches!(op, Op::Eq | Op::Ne);
    match (family(l), family(r)) {
        (Family::Number, Family::Number) => number(lt) && number(rt),
        (Family::Text, Family::Text) => {
            // SAFETY: a catalog lookup by oid.
            equality
                && (collation == pg_sys::InvalidOid
                    || unsafe { pg_sys::get_collation_isdeterministic(collation) })
        }
        (Family::Bool | Family::Bytes, _) => equality && l == r,
        (Family::Date | Family::Timestamp | Family::TimestampTz, _) => l == r,
        _ => false,
    }
}

/// `l op r` with both sides expressions.
unsafe fn comparison(ctx: &mut Ctx, e: *mut pg_sys::OpExpr) -> Option<Expr<PValue>> {
    // SAFETY: the planner's OpExpr.
    unsafe {
        let args = list_nodes((*e).args);
        if args.len() != 2 || !builtin((*e).opno) {
            return None;
        }
        let op = op_of(&op_name((*e).opno)?)?;
        let (mut l, mut r) = (expression(ctx, args[0])?, expression(ctx, args[1])?);
        if !comparable(&l, &r, op, (*e).inputcollid) {
            return None;
        }
        // a value is written in the type of what it is compared with
        let (ld, rd) = (l.dune.clone(), r.dune.clone());
        for (v, other) in [(&mut l, rd), (&mut r, ld)] {
            if let Expr::Value { ty, .. } = &mut v.expr {
                *ty = other;
            }
        }
        Some(Expr::compare(l.expr, op, r.expr))
    }
}

/// `expression IN (constants)` (`= ANY('{…}')`), NULL elements left out.
unsafe fn in_list(ctx: &mut Ctx, e: *mut pg_sys::ScalarArrayOpExpr) -> Option<Expr<PValue>> {
    // SAFETY: the planner's ScalarArrayOpExpr; its array a constant (checked).
    unsafe {
        let args = list_nodes((*e).args);
        if !(*e).useOr || args.len() != 2 || !builtin((*e).opno) || op_name((*e).opno)? != "=" {
            return None;
        }
        let x = expression(ctx, args[0])?;
        let (array, array_type) = constant(args[1])?;
        let (elem, datums) = crate::fdw::datum::array_datum_elements(array, array_type);
        let element = Typed {
            expr: Expr::Value {
                value: PValue::Lit(Literal::Bool(true)),
                ty: None,
            },
            ty: elem,
            dune: None,
        };
        if !comparable(&x, &element, Op::Eq, (*e).inputcollid) || datums.is_empty() {
            return None;
        }
        let values = datums
            .into_iter()
            .map(|d| datum_literal(d, elem).map(PValue::Lit))
            .collect::<Option<Vec<_>>>()?;
        Some(Expr::In {
            expr: Box::new(x.expr),
            values,
            ty: x.dune,
        })
    }
}

/// A boolean expression DuneSQL evaluates exactly as PostgreSQL does, if it is one: AND, OR
/// and NOT of comparisons of expressions, IS [NOT] NULL, IS [NOT] DISTINCT FROM, and `IN`
/// lists of constants.
///
/// # Safety
/// `node` must be a valid boolean expression node of the planner.
pub unsafe fn condition(ctx: &mut Ctx, node: *mut pg_sys::Node) -> Option<Expr<PValue>> {
    // SAFETY: every cast follows a node tag check.
    unsafe {
        let node = strip(node);
        match (*node).type_ {
            pg_sys::NodeTag::T_BoolExpr => {
                let b = node as *mut pg_sys::BoolExpr;
                let expressions = ctx.expressions;
                ctx.expressions = false;
                let parts: Option<Vec<_>> = list_nodes((*b).args)
                    .into_iter()
                    .map(|a| condition(ctx, a))
                    .collect();
                ctx.expressions = expressions;
                let mut parts = parts?;
                Some(match (*b).boolop {
                    pg_sys::BoolExprType::AND_EXPR => Expr::And(parts),
                    pg_sys::BoolExprType::OR_EXPR => Expr::Or(parts),
                    _ => Expr::Not(Box::new(parts.pop()?)),
                })
            }
            pg_sys::NodeTag::T_OpExpr => comparison(ctx, node.cast()),
            pg_sys::NodeTag::T_DistinctExpr => {
                let e = comparison(ctx, node.cast())?;
                let Expr::Compare {
                    left,
                    op: Op::Eq,
                    right,
                } = e
                else {
                    return None;
                };
                Some(Expr::Distinct {
                    left,
                    right,
                    negated: false,
                })
            }
            pg_sys::NodeTag::T_ScalarArrayOpExpr => in_list(ctx, node.cast()),
            pg_sys::NodeTag::T_NullTest => {
                let t = node as *mut pg_sys::NullTest;
                if (*t).argisrow {
                    return None;
                }
                let arg = expression(ctx, (*t).arg.cast())?;
                let negated = (*t).nulltesttype == pg_sys::NullTestType::IS_NOT_NULL;
                Some(Expr::is_null(arg.expr, negated))
            }
            _ if pg_sys::exprType(node) == pg_sys::BOOLOID => {
                // a boolean column or value: `x = true`
                let t = match (*node).type_ {
                    pg_sys::NodeTag::T_Var => expression(ctx, node)?,
                    _ => value(ctx, node)?,
                };
                let yes = Expr::Value {
                    value: PValue::Lit(Literal::Bool(true)),
                    ty: Some(DuneType::Boolean),
                };
                Some(Expr::compare(t.expr, Op::Eq, yes))
            }
            _ => None,
        }
    }
}
