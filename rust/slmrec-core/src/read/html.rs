//! HTML entities as they appear in Amazon metadata text, decoded to characters.
//!
//! Design: a fixed table of the named entities product titles use (HTML 4's Latin-1 block by position, plus
//! markup and typography) and numeric entities; anything that names no character stays as written.

/// The HTML 4 named entities that occur in product titles: markup, Latin-1 letters and symbols, typography.
fn named_entity(name: &str) -> Option<char> {
    const LATIN1: [&str; 96] = [
        "nbsp", "iexcl", "cent", "pound", "curren", "yen", "brvbar", "sect", "uml", "copy", "ordf", "laquo", "not",
        "shy", "reg", "macr", "deg", "plusmn", "sup2", "sup3", "acute", "micro", "para", "middot", "cedil", "sup1",
        "ordm", "raquo", "frac14", "frac12", "frac34", "iquest", "Agrave", "Aacute", "Acirc", "Atilde", "Auml",
        "Aring", "AElig", "Ccedil", "Egrave", "Eacute", "Ecirc", "Euml", "Igrave", "Iacute", "Icirc", "Iuml", "ETH",
        "Ntilde", "Ograve", "Oacute", "Ocirc", "Otilde", "Ouml", "times", "Oslash", "Ugrave", "Uacute", "Ucirc",
        "Uuml", "Yacute", "THORN", "szlig", "agrave", "aacute", "acirc", "atilde", "auml", "aring", "aelig", "ccedil",
        "egrave", "eacute", "ecirc", "euml", "igrave", "iacute", "icirc", "iuml", "eth", "ntilde", "ograve", "oacute",
        "ocirc", "otilde", "ouml", "divide", "oslash", "ugrave", "uacute", "ucirc", "uuml", "yacute", "thorn", "yuml",
    ];
    if let Some(k) = LATIN1.iter().position(|&n| n == name) {
        return char::from_u32(0xA0 + k as u32);
    }
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "ndash" => '\u{2013}',
        "mdash" => '\u{2014}',
        "lsquo" => '\u{2018}',
        "rsquo" => '\u{2019}',
        "sbquo" => '\u{201A}',
        "ldquo" => '\u{201C}',
        "rdquo" => '\u{201D}',
        "bdquo" => '\u{201E}',
        "bull" => '\u{2022}',
        "hellip" => '\u{2026}',
        "prime" => '\u{2032}',
        "Prime" => '\u{2033}',
        "euro" => '\u{20AC}',
        "trade" => '\u{2122}',
        "dagger" => '\u{2020}',
        "Dagger" => '\u{2021}',
        "permil" => '\u{2030}',
        "OElig" => '\u{152}',
        "oelig" => '\u{153}',
        "Scaron" => '\u{160}',
        "scaron" => '\u{161}',
        "Yuml" => '\u{178}',
        "circ" => '\u{2C6}',
        "tilde" => '\u{2DC}',
        "ensp" => '\u{2002}',
        "emsp" => '\u{2003}',
        "thinsp" => '\u{2009}',
        "hearts" => '\u{2665}',
        "larr" => '\u{2190}',
        "rarr" => '\u{2192}',
        "frasl" => '\u{2044}',
        _ => return None,
    })
}

/// The character of a numeric entity (`#39`, `#x27`), digits only. A code point that is no character a title
/// can hold (NUL and the other C0 controls but tab, LF and CR; a surrogate; beyond U+10FFFF) gives `None`: the
/// entity is then kept as literal text, never turned into a NUL or a control byte.
fn numeric_entity(ent: &str) -> Option<char> {
    let (digits, radix) = match ent.strip_prefix("#x").or_else(|| ent.strip_prefix("#X")) {
        Some(h) => (h, 16),
        None => (ent.strip_prefix('#')?, 10),
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let c = char::from_u32(u32::from_str_radix(digits, radix).ok()?)?;
    if c.is_control() && (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') {
        return None;
    }
    Some(c)
}

/// Decodes the HTML entities that appear in Amazon metadata (`&amp;`, `&eacute;`, `&#39;`, `&#x27;`, ...).
/// An entity that names no character (`&#0;`, `&#xD800;`, `&#1114112;`, an unknown name) stays as written.
pub fn decode_html(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let decoded = rest.find(';').filter(|&end| end <= 10).and_then(|end| {
            let ent = &rest[1..end];
            let ch = match named_entity(ent) {
                Some(c) => Some(c),
                None => numeric_entity(ent),
            };
            ch.map(|c| (c, end))
        });
        match decoded {
            Some((c, end)) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entities_of_no_character_stay_literal() {
        assert_eq!(decode_html("a &#0; b"), "a &#0; b");
        assert_eq!(
            decode_html("&#x0;&#xD800;&#55296;&#1114112;&#x110000;&#1;&#x1F;"),
            "&#x0;&#xD800;&#55296;&#1114112;&#x110000;&#1;&#x1F;"
        );
        assert_eq!(decode_html("&#+65;&#-65;&#x;&#;&#x+41;"), "&#+65;&#-65;&#x;&#;&#x+41;");
        assert_eq!(decode_html("&#65;&#x42;&#X43;&#9;&#10;&#x1F600;&amp;&eacute;"), "ABC\t\n\u{1F600}&\u{e9}");
        assert!(!decode_html("&#0;&#00;&#x00000;").contains('\0'));
    }
}
