//! The few pieces of TOML output the canonical writers need. Output is TOML 1.0, so any
//! TOML parser reads it; escaping is fixed so that equal values give equal bytes.
//!
//! Values in a valid manifest hold no control characters (the GPG key's newlines aside),
//! so the only escapes a reader meets in canonical text are `\"` and `\\`; the writer
//! still escapes control characters so that it never emits invalid TOML.

use std::fmt::{self, Write};

/// Write a TOML basic string: `"…"` with `"`, `\` and control characters escaped.
pub fn write_string(out: &mut impl Write, s: &str) -> fmt::Result {
    out.write_char('"')?;
    escape_into(out, s, false)?;
    out.write_char('"')
}

/// A TOML basic string, as an owned `String`.
pub fn string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    let _ = write_string(&mut out, s);
    out
}

/// Write a TOML multi-line basic string (`"""` + newline + text + `"""`), keeping newlines
/// as they are so that armored keys stay readable; everything else is escaped as in
/// [`write_string`].
pub fn write_multiline(out: &mut impl Write, s: &str) -> fmt::Result {
    out.write_str("\"\"\"\n")?;
    escape_into(out, s, true)?;
    out.write_str("\"\"\"")
}

fn escape_into(out: &mut impl Write, s: &str, keep_newlines: bool) -> fmt::Result {
    let mut plain = 0;
    for (i, c) in s.char_indices() {
        let esc = match c {
            '"' => "\\\"",
            '\\' => "\\\\",
            '\n' if keep_newlines => continue,
            '\n' => "\\n",
            '\t' => "\\t",
            '\r' => "\\r",
            c if c.is_control() => "",
            _ => continue,
        };
        out.write_str(&s[plain..i])?;
        if esc.is_empty() {
            write!(out, "\\u{:04X}", c as u32)?;
        } else {
            out.write_str(esc)?;
        }
        plain = i + c.len_utf8();
    }
    out.write_str(&s[plain..])
}

/// Whether a key is written bare: made only of `A-Za-z0-9_-`.
pub fn is_bare_key(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Write a key: bare when [`is_bare_key`], quoted otherwise.
pub fn write_key(out: &mut impl Write, s: &str) -> fmt::Result {
    if is_bare_key(s) {
        out.write_str(s)
    } else {
        write_string(out, s)
    }
}

/// A [`fmt::Write`] that compares what is written with expected bytes instead of storing
/// it: checking that a text is the canonical encoding of what was parsed from it costs no
/// second copy.
pub struct Compare<'a> {
    expected: &'a [u8],
    at: usize,
}

impl<'a> Compare<'a> {
    /// Compare against `expected`.
    pub fn new(expected: &'a [u8]) -> Self {
        Self { expected, at: 0 }
    }

    /// After writing: `None` when everything written equals `expected` exactly, else the
    /// byte offset of the first difference.
    pub fn first_difference(&self, write_failed: bool) -> Option<usize> {
        if write_failed || self.at != self.expected.len() {
            Some(self.at)
        } else {
            None
        }
    }
}

impl Write for Compare<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let rest = &self.expected[self.at..];
        let n = s.len().min(rest.len());
        let same = s.bytes().zip(rest).position(|(a, &b)| a != b).unwrap_or(n);
        self.at += same;
        if same == s.len() {
            Ok(())
        } else {
            Err(fmt::Error)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_parse_back() {
        let nasty = "a\"b\\c\nd\te\u{1}f\u{7f}g\"\"\"h~+ü";
        let mut doc = String::new();
        doc.push_str("a = ");
        write_string(&mut doc, nasty).unwrap();
        doc.push_str("\nb = ");
        write_multiline(&mut doc, nasty).unwrap();
        doc.push('\n');
        write_key(&mut doc, nasty).unwrap();
        doc.push_str(" = 1\n");
        let v: toml::Table = toml::from_str(&doc).unwrap();
        assert_eq!(v["a"].as_str(), Some(nasty));
        assert_eq!(v["b"].as_str(), Some(nasty));
        assert!(v.contains_key(nasty));
        let mut k = String::new();
        write_key(&mut k, "0001").unwrap();
        assert_eq!(k, "0001");
        assert_eq!(string("a/b"), "\"a/b\"");
    }

    #[test]
    fn compare_finds_the_first_difference() {
        let mut c = Compare::new(b"abcdef");
        assert!(c.write_str("abc").is_ok());
        assert!(c.write_str("def").is_ok());
        assert_eq!(c.first_difference(false), None);
        let mut c = Compare::new(b"abcdef");
        assert!(c.write_str("abX").is_err());
        assert_eq!(c.first_difference(true), Some(2));
        let mut c = Compare::new(b"abc");
        assert!(c.write_str("ab").is_ok());
        assert_eq!(c.first_difference(false), Some(2));
        let mut c = Compare::new(b"ab");
        assert!(c.write_str("abc").is_err());
        assert_eq!(c.first_difference(true), Some(2));
    }
}
