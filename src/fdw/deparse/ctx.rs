//! What deparsing reads and collects: the relations of the scan or statement, the
//! parameters found so far, and the helpers every deparser uses (values, casts stripped,
//! operators by name).

use crate::fdw::datum::datum_literal;
use crate::fdw::table::{Column, Table};
use dune_api::{Op, PValue};
use pg_format::{Family, type_rule};
use pgrx::pg_sys;
use std::ffi::CStr;

/// How values of `type_oid` compare on Dune (the type table of `pg_format`).
pub fn family(type_oid: pg_sys::Oid) -> Family {
    type_rule(type_oid.to_u32()).family
}

/// What deparsing needs: the relations read (the first the scanned one) and the parameters
/// collected so far.
pub struct Ctx<'a> {
    pub varno: u32,
    pub table: &'a Table,
    /// The other relations of a statement (a join's), after the first: (range-table index,
    /// table); a column of the n-th is relation n + 1 of the statement.
    pub more: Vec<(u32, &'a Table)>,
    /// Expressions may be written (a DuneSQL statement: functions and operators of
    /// `pg_format::shippable`), not only a column compared with a value (result filters).
    pub statement: bool,
    /// The session's `TimeZone`, once a timestamptz's calendar field needed it (a parameter:
    /// read when the scan starts).
    pub zone: Option<PValue>,
    /// Parameter expressions, to become the plan's fdw_exprs.
    pub params: Vec<*mut pg_sys::Node>,
    /// Columns of other relations count as parameters: the join clauses of a parameterized
    /// path, whose outer columns the executor supplies on each rescan (PostgreSQL turns them
    /// into nestloop parameters in fdw_exprs).
    pub outer: bool,
    /// Stable expressions may be sent as values (evaluated when the scan starts): not inside
    /// an OR, where PostgreSQL might never evaluate them (`x > 5 OR y = 10 / $1`).
    pub expressions: bool,
}

impl<'a> Ctx<'a> {
    /// Deparsing of the quals of relation `varno`, a scan of `table`.
    pub fn new(varno: u32, table: &'a Table) -> Ctx<'a> {
        Ctx {
            varno,
            table,
            more: Vec::new(),
            statement: false,
            zone: None,
            params: Vec::new(),
            outer: false,
            expressions: true,
        }
    }

    /// Deparsing over a statement's relations, (range-table index, table) in its order.
    pub fn over(relations: &[(u32, &'a Table)], params: Vec<*mut pg_sys::Node>) -> Ctx<'a> {
        let (varno, table) = relations[0];
        Ctx {
            more: relations[1..].to_vec(),
            statement: true,
            params,
            ..Ctx::new(varno, table)
        }
    }

    /// Whether `varno` is one of the relations read.
    fn ours(&self, varno: u32) -> bool {
        varno == self.varno || self.more.iter().any(|(v, _)| *v == varno)
    }
}

/// The node under any binary-compatible casts (RelabelType).
///
/// # Safety
/// `node` must be NULL or a valid expression node.
pub unsafe fn strip(mut node: *mut pg_sys::Node) -> *mut pg_sys::Node {
    // SAFETY: RelabelType's arg is an expression node.
    unsafe {
        while !node.is_null() && (*node).type_ == pg_sys::NodeTag::T_RelabelType {
            node = (*(node as *mut pg_sys::RelabelType)).arg as *mut pg_sys::Node;
        }
        node
    }
}

impl<'a> Ctx<'a> {
    /// The column `node` reads, if it is a plain column of the scanned relation.
    ///
    /// # Safety
    /// `node` must be NULL or a valid expression node.
    pub unsafe fn column(&self, node: *mut pg_sys::Node) -> Option<&'a Column> {
        // SAFETY: checked to be a Var before the cast.
        unsafe {
            let node = strip(node);
            if node.is_null() || (*node).type_ != pg_sys::NodeTag::T_Var {
                return None;
            }
            let var = node as *mut pg_sys::Var;
            if (*var).varno as u32 != self.varno || (*var).varlevelsup != 0 || (*var).varattno <= 0
            {
                return None;
            }
            // a parameter column is not a column of the result: nothing is filtered or sorted on it
            self.table
                .column((*var).varattno)
                .filter(|c| c.param.is_none())
        }
    }

    /// The relation (its index in the statement) and column `node` reads, if it is a plain
    /// column of one of the relations read.
    ///
    /// # Safety
    /// `node` must be NULL or a valid expression node.
    pub unsafe fn column_ref(&self, node: *mut pg_sys::Node) -> Option<(usize, &'a Column)> {
        // SAFETY: as the function requires; a Var (checked) of one of our relations.
        unsafe {
            if let Some(c) = self.column(node) {
                return Some((0, c));
            }
            let node = strip(node);
            if node.is_null() || (*node).type_ != pg_sys::NodeTag::T_Var {
                return None;
            }
            let var = node as *mut pg_sys::Var;
            if (*var).varlevelsup != 0 || (*var).varattno <= 0 {
                return None;
            }
            let (i, (_, table)) = self
                .more
                .iter()
                .enumerate()
                .find(|(_, (v, _))| *v == (*var).varno as u32)?;
            let col = table.column((*var).varattno)?;
            col.param.is_none().then_some((i + 1, col))
        }
    }

    /// The parameter column `node` reads, if it is one of the scanned relation.
    ///
    /// # Safety
    /// `node` must be NULL or a valid expression node.
    pub unsafe fn param_column(&self, node: *mut pg_sys::Node) -> Option<&'a Column> {
        // SAFETY: checked to be a Var before the cast.
        unsafe {
            let node = strip(node);
            if node.is_null() || (*node).type_ != pg_sys::NodeTag::T_Var {
                return None;
            }
            let var = node as *mut pg_sys::Var;
            if (*var).varno as u32 != self.varno || (*var).varlevelsup != 0 {
                return None;
            }
            self.table
                .column((*var).varattno)
                .filter(|c| c.param.is_some())
        }
    }

    /// A constant or parameter of category `want` as a value.
    ///
    /// # Safety
    /// `node` must be NULL or a valid expression node.
    pub unsafe fn value(&mut self, node: *mut pg_sys::Node, want: Family) -> Option<PValue> {
        // SAFETY: each cast follows a node tag check.
        unsafe {
            let node = strip(node);
            if node.is_null() {
                return None;
            }
            match (*node).type_ {
                pg_sys::NodeTag::T_Const => {
                    let c = node as *mut pg_sys::Const;
                    if (*c).constisnull || family((*c).consttype) != want {
                        return None;
                    }
                    datum_literal((*c).constvalue, (*c).consttype).map(PValue::Lit)
                }
                pg_sys::NodeTag::T_Param => {
                    let ty = (*(node as *mut pg_sys::Param)).paramtype;
                    (family(ty) == want).then(|| self.param(node, ty))
                }
                pg_sys::NodeTag::T_Var if self.outer => {
                    let var = node as *mut pg_sys::Var;
                    let outer = !self.ours((*var).varno as u32) && (*var).varlevelsup == 0;
                    (outer && family((*var).vartype) == want)
                        .then(|| self.param(node, (*var).vartype))
                }
                // an expression without columns whose value cannot change during the statement
                // (`now() - interval '1 day'`, `CAST($1 AS date)`): evaluated once per scan
                _ if self.expressions && stable_value(node) => {
                    let ty = pg_sys::exprType(node);
                    (family(ty) == want).then(|| self.param(node, ty))
                }
                _ => None,
            }
        }
    }
}

impl Ctx<'_> {
    /// `node` (a parameter, or an outer column) as the next scan-time value.
    pub(crate) fn param(&mut self, node: *mut pg_sys::Node, _ty: pg_sys::Oid) -> PValue {
        self.params.push(node);
        PValue::Param(self.params.len() - 1)
    }

    /// A value of category `want`, or a date or timestamp compared with a timestamp
    /// (`block_time >= DATE '2024-03-25'`, `>= current_date - 7`, `>= current_date - interval
    /// '7 days'`): converted to the column's type as PostgreSQL converts it for the comparison
    /// (a date at midnight, in the session's `TimeZone` for a timestamptz), when the scan
    /// starts.
    ///
    /// # Safety
    /// `node` must be NULL or a valid expression node.
    pub unsafe fn value_as(&mut self, node: *mut pg_sys::Node, want: Family) -> Option<PValue> {
        // SAFETY: as the function requires; the coercion is built in the planner's memory.
        unsafe {
            if let Some(v) = self.value(node, want) {
                return Some(v);
            }
            let node = strip(node);
            if node.is_null() {
                return None;
            }
            let from = pg_sys::exprType(node);
            let to = match (family(from), want) {
                (Family::Date, Family::Timestamp) => pg_sys::TIMESTAMPOID,
                (Family::Date | Family::Timestamp, Family::TimestampTz) => pg_sys::TIMESTAMPTZOID,
                _ => return None,
            };
            let simple = matches!(
                (*node).type_,
                pg_sys::NodeTag::T_Const | pg_sys::NodeTag::T_Param
            );
            if !stable_value(node) || !(simple || self.expressions) {
                return None;
            }
            let coerced = pg_sys::coerce_to_target_type(
                std::ptr::null_mut(),
                node,
                from,
                to,
                -1,
                pg_sys::CoercionContext::COERCION_EXPLICIT,
                pg_sys::CoercionForm::COERCE_IMPLICIT_CAST,
                -1,
            );
            (!coerced.is_null()).then(|| self.param(coerced, to))
        }
    }

    /// An array parameter (`= ANY($1)`, `= ANY(ARRAY(SELECT …))`) whose elements are of
    /// category `want`, as one scan-time value that stands for its elements.
    ///
    /// # Safety
    /// `node` must be NULL or a valid expression node.
    pub(crate) unsafe fn array_param(
        &mut self,
        node: *mut pg_sys::Node,
        want: Family,
    ) -> Option<PValue> {
        // SAFETY: checked to be a Param before the cast.
        unsafe {
            if node.is_null() || (*node).type_ != pg_sys::NodeTag::T_Param {
                return None;
            }
            let ty = (*(node as *mut pg_sys::Param)).paramtype;
            let elem = pg_sys::get_element_type(ty);
            (elem != pg_sys::InvalidOid && family(elem) == want).then(|| self.param(node, ty))
        }
    }
}

/// Whether `node` is an expression with no column of any relation, no volatile function, no
/// aggregate and no subplan: its value is the same for every row of a scan (PostgreSQL
/// evaluates stable functions such as now() once per statement), so it may be evaluated at
/// scan start and sent as a constant.
///
/// # Safety
/// `node` must be a valid expression node.
pub(crate) unsafe fn stable_value(node: *mut pg_sys::Node) -> bool {
    // SAFETY: the planner's expression walkers over a valid node.
    unsafe {
        !pg_sys::contain_var_clause(node)
            && !pg_sys::contain_volatile_functions(node)
            && !pg_sys::contain_subplans(node)
            && !pg_sys::contain_agg_clause(node)
            && !pg_sys::contain_window_function(node)
    }
}

pub(crate) fn builtin(opno: pg_sys::Oid) -> bool {
    u32::from(opno) < pg_sys::FirstNormalObjectId
}

pub(crate) unsafe fn op_name(opno: pg_sys::Oid) -> Option<String> {
    // SAFETY: get_opname returns a palloc'd name or NULL.
    unsafe {
        let p = pg_sys::get_opname(opno);
        (!p.is_null()).then(|| CStr::from_ptr(p).to_string_lossy().into_owned())
    }
}

pub(crate) fn op_of(name: &str) -> Option<Op> {
    Some(match name {
        "=" => Op::Eq,
        "<>" => Op::Ne,
        "<" => Op::Lt,
        "<=" => Op::Le,
        ">" => Op::Gt,
        ">=" => Op::Ge,
        _ => return None,
    })
}

pub(crate) unsafe fn list_nodes(list: *mut pg_sys::List) -> Vec<*mut pg_sys::Node> {
    // SAFETY: a List of nodes (or NIL).
    unsafe {
        pgrx::PgList::<pg_sys::Node>::from_pg(list)
            .iter_ptr()
            .collect()
    }
}
