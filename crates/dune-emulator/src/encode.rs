//! Result pages as Dune writes them: JSON rows with keys in alphabetical order, and CSV with
//! Go's formatting (`%g` floats such as `3.8364306116397446e+10`, `<nil>` for NULL).

use serde_json::Value;

/// Writes one JSON row: keys sorted (byte order, as Dune's examples show), values as given.
pub fn json_row(out: &mut String, names_sorted: &[(String, usize)], values: &[Value]) {
    out.push('{');
    for (i, (quoted_name, col)) in names_sorted.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(quoted_name);
        out.push(':');
        out.push_str(&values[*col].to_string());
    }
    out.push('}');
}

/// The sorted (JSON-quoted name, position) pairs for a column list.
pub fn sorted_names(names: &[String]) -> Vec<(String, usize)> {
    let mut v: Vec<(String, usize)> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.clone(), i))
        .collect();
    v.sort();
    v.into_iter()
        .map(|(n, i)| (Value::from(n).to_string(), i))
        .collect()
}

/// Go's `strconv.FormatFloat(f, 'g', -1, 64)`: shortest digits, exponent form when the
/// exponent is below -4 or at least 6.
pub fn go_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    if f == 0.0 {
        return "0".into();
    }
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').expect("{:e} has an exponent");
    let exp: i32 = exp.parse().expect("integer exponent");
    if !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    } else {
        format!("{f}")
    }
}

/// One CSV field in Go's `%v` style.
pub fn csv_field(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) if n.is_f64() => go_float(n.as_f64().unwrap_or(0.0)),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(csv_field).collect::<Vec<_>>().join(" ")
        ),
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .iter()
                .map(|k| format!("{k}:{}", csv_field(&m[*k])))
                .collect();
            format!("map[{}]", parts.join(" "))
        }
    }
}

/// Bytes a value counts for in `result_set_bytes` (its text, as in the CSV form).
pub fn value_bytes(v: &Value) -> u64 {
    match v {
        Value::Null => 0,
        Value::String(s) => s.len() as u64,
        other => csv_field(other).len() as u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn floats_print_as_go_does() {
        assert_eq!(go_float(38_364_306_116.397446), "3.8364306116397446e+10");
        assert_eq!(go_float(223_304.966_817_536_57), "223304.96681753657");
        assert_eq!(go_float(3_357_161.329_925_664_7), "3.3571613299256647e+06");
        assert_eq!(go_float(0.029847000000000005), "0.029847000000000005");
        assert_eq!(go_float(0.00001), "1e-05");
        assert_eq!(go_float(1.0), "1");
    }

    #[test]
    fn rows_have_sorted_keys_and_csv_uses_go_style() {
        let names = vec!["b".to_string(), "A".to_string(), "a".to_string()];
        let mut s = String::new();
        json_row(
            &mut s,
            &sorted_names(&names),
            &[json!(1), json!("x"), Value::Null],
        );
        assert_eq!(s, r#"{"A":"x","a":null,"b":1}"#);
        assert_eq!(csv_field(&json!(["0x1", "0x2"])), "[0x1 0x2]");
        assert_eq!(csv_field(&Value::Null), "<nil>");
    }
}
