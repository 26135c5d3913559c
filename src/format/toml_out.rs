//! The few pieces of TOML output the canonical writers need. Output is TOML 1.0, so any
//! TOML parser reads it; escaping is fixed so that equal values give equal bytes.

use std::fmt::Write as _;

/// A TOML basic string: `"…"` with `"`, `\` and control characters escaped.
pub fn string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    escape_into(&mut out, s, false);
    out.push('"');
    out
}

/// A TOML multi-line basic string (`"""` + newline + text + `"""`), keeping newlines as
/// they are so that armored keys stay readable; everything else is escaped as in [`string`].
pub fn multiline(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    out.push_str("\"\"\"\n");
    escape_into(&mut out, s, true);
    out.push_str("\"\"\"");
    out
}

fn escape_into(out: &mut String, s: &str, keep_newlines: bool) {
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' if keep_newlines => out.push('\n'),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
}

/// A key: bare when it is made only of `A-Za-z0-9_-`, quoted otherwise.
pub fn key(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        s.to_string()
    } else {
        string(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_parse_back() {
        let nasty = "a\"b\\c\nd\te\u{1}f\u{7f}g\"\"\"h~+ü";
        let doc = format!(
            "a = {}\nb = {}\n{} = 1\n",
            string(nasty),
            multiline(nasty),
            key(nasty)
        );
        let v: toml::Table = toml::from_str(&doc).unwrap();
        assert_eq!(v["a"].as_str(), Some(nasty));
        assert_eq!(v["b"].as_str(), Some(nasty));
        assert!(v.contains_key(nasty));
        assert_eq!(key("0001"), "0001");
        assert_eq!(key("a/b"), "\"a/b\"");
    }
}
