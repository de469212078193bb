//! Dune's `filters`, `sort_by` and `columns` request parameters: parsing and evaluation.
//!
//! Filters are a small SQL-WHERE-like language: `col op literal`, `col IN (...)`,
//! `col LIKE '...'`, `col IS [NOT] NULL`, combined with AND, OR and parentheses. Literals are
//! single-quoted strings ('' escapes a quote), numbers or bare 0x hex. Column names with special
//! characters are double-quoted ("" escapes a quote). NOT, NOT IN and NOT LIKE are rejected.

use serde_json::Value;
use std::cmp::Ordering;

#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Str(String),
    Num(String),
    Bool(bool),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Cmp(String, CmpOp, Literal),
    In(String, Vec<Literal>),
    Like(String, String),
    IsNull(String, bool),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Quoted(String),
    Str(String),
    Num(String),
    Op(String),
    LParen,
    RParen,
    Comma,
}

fn tokenize(s: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' | '\n' | '\r' => i += 1,
            '(' => {
                out.push(Tok::LParen);
                i += 1
            }
            ')' => {
                out.push(Tok::RParen);
                i += 1
            }
            ',' => {
                out.push(Tok::Comma);
                i += 1
            }
            '\'' | '"' => {
                let mut text = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err(format!("unterminated {c}")),
                        Some(&q) if q == c && chars.get(i + 1) == Some(&c) => {
                            text.push(c);
                            i += 2;
                        }
                        Some(&q) if q == c => {
                            i += 1;
                            break;
                        }
                        Some(&o) => {
                            text.push(o);
                            i += 1;
                        }
                    }
                }
                out.push(if c == '\'' {
                    Tok::Str(text)
                } else {
                    Tok::Quoted(text)
                });
            }
            '=' | '<' | '>' | '!' => {
                let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
                let op = if ["<=", ">=", "<>", "!="].contains(&two.as_str()) {
                    two
                } else {
                    c.to_string()
                };
                if op == "!" {
                    return Err("unexpected '!'".into());
                }
                i += op.len();
                out.push(Tok::Op(op));
            }
            c if c.is_ascii_digit() || c == '-' || c == '.' => {
                let start = i;
                i += 1;
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                    i += 1;
                }
                out.push(Tok::Num(chars[start..i].iter().collect()));
            }
            c if c.is_alphabetic() || c == '_' => {
                let start = i;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                out.push(Tok::Ident(chars[start..i].iter().collect()));
            }
            other => return Err(format!("unexpected character '{other}'")),
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn keyword(&mut self, kw: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Ident(w)) if w.eq_ignore_ascii_case(kw)) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut left = self.and()?;
        while self.keyword("OR") {
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut left = self.predicate()?;
        while self.keyword("AND") {
            left = Expr::And(Box::new(left), Box::new(self.predicate()?));
        }
        Ok(left)
    }

    fn literal(&mut self) -> Result<Literal, String> {
        match self.next() {
            Some(Tok::Str(s)) => Ok(Literal::Str(s)),
            Some(Tok::Num(n)) if n.starts_with("0x") || n.parse::<f64>().is_ok() => {
                Ok(Literal::Num(n))
            }
            Some(Tok::Ident(w)) if w.eq_ignore_ascii_case("true") => Ok(Literal::Bool(true)),
            Some(Tok::Ident(w)) if w.eq_ignore_ascii_case("false") => Ok(Literal::Bool(false)),
            other => Err(format!("expected a literal, found {other:?}")),
        }
    }

    fn predicate(&mut self) -> Result<Expr, String> {
        if self.keyword("NOT") {
            return Err("NOT is not supported".into());
        }
        if self.peek() == Some(&Tok::LParen) {
            self.pos += 1;
            let e = self.or()?;
            if self.next() != Some(Tok::RParen) {
                return Err("expected ')'".into());
            }
            return Ok(e);
        }
        let column = match self.next() {
            Some(Tok::Ident(c)) | Some(Tok::Quoted(c)) => c,
            other => return Err(format!("expected a column name, found {other:?}")),
        };
        if self.keyword("NOT") {
            return Err("NOT IN and NOT LIKE are not supported".into());
        }
        if self.keyword("IS") {
            let negated = self.keyword("NOT");
            if !self.keyword("NULL") {
                return Err("expected NULL after IS".into());
            }
            return Ok(Expr::IsNull(column, !negated));
        }
        if self.keyword("IN") {
            if self.next() != Some(Tok::LParen) {
                return Err("expected '(' after IN".into());
            }
            let mut items = vec![self.literal()?];
            loop {
                match self.next() {
                    Some(Tok::Comma) => items.push(self.literal()?),
                    Some(Tok::RParen) => break,
                    other => return Err(format!("expected ',' or ')', found {other:?}")),
                }
            }
            return Ok(Expr::In(column, items));
        }
        if self.keyword("LIKE") {
            return match self.next() {
                Some(Tok::Str(p)) => Ok(Expr::Like(column, p)),
                other => Err(format!("LIKE needs a quoted pattern, found {other:?}")),
            };
        }
        let op = match self.next() {
            Some(Tok::Op(o)) => match o.as_str() {
                "=" => CmpOp::Eq,
                "<>" | "!=" => CmpOp::Ne,
                "<" => CmpOp::Lt,
                "<=" => CmpOp::Le,
                ">" => CmpOp::Gt,
                ">=" => CmpOp::Ge,
                _ => return Err(format!("unknown operator {o}")),
            },
            other => {
                return Err(format!(
                    "expected an operator after {column}, found {other:?}"
                ));
            }
        };
        Ok(Expr::Cmp(column, op, self.literal()?))
    }
}

/// Parses a `filters` expression.
pub fn parse_filters(s: &str) -> Result<Expr, String> {
    let mut p = Parser {
        toks: tokenize(s)?,
        pos: 0,
    };
    let e = p.or()?;
    if p.pos < p.toks.len() {
        return Err(format!("unexpected {:?}", p.toks[p.pos]));
    }
    Ok(e)
}

/// Splits a comma-separated list where items may be double-quoted (`a,"b,c"`).
pub fn split_list(s: &str) -> Result<Vec<String>, String> {
    let mut items = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => items.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    if quoted {
        return Err("unterminated quote".into());
    }
    items.push(cur);
    Ok(items)
}

/// Parses `columns`: names separated by commas, optionally double-quoted.
pub fn parse_columns(s: &str) -> Result<Vec<String>, String> {
    split_list(s).map(|v| v.into_iter().map(|c| c.trim().to_string()).collect())
}

/// Parses `sort_by`: `col [asc|desc], ...`. Returns (column, descending).
pub fn parse_sort(s: &str) -> Result<Vec<(String, bool)>, String> {
    let mut out = Vec::new();
    for item in split_list_keep_quotes(s) {
        let item = item.trim();
        let (name, rest) = if let Some(stripped) = item.strip_prefix('"') {
            let end = stripped.rfind('"').ok_or("unterminated quote in sort_by")?;
            (
                stripped[..end].replace("\"\"", "\""),
                stripped[end + 1..].trim().to_string(),
            )
        } else {
            let mut parts = item.splitn(2, char::is_whitespace);
            (
                parts.next().unwrap_or("").to_string(),
                parts.next().unwrap_or("").trim().to_string(),
            )
        };
        let desc = match rest.to_ascii_lowercase().as_str() {
            "" | "asc" => false,
            "desc" => true,
            other => return Err(format!("invalid sort direction '{other}'")),
        };
        if name.is_empty() {
            return Err("empty column in sort_by".into());
        }
        out.push((name, desc));
    }
    Ok(out)
}

fn split_list_keep_quotes(s: &str) -> Vec<String> {
    let mut items = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in s.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                cur.push(c)
            }
            ',' if !quoted => items.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    items.push(cur);
    items
}

/// Every column an expression mentions.
pub fn columns_of(e: &Expr, out: &mut Vec<String>) {
    match e {
        Expr::And(a, b) | Expr::Or(a, b) => {
            columns_of(a, out);
            columns_of(b, out);
        }
        Expr::Cmp(c, ..) | Expr::In(c, _) | Expr::Like(c, _) | Expr::IsNull(c, _) => {
            out.push(c.clone())
        }
    }
}

/// How DuneSQL (Trino) treats a column type when it compares and sorts: by the column's type,
/// never by what a value looks like (digits in a varchar are text).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SqlType {
    Varchar,
    /// tinyint, smallint, integer, bigint, decimal, uint256, int256: exact numbers.
    Exact,
    Double,
    Real,
    Boolean,
    Varbinary,
    Date,
    Timestamp,
    /// json, array, map, row, time...: not comparable in a filter.
    Other,
}

/// The SQL type class of a type name as Dune writes it in `column_types`.
pub fn sql_type(name: &str) -> SqlType {
    let n = name.trim().to_ascii_lowercase();
    let head: String = n
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect();
    match head.as_str() {
        "varchar" | "char" => SqlType::Varchar,
        "tinyint" | "smallint" | "integer" | "int" | "bigint" | "decimal" | "uint256"
        | "int256" => SqlType::Exact,
        "double" => SqlType::Double,
        "real" => SqlType::Real,
        "boolean" => SqlType::Boolean,
        "varbinary" => SqlType::Varbinary,
        "date" => SqlType::Date,
        "timestamp" => SqlType::Timestamp,
        _ => SqlType::Other,
    }
}

/// The type Trino gives a literal of the filter language.
fn literal_type(l: &Literal) -> String {
    match l {
        Literal::Str(s) => format!("varchar({})", s.chars().count()),
        Literal::Num(n) if n.starts_with("0x") => "varbinary".into(),
        Literal::Num(n) if n.contains(['.', 'e', 'E']) => "double".into(),
        Literal::Num(_) => "integer".into(),
        Literal::Bool(_) => "boolean".into(),
    }
}

/// Whether a column of type `ty` can be compared with `lit`, as Trino decides it: a string
/// literal is coerced to a date or timestamp, nothing else is coerced.
fn comparable(ty: SqlType, lit: &Literal) -> bool {
    match (ty, lit) {
        (SqlType::Varchar, Literal::Str(_)) => true,
        (SqlType::Exact | SqlType::Double | SqlType::Real, Literal::Num(n)) => !n.starts_with("0x"),
        (SqlType::Boolean, Literal::Bool(_)) => true,
        (SqlType::Varbinary, Literal::Num(n)) => n.starts_with("0x"),
        (SqlType::Date | SqlType::Timestamp, Literal::Str(s)) => instant(s).is_some(),
        _ => false,
    }
}

/// Checks every predicate of `e` against the columns' types (`type_of(column)`: the class and
/// the name as Dune writes it); the error is Trino's wording, answered with a 400.
pub fn type_check(e: &Expr, type_of: &dyn Fn(&str) -> (SqlType, String)) -> Result<(), String> {
    let cannot = |c: &str, op: &str, l: &Literal| {
        let (_, name) = type_of(c);
        Err(format!(
            "Cannot apply operator: {name} {op} {}",
            literal_type(l)
        ))
    };
    match e {
        Expr::And(a, b) | Expr::Or(a, b) => {
            type_check(a, type_of)?;
            type_check(b, type_of)
        }
        Expr::IsNull(..) => Ok(()),
        Expr::Like(c, _) => match type_of(c) {
            (SqlType::Varchar, _) => Ok(()),
            (_, name) => Err(format!(
                "Unexpected parameters ({name}, varchar) for function like"
            )),
        },
        Expr::In(c, items) => match items.iter().find(|l| !comparable(type_of(c).0, l)) {
            Some(l) => cannot(c, "=", l),
            None => Ok(()),
        },
        Expr::Cmp(c, op, l) if !comparable(type_of(c).0, l) => cannot(c, op.text(), l),
        Expr::Cmp(..) => Ok(()),
    }
}

impl CmpOp {
    fn text(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "<>",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }
}

fn decimal(v: &Value) -> Option<bigdecimal::BigDecimal> {
    use std::str::FromStr;
    match v {
        Value::Number(n) => bigdecimal::BigDecimal::from_str(&n.to_string()).ok(),
        Value::String(s) => bigdecimal::BigDecimal::from_str(s).ok(),
        _ => None,
    }
}

fn float(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn hex_bytes(s: &str) -> Option<Vec<u8>> {
    let h = s.strip_prefix("0x")?;
    (0..h.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(h.get(i..i + 2)?, 16).ok())
        .collect()
}

fn text_of(v: &Value) -> Option<&str> {
    v.as_str()
}

/// Two values of a column of type `ty`, compared as Trino compares that type.
fn compare_values(ty: SqlType, a: &Value, b: &Value) -> Option<Ordering> {
    match ty {
        SqlType::Varchar => Some(text_of(a)?.as_bytes().cmp(text_of(b)?.as_bytes())),
        SqlType::Exact => match (small_integer(a), small_integer(b)) {
            // the common case, without the arbitrary-precision parse
            (Some(x), Some(y)) => Some(x.cmp(&y)),
            _ => Some(decimal(a)?.cmp(&decimal(b)?)),
        },
        SqlType::Double => float(a)?.partial_cmp(&float(b)?),
        SqlType::Real => (float(a)? as f32).partial_cmp(&(float(b)? as f32)),
        SqlType::Boolean => Some(a.as_bool()?.cmp(&b.as_bool()?)),
        SqlType::Varbinary => Some(hex_bytes(text_of(a)?)?.cmp(&hex_bytes(text_of(b)?)?)),
        SqlType::Date | SqlType::Timestamp => {
            Some(instant(text_of(a)?)?.cmp(&instant(text_of(b)?)?))
        }
        SqlType::Other => None,
    }
}

/// A whole number of at most 18 digits (a JSON number, or a string of digits), as i64.
fn small_integer(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => {
            let digits = s.strip_prefix('-').unwrap_or(s);
            if digits.is_empty() || digits.len() > 18 || !digits.bytes().all(|b| b.is_ascii_digit())
            {
                return None;
            }
            s.parse().ok()
        }
        _ => None,
    }
}

/// A cell of a column of type `ty` compared with a literal (checked by [`type_check`]).
pub fn compare(ty: SqlType, cell: &Value, lit: &Literal) -> Option<Ordering> {
    if cell.is_null() {
        return None;
    }
    let lit = match lit {
        Literal::Str(s) => Value::String(s.clone()),
        Literal::Num(n) if n.starts_with("0x") => Value::String(n.to_ascii_lowercase()),
        Literal::Num(n) => Value::String(n.clone()),
        Literal::Bool(b) => Value::Bool(*b),
    };
    compare_values(ty, cell, &lit)
}

/// SQL LIKE with `%` and `_`.
pub fn like(text: &str, pattern: &str) -> bool {
    let t: Vec<char> = text.chars().collect();
    let p: Vec<char> = pattern.chars().collect();
    let (mut ti, mut pi) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '_' || p[pi] == t[ti]) {
            ti += 1;
            pi += 1;
        } else if pi < p.len() && p[pi] == '%' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '%' {
        pi += 1;
    }
    pi == p.len()
}

/// Microseconds since the epoch of a date or timestamp text: `2024-03-05`,
/// `2024-03-05 20:50:59.123 UTC`, `2024-03-05T20:50:59Z`, `2024-03-05 20:50`.
pub fn instant(text: &str) -> Option<i64> {
    let t = text.trim();
    let t = t
        .strip_suffix(" UTC")
        .or_else(|| t.strip_suffix('Z'))
        .unwrap_or(t);
    let (date, time) = match t.split_once([' ', 'T']) {
        Some((d, tm)) => (d, tm),
        None => (t, "00:00:00"),
    };
    let mut d = date.split('-');
    let y: i64 = d.next()?.parse().ok()?;
    let m: i64 = d.next()?.parse().ok()?;
    let day: i64 = d.next()?.parse().ok()?;
    if d.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&day) {
        return None;
    }
    let mut parts = time.split(':');
    let h: i64 = parts.next()?.parse().ok()?;
    let mi: i64 = parts.next().unwrap_or("0").parse().ok()?;
    let sec_text = parts.next().unwrap_or("0");
    let (sec, frac) = sec_text.split_once('.').unwrap_or((sec_text, ""));
    let sec: i64 = sec.parse().ok()?;
    if frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let micros: i64 = format!("{:0<6}", &frac[..frac.len().min(6)]).parse().ok()?;
    let yy = if m <= 2 { y - 1 } else { y };
    let era = yy.div_euclid(400);
    let yoe = yy - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + day - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    Some(((days * 86_400 + h * 3600 + mi * 60 + sec) * 1_000_000) + micros)
}

/// Evaluates an expression (checked by [`type_check`]) against a row through
/// `get(column) -> value`, comparing by `type_of(column)`.
pub fn eval(e: &Expr, get: &dyn Fn(&str) -> Value, type_of: &dyn Fn(&str) -> SqlType) -> bool {
    match e {
        Expr::And(a, b) => eval(a, get, type_of) && eval(b, get, type_of),
        Expr::Or(a, b) => eval(a, get, type_of) || eval(b, get, type_of),
        Expr::IsNull(c, want_null) => get(c).is_null() == *want_null,
        Expr::Like(c, p) => get(c).as_str().is_some_and(|s| like(s, p)),
        Expr::In(c, items) => {
            let v = get(c);
            items
                .iter()
                .any(|l| compare(type_of(c), &v, l) == Some(Ordering::Equal))
        }
        Expr::Cmp(c, op, l) => match compare(type_of(c), &get(c), l) {
            None => false,
            Some(o) => match op {
                CmpOp::Eq => o == Ordering::Equal,
                CmpOp::Ne => o != Ordering::Equal,
                CmpOp::Lt => o == Ordering::Less,
                CmpOp::Le => o != Ordering::Greater,
                CmpOp::Gt => o == Ordering::Greater,
                CmpOp::Ge => o != Ordering::Less,
            },
        },
    }
}

/// Orders two cells of a column of type `ty` for sort_by, as Trino orders the type (varchar
/// by its bytes even when it holds digits); NULLs last.
pub fn order_cells(ty: SqlType, a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Null, Value::Null) => Ordering::Equal,
        (Value::Null, _) => Ordering::Greater,
        (_, Value::Null) => Ordering::Less,
        _ => compare_values(ty, a, b).unwrap_or_else(|| a.to_string().cmp(&b.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row(v: Value) -> impl Fn(&str) -> Value {
        move |c: &str| v.get(c).cloned().unwrap_or(Value::Null)
    }

    #[test]
    fn parses_and_evaluates_documented_forms() {
        let r = row(
            json!({"block_time": "2024-03-05 20:50:59.000 UTC", "amount_usd": 12.5,
            "tx_to": "0x6A3E", "token.symbol": "USDC", "maker": null, "raw": "18446744073709551617"}),
        );
        let yes = [
            "block_time > '2024-03-01'",
            "amount_usd >= 12.5 AND (maker IS NULL OR amount_usd < 0)",
            "tx_to IN (0x6a3e, 0xdbf8)",
            "\"token.symbol\" = 'USDC'",
            "\"token.symbol\" LIKE 'US%'",
            "raw > 18446744073709551616",
            "maker IS NULL",
            "amount_usd <> 3",
        ];
        let time = |c: &str| match c {
            "block_time" => SqlType::Timestamp,
            "amount_usd" => SqlType::Double,
            "tx_to" => SqlType::Varbinary,
            "raw" => SqlType::Exact,
            _ => SqlType::Varchar,
        };
        for f in yes {
            assert!(eval(&parse_filters(f).unwrap(), &r, &time), "{f}");
        }
        let no = [
            "block_time < '2024-03-01'",
            "maker = 'x'",
            "maker IS NOT NULL",
            "raw < 5",
        ];
        // varchar holding digits compares as text; varbinary is not varchar
        let digits = row(json!({"v": "10"}));
        let text = |_: &str| SqlType::Varchar;
        assert!(eval(&parse_filters("v < '9'").unwrap(), &digits, &text));
        let check = |f: &str, ty: SqlType| {
            type_check(&parse_filters(f).unwrap(), &|_| (ty, "t".to_string()))
        };
        assert!(check("v = 3", SqlType::Varchar).is_err());
        assert!(check("v = '0x01'", SqlType::Varbinary).is_err());
        assert!(check("v = 0x01", SqlType::Varbinary).is_ok());
        assert!(check("v > '2024-03-01'", SqlType::Timestamp).is_ok());
        assert!(check("v LIKE 'a%'", SqlType::Exact).is_err());
        for f in no {
            assert!(!eval(&parse_filters(f).unwrap(), &r, &time), "{f}");
        }
        for f in [
            "block_time = '2024-03-05 20:50:59'",
            "block_time <= '2024-03-05 20:50:59.000000'",
            "block_time < '2024-03-06'",
        ] {
            assert!(eval(&parse_filters(f).unwrap(), &r, &time), "{f}");
        }
        for bad in [
            "NOT a = 1",
            "a NOT IN (1)",
            "a = now()",
            "a ==",
            "'x' = a",
            "a = 'x",
        ] {
            assert!(parse_filters(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn quotes_escape_inside_literals_and_names() {
        let e = parse_filters("\"we\"\"ird\" = 'it''s'").unwrap();
        assert_eq!(
            e,
            Expr::Cmp("we\"ird".into(), CmpOp::Eq, Literal::Str("it's".into()))
        );
        assert_eq!(parse_columns("a,\"b,c\",d").unwrap(), vec!["a", "b,c", "d"]);
        assert_eq!(
            parse_sort("amount_usd desc, \"Total Volume\" asc,block_time").unwrap(),
            vec![
                ("amount_usd".into(), true),
                ("Total Volume".into(), false),
                ("block_time".into(), false)
            ]
        );
    }
}
