//! The statement level of the DuneSQL → SQLite translation: `WITH`, set operations, the
//! clauses of each `SELECT`, the relations of `FROM` (with their scopes, for name resolution
//! and types), `ORDER BY` (Trino's NULLS LAST by default) and `LIMIT`/`OFFSET`/`FETCH`.
//! Expressions are in `expr.rs`, their types in `infer.rs`.

use super::lex::{Tk, Tok, lex, place};
use super::types::DType;
use std::cell::RefCell;
use std::ops::Range;

/// A table a statement may read, as the engine holds it.
#[derive(Debug, Clone)]
pub struct TableInfo {
    /// The SQLite table's name (`dex.trades`, `dune.<namespace>.<table>`).
    pub sqlite: String,
    /// Columns: (name, type).
    pub columns: Vec<(String, DType)>,
}

/// Where the translator finds the tables a statement names by their parts (`dex`,
/// `trades`), lowercase.
pub trait Tables {
    /// The table, or `None` when it does not exist.
    fn table(&self, parts: &[String]) -> Option<TableInfo>;
}

/// A column of the statement's result.
#[derive(Debug, Clone, PartialEq)]
pub struct OutCol {
    /// Its name, as Trino names it (alias, column name, or `_col<n>`).
    pub name: String,
    /// Its type, when the translator could infer it.
    pub ty: Option<DType>,
}

/// A statement translated to SQLite.
#[derive(Debug, Clone)]
pub struct Translation {
    /// The SQLite statement.
    pub sql: String,
    /// The result's columns.
    pub columns: Vec<OutCol>,
}

pub(super) type R<T> = Result<T, String>;

/// A relation in scope: a table, a `WITH` query or a subquery.
#[derive(Debug, Clone)]
pub(super) struct Rel {
    /// The name it is referred to by.
    pub alias: Option<String>,
    /// A catalog table's name parts (`dex`, `trades`), to resolve `dex.trades.col`.
    pub parts: Vec<String>,
    /// (name, type).
    pub columns: Vec<(String, Option<DType>)>,
}

/// The names visible at one level of a statement.
pub(super) struct Scope<'p> {
    pub rels: Vec<Rel>,
    /// `WITH` queries: (name, columns).
    pub ctes: Vec<Rel>,
    pub parent: Option<&'p Scope<'p>>,
}

impl<'p> Scope<'p> {
    pub fn child(parent: Option<&'p Scope<'p>>) -> Scope<'p> {
        Scope {
            rels: Vec::new(),
            ctes: Vec::new(),
            parent,
        }
    }

    /// The `WITH` query `name`, here or further out.
    fn cte(&self, name: &str) -> Option<&Rel> {
        self.ctes
            .iter()
            .find(|c| c.alias.as_deref() == Some(name))
            .or_else(|| self.parent.and_then(|p| p.cte(name)))
    }

    /// The type and name of column `parts` (`col`, `alias.col`, `dex.trades.col`).
    pub fn column(&self, parts: &[String]) -> Option<(String, Option<DType>)> {
        let (name, qual) = parts.split_last()?;
        let found = self.rels.iter().find_map(|r| {
            let qualifies = match qual.len() {
                0 => true,
                1 => r.alias.as_deref() == Some(qual[0].as_str()),
                _ => r.parts == qual,
            };
            let col = r.columns.iter().find(|c| c.0.to_lowercase() == *name);
            qualifies.then_some(col).flatten().cloned()
        });
        found.or_else(|| self.parent.and_then(|p| p.column(parts)))
    }

    /// The relation `qual` names (by alias or catalog name).
    pub fn rel(&self, qual: &[String]) -> Option<&Rel> {
        self.rels.iter().find(|r| match qual.len() {
            1 => r.alias.as_deref() == Some(qual[0].as_str()),
            _ => r.parts == qual,
        })
    }
}

/// Words after which a name is not a relation's alias.
const NOT_ALIAS: [&str; 22] = [
    "where",
    "join",
    "on",
    "using",
    "left",
    "right",
    "full",
    "inner",
    "cross",
    "natural",
    "group",
    "order",
    "limit",
    "offset",
    "fetch",
    "having",
    "union",
    "intersect",
    "except",
    "window",
    "tablesample",
    "as",
];

/// The translator: the statement's tokens and what it can read.
pub(super) struct Tr<'a> {
    pub t: &'a [Tok],
    pub sql: &'a str,
    pub tables: &'a dyn Tables,
    /// `now()`, in microseconds: the execution's creation time.
    pub now_us: i64,
    /// Tables the statement reads, by SQLite name.
    pub read: RefCell<Vec<String>>,
}

/// Double-quotes an identifier for SQLite.
pub(super) fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Translates one DuneSQL statement (a query) for SQLite; the error is a Trino-like message.
pub fn translate(sql: &str, tables: &dyn Tables, now_ms: u64) -> R<Translation> {
    let toks = lex(sql)?;
    let mut end = toks.len();
    while end > 0 && toks[end - 1].kind == Tk::Semi {
        end -= 1;
    }
    let tr = Tr {
        t: &toks[..end],
        sql,
        tables,
        now_us: now_ms as i64 * 1000,
        read: RefCell::new(Vec::new()),
    };
    if let Some(i) = tr.t.iter().position(|t| t.kind == Tk::Semi) {
        return Err(tr.mismatched(i));
    }
    tr.balanced()?;
    if !(tr.is(0, "select") || tr.is(0, "with") || tr.kind(0) == Some(Tk::Open)) {
        return Err(format!(
            "{}. Expecting: 'SELECT', 'WITH', <query>",
            tr.mismatched(0)
        ));
    }
    let (sql, columns) = tr.query(0..end, None)?;
    Ok(Translation { sql, columns })
}

impl<'a> Tr<'a> {
    pub fn kind(&self, i: usize) -> Option<Tk> {
        self.t.get(i).map(|t| t.kind)
    }

    /// Whether token `i` is the word `w`.
    pub fn is(&self, i: usize, w: &str) -> bool {
        self.t.get(i).is_some_and(|t| t.is(w))
    }

    /// `line L:C` of token `i` (the end of the statement past the last).
    pub fn at(&self, i: usize) -> String {
        let at = self.t.get(i).map_or(self.sql.trim_end().len(), |t| t.at);
        place(self.sql, at)
    }

    /// An error at token `i`.
    pub fn err(&self, i: usize, msg: &str) -> String {
        format!("{}: {msg}", self.at(i))
    }

    /// Trino's `mismatched input 'x'` at token `i`.
    pub fn mismatched(&self, i: usize) -> String {
        let shown = self.t.get(i).map_or("<EOF>".to_string(), |t| {
            let end = self.t.get(i).map_or(t.at, |t| t.at + self.raw_len(t));
            self.sql[t.at..end].to_string()
        });
        self.err(i, &format!("mismatched input '{shown}'"))
    }

    /// The length of a token in the statement's text.
    fn raw_len(&self, t: &Tok) -> usize {
        let next = self
            .t
            .iter()
            .find(|n| n.at > t.at)
            .map_or(self.sql.len(), |n| n.at);
        self.sql[t.at..next].trim_end().len()
    }

    /// An error for something the emulator does not evaluate.
    pub fn unsupported(&self, i: usize, what: &str) -> String {
        self.err(
            i,
            &format!("{what} is not supported by the Dune API emulator"),
        )
    }

    /// Checks that parentheses pair up.
    fn balanced(&self) -> R<()> {
        let mut open = Vec::new();
        for (i, t) in self.t.iter().enumerate() {
            match t.kind {
                Tk::Open => open.push(i),
                Tk::Close if open.pop().is_none() => return Err(self.mismatched(i)),
                _ => {}
            }
        }
        match open.is_empty() {
            true => Ok(()),
            false => Err(self.mismatched(self.t.len())),
        }
    }

    /// The `)` matching the `(` at `open`.
    pub fn close(&self, open: usize) -> usize {
        let mut depth = 0;
        for (i, t) in self.t.iter().enumerate().skip(open) {
            match t.kind {
                Tk::Open => depth += 1,
                Tk::Close => {
                    depth -= 1;
                    if depth == 0 {
                        return i;
                    }
                }
                _ => {}
            }
        }
        self.t.len()
    }

    /// The first token in `r`, outside parentheses, that is one of `words` (a `from` of `IS
    /// DISTINCT FROM` does not count).
    pub fn find(&self, r: Range<usize>, words: &[&str]) -> Option<usize> {
        let mut i = r.start;
        while i < r.end {
            match self.t[i].kind {
                Tk::Open => i = self.close(i),
                Tk::Word if words.contains(&self.t[i].text.as_str()) => {
                    let distinct_from = self.is(i, "from") && i > 0 && self.is(i - 1, "distinct");
                    if !distinct_from {
                        return Some(i);
                    }
                }
                _ => {}
            }
            i += 1;
        }
        None
    }

    /// `r` split at commas outside parentheses.
    pub fn split_commas(&self, r: Range<usize>) -> Vec<Range<usize>> {
        let mut out = Vec::new();
        let (mut start, mut i) = (r.start, r.start);
        while i < r.end {
            match self.t[i].kind {
                Tk::Open => i = self.close(i),
                Tk::Comma => {
                    out.push(start..i);
                    start = i + 1;
                }
                _ => {}
            }
            i += 1;
        }
        out.push(start..r.end);
        out
    }

    /// Whether the tokens of `r` start a query (`SELECT`, `WITH`).
    pub fn starts_query(&self, r: &Range<usize>) -> bool {
        r.start < r.end && (self.is(r.start, "select") || self.is(r.start, "with"))
    }

    /// A query: `[WITH …] core [UNION|INTERSECT|EXCEPT core]… [ORDER BY …] [LIMIT …]`.
    pub fn query(&self, r: Range<usize>, outer: Option<&Scope>) -> R<(String, Vec<OutCol>)> {
        let mut scope = Scope::child(outer);
        let mut out = String::new();
        let mut i = r.start;
        if self.is(i, "with") {
            i = self.with(i + 1, r.end, &mut scope, &mut out)?;
        }
        let tail = self
            .find(i..r.end, &["order", "limit", "offset", "fetch"])
            .unwrap_or(r.end);
        let mut cols: Option<Vec<OutCol>> = None;
        let mut start = i;
        let order_scope;
        loop {
            let op = self.find(start..tail, &["union", "intersect", "except"]);
            let core_end = op.unwrap_or(tail);
            if start >= core_end {
                return Err(self.mismatched(start));
            }
            let (sql, c, core_scope) = self.core(start..core_end, &scope)?;
            out.push_str(&sql);
            match &cols {
                None => cols = Some(c),
                Some(first) if first.len() != c.len() => {
                    return Err(self.err(start, "column count mismatch in set operation"));
                }
                _ => {}
            }
            let Some(op) = op else {
                order_scope = (start == i).then_some(core_scope);
                break;
            };
            let mut words = vec![self.t[op].text.to_uppercase()];
            start = op + 1;
            if self.is(start, "all") || self.is(start, "distinct") {
                if self.is(start, "all") {
                    words.push("ALL".into());
                }
                start += 1;
            }
            out.push_str(&format!(" {} ", words.join(" ")));
        }
        let cols = cols.unwrap_or_default();
        let plain = Scope::child(Some(&scope));
        let order_scope = order_scope.as_ref().unwrap_or(&plain);
        out.push_str(&self.tail(tail..r.end, order_scope)?);
        Ok((out, cols))
    }

    /// `name [(columns)] AS (query), …`: adds each to `scope`; the index after the list.
    fn with(&self, mut i: usize, end: usize, scope: &mut Scope, out: &mut String) -> R<usize> {
        if self.is(i, "recursive") {
            return Err(self.unsupported(i, "WITH RECURSIVE"));
        }
        out.push_str("WITH ");
        loop {
            let name = match self.kind(i) {
                Some(Tk::Word | Tk::Quoted) => self.t[i].text.to_lowercase(),
                _ => return Err(self.mismatched(i)),
            };
            let mut renamed = None;
            if self.kind(i + 1) == Some(Tk::Open) {
                let j = self.close(i + 1);
                renamed = Some(self.names(i + 2..j)?);
                i = j;
            }
            if !self.is(i + 1, "as") || self.kind(i + 2) != Some(Tk::Open) {
                return Err(self.mismatched(i + 1));
            }
            let j = self.close(i + 2);
            let (sql, mut cols) = self.query(i + 3..j, Some(scope))?;
            if let Some(names) = renamed {
                if names.len() != cols.len() {
                    return Err(self.err(i, "WITH column alias list has the wrong length"));
                }
                let list: Vec<String> = names.iter().map(|n| quote(n)).collect();
                out.push_str(&format!("{}({}) AS ({sql})", quote(&name), list.join(", ")));
                for (c, n) in cols.iter_mut().zip(names) {
                    c.name = n;
                }
            } else {
                out.push_str(&format!("{} AS ({sql})", quote(&name)));
            }
            scope.ctes.push(Rel {
                alias: Some(name),
                parts: Vec::new(),
                columns: cols.into_iter().map(|c| (c.name, c.ty)).collect(),
            });
            i = j + 1;
            if self.kind(i) != Some(Tk::Comma) || i >= end {
                out.push(' ');
                return Ok(i);
            }
            out.push_str(", ");
            i += 1;
        }
    }

    /// A list of names: `a, "B", c`.
    fn names(&self, r: Range<usize>) -> R<Vec<String>> {
        self.split_commas(r)
            .into_iter()
            .map(|c| match (c.len(), self.kind(c.start)) {
                (1, Some(Tk::Word | Tk::Quoted)) => Ok(self.t[c.start].text.to_lowercase()),
                _ => Err(self.mismatched(c.start)),
            })
            .collect()
    }

    /// `ORDER BY …`, `LIMIT n | ALL`, `OFFSET n [ROW|ROWS]`, `FETCH FIRST|NEXT [n] ROW|ROWS
    /// ONLY`, in Trino's orders; SQLite wants `LIMIT n OFFSET m`.
    fn tail(&self, r: Range<usize>, scope: &Scope) -> R<String> {
        let (mut out, mut i) = (String::new(), r.start);
        let (mut limit, mut offset) = (None, None);
        let count = |i: usize| match self.kind(i) {
            Some(Tk::Num) => self.t[i]
                .text
                .parse::<u64>()
                .map_err(|_| self.mismatched(i)),
            _ => Err(self.mismatched(i)),
        };
        while i < r.end {
            if self.is(i, "order") && self.is(i + 1, "by") {
                let end = self
                    .find(i + 2..r.end, &["limit", "offset", "fetch"])
                    .unwrap_or(r.end);
                out.push_str(&format!(
                    " ORDER BY {}",
                    self.order_list(i + 2..end, scope)?
                ));
                i = end;
            } else if self.is(i, "limit") && self.is(i + 1, "all") {
                i += 2;
            } else if self.is(i, "limit") {
                limit = Some(count(i + 1)?);
                i += 2;
            } else if self.is(i, "offset") {
                offset = Some(count(i + 1)?);
                i += 2;
                if self.is(i, "row") || self.is(i, "rows") {
                    i += 1;
                }
            } else if self.is(i, "fetch") && (self.is(i + 1, "first") || self.is(i + 1, "next")) {
                i += 2;
                limit = Some(if self.kind(i) == Some(Tk::Num) {
                    count(i)?
                } else {
                    1
                });
                i += usize::from(self.kind(i) == Some(Tk::Num));
                if !(self.is(i, "row") || self.is(i, "rows")) || !self.is(i + 1, "only") {
                    return Err(self.mismatched(i + 1));
                }
                i += 2;
            } else {
                return Err(self.mismatched(i));
            }
        }
        match (limit, offset) {
            (None, None) => {}
            (l, o) => {
                let l = l.map_or("-1".to_string(), |l| l.to_string());
                out.push_str(&format!(" LIMIT {l} OFFSET {}", o.unwrap_or(0)));
            }
        }
        Ok(out)
    }

    /// `expr [ASC|DESC] [NULLS FIRST|LAST], …` with NULLS LAST where none is given (Trino's
    /// default for both directions; SQLite's is NULLS FIRST ascending).
    pub fn order_list(&self, r: Range<usize>, scope: &Scope) -> R<String> {
        let mut items = Vec::new();
        for item in self.split_commas(r) {
            let mut end = item.end;
            let mut nulls = "NULLS LAST";
            if end >= item.start + 2 && self.is(end - 2, "nulls") {
                nulls = match self.t[end - 1].text.as_str() {
                    "first" => "NULLS FIRST",
                    "last" => "NULLS LAST",
                    _ => return Err(self.mismatched(end - 1)),
                };
                end -= 2;
            }
            let mut dir = "ASC";
            if end > item.start && (self.is(end - 1, "asc") || self.is(end - 1, "desc")) {
                dir = if self.is(end - 1, "desc") {
                    "DESC"
                } else {
                    "ASC"
                };
                end -= 1;
            }
            if end == item.start {
                return Err(self.mismatched(end));
            }
            items.push(format!(
                "{} {dir} {nulls}",
                self.expr(item.start..end, scope)?
            ));
        }
        Ok(items.join(", "))
    }

    /// One `SELECT` (or a parenthesized query): its SQL, its columns and its scope.
    fn core<'s>(
        &self,
        r: Range<usize>,
        parent: &'s Scope<'s>,
    ) -> R<(String, Vec<OutCol>, Scope<'s>)> {
        if self.kind(r.start) == Some(Tk::Open) && self.close(r.start) == r.end - 1 {
            let (sql, cols) = self.query(r.start + 1..r.end - 1, Some(parent))?;
            return Ok((
                format!("SELECT * FROM ({sql})"),
                cols,
                Scope::child(Some(parent)),
            ));
        }
        if !self.is(r.start, "select") {
            return Err(match self.is(r.start, "values") {
                true => self.unsupported(r.start, "VALUES"),
                false => self.mismatched(r.start),
            });
        }
        let mut i = r.start + 1;
        let mut out = String::from("SELECT ");
        if self.is(i, "distinct") {
            out.push_str("DISTINCT ");
            i += 1;
        } else if self.is(i, "all") {
            i += 1;
        }
        let clause = |w: &str| self.find(i..r.end, &[w]);
        let (from, wh, group, having) = (
            clause("from"),
            clause("where"),
            clause("group"),
            clause("having"),
        );
        if let Some(w) = clause("window") {
            return Err(self.unsupported(w, "WINDOW"));
        }
        let marks = [from, wh, group, having];
        let present: Vec<usize> = marks.iter().flatten().copied().collect();
        if let Some(w) = present.windows(2).find(|w| w[1] < w[0]) {
            return Err(self.mismatched(w[1]));
        }
        let next = |after: usize| {
            marks
                .iter()
                .flatten()
                .copied()
                .filter(|&m| m > after)
                .min()
                .unwrap_or(r.end)
        };
        let mut scope = Scope::child(Some(parent));
        let mut rest = String::new();
        if let Some(f) = from {
            rest.push_str(&format!(" FROM {}", self.from(f + 1..next(f), &mut scope)?));
        }
        if let Some(w) = wh {
            rest.push_str(&format!(" WHERE {}", self.expr(w + 1..next(w), &scope)?));
        }
        let groups = match group {
            Some(g) => self.group_by(g, next(g), &scope, &mut rest)?,
            None => Vec::new(),
        };
        if let Some(h) = having {
            rest.push_str(&format!(" HAVING {}", self.expr(h + 1..next(h), &scope)?));
        }
        let list = i..next(i);
        if list.is_empty() {
            return Err(self.mismatched(list.start));
        }
        self.check_grouping(&list, &groups, having.is_some(), &scope)?;
        let (items, cols) = self.select_list(list, &scope)?;
        out.push_str(&items);
        out.push_str(&rest);
        Ok((out, cols, scope))
    }

    /// `GROUP BY a, b` (no grouping sets): appends it, and returns the items' ranges.
    fn group_by(
        &self,
        g: usize,
        end: usize,
        scope: &Scope,
        out: &mut String,
    ) -> R<Vec<Range<usize>>> {
        if !self.is(g + 1, "by") {
            return Err(self.mismatched(g + 1));
        }
        let items = self.split_commas(g + 2..end);
        let mut sql = Vec::new();
        for item in &items {
            for w in ["rollup", "cube", "grouping"] {
                if self.is(item.start, w) {
                    return Err(
                        self.unsupported(item.start, "GROUP BY ROLLUP, CUBE or GROUPING SETS")
                    );
                }
            }
            if item.is_empty() {
                return Err(self.mismatched(item.start));
            }
            sql.push(self.expr(item.clone(), scope)?);
        }
        out.push_str(&format!(" GROUP BY {}", sql.join(", ")));
        Ok(items)
    }

    /// The select list: each item translated with an explicit alias, and the result columns.
    fn select_list(&self, r: Range<usize>, scope: &Scope) -> R<(String, Vec<OutCol>)> {
        let mut sql = Vec::new();
        let mut cols: Vec<OutCol> = Vec::new();
        for item in self.split_commas(r) {
            if item.is_empty() {
                return Err(self.mismatched(item.start));
            }
            if let Some((text, expanded)) = self.star(&item, scope)? {
                sql.push(text);
                cols.extend(expanded);
                continue;
            }
            let (e, alias) = self.split_alias(&item);
            let name = match alias {
                Some(a) => a,
                None => match self.chain_at(e.start) {
                    Some((parts, end))
                        if end == e.end
                            && !(parts.len() == 1
                                && super::expr::EXPR_WORDS.contains(&parts[0].as_str())) =>
                    {
                        match scope.column(&parts) {
                            Some((n, _)) => n,
                            None => parts[parts.len() - 1].clone(),
                        }
                    }
                    _ => format!("_col{}", cols.len()),
                },
            };
            let ty = self.infer(e.clone(), scope);
            sql.push(format!("{} AS {}", self.expr(e, scope)?, quote(&name)));
            cols.push(OutCol { name, ty });
        }
        Ok((sql.join(", "), cols))
    }

    /// `*` or `q.*`: its SQL and the columns it stands for.
    fn star(&self, item: &Range<usize>, scope: &Scope) -> R<Option<(String, Vec<OutCol>)>> {
        let t = &self.t[item.start..item.end];
        if !t.last().is_some_and(|l| l.is_op("*")) {
            return Ok(None);
        }
        let out = |r: &Rel| {
            r.columns
                .iter()
                .map(|(n, ty)| OutCol {
                    name: n.clone(),
                    ty: *ty,
                })
                .collect::<Vec<_>>()
        };
        if t.len() == 1 {
            let all: Vec<OutCol> = scope.rels.iter().flat_map(out).collect();
            if all.is_empty() {
                return Err(self.err(
                    item.start,
                    "SELECT * not allowed in queries without FROM clause",
                ));
            }
            return Ok(Some(("*".into(), all)));
        }
        let Some((parts, end)) = self.chain_at(item.start) else {
            return Ok(None);
        };
        if end + 2 != item.end || self.kind(end) != Some(Tk::Dot) {
            return Ok(None);
        }
        let rel = scope.rel(&parts).ok_or_else(|| {
            self.err(
                item.start,
                &format!("Table '{}' cannot be resolved", parts.join(".")),
            )
        })?;
        let alias = rel.alias.clone().unwrap_or_default();
        Ok(Some((format!("{}.*", quote(&alias)), out(rel))))
    }

    /// An item's expression and its alias (`expr [AS] name`).
    pub fn split_alias(&self, item: &Range<usize>) -> (Range<usize>, Option<String>) {
        let e = item.end;
        if item.len() < 2 {
            return (item.clone(), None);
        }
        let last = &self.t[e - 1];
        let name = match last.kind {
            Tk::Quoted | Tk::Word => last.text.clone(),
            _ => return (item.clone(), None),
        };
        if self.is(e - 2, "as") && e - 2 > item.start {
            return (item.start..e - 2, Some(name));
        }
        let prev = &self.t[e - 2];
        let operand_end = match prev.kind {
            Tk::Word => !super::expr::EXPR_WORDS.contains(&prev.text.as_str()),
            Tk::Quoted | Tk::Str | Tk::Num | Tk::Hex | Tk::Close => true,
            _ => false,
        };
        let implicit = last.kind == Tk::Quoted || !super::expr::EXPR_WORDS.contains(&name.as_str());
        match operand_end && implicit {
            true => (item.start..e - 1, Some(name)),
            false => (item.clone(), None),
        }
    }

    /// The name chain (`a`, `a.b`, `"a".b.c`) starting at `i`: its parts and where it ends.
    pub fn chain_at(&self, i: usize) -> Option<(Vec<String>, usize)> {
        let part = |j: usize| match self.kind(j) {
            Some(Tk::Word) => Some(self.t[j].text.clone()),
            Some(Tk::Quoted) => Some(self.t[j].text.to_lowercase()),
            _ => None,
        };
        let mut parts = vec![part(i)?];
        let mut j = i + 1;
        while self.kind(j) == Some(Tk::Dot) {
            match part(j + 1) {
                Some(p) => parts.push(p),
                None => break,
            }
            j += 2;
        }
        Some((parts, j))
    }

    /// The relations of `FROM`, joined; each is added to `scope`.
    fn from(&self, r: Range<usize>, scope: &mut Scope) -> R<String> {
        enum Piece {
            Text(String),
            On(Range<usize>),
        }
        let mut pieces = Vec::new();
        let (mut i, mut want_rel) = (r.start, true);
        while i < r.end || want_rel {
            if want_rel {
                let (text, rel, next) = self.relation(i, r.end, scope.parent)?;
                scope.rels.push(rel);
                pieces.push(Piece::Text(text));
                (i, want_rel) = (next, false);
            } else if self.kind(i) == Some(Tk::Comma) {
                pieces.push(Piece::Text(", ".into()));
                (i, want_rel) = (i + 1, true);
            } else if let Some((text, next)) = self.join_words(i)? {
                pieces.push(Piece::Text(text));
                (i, want_rel) = (next, true);
            } else if self.is(i, "on") {
                let stops = ["join", "inner", "left", "right", "full", "cross", "natural"];
                let mut end = self.find(i + 1..r.end, &stops).unwrap_or(r.end);
                end = self.split_commas(i + 1..end)[0].end;
                pieces.push(Piece::On(i + 1..end));
                i = end;
            } else if self.is(i, "using") && self.kind(i + 1) == Some(Tk::Open) {
                let j = self.close(i + 1);
                let names: Vec<String> = self.names(i + 2..j)?.iter().map(|n| quote(n)).collect();
                pieces.push(Piece::Text(format!(" USING ({})", names.join(", "))));
                i = j + 1;
            } else {
                return Err(self.mismatched(i));
            }
        }
        let mut out = String::new();
        for p in pieces {
            match p {
                Piece::Text(t) => out.push_str(&t),
                Piece::On(r) => out.push_str(&format!(" ON {}", self.expr(r, scope)?)),
            }
        }
        Ok(out)
    }

    /// `[NATURAL] [INNER | LEFT [OUTER] | RIGHT [OUTER] | FULL [OUTER] | CROSS] JOIN` at `i`.
    fn join_words(&self, mut i: usize) -> R<Option<(String, usize)>> {
        let start = i;
        let mut words = Vec::new();
        while let Some(t) = self.t.get(i) {
            match t.text.as_str() {
                "natural" | "inner" | "left" | "right" | "full" | "outer" | "cross"
                    if t.kind == Tk::Word =>
                {
                    words.push(t.text.to_uppercase());
                    i += 1;
                }
                "join" if t.kind == Tk::Word => {
                    words.push("JOIN".into());
                    return Ok(Some((format!(" {} ", words.join(" ")), i + 1)));
                }
                _ if words.is_empty() => return Ok(None),
                _ => return Err(self.mismatched(i)),
            }
        }
        Err(self.mismatched(start.max(i)))
    }

    /// One relation at `i`: a table, a `WITH` query or a subquery, with its alias.
    fn relation(&self, i: usize, end: usize, outer: Option<&Scope>) -> R<(String, Rel, usize)> {
        if i >= end {
            return Err(self.mismatched(i));
        }
        if self.kind(i) == Some(Tk::Open) {
            let j = self.close(i);
            if !self.starts_query(&(i + 1..j)) {
                return Err(self.unsupported(i + 1, "a parenthesized join"));
            }
            let (sql, cols) = self.query(i + 1..j, outer)?;
            let (alias, next) = self.alias(j + 1, end)?;
            let rel = Rel {
                alias: alias.clone(),
                parts: Vec::new(),
                columns: cols.into_iter().map(|c| (c.name, c.ty)).collect(),
            };
            let text = match alias {
                Some(a) => format!("({sql}) AS {}", quote(&a)),
                None => format!("({sql})"),
            };
            return Ok((text, rel, next));
        }
        for w in ["unnest", "lateral", "table"] {
            if self.is(i, w) {
                return Err(self.unsupported(i, &w.to_uppercase()));
            }
        }
        let (parts, after) = self.chain_at(i).ok_or_else(|| self.mismatched(i))?;
        if self.kind(after) == Some(Tk::Open) {
            return Err(self.unsupported(i, "a table function"));
        }
        let (table, columns, catalog) = self.table_named(i, &parts, outer)?;
        let (alias, next) = self.alias(after, end)?;
        let alias = alias.unwrap_or_else(|| parts[parts.len() - 1].clone());
        let text = format!("{} AS {}", quote(&table), quote(&alias));
        let parts = if catalog { parts } else { Vec::new() };
        Ok((
            text,
            Rel {
                alias: Some(alias),
                parts,
                columns,
            },
            next,
        ))
    }

    /// The table `parts` names: a `WITH` query, or a table of the catalog or the uploads:
    /// (SQLite name, columns, whether it is a catalog table).
    #[allow(clippy::type_complexity)]
    fn table_named(
        &self,
        i: usize,
        parts: &[String],
        outer: Option<&Scope>,
    ) -> R<(String, Vec<(String, Option<DType>)>, bool)> {
        if let [one] = parts
            && let Some(cte) = outer.and_then(|s| s.cte(one))
        {
            return Ok((one.clone(), cte.columns.clone(), false));
        }
        let Some(info) = self.tables.table(parts) else {
            return Err(self.err(i, &format!("Table '{}' does not exist", parts.join("."))));
        };
        self.read.borrow_mut().push(info.sqlite.clone());
        let cols = info
            .columns
            .into_iter()
            .map(|(n, t)| (n, Some(t)))
            .collect();
        Ok((info.sqlite, cols, true))
    }

    /// An optional alias at `i` (`[AS] name`; a column list after it is not supported).
    fn alias(&self, i: usize, end: usize) -> R<(Option<String>, usize)> {
        if i >= end {
            return Ok((None, i));
        }
        let (at, explicit) = if self.is(i, "as") {
            (i + 1, true)
        } else {
            (i, false)
        };
        let name = match self.kind(at) {
            Some(Tk::Quoted) => self.t[at].text.to_lowercase(),
            Some(Tk::Word) if !NOT_ALIAS.contains(&self.t[at].text.as_str()) => {
                self.t[at].text.clone()
            }
            _ if explicit => return Err(self.mismatched(at)),
            _ => return Ok((None, i)),
        };
        if self.kind(at + 1) == Some(Tk::Open) {
            return Err(self.unsupported(at + 1, "a column alias list on a relation"));
        }
        Ok((Some(name), at + 1))
    }
}
