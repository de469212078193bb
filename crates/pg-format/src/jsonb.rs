//! PostgreSQL's jsonb binary format, written from JSON text without PostgreSQL, so that the I/O
//! thread rather than the backend does what jsonb_in would: lex the text, sort the keys, build
//! the numerics. The bytes are exactly those jsonb_in makes (the golden test `jsonb_rows.sql`
//! compares them with jsonb_in's for every kind of value Dune sends). Whatever this does not
//! reproduce exactly returns None, and the caller hands the text to jsonb_in, which then
//! decides, with its own error if there is one: `\u0000`, lone surrogates, duplicate keys,
//! numbers beyond numeric's range, invalid JSON, nesting deeper than 200.
//!
//! The layout (PostgreSQL's `jsonb.h`, `numeric.c`): a 4-byte varlena header, then the root
//! container: a header word (count | object or array flag), one JEntry word per child (keys
//! sorted by length then bytes, then the values in the same order), then the children's data;
//! every 32nd JEntry holds an end offset instead of a length. Numerics and containers start on
//! a 4-byte boundary, the padding counted as part of them.

use std::borrow::Cow;
use std::cmp::Ordering;

const JENTRY_OFFLENMASK: u32 = 0x0FFF_FFFF;
const JENTRY_TYPEMASK: u32 = 0x7000_0000;
const JENTRY_HAS_OFF: u32 = 0x8000_0000;
const JENTRY_ISNUMERIC: u32 = 0x1000_0000;
const JENTRY_ISBOOL_FALSE: u32 = 0x2000_0000;
const JENTRY_ISBOOL_TRUE: u32 = 0x3000_0000;
const JENTRY_ISNULL: u32 = 0x4000_0000;
const JENTRY_ISCONTAINER: u32 = 0x5000_0000;
const JB_FOBJECT: u32 = 0x2000_0000;
const JB_FARRAY: u32 = 0x4000_0000;
const JB_OFFSET_STRIDE: usize = 32;
const MAX_DEPTH: usize = 200;
/// numeric_in refuses exponents beyond this (NUMERIC_MAX_PRECISION).
const MAX_EXPONENT: i64 = 1000;

enum J<'a> {
    Null,
    Bool(bool),
    Num(&'a str),
    Str(Cow<'a, str>),
    Arr(Vec<J<'a>>),
    Obj(Vec<(Cow<'a, str>, J<'a>)>),
}

struct Parser<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Parser<'a> {
    fn byte(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.byte(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn literal(&mut self, word: &str, v: J<'a>) -> Option<J<'a>> {
        self.text[self.at..].starts_with(word).then(|| {
            self.at += word.len();
            v
        })
    }

    fn value(&mut self, depth: usize) -> Option<J<'a>> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.skip_ws();
        match self.byte()? {
            b'{' => self.object(depth),
            b'[' => self.array(depth),
            b'"' => self.string().map(J::Str),
            b't' => self.literal("true", J::Bool(true)),
            b'f' => self.literal("false", J::Bool(false)),
            b'n' => self.literal("null", J::Null),
            b'-' | b'0'..=b'9' => self.number().map(J::Num),
            _ => None,
        }
    }

    fn object(&mut self, depth: usize) -> Option<J<'a>> {
        self.at += 1;
        let mut pairs = Vec::new();
        self.skip_ws();
        if self.byte()? == b'}' {
            self.at += 1;
            return Some(J::Obj(pairs));
        }
        loop {
            self.skip_ws();
            if self.byte()? != b'"' {
                return None;
            }
            let key = self.string()?;
            self.skip_ws();
            if self.byte()? != b':' {
                return None;
            }
            self.at += 1;
            let value = self.value(depth + 1)?;
            pairs.push((key, value));
            self.skip_ws();
            match self.byte()? {
                b',' => self.at += 1,
                b'}' => {
                    self.at += 1;
                    return Some(J::Obj(pairs));
                }
                _ => return None,
            }
        }
    }

    fn array(&mut self, depth: usize) -> Option<J<'a>> {
        self.at += 1;
        let mut items = Vec::new();
        self.skip_ws();
        if self.byte()? == b']' {
            self.at += 1;
            return Some(J::Arr(items));
        }
        loop {
            items.push(self.value(depth + 1)?);
            self.skip_ws();
            match self.byte()? {
                b',' => self.at += 1,
                b']' => {
                    self.at += 1;
                    return Some(J::Arr(items));
                }
                _ => return None,
            }
        }
    }

    fn hex4(&mut self) -> Option<u32> {
        let digits = self.text.get(self.at..self.at + 4)?;
        if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        self.at += 4;
        u32::from_str_radix(digits, 16).ok()
    }

    /// A string's value (at its opening quote).
    fn string(&mut self) -> Option<Cow<'a, str>> {
        self.at += 1;
        let start = self.at;
        loop {
            match self.byte()? {
                b'"' => {
                    self.at += 1;
                    return Some(Cow::Borrowed(&self.text[start..self.at - 1]));
                }
                b'\\' => break,
                c if c < 0x20 => return None,
                _ => self.at += 1,
            }
        }
        let mut out = self.text[start..self.at].to_string();
        loop {
            match self.byte()? {
                b'"' => {
                    self.at += 1;
                    return Some(Cow::Owned(out));
                }
                b'\\' => {
                    let e = *self.text.as_bytes().get(self.at + 1)?;
                    self.at += 2;
                    match e {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => out.push(self.escaped_char()?),
                        _ => return None,
                    }
                }
                c if c < 0x20 => return None,
                _ => {
                    let from = self.at;
                    while let Some(c) = self.byte() {
                        if c == b'"' || c == b'\\' || c < 0x20 {
                            break;
                        }
                        self.at += 1;
                    }
                    out.push_str(&self.text[from..self.at]);
                }
            }
        }
    }

    /// The character of a `\uXXXX` escape (after `\u`), surrogate pairs joined. `\u0000` and
    /// lone surrogates are left to jsonb_in, which refuses them.
    fn escaped_char(&mut self) -> Option<char> {
        let first = self.hex4()?;
        match first {
            0 => None,
            0xD800..=0xDBFF => {
                if self.text.get(self.at..self.at + 2)? != "\\u" {
                    return None;
                }
                self.at += 2;
                let low = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&low) {
                    return None;
                }
                char::from_u32(0x10000 + ((first - 0xD800) << 10) + (low - 0xDC00))
            }
            0xDC00..=0xDFFF => None,
            c => char::from_u32(c),
        }
    }

    /// A number's text, per JSON's grammar: `-? (0 | [1-9][0-9]*) (.[0-9]+)? ([eE][+-]?[0-9]+)?`.
    fn number(&mut self) -> Option<&'a str> {
        let start = self.at;
        let b = self.text.as_bytes();
        let digits = |at: &mut usize| {
            let from = *at;
            while b.get(*at).is_some_and(u8::is_ascii_digit) {
                *at += 1;
            }
            *at > from
        };
        let mut at = self.at;
        if b.get(at) == Some(&b'-') {
            at += 1;
        }
        if b.get(at) == Some(&b'0') {
            at += 1;
        } else if !digits(&mut at) {
            return None;
        }
        if b.get(at) == Some(&b'.') {
            at += 1;
            if !digits(&mut at) {
                return None;
            }
        }
        if matches!(b.get(at), Some(b'e' | b'E')) {
            at += 1;
            if matches!(b.get(at), Some(b'+' | b'-')) {
                at += 1;
            }
            if !digits(&mut at) {
                return None;
            }
        }
        self.at = at;
        Some(&self.text[start..at])
    }
}

/// The jsonb datum (varlena header included) of a JSON object or array text, byte for byte as
/// jsonb_in makes it; None where jsonb_in should decide.
pub fn encode(text: &str) -> Option<Vec<u8>> {
    let mut p = Parser { text, at: 0 };
    let root = p.value(0)?;
    p.skip_ws();
    if p.at != text.len() || !matches!(root, J::Obj(_) | J::Arr(_)) {
        return None;
    }
    let mut buf = Vec::with_capacity(text.len() + 64);
    buf.extend_from_slice(&[0; 4]);
    value(&mut buf, &root)?;
    let len = u32::try_from(buf.len())
        .ok()
        .filter(|l| *l <= 0x3FFF_FFFF)?;
    if !cfg!(target_endian = "little") {
        return None;
    }
    buf[..4].copy_from_slice(&(len << 2).to_le_bytes()); // SET_VARSIZE (4-byte header)
    Some(buf)
}

fn pad_to_int(buf: &mut Vec<u8>) -> u32 {
    let pad = (4 - buf.len() % 4) % 4;
    buf.resize(buf.len() + pad, 0);
    pad as u32
}

fn put_u32(buf: &mut [u8], at: usize, v: u32) {
    buf[at..at + 4].copy_from_slice(&v.to_ne_bytes());
}

/// Appends a value's data; its JEntry.
fn value(buf: &mut Vec<u8>, v: &J) -> Option<u32> {
    Some(match v {
        J::Null => JENTRY_ISNULL,
        J::Bool(true) => JENTRY_ISBOOL_TRUE,
        J::Bool(false) => JENTRY_ISBOOL_FALSE,
        J::Str(s) => {
            let len = u32::try_from(s.len())
                .ok()
                .filter(|l| *l <= JENTRY_OFFLENMASK)?;
            buf.extend_from_slice(s.as_bytes());
            len
        }
        J::Num(t) => {
            let pad = pad_to_int(buf);
            let n = numeric(t)?;
            buf.extend_from_slice(&n);
            JENTRY_ISNUMERIC | (pad + n.len() as u32)
        }
        J::Arr(items) => {
            let base = buf.len();
            pad_to_int(buf);
            let header = u32::try_from(items.len()).ok()? | JB_FARRAY;
            buf.extend_from_slice(&header.to_ne_bytes());
            let entries = buf.len();
            buf.resize(entries + 4 * items.len(), 0);
            let mut total = 0u32;
            for (i, item) in items.iter().enumerate() {
                let meta = value(buf, item)?;
                let meta = entry(meta, i, &mut total)?;
                put_u32(buf, entries + 4 * i, meta);
            }
            container_entry(buf.len() - base)?
        }
        J::Obj(pairs) => {
            let base = buf.len();
            pad_to_int(buf);
            let mut order: Vec<usize> = (0..pairs.len()).collect();
            order.sort_by(|&a, &b| key_order(&pairs[a].0, &pairs[b].0));
            if order.windows(2).any(|w| pairs[w[0]].0 == pairs[w[1]].0) {
                return None; // duplicate keys: jsonb_in keeps the last one
            }
            let n = pairs.len();
            let header = u32::try_from(n).ok()? | JB_FOBJECT;
            buf.extend_from_slice(&header.to_ne_bytes());
            let entries = buf.len();
            buf.resize(entries + 8 * n, 0);
            let mut total = 0u32;
            for (k, &i) in order.iter().enumerate() {
                let meta = value(buf, &J::Str(Cow::Borrowed(&pairs[i].0)))?;
                let meta = entry(meta, k, &mut total)?;
                put_u32(buf, entries + 4 * k, meta);
            }
            for (k, &i) in order.iter().enumerate() {
                let meta = value(buf, &pairs[i].1)?;
                let meta = entry(meta, k + n, &mut total)?;
                put_u32(buf, entries + 4 * (k + n), meta);
            }
            container_entry(buf.len() - base)?
        }
    })
}

/// jsonb's key order: shorter keys first, then bytewise.
fn key_order(a: &str, b: &str) -> Ordering {
    a.len()
        .cmp(&b.len())
        .then_with(|| a.as_bytes().cmp(b.as_bytes()))
}

/// The JEntry stored for child number `i`: its length, or every 32nd child its end offset.
fn entry(meta: u32, i: usize, total: &mut u32) -> Option<u32> {
    *total = total
        .checked_add(meta & JENTRY_OFFLENMASK)
        .filter(|t| *t <= JENTRY_OFFLENMASK)?;
    Some(if i.is_multiple_of(JB_OFFSET_STRIDE) {
        (meta & JENTRY_TYPEMASK) | *total | JENTRY_HAS_OFF
    } else {
        meta
    })
}

fn container_entry(len: usize) -> Option<u32> {
    let len = u32::try_from(len)
        .ok()
        .filter(|l| *l <= JENTRY_OFFLENMASK)?;
    Some(JENTRY_ISCONTAINER | len)
}

const NUMERIC_NEG: u16 = 0x4000;
const NUMERIC_SHORT: u16 = 0x8000;
const NUMERIC_SHORT_SIGN_MASK: u16 = 0x2000;
const NUMERIC_SHORT_DSCALE_SHIFT: u16 = 7;
const NUMERIC_SHORT_WEIGHT_SIGN_MASK: u16 = 0x0040;
const NUMERIC_SHORT_WEIGHT_MASK: u16 = 0x003F;
const NUMERIC_DSCALE_MASK: i64 = 0x3FFF;
const DEC_DIGITS: i64 = 4;

/// A JSON number as numeric_in stores it (varlena header included): base-10000 digits without
/// leading or trailing zero digits, the weight of the first, and the display scale; the short
/// header when scale and weight fit in it. None when numeric_in would refuse it.
fn numeric(text: &str) -> Option<Vec<u8>> {
    let (neg, rest) = match text.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, text),
    };
    let (mantissa, exponent) = match rest.find(['e', 'E']) {
        Some(i) => (&rest[..i], rest[i + 1..].parse::<i64>().ok()?),
        None => (rest, 0),
    };
    if !(-MAX_EXPONENT..=MAX_EXPONENT).contains(&exponent) {
        return None;
    }
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let decimal: Vec<i64> = int_part
        .bytes()
        .chain(frac_part.bytes())
        .map(|b| i64::from(b - b'0'))
        .collect();
    // As set_var_from_str: the weight of the first decimal digit, and the scale.
    let dweight = int_part.len() as i64 - 1 + exponent;
    let dscale = (frac_part.len() as i64 - exponent).max(0);
    let weight = if dweight >= 0 {
        (dweight + DEC_DIGITS) / DEC_DIGITS - 1
    } else {
        -((-dweight - 1) / DEC_DIGITS + 1)
    };
    let offset = (weight + 1) * DEC_DIGITS - (dweight + 1);
    let ndigits = (decimal.len() as i64 + offset + DEC_DIGITS - 1) / DEC_DIGITS;
    let at = |i: i64| {
        if i < 0 {
            0
        } else {
            decimal.get(i as usize).copied().unwrap_or(0)
        }
    };
    let mut digits: Vec<i16> = (0..ndigits)
        .map(|d| {
            let i = d * DEC_DIGITS - offset;
            (((at(i) * 10 + at(i + 1)) * 10 + at(i + 2)) * 10 + at(i + 3)) as i16
        })
        .collect();
    let mut weight = weight;
    let leading = digits.iter().take_while(|d| **d == 0).count();
    digits.drain(..leading);
    weight -= leading as i64;
    while digits.last() == Some(&0) {
        digits.pop();
    }
    let neg = neg && !digits.is_empty();
    if digits.is_empty() {
        weight = 0;
    }
    numeric_datum(neg, weight, dscale, &digits)
}

/// numeric's varlena for base-10000 `digits` (no leading or trailing zeros), `weight` and
/// `dscale`: the short header where they fit, as `make_result` chooses, else the long one.
fn numeric_datum(neg: bool, weight: i64, dscale: i64, digits: &[i16]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(8 + 2 * digits.len());
    if dscale <= 63 && (-64..=63).contains(&weight) {
        let header = NUMERIC_SHORT
            | if neg { NUMERIC_SHORT_SIGN_MASK } else { 0 }
            | ((dscale as u16) << NUMERIC_SHORT_DSCALE_SHIFT)
            | if weight < 0 {
                NUMERIC_SHORT_WEIGHT_SIGN_MASK
            } else {
                0
            }
            | (weight as u16 & NUMERIC_SHORT_WEIGHT_MASK);
        let len = 6 + 2 * digits.len() as u32;
        out.extend_from_slice(&(len << 2).to_le_bytes());
        out.extend_from_slice(&header.to_ne_bytes());
    } else {
        if dscale > NUMERIC_DSCALE_MASK || i16::try_from(weight).is_err() {
            return None;
        }
        let len = 8 + 2 * digits.len() as u32;
        out.extend_from_slice(&(len << 2).to_le_bytes());
        let sign_dscale = if neg { NUMERIC_NEG } else { 0 } | dscale as u16;
        out.extend_from_slice(&sign_dscale.to_ne_bytes());
        out.extend_from_slice(&(weight as i16).to_ne_bytes());
    }
    for d in digits {
        out.extend_from_slice(&d.to_ne_bytes());
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(b: &[u8]) -> Vec<u32> {
        b.chunks(4)
            .map(|c| {
                let mut w = [0u8; 4];
                w[..c.len()].copy_from_slice(c);
                u32::from_le_bytes(w)
            })
            .collect()
    }

    #[test]
    fn numerics_are_laid_out_as_numeric_in_does() {
        // 1.50: weight 0, dscale 2, digits [1, 5000]; short header 0x8000 | 2 << 7
        let n = numeric("1.50").unwrap();
        assert_eq!(n.len(), 10);
        assert_eq!(u32::from_le_bytes(n[..4].try_into().unwrap()) >> 2, 10);
        assert_eq!(u16::from_le_bytes([n[4], n[5]]), 0x8000 | (2 << 7));
        assert_eq!(&n[6..], &[1, 0, 0x88, 0x13]); // 1, 5000
        // zero, whatever its sign and scale, has no digits and weight 0
        let z = numeric("-0.000").unwrap();
        assert_eq!(z.len(), 6);
        assert_eq!(u16::from_le_bytes([z[4], z[5]]), 0x8000 | (3 << 7));
        // 12345678: weight 1, digits [1234, 5678]
        let n = numeric("12345678").unwrap();
        assert_eq!(u16::from_le_bytes([n[4], n[5]]), 0x8000 | 1);
        assert_eq!(&n[6..], &[0xD2, 0x04, 0x2E, 0x16]);
        // -0.0001: weight -1, dscale 4, digits [1], negative
        let n = numeric("-0.0001").unwrap();
        assert_eq!(
            u16::from_le_bytes([n[4], n[5]]),
            0x8000 | 0x2000 | (4 << 7) | 0x40 | 0x3F
        );
        assert_eq!(&n[6..], &[1, 0]);
        // exponents move the weight and the scale: 2.5e3 = 2500, dscale 0
        assert_eq!(numeric("2.5e3").unwrap(), numeric("2500").unwrap());
        // long format beyond the short header's range (dscale 324)
        let n = numeric("5e-324").unwrap();
        assert_eq!(u16::from_le_bytes([n[4], n[5]]), 324);
        assert_eq!(i16::from_le_bytes([n[6], n[7]]), -81);
        assert!(numeric("1e1001").is_none());
    }

    #[test]
    fn objects_sort_keys_by_length_then_bytes_and_align_numerics() {
        let b = encode(r#"{"bb": 1, "a": "x", "c": null}"#).unwrap();
        let w = words(&b);
        assert_eq!(w[0] >> 2, b.len() as u32);
        assert_eq!(w[1], 3 | JB_FOBJECT);
        // keys a, c, bb: the first JEntry holds an offset
        assert_eq!(w[2], JENTRY_HAS_OFF | 1);
        assert_eq!(w[3], 1);
        assert_eq!(w[4], 2);
        // values "x", null, 1 (child 3 is not a 32nd: a length)
        assert_eq!(w[5], 1);
        assert_eq!(w[6], JENTRY_ISNULL);
        assert_eq!(w[7] & JENTRY_TYPEMASK, JENTRY_ISNUMERIC);
        assert_eq!(&b[32..36], b"acbb");
        assert_eq!(b[36], b'x');
        // the numeric starts on a 4-byte boundary: 3 bytes of padding counted in its length
        assert_eq!(w[7] & JENTRY_OFFLENMASK, 3 + 8);
        assert_eq!(b.len(), 40 + 8);
    }

    #[test]
    fn what_jsonb_in_must_decide_is_left_to_it() {
        for text in [
            r#"{"a": "x\u0000y"}"#,
            r#"{"a": "\udc00"}"#,
            r#"{"a": 1, "a": 2}"#,
            r#"{"a": 01}"#,
            r#"{"a": 1e5000}"#,
            r#"{"a": tru}"#,
            r#"{"a": 1} x"#,
            r#""scalar""#,
            "{\"a\": \"tab\tinside\"}",
        ] {
            assert!(encode(text).is_none(), "{text}");
        }
        let deep = "[".repeat(300) + &"]".repeat(300);
        assert!(encode(&deep).is_none());
    }

    #[test]
    fn escapes_become_the_characters() {
        let b = encode(r#"{"k": "a\"\\\/\n\u00e9\ud83d\ude00"}"#).unwrap();
        let s = "a\"\\/\né😀";
        assert!(b.windows(s.len()).any(|w| w == s.as_bytes()));
    }

    #[test]
    fn every_32nd_child_stores_an_offset() {
        let items: Vec<String> = (0..40).map(|i| format!("\"{i}\"")).collect();
        let b = encode(&format!("[{}]", items.join(","))).unwrap();
        let w = words(&b);
        assert_eq!(w[1], 40 | JB_FARRAY);
        assert_eq!(w[2], JENTRY_HAS_OFF | 1); // "0"
        assert_eq!(w[3], 1); // "1"
        // child 32 ("32"): end offset = 10 one-digit + 22 two-digit + 2
        assert_eq!(w[2 + 32], JENTRY_HAS_OFF | (10 + 22 * 2 + 2));
        assert_eq!(w[2 + 33], 2);
    }
}
