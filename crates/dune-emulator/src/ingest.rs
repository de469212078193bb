//! Reading the body of an insert (API reference §9): CSV with a header row naming the columns
//! (`text/csv`) or one JSON object per line (`application/x-ndjson`), checked row by row
//! against the table's schema into one chunk; plus the column types of a CSV uploaded whole
//! (`POST /v1/uploads/csv`). Line numbers in errors count from 1, as an editor shows them: in
//! a CSV the header is line 1 (a record spanning lines is named by its first line); in NDJSON
//! the first object is line 1, blank lines counted.
//!
//! The CSV reader and the JSON scanner are the emulator's own (RFC 4180 and RFC 8259 read
//! again here): the JSON scanner keeps numbers as written, so a 256-bit integer sent as a JSON
//! number is not rounded through a double.

use crate::cells::{self, Kind, Raw, Stored};
use crate::tables::{Chunk, ColumnDef};
use std::borrow::Cow;

/// One CSV field: its text, and whether it was quoted (`""` is an empty text, an empty
/// unquoted field is NULL).
#[derive(Debug, Clone, PartialEq)]
pub struct Field<'a> {
    pub text: Cow<'a, str>,
    pub quoted: bool,
}

/// Reads CSV records: comma-separated fields, `"` quoting with `""` for a quote inside, records
/// ended by `\n` or `\r\n`; blank lines are skipped and a leading byte-order mark ignored.
pub struct CsvReader<'a> {
    text: &'a str,
    pos: usize,
    line: usize,
}

impl<'a> CsvReader<'a> {
    /// A reader of `text`.
    pub fn new(text: &'a str) -> CsvReader<'a> {
        CsvReader {
            text: text.strip_prefix('\u{feff}').unwrap_or(text),
            pos: 0,
            line: 1,
        }
    }

    /// The next record into `out`, with the line it starts on; `None` at the end.
    pub fn next_record(&mut self, out: &mut Vec<Field<'a>>) -> Result<Option<usize>, String> {
        out.clear();
        let b = self.text.as_bytes();
        while b[self.pos..].starts_with(b"\n") || b[self.pos..].starts_with(b"\r\n") {
            self.pos += if b[self.pos] == b'\n' { 1 } else { 2 };
            self.line += 1;
        }
        if self.pos >= b.len() {
            return Ok(None);
        }
        let first = self.line;
        loop {
            let field = if b[self.pos] == b'"' {
                self.quoted(first)?
            } else {
                self.unquoted()
            };
            out.push(field);
            match b.get(self.pos) {
                None => return Ok(Some(first)),
                Some(b',') => self.pos += 1,
                Some(b'\n') => {
                    self.pos += 1;
                    self.line += 1;
                    return Ok(Some(first));
                }
                Some(b'\r') if b.get(self.pos + 1) == Some(&b'\n') => {
                    self.pos += 2;
                    self.line += 1;
                    return Ok(Some(first));
                }
                Some(_) => {
                    return Err(format!(
                        "line {}: unexpected text after a closing quote",
                        self.line
                    ));
                }
            }
            if self.pos >= b.len() {
                out.push(Field {
                    text: Cow::Borrowed(""),
                    quoted: false,
                });
                return Ok(Some(first));
            }
        }
    }

    fn unquoted(&mut self) -> Field<'a> {
        let b = self.text.as_bytes();
        let start = self.pos;
        let mut end = start;
        while end < b.len() && b[end] != b',' && b[end] != b'\n' {
            end += 1;
        }
        self.pos = end;
        if end > start && b[end - 1] == b'\r' && b.get(end) == Some(&b'\n') {
            end -= 1;
            self.pos = end;
        }
        Field {
            text: Cow::Borrowed(&self.text[start..end]),
            quoted: false,
        }
    }

    fn quoted(&mut self, first: usize) -> Result<Field<'a>, String> {
        let b = self.text.as_bytes();
        let start = self.pos + 1;
        let mut i = start;
        let mut doubled = false;
        loop {
            match b.get(i) {
                None => return Err(format!("line {first}: a quoted field is not closed")),
                Some(b'"') if b.get(i + 1) == Some(&b'"') => {
                    doubled = true;
                    i += 2;
                }
                Some(b'"') => break,
                Some(c) => {
                    self.line += usize::from(*c == b'\n');
                    i += 1;
                }
            }
        }
        self.pos = i + 1;
        let inner = &self.text[start..i];
        Ok(Field {
            text: if doubled {
                Cow::Owned(inner.replace("\"\"", "\""))
            } else {
                Cow::Borrowed(inner)
            },
            quoted: true,
        })
    }
}

/// A value of a JSON object member.
enum Member<'a> {
    Str(Cow<'a, str>),
    Num(&'a str),
    Bool(bool),
    Null,
    Nested,
}

/// A scanner over one line of NDJSON.
struct Scanner<'a> {
    s: &'a str,
    i: usize,
}

impl<'a> Scanner<'a> {
    fn ws(&mut self) {
        let b = self.s.as_bytes();
        while self.i < b.len() && matches!(b[self.i], b' ' | b'\t' | b'\r' | b'\n') {
            self.i += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.s.as_bytes().get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> Result<(), String> {
        match self.peek() {
            Some(x) if x == c => {
                self.i += 1;
                Ok(())
            }
            _ => Err(format!(
                "expected '{}' at character {}",
                c as char,
                self.i + 1
            )),
        }
    }

    /// A string at the cursor (escapes decoded by serde_json only when there are some).
    fn string(&mut self) -> Result<Cow<'a, str>, String> {
        self.eat(b'"')?;
        let b = self.s.as_bytes();
        let start = self.i;
        let mut escaped = false;
        while self.i < b.len() && b[self.i] != b'"' {
            escaped |= b[self.i] == b'\\';
            self.i += if b[self.i] == b'\\' { 2 } else { 1 };
        }
        if self.i >= b.len() {
            return Err("a string is not closed".into());
        }
        self.i += 1;
        if !escaped {
            return Ok(Cow::Borrowed(&self.s[start..self.i - 1]));
        }
        serde_json::from_str::<String>(&self.s[start - 1..self.i])
            .map(Cow::Owned)
            .map_err(|e| format!("a string is not valid JSON ({e})"))
    }

    /// Skips an array or object at the cursor.
    fn nested(&mut self) -> Result<(), String> {
        let b = self.s.as_bytes();
        let mut depth = 0usize;
        while self.i < b.len() {
            match b[self.i] {
                b'"' => {
                    self.string()?;
                    continue;
                }
                b'[' | b'{' => depth += 1,
                b']' | b'}' => depth -= 1,
                _ => {}
            }
            self.i += 1;
            if depth == 0 {
                return Ok(());
            }
        }
        Err("an array or object is not closed".into())
    }

    fn member(&mut self) -> Result<Member<'a>, String> {
        let b = self.s.as_bytes();
        match self.peek() {
            Some(b'"') => return self.string().map(Member::Str),
            Some(b'[' | b'{') => return self.nested().map(|_| Member::Nested),
            _ => {}
        }
        let start = self.i;
        while self.i < b.len() && !matches!(b[self.i], b',' | b'}' | b' ' | b'\t' | b'\r') {
            self.i += 1;
        }
        match &self.s[start..self.i] {
            "true" => Ok(Member::Bool(true)),
            "false" => Ok(Member::Bool(false)),
            "null" => Ok(Member::Null),
            n if cells::is_number(n) && !n.starts_with('+') => Ok(Member::Num(n)),
            other => Err(format!("'{other}' is not a JSON value")),
        }
    }
}

/// Calls `each(key, value)` for every member of the JSON object that is `line`.
fn object<'a>(
    line: &'a str,
    each: &mut dyn FnMut(&str, Raw<'_>) -> Result<(), String>,
) -> Result<(), String> {
    let mut sc = Scanner { s: line, i: 0 };
    if sc.peek() != Some(b'{') {
        return Err("not a JSON object".into());
    }
    sc.i += 1;
    if sc.peek() == Some(b'}') {
        sc.i += 1;
    } else {
        loop {
            let key = sc.string()?;
            sc.eat(b':')?;
            let value = sc.member()?;
            let raw = match &value {
                Member::Str(s) => Raw::Text(s),
                Member::Num(n) => Raw::Number(n),
                Member::Bool(b) => Raw::Bool(*b),
                Member::Null => Raw::Null,
                Member::Nested => Raw::Nested,
            };
            each(&key, raw)?;
            match sc.peek() {
                Some(b',') => sc.i += 1,
                _ => break sc.eat(b'}')?,
            }
        }
    }
    match sc.peek() {
        None => Ok(()),
        Some(_) => Err(format!("unexpected text at character {}", sc.i + 1)),
    }
}

/// Stores one value of column `col` of a row that starts on `line`.
fn put(
    chunk: &mut Chunk,
    def: &ColumnDef,
    col: usize,
    raw: Raw<'_>,
    line: usize,
) -> Result<(), String> {
    let v = cells::check(def.kind, raw).map_err(|e| {
        format!(
            "line {line}: column '{}' ({}): {e}",
            def.name,
            def.kind.name()
        )
    })?;
    if matches!(v, Stored::Null) && !def.nullable {
        return Err(format!(
            "line {line}: column '{}' ({}) is not nullable, but the value is null or missing",
            def.name,
            def.kind.name()
        ));
    }
    chunk.bytes += chunk.columns[col].push(v);
    Ok(())
}

fn unknown_column(line: usize, name: &str, columns: &[ColumnDef]) -> String {
    let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
    format!(
        "line {line}: unknown column '{name}' (the table's columns are {})",
        names.join(", ")
    )
}

/// The rows of an NDJSON body, checked against `columns`; all of them or an error.
pub fn from_ndjson(columns: &[ColumnDef], body: &str) -> Result<Chunk, String> {
    let mut chunk = Chunk::new(columns);
    let mut seen = vec![false; columns.len()];
    for (i, text) in body.split('\n').enumerate() {
        let line = i + 1;
        if text.trim().is_empty() {
            continue;
        }
        seen.fill(false);
        object(text, &mut |key, raw| {
            let Some(col) = columns.iter().position(|c| c.name == key) else {
                return Err(unknown_column(line, key, columns));
            };
            if std::mem::replace(&mut seen[col], true) {
                return Err(format!("line {line}: column '{key}' appears twice"));
            }
            put(&mut chunk, &columns[col], col, raw, line)
        })
        .map_err(|e| match e.starts_with("line ") {
            true => e,
            false => format!("line {line}: not valid JSON: {e}"),
        })?;
        for col in (0..columns.len()).filter(|&c| !seen[c]) {
            put(&mut chunk, &columns[col], col, Raw::Null, line)?;
        }
        chunk.rows += 1;
    }
    Ok(chunk)
}

/// A CSV field as a value: an empty field is NULL, but for a varchar column `""` is an empty
/// text.
fn csv_raw<'f>(field: &'f Field<'_>, kind: Kind) -> Raw<'f> {
    if field.text.is_empty() && !(field.quoted && kind == Kind::Varchar) {
        Raw::Null
    } else {
        Raw::Text(&field.text)
    }
}

/// The header of a CSV body: for each field, the column it names.
fn csv_header(reader: &mut CsvReader<'_>, columns: &[ColumnDef]) -> Result<Vec<usize>, String> {
    let mut fields = Vec::new();
    let Some(line) = reader.next_record(&mut fields)? else {
        return Ok(Vec::new());
    };
    let mut order: Vec<usize> = Vec::with_capacity(fields.len());
    for f in &fields {
        let name = f.text.trim();
        let col = columns
            .iter()
            .position(|c| c.name == name)
            .ok_or_else(|| unknown_column(line, name, columns))?;
        if order.contains(&col) {
            return Err(format!(
                "line {line}: column '{name}' appears twice in the header"
            ));
        }
        order.push(col);
    }
    Ok(order)
}

/// The rows of a CSV body (a header row, then the rows), checked against `columns`; all of
/// them or an error. A column the header does not name is NULL in every row.
pub fn from_csv(columns: &[ColumnDef], body: &str) -> Result<Chunk, String> {
    let mut chunk = Chunk::new(columns);
    let mut reader = CsvReader::new(body);
    let order = csv_header(&mut reader, columns)?;
    let absent: Vec<usize> = (0..columns.len()).filter(|c| !order.contains(c)).collect();
    let mut fields = Vec::with_capacity(order.len());
    while let Some(line) = reader.next_record(&mut fields)? {
        if fields.len() != order.len() {
            return Err(format!(
                "line {line}: {} fields, but the header names {} columns",
                fields.len(),
                order.len()
            ));
        }
        for (f, &col) in fields.iter().zip(&order) {
            put(
                &mut chunk,
                &columns[col],
                col,
                csv_raw(f, columns[col].kind),
                line,
            )?;
        }
        for &col in &absent {
            put(&mut chunk, &columns[col], col, Raw::Null, line)?;
        }
        chunk.rows += 1;
    }
    Ok(chunk)
}

/// What the values of a CSV column could all be.
#[derive(Clone, Copy)]
struct Fits {
    any: bool,
    boolean: bool,
    bigint: bool,
    double: bool,
    date: bool,
    timestamp: bool,
}

impl Fits {
    fn see(&mut self, v: &str) {
        let v = v.trim();
        self.any = true;
        self.boolean &= v.eq_ignore_ascii_case("true") || v.eq_ignore_ascii_case("false");
        self.bigint &= cells::check(Kind::Bigint, Raw::Text(v)).is_ok();
        self.double &= cells::check(Kind::Double, Raw::Text(v)).is_ok();
        self.date &= cells::date(v).is_some();
        self.timestamp &= cells::timestamp(v).is_some();
    }

    fn kind(self) -> Kind {
        match self {
            Fits { any: false, .. } => Kind::Varchar,
            Fits { boolean: true, .. } => Kind::Boolean,
            Fits { bigint: true, .. } => Kind::Bigint,
            Fits { double: true, .. } => Kind::Double,
            Fits { date: true, .. } => Kind::Date,
            Fits {
                timestamp: true, ..
            } => Kind::Timestamp,
            _ => Kind::Varchar,
        }
    }
}

/// The columns of a CSV uploaded whole, their types inferred from every value (empty fields
/// are NULL and do not count): `true`/`false` → boolean; whole numbers within 64 bits →
/// bigint; other numbers (whole numbers beyond 64 bits too) → double; `YYYY-MM-DD` → date;
/// ISO 8601 timestamps (dates mixed with timestamps too) → timestamp; anything else, and a
/// column with no value at all → varchar (so `0x…` addresses stay text). Every column is
/// nullable. Dune does not document its inference: this is the emulator's reading of it.
pub fn infer_csv(body: &str) -> Result<(Vec<ColumnDef>, Chunk), String> {
    let mut reader = CsvReader::new(body);
    let mut fields = Vec::new();
    if reader.next_record(&mut fields)?.is_none() {
        return Err("the CSV has no header row".into());
    }
    let names: Vec<String> = fields.iter().map(|f| f.text.trim().to_string()).collect();
    let all = Fits {
        any: false,
        boolean: true,
        bigint: true,
        double: true,
        date: true,
        timestamp: true,
    };
    let mut fits = vec![all; names.len()];
    while let Some(line) = reader.next_record(&mut fields)? {
        if fields.len() != names.len() {
            return Err(format!(
                "line {line}: {} fields, but the header names {} columns",
                fields.len(),
                names.len()
            ));
        }
        for (f, fit) in fields.iter().zip(fits.iter_mut()) {
            if !f.text.is_empty() {
                fit.see(&f.text);
            }
        }
    }
    let columns: Vec<ColumnDef> = names
        .into_iter()
        .zip(&fits)
        .map(|(name, fit)| ColumnDef {
            name,
            kind: fit.kind(),
            nullable: true,
        })
        .collect();
    let chunk = from_csv(&columns, body)?;
    Ok((columns, chunk))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn def(name: &str, kind: Kind, nullable: bool) -> ColumnDef {
        ColumnDef {
            name: name.into(),
            kind,
            nullable,
        }
    }

    fn rows(chunk: &Chunk) -> Vec<Vec<Value>> {
        (0..chunk.rows as usize)
            .map(|r| chunk.columns.iter().map(|c| c.value(r)).collect())
            .collect()
    }

    #[test]
    fn csv_records_follow_rfc_4180() {
        let text = "\u{feff}a,b\r\n\"x, \"\"y\"\"\",\"two\nlines\"\n\n,\"\"\nlast,";
        let mut r = CsvReader::new(text);
        let mut f = Vec::new();
        let texts = |f: &Vec<Field>| f.iter().map(|x| x.text.to_string()).collect::<Vec<_>>();
        assert_eq!(r.next_record(&mut f).unwrap(), Some(1));
        assert_eq!(texts(&f), ["a", "b"]);
        assert_eq!(r.next_record(&mut f).unwrap(), Some(2));
        assert_eq!(texts(&f), ["x, \"y\"", "two\nlines"]);
        assert_eq!(r.next_record(&mut f).unwrap(), Some(5));
        assert_eq!(
            (f[0].quoted, f[1].quoted, f[1].text.as_ref()),
            (false, true, "")
        );
        assert_eq!(r.next_record(&mut f).unwrap(), Some(6));
        assert_eq!(texts(&f), ["last", ""]);
        assert_eq!(r.next_record(&mut f).unwrap(), None);
        let mut open = CsvReader::new("a\n\"open");
        assert_eq!(open.next_record(&mut f).unwrap(), Some(1));
        assert_eq!(
            open.next_record(&mut f).unwrap_err(),
            "line 2: a quoted field is not closed"
        );
        assert!(CsvReader::new("\"x\"y").next_record(&mut f).is_err());
    }

    #[test]
    fn ndjson_keeps_big_numbers_and_decodes_escapes() {
        let cols = [def("u", Kind::Uint256, true), def("s", Kind::Varchar, true)];
        let big = "115792089237316195423570985008687907853269984665640564039457584007913129639935";
        let body = format!("{{\"u\": {big}, \"s\": \"a\\\"b\\u00e9\"}}\n\n{{\"s\":null}}\n");
        let chunk = from_ndjson(&cols, &body).unwrap();
        assert_eq!(
            rows(&chunk),
            [
                vec![json!(big), json!("a\"bé")],
                vec![Value::Null, Value::Null]
            ]
        );
        let e = from_ndjson(&cols, "{\"u\":1}\n{\"u\":1,}\n").unwrap_err();
        assert!(e.starts_with("line 2: not valid JSON"), "{e}");
        let e = from_ndjson(&cols, "[1]").unwrap_err();
        assert_eq!(e, "line 1: not valid JSON: not a JSON object");
        let e = from_ndjson(&cols, "{\"u\":1,\"u\":2}").unwrap_err();
        assert_eq!(e, "line 1: column 'u' appears twice");
    }

    #[test]
    fn errors_name_the_line_and_the_column() {
        let cols = [
            def("id", Kind::Integer, false),
            def("v", Kind::Varbinary, true),
        ];
        let e = from_csv(&cols, "id,v\n1,0x00\n2,0x01\nx,0x02\n").unwrap_err();
        assert_eq!(e, "line 4: column 'id' (integer): 'x' is not a number");
        let e = from_csv(&cols, "id,w\n").unwrap_err();
        assert!(e.starts_with("line 1: unknown column 'w'"), "{e}");
        let e = from_csv(&cols, "v\n0x00\n").unwrap_err();
        assert!(
            e.starts_with("line 2: column 'id' (integer) is not nullable"),
            "{e}"
        );
        let e = from_csv(&cols, "id,v\n1\n").unwrap_err();
        assert_eq!(e, "line 2: 1 fields, but the header names 2 columns");
        let e = from_ndjson(&cols, "{\"id\":1}\n{\"id\":2,\"x\":1}").unwrap_err();
        assert!(e.starts_with("line 2: unknown column 'x'"), "{e}");
        let e = from_ndjson(&cols, "{\"id\":1.5}").unwrap_err();
        assert!(
            e.contains("line 1: column 'id' (integer): '1.5' is not a whole number"),
            "{e}"
        );
        let ok = from_csv(&cols, "v,id\n,7\n\"3q0=\",8\n").unwrap();
        assert_eq!(
            rows(&ok),
            [vec![json!(7), Value::Null], vec![json!(8), json!("0xdead")]]
        );
    }

    #[test]
    fn csv_types_are_inferred_from_every_value() {
        let body = "b,i,d,day,ts,addr,none,mixed\n\
                    true,1,1.5,2024-01-01,2024-01-01 10:00:00,0xab,,1\n\
                    FALSE,99999999999,2,2024-01-02,2024-01-02,0xcd,,x\n";
        let (cols, chunk) = infer_csv(body).unwrap();
        let kinds: Vec<&str> = cols.iter().map(|c| c.kind.name()).collect();
        let expected = [
            "boolean",
            "bigint",
            "double",
            "date",
            "timestamp",
            "varchar",
            "varchar",
            "varchar",
        ];
        assert_eq!(kinds, expected);
        assert_eq!(chunk.rows, 2);
        assert_eq!(chunk.columns[4].value(1), json!("2024-01-02 00:00:00.000"));
        assert!(infer_csv("").is_err());
    }
}
