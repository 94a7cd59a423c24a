//! A strict, allocation-free scanner for one JSON object per line.
//!
//! Design: review dumps carry a handful of fields we use and kilobytes we do not (review text, images,
//! styles). The scanner validates the whole line as JSON but materialises only the wanted top-level keys;
//! every other value is skipped in place (strings with `memchr`, containers with an explicit stack, so a
//! deeply nested line cannot overflow the call stack). Unescaping happens only for wanted strings that hold
//! a backslash. The line must already be valid UTF-8 (the caller checks it once).
//!
//! Accepted beyond RFC 8259: raw control characters inside strings (real dumps never hold them and
//! rejecting them buys nothing), and lone surrogate escapes in skipped strings (they are never decoded).
//! Rejected: trailing garbage, duplicate wanted keys, lone surrogates in wanted strings.

use std::borrow::Cow;

/// The deepest nesting a line may have.
pub const MAX_DEPTH: usize = 512;

/// The value found under a wanted key.
#[derive(Debug, Clone, PartialEq)]
pub enum Field<'a> {
    /// The key is absent.
    Missing,
    /// A string, unescaped.
    Str(Cow<'a, str>),
    /// A number, as its validated JSON text.
    Num(&'a str),
    /// Something else: "null", "true/false", "an array" or "an object".
    Other(&'static str),
}

impl Field<'_> {
    /// The JSON type name, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Field::Missing => "nothing",
            Field::Str(_) => "a string",
            Field::Num(_) => "a number",
            Field::Other(name) => name,
        }
    }
}

/// A reusable scanner (it keeps its container stack between lines).
#[derive(Debug, Default)]
pub struct Scanner {
    stack: Vec<u8>,
}

struct Cursor<'a> {
    s: &'a str,
    b: &'a [u8],
    i: usize,
}

type Res<T> = std::result::Result<T, String>;

impl<'a> Cursor<'a> {
    #[inline]
    fn ws(&mut self) {
        while let Some(&c) = self.b.get(self.i) {
            if c == b' ' || c == b'\t' || c == b'\n' || c == b'\r' {
                self.i += 1;
            } else {
                break;
            }
        }
    }

    #[inline]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn unexpected(&self, what: &str) -> String {
        match self.peek() {
            None => format!("invalid JSON: unexpected end of line, expected {what}"),
            Some(c) if c.is_ascii_graphic() => {
                format!("invalid JSON at column {}: found '{}', expected {what}", self.i + 1, c as char)
            }
            Some(c) => format!("invalid JSON at column {}: found byte 0x{c:02x}, expected {what}", self.i + 1),
        }
    }

    fn expect(&mut self, c: u8, what: &str) -> Res<()> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(self.unexpected(what))
        }
    }

    /// Skips a string whose opening quote is at `self.i`; returns the raw inside and whether it has escapes.
    #[inline]
    fn raw_string(&mut self) -> Res<(usize, usize, bool)> {
        self.expect(b'"', "a string")?;
        let start = self.i;
        let mut escaped = false;
        loop {
            match memchr::memchr2(b'"', b'\\', &self.b[self.i..]) {
                None => return Err("invalid JSON: unterminated string".into()),
                Some(off) => {
                    let at = self.i + off;
                    if self.b[at] == b'"' {
                        self.i = at + 1;
                        return Ok((start, at, escaped));
                    }
                    escaped = true;
                    match self.b.get(at + 1) {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => self.i = at + 2,
                        Some(b'u') => {
                            let hex = self.b.get(at + 2..at + 6).ok_or("invalid JSON: truncated \\u escape")?;
                            if !hex.iter().all(u8::is_ascii_hexdigit) {
                                return Err(format!("invalid JSON at column {}: bad \\u escape", at + 1));
                            }
                            self.i = at + 6;
                        }
                        _ => return Err(format!("invalid JSON at column {}: bad escape", at + 1)),
                    }
                }
            }
        }
    }

    fn string(&mut self) -> Res<Cow<'a, str>> {
        let (start, end, escaped) = self.raw_string()?;
        if !escaped {
            return Ok(Cow::Borrowed(&self.s[start..end]));
        }
        unescape(&self.s[start..end]).map(Cow::Owned)
    }

    fn literal(&mut self, word: &'static [u8]) -> Res<()> {
        if self.b[self.i..].starts_with(word) {
            self.i += word.len();
            Ok(())
        } else {
            Err(self.unexpected("a JSON value"))
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.i += 1;
        }
        self.i - start
    }

    fn number(&mut self) -> Res<&'a str> {
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek() {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.unexpected("a digit")),
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if self.digits() == 0 {
                return Err(self.unexpected("a digit after '.'"));
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if self.digits() == 0 {
                return Err(self.unexpected("a digit in the exponent"));
            }
        }
        Ok(&self.s[start..self.i])
    }

    fn object_key(&mut self) -> Res<()> {
        self.raw_string()?;
        self.ws();
        self.expect(b':', "':'")
    }

    /// Skips any value, validating it, without recursion.
    fn skip_value(&mut self, stack: &mut Vec<u8>) -> Res<()> {
        stack.clear();
        loop {
            self.ws();
            match self.peek() {
                Some(b'{') => {
                    self.i += 1;
                    self.ws();
                    if self.peek() == Some(b'}') {
                        self.i += 1;
                    } else {
                        stack.push(b'}');
                        if stack.len() > MAX_DEPTH {
                            return Err(format!("invalid JSON: nested deeper than {MAX_DEPTH} levels"));
                        }
                        self.object_key()?;
                        continue;
                    }
                }
                Some(b'[') => {
                    self.i += 1;
                    self.ws();
                    if self.peek() == Some(b']') {
                        self.i += 1;
                    } else {
                        stack.push(b']');
                        if stack.len() > MAX_DEPTH {
                            return Err(format!("invalid JSON: nested deeper than {MAX_DEPTH} levels"));
                        }
                        continue;
                    }
                }
                Some(b'"') => {
                    self.raw_string()?;
                }
                Some(b't') => self.literal(b"true")?,
                Some(b'f') => self.literal(b"false")?,
                Some(b'n') => self.literal(b"null")?,
                Some(b'-' | b'0'..=b'9') => {
                    self.number()?;
                }
                _ => return Err(self.unexpected("a JSON value")),
            }
            // A value ended: close the containers it completes, or move on to the next element.
            loop {
                let Some(&close) = stack.last() else { return Ok(()) };
                self.ws();
                match self.peek() {
                    Some(b',') => {
                        self.i += 1;
                        if close == b'}' {
                            self.ws();
                            self.object_key()?;
                        }
                        break;
                    }
                    Some(c) if c == close => {
                        self.i += 1;
                        stack.pop();
                    }
                    _ => return Err(self.unexpected(if close == b'}' { "',' or '}'" } else { "',' or ']'" })),
                }
            }
        }
    }

    fn value(&mut self, stack: &mut Vec<u8>) -> Res<Field<'a>> {
        Ok(match self.peek() {
            Some(b'"') => Field::Str(self.string()?),
            Some(b'-' | b'0'..=b'9') => Field::Num(self.number()?),
            Some(b'n') => {
                self.literal(b"null")?;
                Field::Other("null")
            }
            Some(b't' | b'f') => {
                self.skip_value(stack)?;
                Field::Other("a boolean")
            }
            Some(b'[') => {
                self.skip_value(stack)?;
                Field::Other("an array")
            }
            Some(b'{') => {
                self.skip_value(stack)?;
                Field::Other("an object")
            }
            _ => return Err(self.unexpected("a JSON value")),
        })
    }
}

impl Scanner {
    /// A new scanner.
    pub fn new() -> Self {
        Self::default()
    }

    /// Scans `line` as one JSON object and fills `out[j]` with the value under `wanted[j]`.
    ///
    /// A wanted key that appears twice is an error; other keys may repeat.
    pub fn scan<'a>(&mut self, line: &'a str, wanted: &[&str], out: &mut [Field<'a>]) -> Res<()> {
        debug_assert_eq!(wanted.len(), out.len());
        for f in out.iter_mut() {
            *f = Field::Missing;
        }
        let mut c = Cursor { s: line, b: line.as_bytes(), i: 0 };
        c.ws();
        if c.peek() != Some(b'{') {
            return Err(match c.peek() {
                Some(b'[') => "invalid record: a JSON array, expected an object".to_string(),
                _ => c.unexpected("'{'"),
            });
        }
        c.i += 1;
        c.ws();
        if c.peek() == Some(b'}') {
            c.i += 1;
        } else {
            loop {
                c.ws();
                let (start, end, escaped) = c.raw_string()?;
                let key: Cow<'a, str> =
                    if escaped { Cow::Owned(unescape(&line[start..end])?) } else { Cow::Borrowed(&line[start..end]) };
                c.ws();
                c.expect(b':', "':'")?;
                c.ws();
                match wanted.iter().position(|w| same(w.as_bytes(), key.as_bytes())) {
                    Some(j) => {
                        if out[j] != Field::Missing {
                            return Err(format!("duplicate key \"{key}\""));
                        }
                        out[j] = c.value(&mut self.stack)?;
                    }
                    None => c.skip_value(&mut self.stack)?,
                }
                c.ws();
                match c.peek() {
                    Some(b',') => c.i += 1,
                    Some(b'}') => {
                        c.i += 1;
                        break;
                    }
                    _ => return Err(c.unexpected("',' or '}'")),
                }
            }
        }
        c.ws();
        if c.i != c.b.len() {
            return Err(c.unexpected("the end of the line after the object"));
        }
        Ok(())
    }
}

/// Byte equality of two short keys, inlined (a `memcmp` call per candidate key costs more than the compare).
#[inline]
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// Decodes the escapes of a JSON string body (without its quotes).
pub fn unescape(raw: &str) -> Res<String> {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.char_indices();
    while let Some((_, ch)) = chars.next() {
        if ch != '\\' {
            out.push(ch);
            continue;
        }
        let Some((at, esc)) = chars.next() else { return Err("invalid JSON: dangling backslash".into()) };
        match esc {
            '"' => out.push('"'),
            '\\' => out.push('\\'),
            '/' => out.push('/'),
            'b' => out.push('\u{8}'),
            'f' => out.push('\u{c}'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            'u' => {
                let hi = hex4(raw, at + 1)?;
                for _ in 0..4 {
                    chars.next();
                }
                let code = if (0xD800..0xDC00).contains(&hi) {
                    let rest = &raw[at + 5..];
                    if !rest.starts_with("\\u") {
                        return Err("invalid JSON: lone high surrogate in \\u escape".into());
                    }
                    let lo = hex4(raw, at + 7)?;
                    if !(0xDC00..0xE000).contains(&lo) {
                        return Err("invalid JSON: high surrogate not followed by a low surrogate".into());
                    }
                    for _ in 0..6 {
                        chars.next();
                    }
                    0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                } else if (0xDC00..0xE000).contains(&hi) {
                    return Err("invalid JSON: lone low surrogate in \\u escape".into());
                } else {
                    hi
                };
                out.push(char::from_u32(code).ok_or("invalid JSON: bad \\u escape")?);
            }
            _ => return Err("invalid JSON: bad escape".into()),
        }
    }
    Ok(out)
}

fn hex4(raw: &str, at: usize) -> Res<u32> {
    raw.get(at..at + 4)
        .and_then(|h| u32::from_str_radix(h, 16).ok())
        .ok_or_else(|| "invalid JSON: truncated \\u escape".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan<'a>(line: &'a str, wanted: &[&str]) -> Res<Vec<Field<'a>>> {
        let mut out = vec![Field::Missing; wanted.len()];
        Scanner::new().scan(line, wanted, &mut out)?;
        Ok(out)
    }

    #[test]
    fn wanted_keys_are_extracted_and_others_skipped() {
        let line = r#"{"overall": 5.0, "vote": "1,917", "style": {"Size:": " Large", "x": [1, {"y": null}]},
            "reviewerID": "A1\"B", "asin": "B00", "unixReviewTime": 1388534400, "image": ["a", "b"]}"#;
        let f = scan(line, &["reviewerID", "asin", "unixReviewTime", "overall"]).expect("a valid line");
        assert_eq!(f[0], Field::Str(Cow::Owned("A1\"B".into())));
        assert_eq!(f[1], Field::Str(Cow::Borrowed("B00")));
        assert_eq!(f[2], Field::Num("1388534400"));
        assert_eq!(f[3], Field::Num("5.0"));
    }

    #[test]
    fn malformed_lines_are_rejected() {
        for bad in [
            "",
            "{",
            "{\"a\": }",
            "{\"a\": 1,}",
            "{\"a\" 1}",
            "{\"a\": 01}",
            "{\"a\": 1} x",
            "[1, 2]",
            "{\"a\": [1, 2}",
            "{\"a\": \"\\x\"}",
            "{\"a\": tru}",
            "{\"a\": 1.}",
            "{\"a\": \"abc}",
        ] {
            assert!(scan(bad, &["a"]).is_err(), "accepted {bad:?}");
        }
    }

    #[test]
    fn duplicate_wanted_key_is_an_error() {
        let e = scan(r#"{"asin": "a", "asin": "b"}"#, &["asin"]).expect_err("a duplicate key");
        assert!(e.contains("duplicate key"), "{e}");
        assert!(scan(r#"{"x": 1, "x": 2}"#, &["asin"]).is_ok());
    }

    #[test]
    fn deep_nesting_is_bounded_not_a_stack_overflow() {
        let deep = format!("{{\"a\": {}{}}}", "[".repeat(100_000), "]".repeat(100_000));
        let e = scan(&deep, &["b"]).expect_err("too deep");
        assert!(e.contains("nested deeper"), "{e}");
        let ok = format!("{{\"a\": {}{}}}", "[".repeat(100), "]".repeat(100));
        assert!(scan(&ok, &["b"]).is_ok());
    }

    #[test]
    fn unicode_escapes_and_surrogates() {
        assert_eq!(unescape(r"\u00e9\ud83d\ude00").expect("valid escapes"), "é😀");
        assert!(unescape(r"\ud83d").is_err());
        assert!(unescape(r"\ude00").is_err());
        assert!(unescape(r"\ud83dx").is_err());
    }
}
