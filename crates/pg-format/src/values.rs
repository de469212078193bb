//! Small rules about Dune values shared by the decoders.

/// `s` if PostgreSQL text can hold it (it cannot hold NUL).
pub fn checked(s: &str) -> Result<&str, String> {
    if s.contains('\0') {
        return Err("contains the character \\u0000, which PostgreSQL text cannot hold".into());
    }
    Ok(s)
}

/// A value's text, shortened for an error message.
pub fn shorten(text: &str) -> String {
    if text.chars().count() > 80 {
        format!("{}...", text.chars().take(77).collect::<String>())
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_is_refused_and_long_values_are_shortened() {
        assert!(checked("a\u{0}b").unwrap_err().contains("u0000"));
        assert_eq!(checked("ok"), Ok("ok"));
        let long = shorten(&"x".repeat(200));
        assert!(long.ends_with("...") && long.chars().count() == 80);
        assert_eq!(shorten("\"short\""), "\"short\"");
    }
}
