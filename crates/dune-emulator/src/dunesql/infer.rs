//! The Trino type of an expression (for `column_types` and casts), and Trino's rule that an
//! aggregated query selects only aggregates and grouped expressions (SQLite would pick an
//! arbitrary row's value instead: a wrong answer, so it fails here).

use super::expr::{AGGREGATES, EXPR_WORDS};
use super::lex::Tk;
use super::translate::{R, Scope, Tr};
use super::types::DType;
use std::ops::Range;

/// Words after which an operator is unary.
const NOT_OPERAND: [&str; 12] = [
    "and", "or", "not", "is", "in", "like", "between", "when", "then", "else", "case", "escape",
];

/// The combined type of arithmetic operands.
fn combine(types: &[Option<DType>]) -> Option<DType> {
    if let Some(t) = types.iter().flatten().find(|t| t.is_temporal()) {
        return Some(*t);
    }
    let known: Vec<DType> = types.iter().copied().collect::<Option<_>>()?;
    let has = |t: DType| known.contains(&t);
    Some(match () {
        _ if has(DType::Double) => DType::Double,
        _ if known.iter().all(|t| t.is_whole()) => [DType::Uint256, DType::Int256, DType::Bigint]
            .into_iter()
            .find(|t| has(*t))
            .unwrap_or(DType::Integer),
        _ if has(DType::Interval) => DType::Interval,
        _ => return None,
    })
}

impl Tr<'_> {
    /// Whether token `k` ends an operand (so an operator after it is binary).
    fn operand_end(&self, k: usize) -> bool {
        match self.kind(k) {
            Some(Tk::Close | Tk::Str | Tk::Num | Tk::Hex | Tk::Quoted) => true,
            Some(Tk::Word) => !NOT_OPERAND.contains(&self.t[k].text.as_str()),
            _ => false,
        }
    }

    /// The type Trino gives the expression `r`, if the translator can tell.
    pub fn infer(&self, r: Range<usize>, scope: &Scope) -> Option<DType> {
        if r.is_empty() {
            return None;
        }
        if self.kind(r.start) == Some(Tk::Open) && self.close(r.start) == r.end - 1 {
            let inner = r.start + 1..r.end - 1;
            if self.starts_query(&inner) {
                return self.query(inner, Some(scope)).ok()?.1.first()?.ty;
            }
            return self.infer(inner, scope);
        }
        let (mut i, mut case, mut boolean, mut concat) = (r.start, 0, false, false);
        let mut ops = Vec::new();
        while i < r.end {
            let t = &self.t[i];
            match t.kind {
                Tk::Open => i = self.close(i),
                Tk::Word if t.text == "case" => case += 1,
                Tk::Word if t.text == "end" => case -= 1,
                Tk::Word if case == 0 => {
                    let w = t.text.as_str();
                    boolean |=
                        ["and", "or", "not", "is", "in", "like", "between", "exists"].contains(&w);
                }
                Tk::Op if case == 0 => match t.text.as_str() {
                    "||" => concat = true,
                    "+" | "-" | "*" | "/" | "%" if i > r.start && self.operand_end(i - 1) => {
                        ops.push(i)
                    }
                    "+" | "-" | "*" | "/" | "%" => {}
                    _ => boolean = true,
                },
                _ => {}
            }
            i += 1;
        }
        if boolean {
            return Some(DType::Boolean);
        }
        if concat {
            return Some(DType::Varchar);
        }
        if !ops.is_empty() {
            let mut bounds = vec![r.start];
            for &o in &ops {
                bounds.push(o);
                bounds.push(o + 1);
            }
            bounds.push(r.end);
            let types: Vec<Option<DType>> = bounds
                .chunks(2)
                .map(|b| self.infer(b[0]..b[1], scope))
                .collect();
            return combine(&types);
        }
        if self.t[r.start].is_op("-") || self.t[r.start].is_op("+") {
            return self.infer(r.start + 1..r.end, scope);
        }
        self.infer_single(r, scope)
    }

    /// The type of a single operand.
    fn infer_single(&self, r: Range<usize>, scope: &Scope) -> Option<DType> {
        let t = &self.t[r.start];
        let n = r.len();
        match (t.kind, t.text.as_str()) {
            (Tk::Str, _) if n == 1 => Some(DType::Varchar),
            (Tk::Hex, _) if n == 1 => Some(DType::Varbinary),
            (Tk::Num, s) if n == 1 => Some(match s.parse::<i64>() {
                Ok(v) if i32::try_from(v).is_ok() => DType::Integer,
                Ok(_) => DType::Bigint,
                Err(_) => DType::Double,
            }),
            (Tk::Word, "true" | "false") if n == 1 => Some(DType::Boolean),
            (Tk::Word, "timestamp" | "date")
                if n == 2 && self.kind(r.start + 1) == Some(Tk::Str) =>
            {
                self.temporal_literal(r.start).ok().map(|x| x.1)
            }
            (Tk::Word, "interval") => Some(DType::Interval),
            (Tk::Word, "current_timestamp") if n == 1 => Some(DType::TimestampTz),
            (Tk::Word, "localtimestamp") if n == 1 => Some(DType::Timestamp),
            (Tk::Word, "current_date") if n == 1 => Some(DType::Date),
            (Tk::Word, "case") => self.infer_case(r, scope),
            (Tk::Word, "cast" | "try_cast") if self.kind(r.start + 1) == Some(Tk::Open) => {
                let j = self.close(r.start + 1);
                let as_at = self.find(r.start + 2..j, &["as"])?;
                let text = &self.sql[self.t.get(as_at + 1)?.at..self.t[j].at];
                DType::parse(text).ok()
            }
            (Tk::Word, _) if self.kind(r.start + 1) == Some(Tk::Open) => {
                let j = self.close(r.start + 1);
                let args = match j == r.start + 2 {
                    true => Vec::new(),
                    false => self.split_commas(r.start + 2..j),
                };
                self.function_type(&t.text, &args, scope)
            }
            (Tk::Word | Tk::Quoted, _) => {
                let (parts, end) = self.chain_at(r.start)?;
                (end == r.end).then(|| scope.column(&parts)).flatten()?.1
            }
            _ => None,
        }
    }

    /// The type of `CASE … END`: that of its first branch whose type is known.
    fn infer_case(&self, r: Range<usize>, scope: &Scope) -> Option<DType> {
        let (mut depth, mut i, mut start) = (0, r.start, None);
        let mut branches = Vec::new();
        while i < r.end {
            match self.t[i].kind {
                Tk::Open => i = self.close(i),
                Tk::Word => match self.t[i].text.as_str() {
                    "case" => depth += 1,
                    "end" | "when" | "else" if depth == 1 => {
                        if let Some(s) = start.take() {
                            branches.push(s..i);
                        }
                        if self.t[i].text == "else" {
                            start = Some(i + 1);
                        }
                        depth -= usize::from(self.t[i].text == "end");
                    }
                    "end" => depth -= 1,
                    "then" if depth == 1 => start = Some(i + 1),
                    _ => {}
                },
                _ => {}
            }
            i += 1;
        }
        branches.into_iter().find_map(|b| self.infer(b, scope))
    }

    /// The type of a known function's result.
    fn function_type(&self, name: &str, args: &[Range<usize>], scope: &Scope) -> Option<DType> {
        let arg = |k: usize| args.get(k).and_then(|a| self.infer(a.clone(), scope));
        Some(match name {
            "count" | "count_if" | "approx_distinct" | "row_number" | "rank" | "dense_rank"
            | "length" | "strpos" | "year" | "quarter" | "month" | "week" | "day"
            | "day_of_week" | "dow" | "day_of_year" | "doy" | "hour" | "minute" | "second" => {
                DType::Bigint
            }
            "sum" => match arg(0)? {
                DType::Integer | DType::Bigint => DType::Bigint,
                t @ (DType::Double | DType::Uint256 | DType::Int256) => t,
                _ => return None,
            },
            "avg" | "to_unixtime" => DType::Double,
            "min" | "max" | "arbitrary" | "any_value" | "abs" | "round" | "nullif" | "floor"
            | "ceil" | "ceiling" | "sign" | "at_timezone" => arg(0)?,
            "coalesce" | "greatest" | "least" => (0..args.len()).find_map(arg)?,
            "if" => arg(1).or_else(|| arg(2))?,
            "date_trunc" => arg(1)?,
            "lower" | "upper" | "trim" | "ltrim" | "rtrim" | "replace" | "substr" | "substring"
            | "concat" | "to_hex" => DType::Varchar,
            "from_hex" => DType::Varbinary,
            "bool_and" | "bool_or" | "every" | "starts_with" => DType::Boolean,
            "now" => DType::TimestampTz,
            "from_unixtime" => DType::TimestampTz,
            "date" => DType::Date,
            _ => return None,
        })
    }

    /// Whether `r` calls an aggregate (not as a window function, not in a subquery).
    pub fn has_aggregate(&self, r: &Range<usize>) -> bool {
        let mut i = r.start;
        while i < r.end {
            let t = &self.t[i];
            if t.kind == Tk::Open && self.starts_query(&(i + 1..self.close(i))) {
                i = self.close(i);
            } else if t.kind == Tk::Word
                && AGGREGATES.contains(&t.text.as_str())
                && self.kind(i + 1) == Some(Tk::Open)
                && !self.is(self.close(i + 1) + 1, "over")
            {
                return true;
            }
            i += 1;
        }
        false
    }

    /// The column references of `r`: (token, parts).
    fn columns_in(&self, r: Range<usize>, out: &mut Vec<(usize, Vec<String>)>) {
        let mut i = r.start;
        while i < r.end {
            let t = &self.t[i];
            let next_open = self.kind(i + 1) == Some(Tk::Open);
            match t.kind {
                Tk::Open if self.starts_query(&(i + 1..self.close(i))) => i = self.close(i),
                Tk::Word if (t.text == "cast" || t.text == "try_cast") && next_open => {
                    let j = self.close(i + 1);
                    let as_at = self.find(i + 2..j, &["as"]).unwrap_or(j);
                    self.columns_in(i + 2..as_at, out);
                    i = j;
                }
                Tk::Word if t.text == "interval" => i += 2,
                Tk::Word
                    if (t.text == "timestamp" || t.text == "date")
                        && self.kind(i + 1) == Some(Tk::Str) => {}
                Tk::Word if EXPR_WORDS.contains(&t.text.as_str()) || next_open => {}
                Tk::Word | Tk::Quoted => {
                    if let Some((parts, end)) = self.chain_at(i) {
                        out.push((i, parts));
                        i = end - 1;
                    }
                }
                _ => {}
            }
            i += 1;
        }
    }

    /// The tokens of `r` as one comparable text.
    fn norm(&self, r: &Range<usize>) -> String {
        let texts: Vec<String> = self.t[r.clone()]
            .iter()
            .map(|t| match t.kind {
                Tk::Quoted => t.text.to_lowercase(),
                Tk::Str => format!("'{}'", t.text),
                _ => t.text.clone(),
            })
            .collect();
        texts.join(" ")
    }

    /// Trino's rule for aggregated queries (with `GROUP BY`, `HAVING` or an aggregate in the
    /// select list): every selected expression is an aggregate, is grouped, or uses only
    /// grouped columns.
    pub fn check_grouping(
        &self,
        list: &Range<usize>,
        groups: &[Range<usize>],
        having: bool,
        scope: &Scope,
    ) -> R<()> {
        let items = self.split_commas(list.clone());
        let aggregated =
            !groups.is_empty() || having || items.iter().any(|i| self.has_aggregate(i));
        if !aggregated {
            return Ok(());
        }
        let texts: Vec<String> = groups.iter().map(|g| self.norm(g)).collect();
        let mut grouped: Vec<String> = Vec::new();
        for g in groups {
            if let Some((parts, end)) = self.chain_at(g.start)
                && end == g.end
            {
                grouped.push(parts[parts.len() - 1].clone());
            }
        }
        for (n, item) in items.iter().enumerate() {
            let fail = |at: usize, what: &str| {
                let msg = format!(
                    "'{what}' must be an aggregate expression or appear in GROUP BY clause"
                );
                Err(self.err(at, &msg))
            };
            if self.t[item.end - 1].is_op("*") {
                for rel in &scope.rels {
                    if let Some(c) = rel
                        .columns
                        .iter()
                        .find(|c| !grouped.contains(&c.0.to_lowercase()))
                    {
                        return fail(item.start, &c.0);
                    }
                }
                continue;
            }
            let (e, _) = self.split_alias(item);
            let ordinal = texts.contains(&(n + 1).to_string());
            if self.has_aggregate(&e) || texts.contains(&self.norm(&e)) || ordinal {
                continue;
            }
            let mut refs = Vec::new();
            self.columns_in(e.clone(), &mut refs);
            if refs.iter().any(|(_, p)| !grouped.contains(&p[p.len() - 1])) {
                let text = &self.sql[self.t[e.start].at..self.end_of(e.end - 1)];
                return fail(e.start, text);
            }
        }
        Ok(())
    }

    /// The byte offset where token `k` ends.
    fn end_of(&self, k: usize) -> usize {
        let next = self.t.get(k + 1).map_or(self.sql.len(), |n| n.at);
        self.t[k].at + self.sql[self.t[k].at..next].trim_end().len()
    }
}
