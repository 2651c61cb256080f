//! Escaping for text and attribute values in HTML and SVG.
//!
//! The same text goes into HTML pages and into SVG that the page parses as XML
//! (`DOMParser`, `image/svg+xml`) and that exports save as files. XML 1.0 forbids
//! most C0 controls and U+FFFE/U+FFFF outright, even as character references, and
//! a Docker network, a namespace or an interface can be named with them: they
//! become U+FFFD, so one odd name never makes the whole drawing unreadable.

use std::borrow::Cow;

/// The character XML cannot hold that stands in for one it cannot.
pub const REPLACEMENT: char = '\u{FFFD}';

/// Whether XML 1.0 forbids this character in a document (tab, LF and CR are allowed).
pub fn forbidden_in_xml(c: char) -> bool {
    matches!(c, '\0'..='\x08' | '\x0B' | '\x0C' | '\x0E'..='\x1F' | '\u{FFFE}' | '\u{FFFF}')
}

/// Escape `& < > " '` so the string is only ever text, in element content and in quoted
/// attributes, and replace what XML forbids with U+FFFD.
pub fn escape(s: &str) -> Cow<'_, str> {
    let plain = |c: char| !matches!(c, '&' | '<' | '>' | '"' | '\'') && !forbidden_in_xml(c);
    if s.chars().all(plain) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if forbidden_in_xml(c) => out.push(REPLACEMENT),
            _ => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// `s` as [`escape`] writes it once unescaped by a parser: what a drawn `data-id` reads back as.
pub fn as_drawn(s: &str) -> Cow<'_, str> {
    if !s.chars().any(forbidden_in_xml) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(
        s.chars()
            .map(|c| if forbidden_in_xml(c) { REPLACEMENT } else { c })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_becomes_text() {
        assert_eq!(
            escape(r#"x<img src=x onerror="alert(1)">&'"#),
            "x&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&amp;&#39;"
        );
        assert!(matches!(escape("eth0"), Cow::Borrowed(_)));
    }

    #[test]
    fn characters_xml_forbids_become_the_replacement_character() {
        assert_eq!(
            escape("a\x01b\x1b[31m\0c"),
            "a\u{FFFD}b\u{FFFD}[31m\u{FFFD}c"
        );
        assert_eq!(escape("x\u{FFFE}\u{FFFF}<"), "x\u{FFFD}\u{FFFD}&lt;");
        // Tab, LF and CR are allowed in XML and stay.
        assert!(matches!(escape("a\tb\nc\r"), Cow::Borrowed(_)));
        for b in 0u8..0x20 {
            let s = (b as char).to_string();
            let allowed = matches!(b, b'\t' | b'\n' | b'\r');
            assert_eq!(escape(&s) == s, allowed, "byte {b:#x}");
        }
        assert_eq!(as_drawn("net\x01x"), "net\u{FFFD}x");
    }
}
