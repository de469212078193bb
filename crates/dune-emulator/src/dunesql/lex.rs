//! DuneSQL's tokens: words (folded to lowercase, as Trino folds identifiers), quoted
//! identifiers, string literals, numbers, `0x`/`X'…'` binary literals, operators and
//! punctuation; `--` and `/* */` comments are skipped. Each token keeps its byte offset, so
//! that errors name the place as Trino does (`line 1:15`).

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tk {
    /// A word: keyword or identifier; `text` is lowercased.
    Word,
    /// A `"quoted"` identifier; `text` is its content.
    Quoted,
    /// A `'string'` literal; `text` is its content.
    Str,
    /// A number as written.
    Num,
    /// A binary literal; `text` is its hex digits.
    Hex,
    /// An operator: `= <> != < <= > >= + - * / % || ==`, or a bracket `[` `]`.
    Op,
    /// `(`.
    Open,
    /// `)`.
    Close,
    /// `,`.
    Comma,
    /// `.`.
    Dot,
    /// `;`.
    Semi,
}

/// One token.
#[derive(Debug, Clone, PartialEq)]
pub struct Tok {
    /// Its kind.
    pub kind: Tk,
    /// Its text (see [`Tk`]).
    pub text: String,
    /// Its byte offset in the statement.
    pub at: usize,
}

impl Tok {
    /// Whether this is the word `w` (lowercase).
    pub fn is(&self, w: &str) -> bool {
        self.kind == Tk::Word && self.text == w
    }

    /// Whether this is the operator or punctuation `op`.
    pub fn is_op(&self, op: &str) -> bool {
        self.kind == Tk::Op && self.text == op
    }
}

/// `line L:C` of byte `at` of `sql` (columns count characters from 1), as Trino places its
/// errors.
pub fn place(sql: &str, at: usize) -> String {
    let before = &sql[..at.min(sql.len())];
    let line = before.matches('\n').count() + 1;
    let start = before.rfind('\n').map_or(0, |p| p + 1);
    format!("line {line}:{}", before[start..].chars().count() + 1)
}

/// The end of a quoted run starting at `start` (the opening quote `q`), with `qq` for a quote
/// inside; `None` when it never ends.
fn quoted(s: &str, start: usize, q: char) -> Option<(String, usize)> {
    let mut out = String::new();
    let mut it = s[start + 1..].char_indices().peekable();
    while let Some((i, c)) = it.next() {
        if c == q {
            if it.peek().map(|p| p.1) == Some(q) {
                it.next();
                out.push(q);
                continue;
            }
            return Some((out, start + 1 + i + 1));
        }
        out.push(c);
    }
    None
}

/// The end of a number starting at `i`.
fn number_end(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        let mut j = i + 1;
        if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
            j += 1;
        }
        if j < b.len() && b[j].is_ascii_digit() {
            i = j;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
        }
    }
    i
}

/// The end of a comment at `i`, if one starts there.
fn comment_end(s: &str, i: usize) -> Option<usize> {
    let rest = &s[i..];
    if rest.starts_with("--") {
        return Some(rest.find('\n').map_or(s.len(), |p| i + p));
    }
    if let Some(body) = rest.strip_prefix("/*") {
        return Some(body.find("*/").map_or(s.len(), |p| i + 2 + p + 2));
    }
    None
}

/// Splits a statement into tokens; an error is worded as Trino words it.
pub fn lex(sql: &str) -> Result<Vec<Tok>, String> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = sql[i..].chars().next().unwrap_or(' ');
        if c.is_whitespace() {
            i += c.len_utf8();
            continue;
        }
        if let Some(end) = comment_end(sql, i) {
            i = end;
            continue;
        }
        let (kind, text, end) = token(sql, i, c)?;
        out.push(Tok { kind, text, at: i });
        i = end;
    }
    Ok(out)
}

/// The token starting at `i` (character `c`): (kind, text, end).
fn token(sql: &str, i: usize, c: char) -> Result<(Tk, String, usize), String> {
    let b = sql.as_bytes();
    let unterminated = || format!("{}: unterminated quoted text", place(sql, i));
    let two = sql.get(i..i + 2).unwrap_or("");
    Ok(match c {
        '\'' => {
            let (t, end) = quoted(sql, i, '\'').ok_or_else(unterminated)?;
            (Tk::Str, t, end)
        }
        '"' => {
            let (t, end) = quoted(sql, i, '"').ok_or_else(unterminated)?;
            (Tk::Quoted, t, end)
        }
        'x' | 'X' if b.get(i + 1) == Some(&b'\'') => {
            let (t, end) = quoted(sql, i + 1, '\'').ok_or_else(unterminated)?;
            (Tk::Hex, t, end)
        }
        '0' if two == "0x" || two == "0X" => {
            let n = b[i + 2..]
                .iter()
                .take_while(|d| d.is_ascii_hexdigit())
                .count();
            (Tk::Hex, sql[i + 2..i + 2 + n].to_string(), i + 2 + n)
        }
        '0'..='9' => {
            let end = number_end(b, i);
            (Tk::Num, sql[i..end].to_string(), end)
        }
        '.' if b.get(i + 1).is_some_and(u8::is_ascii_digit) => {
            let end = number_end(b, i);
            (Tk::Num, format!("0{}", &sql[i..end]), end)
        }
        c if c.is_alphabetic() || c == '_' => {
            let n: usize = sql[i..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .map(char::len_utf8)
                .sum();
            (Tk::Word, sql[i..i + n].to_lowercase(), i + n)
        }
        '(' => (Tk::Open, "(".into(), i + 1),
        ')' => (Tk::Close, ")".into(), i + 1),
        ',' => (Tk::Comma, ",".into(), i + 1),
        '.' => (Tk::Dot, ".".into(), i + 1),
        ';' => (Tk::Semi, ";".into(), i + 1),
        _ if ["<>", "!=", "<=", ">=", "||", "=="].contains(&two) => (Tk::Op, two.into(), i + 2),
        '=' | '<' | '>' | '+' | '-' | '*' | '/' | '%' | '[' | ']' => (Tk::Op, c.to_string(), i + 1),
        _ => {
            return Err(format!(
                "{}: token recognition error at: '{c}'",
                place(sql, i)
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(sql: &str) -> Vec<(Tk, String)> {
        lex(sql)
            .unwrap()
            .into_iter()
            .map(|t| (t.kind, t.text))
            .collect()
    }

    #[test]
    fn tokens_of_dunesql() {
        let t = kinds("SELECT \"Amount\", 'it''s', 0xAbC1, X'ff', 1.5e3, .5 -- c\n/* x */ a<>b");
        assert_eq!(
            t,
            vec![
                (Tk::Word, "select".into()),
                (Tk::Quoted, "Amount".into()),
                (Tk::Comma, ",".into()),
                (Tk::Str, "it's".into()),
                (Tk::Comma, ",".into()),
                (Tk::Hex, "AbC1".into()),
                (Tk::Comma, ",".into()),
                (Tk::Hex, "ff".into()),
                (Tk::Comma, ",".into()),
                (Tk::Num, "1.5e3".into()),
                (Tk::Comma, ",".into()),
                (Tk::Num, "0.5".into()),
                (Tk::Word, "a".into()),
                (Tk::Op, "<>".into()),
                (Tk::Word, "b".into()),
            ]
        );
        assert_eq!(kinds("ströme")[0], (Tk::Word, "ströme".into()));
        assert!(lex("select 'oops").unwrap_err().starts_with("line 1:8:"));
        assert_eq!(
            lex("select\n  {{x}}").unwrap_err(),
            "line 2:3: token recognition error at: '{'"
        );
        assert_eq!(place("ab\ncé d", 7), "line 2:4");
    }
}
