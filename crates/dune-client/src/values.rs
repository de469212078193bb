//! Reading Dune's value encodings (numbers as JSON numbers or strings, varbinary as `0x` hex,
//! text that must not contain NUL) into plain Rust values, with the problem worded for an error
//! message when a value does not fit.

use serde_json::Value;

/// An integer in `min..=max` (`what` names the type in messages).
pub fn integer(v: &Value, min: i64, max: i64, what: &str) -> Result<i64, String> {
    let n = match v {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.2e18)
                .map(|f| f as i64)
        }),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    match n {
        Some(n) if (min..=max).contains(&n) => Ok(n),
        Some(_) => Err(format!("out of range for type {what}")),
        None => Err(format!("not a valid {what}")),
    }
}

pub fn float(v: &Value) -> Result<f64, String> {
    match v {
        Value::Number(n) => n.as_f64().ok_or_else(|| "not a number".to_string()),
        Value::String(s) => s
            .trim()
            .parse::<f64>()
            .map_err(|_| "not a valid double precision".to_string()),
        _ => Err("not a number".into()),
    }
}

pub fn boolean(v: &Value) -> Result<bool, String> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s == "true" || s == "false" => Ok(s == "true"),
        _ => Err("not a boolean".into()),
    }
}

/// `s` if PostgreSQL text can hold it (it cannot hold NUL).
pub fn checked(s: &str) -> Result<&str, String> {
    if s.contains('\0') {
        return Err("contains the character \\u0000, which PostgreSQL text cannot hold".into());
    }
    Ok(s)
}

/// The value's text: a string as is, anything else as JSON.
pub fn text(v: &Value) -> Result<String, String> {
    match v {
        Value::String(s) => checked(s).map(str::to_string),
        other => Ok(other.to_string()),
    }
}

/// Dune's varbinary encoding, `0x` followed by hex digits, as bytes.
pub fn bytes(v: &Value) -> Result<Vec<u8>, String> {
    let Value::String(s) = v else {
        return Err("not 0x-prefixed hex".into());
    };
    let digits = s
        .strip_prefix("0x")
        .ok_or_else(|| "not 0x-prefixed hex".to_string())?;
    if digits.len() % 2 != 0 {
        return Err("odd number of hex digits".into());
    }
    (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).map_err(|_| "not valid hex".to_string()))
        .collect()
}

/// A value shortened for an error message.
pub fn shorten(v: &Value) -> String {
    let text = match v {
        Value::String(s) => format!("\"{s}\""),
        other => other.to_string(),
    };
    if text.chars().count() > 80 {
        format!("{}...", text.chars().take(77).collect::<String>())
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn integers_floats_and_booleans() {
        assert_eq!(integer(&json!(5), 0, 10, "x"), Ok(5));
        assert_eq!(integer(&json!("7"), 0, 10, "x"), Ok(7));
        assert_eq!(integer(&json!(3.0), 0, 10, "x"), Ok(3));
        assert!(
            integer(&json!(50000), -32768, 32767, "smallint")
                .unwrap_err()
                .contains("out of range")
        );
        assert!(integer(&json!(1.5), 0, 10, "x").is_err());
        assert!(integer(&json!("18446744073709551616"), i64::MIN, i64::MAX, "bigint").is_err());
        assert_eq!(float(&json!("2.5")), Ok(2.5));
        assert_eq!(boolean(&json!("true")), Ok(true));
        assert!(boolean(&json!(1)).is_err());
    }

    #[test]
    fn hex_text_and_shortening() {
        assert_eq!(bytes(&json!("0xdead")).unwrap(), vec![0xde, 0xad]);
        assert_eq!(bytes(&json!("0x")).unwrap(), Vec::<u8>::new());
        for bad in [json!("dead"), json!("0xabc"), json!("0xzz"), json!(5)] {
            assert!(bytes(&bad).is_err(), "{bad}");
        }
        assert_eq!(text(&json!([1, "a"])).unwrap(), "[1,\"a\"]");
        assert!(text(&json!("a\u{0}b")).unwrap_err().contains("u0000"));
        let long = shorten(&json!("x".repeat(200)));
        assert!(long.ends_with("...") && long.chars().count() == 80);
    }
}
