//! Expressions of the DuneSQL → SQLite translation: literals, column references, operators,
//! functions (a fixed list; any other is "not registered"), `CAST`, windows, and the type
//! each expression has in Trino (for `column_types` and for casts).

use super::lex::Tk;
use super::translate::{R, Scope, Tr, quote};
use super::types::{DType, NUMBER_COLLATION};
use crate::cells;
use std::ops::Range;

/// Words that are part of expressions: never an implicit alias, never a column.
pub const EXPR_WORDS: [&str; 37] = [
    "and",
    "or",
    "not",
    "is",
    "null",
    "true",
    "false",
    "in",
    "like",
    "escape",
    "between",
    "case",
    "when",
    "then",
    "else",
    "end",
    "exists",
    "distinct",
    "all",
    "as",
    "by",
    "over",
    "partition",
    "asc",
    "desc",
    "nulls",
    "first",
    "last",
    "day",
    "hour",
    "minute",
    "second",
    "month",
    "year",
    "current_timestamp",
    "current_date",
    "localtimestamp",
];

/// Words passed to SQLite as they are (uppercased).
const KEEP: [&str; 29] = [
    "and",
    "or",
    "not",
    "in",
    "like",
    "escape",
    "between",
    "case",
    "when",
    "then",
    "else",
    "end",
    "null",
    "true",
    "false",
    "exists",
    "distinct",
    "all",
    "partition",
    "by",
    "rows",
    "range",
    "preceding",
    "following",
    "unbounded",
    "current",
    "row",
    "asc",
    "desc",
];

/// Aggregate functions.
pub const AGGREGATES: [&str; 12] = [
    "count",
    "sum",
    "min",
    "max",
    "avg",
    "count_if",
    "approx_distinct",
    "arbitrary",
    "any_value",
    "bool_and",
    "bool_or",
    "every",
];

/// Comparison operators.
const COMPARE: [&str; 7] = ["=", "<>", "!=", "<", "<=", ">", ">="];

/// Microseconds in a day.
const DAY_US: i64 = 86_400_000_000;

impl Tr<'_> {
    /// An expression over `r`, translated.
    pub fn expr(&self, r: Range<usize>, scope: &Scope) -> R<String> {
        let mut out = String::new();
        let mut i = r.start;
        while i < r.end {
            i = self.term(i, r.end, scope, &mut out)?;
        }
        Ok(out.trim_start().to_string())
    }

    /// One token (or construct) at `i`, appended to `out`; the index after it.
    fn term(&self, i: usize, end: usize, scope: &Scope, out: &mut String) -> R<usize> {
        let t = &self.t[i];
        out.push(' ');
        match t.kind {
            Tk::Str => out.push_str(&self.string(i, scope)?),
            // a whole number past 64 bits would be a lossy REAL in SQLite (Trino makes it a
            // decimal of up to 38 digits): refused rather than guessed
            // (9223372036854775808 is kept: after a minus it is the smallest bigint)
            Tk::Num
                if t.text.bytes().all(|b| b.is_ascii_digit())
                    && t.text.parse::<u64>().map_or(true, |n| n > 1 << 63) =>
            {
                return Err(self.unsupported(
                    i,
                    "a whole-number literal beyond 64 bits (write CAST('…' AS uint256))",
                ));
            }
            Tk::Num => out.push_str(&t.text),
            Tk::Hex if t.text.len() % 2 == 1 => {
                return Err(self.err(i, "Binary literal must contain an even number of digits"));
            }
            Tk::Hex => out.push_str(&format!("X'{}'", t.text)),
            Tk::Op if t.text == "==" => return Err(self.mismatched(i)),
            Tk::Op if t.text == "[" || t.text == "]" => {
                return Err(self.unsupported(i, "ARRAY and subscripts"));
            }
            Tk::Op | Tk::Comma => out.push_str(&t.text),
            Tk::Open => {
                let j = self.close(i);
                out.push_str(&self.group(i, j, scope)?);
                return Ok(j + 1);
            }
            Tk::Close | Tk::Semi | Tk::Dot => return Err(self.mismatched(i)),
            Tk::Word => return self.word(i, end, scope, out),
            Tk::Quoted => return Ok(self.column(i, scope, out)),
        }
        Ok(i + 1)
    }

    /// A parenthesized group `(`…`)` at `i`..`j`: a subquery, an `IN` list or an expression.
    fn group(&self, i: usize, j: usize, scope: &Scope) -> R<String> {
        let inner = i + 1..j;
        if self.starts_query(&inner) {
            let (sql, _) = self.query(inner, Some(scope))?;
            return Ok(format!("({sql})"));
        }
        let before_in = i.checked_sub(1).filter(|&k| self.is(k, "in"));
        let subject = before_in.map(|k| {
            if k > 0 && self.is(k - 1, "not") {
                k - 1
            } else {
                k
            }
        });
        let temporal = subject.and_then(|k| self.type_before(k, scope));
        if let Some(ty) = temporal.filter(|t| t.is_temporal()) {
            let mut items = Vec::new();
            for item in self.split_commas(inner) {
                items.push(match (item.len(), self.kind(item.start)) {
                    (1, Some(Tk::Str)) => self.coerce(item.start, ty)?,
                    _ => self.expr(item, scope)?,
                });
            }
            return Ok(format!("({})", items.join(",")));
        }
        Ok(format!("({})", self.expr(inner, scope)?))
    }

    /// A word at `i`: keyword, literal, function call or column.
    fn word(&self, i: usize, end: usize, scope: &Scope, out: &mut String) -> R<usize> {
        let w = self.t[i].text.as_str();
        let next = (i + 1 < end).then(|| &self.t[i + 1]);
        let next_kind = next.map(|n| n.kind);
        match w {
            "timestamp" | "date" if next_kind == Some(Tk::Str) => {
                let (us, _) = self.temporal_literal(i)?;
                out.push_str(&us.to_string());
                Ok(i + 2)
            }
            "time" if next_kind == Some(Tk::Str) => Err(self.unsupported(i, "TIME")),
            "interval" => {
                out.push_str(&self.interval(i)?.to_string());
                Ok(i + 3)
            }
            "current_timestamp" | "localtimestamp" => {
                out.push_str(&self.now_us.to_string());
                Ok(i + 1)
            }
            "current_date" => {
                out.push_str(&(self.now_us.div_euclid(DAY_US) * DAY_US).to_string());
                Ok(i + 1)
            }
            "is" => Ok(self.is_distinct(i, out)),
            "cast" | "try_cast" if next_kind == Some(Tk::Open) => self.cast(i, scope, out),
            "over" if next_kind == Some(Tk::Open) => self.over(i, scope, out),
            "filter" if next_kind == Some(Tk::Open) && self.is(i + 2, "where") => {
                let j = self.close(i + 1);
                let cond = self.expr(i + 3..j, scope)?;
                out.push_str(&format!("FILTER (WHERE {cond})"));
                Ok(j + 1)
            }
            _ if KEEP.contains(&w) => {
                out.push_str(&w.to_uppercase());
                Ok(i + 1)
            }
            _ if next_kind == Some(Tk::Open) => self.function(i, scope, out),
            _ => Ok(self.column(i, scope, out)),
        }
    }

    /// `IS [NOT] DISTINCT FROM` (SQLite's `IS NOT` / `IS`), or a plain `IS`.
    fn is_distinct(&self, i: usize, out: &mut String) -> usize {
        let not = self.is(i + 1, "not");
        let at = i + 1 + usize::from(not);
        if self.is(at, "distinct") && self.is(at + 1, "from") {
            out.push_str(if not { "IS" } else { "IS NOT" });
            return at + 2;
        }
        out.push_str("IS");
        i + 1
    }

    /// A column reference: quoted parts; `dex.trades.col` becomes `trades.col` (the table's
    /// alias).
    fn column(&self, i: usize, scope: &Scope, out: &mut String) -> usize {
        let (parts, end) = self.chain_at(i).expect("a word or quoted name");
        let mut shown = parts.clone();
        if parts.len() >= 3
            && let Some(rel) = scope.rel(&parts[..parts.len() - 1])
            && let Some(alias) = &rel.alias
        {
            shown = vec![alias.clone(), parts[parts.len() - 1].clone()];
        }
        let quoted: Vec<String> = shown.iter().map(|p| quote(p)).collect();
        out.push_str(&quoted.join("."));
        end
    }

    /// The type of the column reference ending just before token `k`, if there is one.
    fn type_before(&self, k: usize, scope: &Scope) -> Option<DType> {
        let mut start = k.checked_sub(1)?;
        while start >= 2
            && self.kind(start - 1) == Some(Tk::Dot)
            && matches!(self.kind(start - 2), Some(Tk::Word | Tk::Quoted))
        {
            start -= 2;
        }
        self.column_type_at(start, k, scope)
    }

    /// The type of a column reference spanning exactly `start..end`.
    fn column_type_at(&self, start: usize, end: usize, scope: &Scope) -> Option<DType> {
        let (parts, e) = self.chain_at(start)?;
        let keyword = parts.len() == 1 && EXPR_WORDS.contains(&parts[0].as_str());
        if e != end || keyword || self.kind(e) == Some(Tk::Open) {
            return None;
        }
        scope.column(&parts)?.1
    }

    /// A string literal at `i`. Compared with a date or timestamp column (`col >=
    /// '2024-01-01'`, `'…' < col`, `col BETWEEN '…' AND '…'`), it is cast to that type, as
    /// Trino does; compared with a column of another type than varchar, it fails, as in Trino
    /// (SQLite would compare text with a number or bytes and answer).
    fn string(&self, i: usize, scope: &Scope) -> R<String> {
        let op =
            |k: usize| self.kind(k) == Some(Tk::Op) && COMPARE.contains(&self.t[k].text.as_str());
        let mut ty = None;
        if i >= 2 && (op(i - 1) || self.is(i - 1, "between")) {
            ty = self.type_before(i - 1, scope);
        }
        if ty.is_none() && i >= 4 && self.is(i - 1, "and") && self.kind(i - 2) == Some(Tk::Str) {
            ty = self
                .is(i - 3, "between")
                .then(|| self.type_before(i - 3, scope))
                .flatten();
        }
        let before = ty.is_some();
        if ty.is_none() && op(i + 1) {
            let end = self.chain_at(i + 2).map_or(i + 2, |c| c.1);
            ty = self.column_type_at(i + 2, end, scope);
        }
        match ty {
            Some(t) if t.is_temporal() => self.coerce(i, t),
            Some(t) if t != DType::Varchar && t != DType::Interval => {
                let lit = format!("varchar({})", self.t[i].text.chars().count());
                let op = self.t[if before { i - 1 } else { i + 1 }]
                    .text
                    .to_uppercase();
                let (a, b) = if before {
                    (t.name(), lit.as_str())
                } else {
                    (lit.as_str(), t.name())
                };
                Err(self.err(i, &format!("Cannot apply operator: {a} {op} {b}")))
            }
            _ => Ok(format!("'{}'", self.t[i].text.replace('\'', "''"))),
        }
    }

    /// The string literal at `i` cast to a date or timestamp: microseconds.
    fn coerce(&self, i: usize, ty: DType) -> R<String> {
        let text = self.t[i].text.trim();
        let us = match ty {
            DType::Date => cells::date(text).map(|d| d * DAY_US),
            _ => cells::timestamp(text),
        };
        us.map(|v| v.to_string())
            .ok_or_else(|| self.err(i, &format!("Value cannot be cast to {}: {text}", ty.name())))
    }

    /// `TIMESTAMP '…'` or `DATE '…'` at `i`: microseconds and the literal's type.
    pub fn temporal_literal(&self, i: usize) -> R<(i64, DType)> {
        let text = self.t[i + 1].text.trim();
        if self.is(i, "date") {
            let d = cells::date(text)
                .ok_or_else(|| self.err(i + 1, &format!("Value cannot be cast to date: {text}")))?;
            return Ok((d * DAY_US, DType::Date));
        }
        let zoned = text.len() > 10
            && text[10..]
                .trim_start_matches(['T', 't', ' '])
                .contains(|c: char| c.is_ascii_alphabetic() || c == '+' || c == '-');
        let us = cells::timestamp(text).ok_or_else(|| {
            self.err(i + 1, &format!("Value cannot be cast to timestamp: {text}"))
        })?;
        Ok((
            us,
            if zoned {
                DType::TimestampTz
            } else {
                DType::Timestamp
            },
        ))
    }

    /// `INTERVAL '<n>' SECOND|MINUTE|HOUR|DAY` at `i`, in microseconds.
    pub fn interval(&self, i: usize) -> R<i64> {
        if self.kind(i + 1) != Some(Tk::Str) {
            return Err(self.mismatched(i + 1));
        }
        let n: i64 =
            self.t[i + 1].text.trim().parse().map_err(|_| {
                self.err(i + 1, "Invalid INTERVAL value: a whole number is expected")
            })?;
        let unit = match self.t.get(i + 2).map(|t| t.text.as_str()) {
            Some("second") => 1_000_000,
            Some("minute") => 60_000_000,
            Some("hour") => 3_600_000_000,
            Some("day") => DAY_US,
            Some("month" | "year") => {
                return Err(self.unsupported(i, "INTERVAL YEAR TO MONTH (month and year units)"));
            }
            _ => return Err(self.mismatched(i + 2)),
        };
        if self.is(i + 3, "to") {
            return Err(self.unsupported(i + 3, "INTERVAL … TO …"));
        }
        Ok(n * unit)
    }

    /// `OVER (PARTITION BY … ORDER BY … [frame])`.
    fn over(&self, i: usize, scope: &Scope, out: &mut String) -> R<usize> {
        let j = self.close(i + 1);
        let order = self.find(i + 2..j, &["order"]);
        let frame = self.find(order.unwrap_or(i + 2)..j, &["rows", "range", "groups"]);
        let head_end = order.or(frame).unwrap_or(j);
        let mut spec = self.expr(i + 2..head_end, scope)?;
        if let Some(o) = order {
            if !self.is(o + 1, "by") {
                return Err(self.mismatched(o + 1));
            }
            let list = self.order_list(o + 2..frame.unwrap_or(j), scope)?;
            spec.push_str(&format!(" ORDER BY {list}"));
        }
        if let Some(f) = frame {
            spec.push_str(&self.expr(f..j, scope)?);
        }
        out.push_str(&format!("OVER ({spec})"));
        Ok(j + 1)
    }

    /// `CAST(x AS type)` / `TRY_CAST`: the engine's `dune_cast(x, from, to, try)`, which
    /// follows Trino's rules for the pairs it accepts.
    fn cast(&self, i: usize, scope: &Scope, out: &mut String) -> R<usize> {
        let j = self.close(i + 1);
        let Some(as_at) = self.find(i + 2..j, &["as"]) else {
            return Err(self.mismatched(j));
        };
        if as_at + 1 >= j {
            return Err(self.mismatched(j));
        }
        let type_text = &self.sql[self.t[as_at + 1].at..self.t[j].at];
        let to = DType::parse(type_text).map_err(|m| self.err(as_at + 1, &m))?;
        let from = self.infer(i + 2..as_at, scope);
        let refused = match (from, to) {
            (Some(DType::Varbinary), t) if t != DType::Varbinary => true,
            (Some(f), t) if f.is_temporal() && !(t.is_temporal() || t == DType::Varchar) => true,
            (Some(DType::Interval), _) => true,
            (Some(f), DType::Varbinary) => f != DType::Varchar && f != DType::Varbinary,
            _ => false,
        };
        if let (true, Some(f)) = (refused, from) {
            let msg = format!("Cannot cast {} to {}", f.name(), to.name());
            return Err(self.err(i, &msg));
        }
        if from == Some(DType::Double) && to == DType::Varchar {
            return Err(self.unsupported(i, "CAST from double to varchar"));
        }
        let arg = self.expr(i + 2..as_at, scope)?;
        let from_name = from.map_or("", DType::declared);
        let try_ = u8::from(self.is(i, "try_cast"));
        out.push_str(&format!(
            "dune_cast({arg}, '{from_name}', '{}', {try_})",
            to.declared()
        ));
        Ok(j + 1)
    }

    /// A function call at `i`: one of the functions the emulator knows, translated.
    fn function(&self, i: usize, scope: &Scope, out: &mut String) -> R<usize> {
        let name = self.t[i].text.as_str();
        let j = self.close(i + 1);
        let args = match j == i + 2 {
            true => Vec::new(),
            false => self.split_commas(i + 2..j),
        };
        let tr = |r: &Range<usize>| self.expr(r.clone(), scope);
        let all = || -> R<Vec<String>> { args.iter().map(tr).collect() };
        let arity = |ok: bool| match ok {
            true => Ok(()),
            false => Err(self.err(i, &format!("Unexpected parameters for function {name}"))),
        };
        let first_type = args.first().and_then(|a| self.infer(a.clone(), scope));
        let wide = first_type.filter(|t| t.is_wide());
        // a calendar field of `at_timezone(t, zone)`: taken in that zone
        if let Some(text) = self.zoned_call(name, &args, scope)? {
            out.push_str(&text);
            return Ok(j + 1);
        }
        let text = match name {
            "lower" | "upper" => format!("dune_{name}({})", all()?.join(",")),
            "sign" => format!("dune_sign({})", all()?.join(",")),
            // the same instant in another zone: equal, ordered and returned as it is
            "at_timezone" => {
                arity(args.len() == 2)?;
                format!("({})", tr(&args[0])?)
            }
            // uint256 and int256 are digits: summed exactly, ordered by the number collation
            "sum" if wide.is_some() => format!(
                "(dune_sum256({}, '{}') COLLATE {NUMBER_COLLATION})",
                all()?.join(","),
                wide.map_or("", DType::declared)
            ),
            "min" | "max" if wide.is_some() => {
                arity(args.len() == 1)?;
                format!("({name}({}) COLLATE {NUMBER_COLLATION})", all()?.join(","))
            }
            "count" | "sum" | "avg" | "abs" | "coalesce" | "nullif" | "length" | "trim"
            | "ltrim" | "rtrim" | "replace" | "substr" | "row_number" | "rank" | "dense_rank" => {
                format!("{name}({})", all()?.join(","))
            }
            "min" | "max" => {
                arity(args.len() == 1)?;
                format!("{name}({})", all()?.join(","))
            }
            "substring" => format!("substr({})", all()?.join(",")),
            "round" if first_type.is_some_and(DType::is_whole) => {
                format!("CAST(round({}) AS INTEGER)", all()?.join(","))
            }
            "round" => format!("round({})", all()?.join(",")),
            "greatest" | "least" => {
                arity(args.len() >= 2)?;
                let f = if name == "greatest" { "max" } else { "min" };
                format!("{f}({})", all()?.join(","))
            }
            "if" => {
                arity(args.len() == 2 || args.len() == 3)?;
                let mut a = all()?;
                if a.len() == 2 {
                    a.push("NULL".into());
                }
                format!("iif({})", a.join(","))
            }
            "concat" => format!("({})", all()?.join(" || ")),
            "strpos" => format!("instr({})", all()?.join(",")),
            "starts_with" => {
                arity(args.len() == 2)?;
                let a = all()?;
                format!("(substr({0}, 1, length({1})) = {1})", a[0], a[1])
            }
            "to_hex" => format!("hex({})", all()?.join(",")),
            "from_hex" => format!("unhex({})", all()?.join(",")),
            _ => return self.function_more(i, j, &args, scope, out),
        };
        out.push_str(&text);
        Ok(j + 1)
    }

    /// `(x, zone)` of an argument that is exactly `at_timezone(x, zone)`.
    fn at_timezone(&self, r: &Range<usize>) -> Option<(Range<usize>, Range<usize>)> {
        let i = r.start;
        if !self.is(i, "at_timezone")
            || self.kind(i + 1) != Some(Tk::Open)
            || self.close(i + 1) != r.end - 1
        {
            return None;
        }
        match self.split_commas(i + 2..r.end - 1).as_slice() {
            [x, zone] => Some((x.clone(), zone.clone())),
            _ => None,
        }
    }

    /// `date_trunc(unit, at_timezone(t, zone))` and `year(at_timezone(t, zone))`, …: computed
    /// in the zone's calendar (`dune_date_trunc_tz`, `dune_part_tz`); None for any other call.
    fn zoned_call(&self, name: &str, args: &[Range<usize>], scope: &Scope) -> R<Option<String>> {
        const PARTS: [&str; 12] = [
            "year",
            "quarter",
            "month",
            "week",
            "day",
            "day_of_week",
            "dow",
            "day_of_year",
            "doy",
            "hour",
            "minute",
            "second",
        ];
        let (unit, zoned) = match (name, args) {
            ("date_trunc", [unit, t]) => (Some(unit), t),
            (part, [t]) if PARTS.contains(&part) => (None, t),
            _ => return Ok(None),
        };
        let Some((x, zone)) = self.at_timezone(zoned) else {
            return Ok(None);
        };
        let (x, zone) = (self.expr(x, scope)?, self.expr(zone, scope)?);
        Ok(Some(match unit {
            Some(u) => format!(
                "dune_date_trunc_tz({}, {x}, {zone})",
                self.expr(u.clone(), scope)?
            ),
            None => format!("dune_part_tz('{name}', {x}, {zone})"),
        }))
    }

    /// The rest of the known functions (aggregates renamed, dates, `now()`).
    fn function_more(
        &self,
        i: usize,
        j: usize,
        args: &[Range<usize>],
        scope: &Scope,
        out: &mut String,
    ) -> R<usize> {
        let name = self.t[i].text.as_str();
        let all =
            || -> R<Vec<String>> { args.iter().map(|r| self.expr(r.clone(), scope)).collect() };
        let one = || -> R<String> {
            match args {
                [a] => self.expr(a.clone(), scope),
                _ => Err(self.err(i, &format!("Unexpected parameters for function {name}"))),
            }
        };
        let text = match name {
            "approx_distinct" => format!("count(DISTINCT {})", one()?),
            "count_if" => format!("count(CASE WHEN {} THEN 1 END)", one()?),
            "arbitrary" | "any_value" | "bool_and" | "every" => format!("min({})", one()?),
            "bool_or" => format!("max({})", one()?),
            "now" if args.is_empty() => self.now_us.to_string(),
            "date_trunc" => format!("dune_date_trunc({})", all()?.join(",")),
            "year" | "quarter" | "month" | "week" | "day" | "day_of_week" | "dow"
            | "day_of_year" | "doy" | "hour" | "minute" | "second" => {
                format!("dune_part('{name}', {})", one()?)
            }
            "date" => {
                let from = args.first().and_then(|a| self.infer(a.clone(), scope));
                let from = from.map_or("", DType::declared);
                format!("dune_cast({}, '{from}', 'date', 0)", one()?)
            }
            "to_unixtime" => format!("({} / 1000000.0)", one()?),
            "from_unixtime" => format!("CAST(round(({}) * 1000000.0) AS INTEGER)", one()?),
            "floor" | "ceil" | "ceiling" => {
                let f = if name == "floor" {
                    "dune_floor"
                } else {
                    "dune_ceil"
                };
                format!("{f}({})", one()?)
            }
            _ => return Err(self.err(i, &format!("Function '{name}' not registered"))),
        };
        out.push_str(&text);
        Ok(j + 1)
    }
}
