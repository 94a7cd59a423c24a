//! Any delimited text with a header (CSV, TSV, ...), read by column name: the `table` format. (A Parquet file
//! given as a table is read by `read/parquet.rs`, with the same column choice, [`pick`].)
//!
//! Design: the header names the columns; `--columns user=COL,item=COL[,time=COL][,rating=COL]` chooses them,
//! and a column not given is guessed from common names ([`GUESSES`], first match in list order, compared
//! without regard to ASCII case). The delimiter is `--delimiter`, or the one of tab, comma, semicolon and pipe
//! that the header holds most often outside quotes (a tie, or none, is an error asking for it). Fields follow
//! RFC 4180: a field may be double-quoted, a quote inside it doubled, and a line feed inside quotes belongs to
//! the field (the pipeline cuts records with [`Framing::Quoted`]); a quote inside an unquoted field or text
//! after a closing quote is a bad line. Every record must have the header's column count. Unquoted fields
//! are trimmed of ASCII whitespace; ids are trimmed after unquoting too, as in the other readers. Times follow
//! `read/time.rs` (the unit fixed by the first data row); no time column means the record's position, no
//! rating column (or an empty rating) a NaN rating. A header problem stops the read in either bad-line mode.

use std::borrow::Cow;
use std::str::FromStr;

use super::{bad, parse_rating, BadLine, Framing, LineFormat, Opened, Spec};
use crate::error::{Error, Result};
use crate::json::Scanner;
use crate::read::pipeline::ParsedChunk;
use crate::read::time::{TimeRule, Unit};
use crate::read::ReadOptions;

pub(super) const SPEC: Spec = Spec { name: "table", aliases: &["csv-header", "tsv", "parquet"], open };

/// The four roles a column can play, in the order of [`Columns`] and [`GUESSES`].
pub const ROLES: [&str; 4] = ["user", "item", "time", "rating"];

/// The names each role is guessed from when `--columns` does not give it, in order of preference.
pub const GUESSES: [&[&str]; 4] = [
    &["user_id", "userId", "user", "reviewerID"],
    &["item_id", "itemId", "item", "movieId", "parent_asin", "asin", "business_id"],
    &["timestamp", "time", "date", "unixReviewTime"],
    &["rating", "overall", "stars"],
];

/// The column names given with `--columns` (None: guessed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Columns {
    /// The user, item, time and rating column, as [`ROLES`].
    pub names: [Option<String>; 4],
}

impl Columns {
    /// Whether no column was given.
    pub fn is_empty(&self) -> bool {
        self.names.iter().all(Option::is_none)
    }
}

impl FromStr for Columns {
    type Err = Error;
    /// Parses `user=COL,item=COL[,time=COL][,rating=COL]` (any subset, any order, each role once).
    fn from_str(s: &str) -> Result<Self> {
        let mut c = Columns::default();
        let invalid = |why: String| Error::InvalidArgument(format!("--columns {s:?}: {why}"));
        for part in s.split(',').filter(|p| !p.trim().is_empty()) {
            let Some((role, col)) = part.split_once('=') else {
                return Err(invalid(format!("{part:?} is not ROLE=COLUMN (roles: {})", ROLES.join(", "))));
            };
            let (role, col) = (role.trim(), col.trim());
            let Some(k) = ROLES.iter().position(|r| *r == role) else {
                return Err(invalid(format!("unknown role {role:?} (roles: {})", ROLES.join(", "))));
            };
            if col.is_empty() {
                return Err(invalid(format!("no column name for {role}")));
            }
            if c.names[k].replace(col.to_string()).is_some() {
                return Err(invalid(format!("{role} is given twice")));
            }
        }
        Ok(c)
    }
}

/// Where the roles are in a header: the column index of each (user and item always).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Picked {
    /// Column index of user, item, time, rating.
    pub at: [Option<usize>; 4],
    /// `user=NAME,item=NAME[,time=NAME][,rating=NAME]`: how the records are read (stats.json's `columns`).
    pub describe: String,
}

/// Chooses the columns of a header `names` for each role: the one `--columns` names, or the first of the
/// role's [`GUESSES`] the header holds. A named column that is absent, a role without a column (user and
/// item are required), a column chosen twice or a chosen name the header holds twice is an error.
pub(crate) fn pick(names: &[String], given: &Columns) -> std::result::Result<Picked, String> {
    let list = || {
        let mut s: String = names.iter().map(|n| format!("{n:?}")).collect::<Vec<_>>().join(", ");
        if s.len() > 300 {
            s = format!("{}... ({} columns)", s.chars().take(300).collect::<String>(), names.len());
        }
        s
    };
    let mut at = [None; 4];
    for (k, role) in ROLES.iter().enumerate() {
        at[k] = match &given.names[k] {
            Some(col) => match names.iter().position(|n| n == col) {
                Some(i) => Some(i),
                None => {
                    return Err(format!("--columns {role}={col}: the header has no column {col:?} (it has {})", list()))
                }
            },
            None => GUESSES[k].iter().find_map(|g| names.iter().position(|n| n.eq_ignore_ascii_case(g))),
        };
        if at[k].is_none() && k < 2 {
            return Err(format!(
                "the header names no {role} column (looked for {}; it has {}): pass --columns user=COL,item=COL \
                 (the table format needs a header line)",
                GUESSES[k].join(", "),
                list()
            ));
        }
    }
    for (k, i) in at.iter().enumerate() {
        let Some(i) = *i else { continue };
        let name = &names[i];
        if names.iter().filter(|n| *n == name).count() > 1 {
            return Err(format!("the header names the column {name:?} ({} column) more than once", ROLES[k]));
        }
        if let Some(j) = (0..k).find(|&j| at[j] == Some(i)) {
            return Err(format!("the column {name:?} is chosen as both {} and {}", ROLES[j], ROLES[k]));
        }
    }
    let describe = ROLES
        .iter()
        .zip(&at)
        .filter_map(|(role, i)| i.map(|i| format!("{role}={}", names[i])))
        .collect::<Vec<_>>()
        .join(",");
    Ok(Picked { at, describe })
}

fn open(first: &str, next: Option<&str>, opts: &ReadOptions) -> std::result::Result<Opened, String> {
    let delim = match opts.delimiter {
        Some(d) => d,
        None => detect_delimiter(first)?,
    };
    let names = header_names(first, delim)?;
    let picked = pick(&names, &opts.columns)?;
    let unit = match (picked.at[2], next) {
        (Some(t), Some(line)) => {
            Fields::new(line, delim).nth(t).and_then(|f| f.ok()).map_or(Unit::Seconds, |f| Unit::of_first(&f))
        }
        _ => Unit::Seconds,
    };
    let parser = Table { delim, columns: names.len(), at: picked.at, time: TimeRule::new(unit) };
    let mut columns = picked.describe;
    if picked.at[2].is_some() {
        columns.push_str(&format!(" (time in {})", unit.name()));
    }
    Ok(Opened { parser: Box::new(parser), columns, columns_by: "header", header: true, framing: Framing::Quoted })
}

/// The header's column names (unquoted, trimmed).
pub(crate) fn header_names(first: &str, delim: u8) -> std::result::Result<Vec<String>, String> {
    let mut names = Vec::new();
    for f in Fields::new(first, delim) {
        names.push(f.map_err(|e| format!("invalid header line: {e}"))?.trim().to_string());
    }
    if names.len() < 2 {
        return Err(format!(
            "the header line has one column with the delimiter {:?}; a table needs a user and an item column \
             (is the delimiter another? pass --delimiter)",
            delim as char
        ));
    }
    Ok(names)
}

/// The delimiter a header uses: the most frequent of tab, comma, semicolon and pipe outside quotes.
pub(crate) fn detect_delimiter(first: &str) -> std::result::Result<u8, String> {
    let mut counts = [(b'\t', 0usize), (b',', 0), (b';', 0), (b'|', 0)];
    let mut quoted = false;
    for b in first.bytes() {
        if b == b'"' {
            quoted = !quoted;
        } else if !quoted {
            if let Some(c) = counts.iter_mut().find(|(d, _)| *d == b) {
                c.1 += 1;
            }
        }
    }
    if quoted {
        return Err("invalid header line: a double quote is never closed".to_string());
    }
    let best = counts.iter().map(|c| c.1).max().unwrap_or(0);
    let tied: Vec<u8> = counts.iter().filter(|c| c.1 == best).map(|c| c.0).collect();
    if best == 0 || tied.len() > 1 {
        let why = if best == 0 { "none of" } else { "as many of several of" };
        return Err(format!(
            "cannot tell the delimiter: the header line holds {why} tab, comma, semicolon, pipe; pass --delimiter"
        ));
    }
    Ok(tied[0])
}

/// The table parser: where the roles are, and how times are read.
struct Table {
    delim: u8,
    columns: usize,
    at: [Option<usize>; 4],
    time: TimeRule,
}

/// A table parser with fixed columns, for a format that is a table of known layout (MovieLens' ratings.csv).
pub(crate) fn fixed(delim: u8, columns: usize, at: [Option<usize>; 4], time: TimeRule) -> Box<dyn LineFormat> {
    Box::new(Table { delim, columns, at, time })
}

impl LineFormat for Table {
    fn parse(&self, _scanner: &mut Scanner, text: &str, out: &mut ParsedChunk) -> std::result::Result<(), BadLine> {
        let mut got: [Option<Cow<'_, str>>; 4] = [None, None, None, None];
        let mut n = 0;
        for f in Fields::new(text, self.delim) {
            let f = f.map_err(|e| bad("invalid quoting", e))?;
            if let Some(k) = self.at.iter().position(|&i| i == Some(n)) {
                got[k] = Some(f);
            }
            n += 1;
        }
        if n != self.columns {
            return Err(bad("wrong column count", format!("found {n} columns, the header has {}", self.columns)));
        }
        let value = |k: usize| got[k].as_deref().map(str::trim);
        let (user, item) = (value(0).unwrap_or_default(), value(1).unwrap_or_default());
        if user.is_empty() || item.is_empty() {
            return Err(bad("invalid value", format!("empty {}", if user.is_empty() { "user" } else { "item" })));
        }
        let rating = match value(3) {
            Some(r) if !r.is_empty() => parse_rating(r).map_err(|e| bad("invalid value", format!("rating {e}")))?,
            _ => f32::NAN,
        };
        let ts = match value(2) {
            None if self.at[2].is_none() => None,
            None | Some("") => return Err(bad("invalid value", "empty time")),
            Some(t) => {
                let (ts, truncated) = self.time.parse(t).map_err(|e| bad("invalid value", e))?;
                out.truncated += truncated as u64;
                Some(ts)
            }
        };
        out.push(user, item, ts, rating);
        Ok(())
    }
}

/// The fields of one record (RFC 4180 quoting), as an iterator of unquoted values.
pub(crate) struct Fields<'a> {
    s: &'a str,
    pos: usize,
    delim: u8,
    done: bool,
}

impl<'a> Fields<'a> {
    /// The fields of `record` separated by `delim`.
    pub fn new(record: &'a str, delim: u8) -> Self {
        Fields { s: record, pos: 0, delim, done: false }
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = std::result::Result<Cow<'a, str>, String>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let b = self.s.as_bytes();
        let start = self.pos;
        // Spaces before an opening quote are allowed (and dropped), as they would be trimmed anyway.
        let lead = b[start..].iter().take_while(|&&c| self.pad(c)).count();
        if b.get(start + lead) != Some(&b'"') {
            let end = memchr::memchr(self.delim, &b[start..]).map_or(b.len(), |o| start + o);
            let field = &self.s[start..end];
            if field.contains('"') {
                self.done = true;
                return Some(Err(format!(
                    "a double quote inside an unquoted field (column {}); quote the field and double the quote \
                     (RFC 4180)",
                    self.column()
                )));
            }
            if end == b.len() {
                self.done = true;
            } else {
                self.pos = end + 1;
            }
            return Some(Ok(Cow::Borrowed(field.trim_matches(|c: char| c.is_ascii_whitespace()))));
        }
        let open = start + lead;
        let mut i = open + 1;
        let mut owned: Option<String> = None;
        let mut seg = i;
        loop {
            let Some(off) = memchr::memchr(b'"', &b[i..]) else {
                self.done = true;
                return Some(Err(format!("unterminated quoted field (column {})", self.column())));
            };
            let q = i + off;
            if b.get(q + 1) == Some(&b'"') {
                owned.get_or_insert_with(String::new).push_str(&self.s[seg..=q]);
                i = q + 2;
                seg = i;
                continue;
            }
            let value = match owned.take() {
                None => Cow::Borrowed(&self.s[open + 1..q]),
                Some(mut o) => {
                    o.push_str(&self.s[seg..q]);
                    Cow::Owned(o)
                }
            };
            let trail = b[q + 1..].iter().take_while(|&&c| self.pad(c)).count();
            match b.get(q + 1 + trail) {
                None => self.done = true,
                Some(&c) if c == self.delim => self.pos = q + 2 + trail,
                Some(_) => {
                    self.done = true;
                    return Some(Err(format!(
                        "text after the closing quote of a quoted field (column {}); double a quote inside a \
                         quoted field (RFC 4180)",
                        self.column()
                    )));
                }
            }
            return Some(Ok(value));
        }
    }
}

impl Fields<'_> {
    /// Whether `c` is a space or tab around a quoted field (never the delimiter itself).
    #[inline]
    fn pad(&self, c: u8) -> bool {
        c != self.delim && (c == b' ' || c == b'\t')
    }

    /// The 1-based column the iterator is at (for messages).
    fn column(&self) -> usize {
        let b = &self.s.as_bytes()[..self.pos];
        // Delimiters inside earlier quoted fields are counted too: a rough figure, only for a message.
        memchr::memchr_iter(self.delim, b).count() + 1
    }
}

/// Cuts a buffer that starts at a record boundary into records (RFC 4180: a line feed inside double quotes
/// belongs to the record), for [`Framing::Quoted`]. Yields (record with its final line feed, line feeds inside
/// it, whether a quote is still open at the end of the buffer).
pub(crate) fn records(buf: &[u8]) -> Records<'_> {
    Records { rest: buf }
}

pub(crate) struct Records<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Records<'a> {
    type Item = (&'a [u8], u64, bool);
    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let (mut i, mut quoted, mut inner) = (0, false, 0u64);
        let b = self.rest;
        loop {
            match memchr::memchr2(b'\n', b'"', &b[i..]) {
                None => {
                    self.rest = &[];
                    return Some((b, inner, quoted));
                }
                Some(off) => {
                    let at = i + off;
                    i = at + 1;
                    if b[at] == b'"' {
                        quoted = !quoted;
                    } else if quoted {
                        inner += 1;
                    } else {
                        let (rec, rest) = b.split_at(i);
                        self.rest = rest;
                        return Some((rec, inner, false));
                    }
                }
            }
        }
    }
}

/// Where a buffer can be cut so that the part before holds whole records: just after the last line feed outside
/// quotes, given whether a quote is open at its start; and whether a quote is open at its end. The cut is None
/// when no line feed is outside quotes.
pub(crate) fn last_record_end(buf: &[u8], quoted_at_start: bool) -> (Option<usize>, bool) {
    if !quoted_at_start && memchr::memchr(b'"', buf).is_none() {
        return (memchr::memrchr(b'\n', buf).map(|at| at + 1), false); // no quote at all: the common case
    }
    let (mut quoted, mut cut) = (quoted_at_start, None);
    for at in memchr::memchr2_iter(b'\n', b'"', buf) {
        if buf[at] == b'"' {
            quoted = !quoted;
        } else if !quoted {
            cut = Some(at + 1);
        }
    }
    (cut, quoted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(s: &str, d: u8) -> Vec<std::result::Result<String, String>> {
        Fields::new(s, d).map(|f| f.map(|c| c.into_owned())).collect()
    }

    #[test]
    fn fields_follow_rfc_4180() {
        assert_eq!(fields("a,b,c", b','), vec![Ok("a".into()), Ok("b".into()), Ok("c".into())]);
        assert_eq!(fields("a,,", b','), vec![Ok("a".into()), Ok("".into()), Ok("".into())]);
        assert_eq!(fields(" a , b ", b','), vec![Ok("a".into()), Ok("b".into())]);
        assert_eq!(fields("\"x,y\",\"he said \"\"hi\"\"\"", b','), vec![Ok("x,y".into()), Ok("he said \"hi\"".into())]);
        assert_eq!(fields("\"line\nbreak\",2", b','), vec![Ok("line\nbreak".into()), Ok("2".into())]);
        assert_eq!(fields(" \"q\" ,2", b','), vec![Ok("q".into()), Ok("2".into())]);
        assert_eq!(fields("a\tb c\t\"d\"", b'\t'), vec![Ok("a".into()), Ok("b c".into()), Ok("d".into())]);
        assert_eq!(fields("a  \"b c\"", b' '), vec![Ok("a".into()), Ok("".into()), Ok("b c".into())]);
        assert!(fields("a,b\"c", b',')[1].is_err());
        assert!(fields("\"ab\"c,d", b',')[0].is_err());
        assert!(fields("\"abc,d", b',')[0].is_err());
    }

    #[test]
    fn records_and_cuts_keep_quoted_line_feeds() {
        let buf = b"h1,h2\n\"a\nb\",1\nc,2\n\"open\n";
        let recs: Vec<_> = records(buf).collect();
        assert_eq!(recs[0], (&b"h1,h2\n"[..], 0, false));
        assert_eq!(recs[1], (&b"\"a\nb\",1\n"[..], 1, false));
        assert_eq!(recs[2], (&b"c,2\n"[..], 0, false));
        assert_eq!(recs[3], (&b"\"open\n"[..], 1, true));
        assert_eq!(last_record_end(buf, false), (Some(18), true));
        assert_eq!(last_record_end(b"\"a\nb", false), (None, true));
        assert_eq!(last_record_end(b"x\n\"a\nb", false), (Some(2), true));
        assert_eq!(last_record_end(b"a\"\nb\n", true), (Some(5), false));
    }

    #[test]
    fn columns_are_given_or_guessed() {
        let names = |s: &str| s.split(',').map(String::from).collect::<Vec<_>>();
        let p = pick(&names("userId,movieId,rating,timestamp"), &Columns::default()).expect("valid");
        assert_eq!(p.at, [Some(0), Some(1), Some(3), Some(2)]);
        assert_eq!(p.describe, "user=userId,item=movieId,time=timestamp,rating=rating");
        let p = pick(&names("USER,Item"), &Columns::default()).expect("valid");
        assert_eq!(p.at, [Some(0), Some(1), None, None]);
        let p = pick(&names("asin,parent_asin,user_id"), &Columns::default()).expect("valid");
        assert_eq!(p.at[1], Some(1));
        let given: Columns = "user=a,item=b,time=c".parse().expect("valid");
        assert_eq!(pick(&names("c,b,a"), &given).expect("valid").at, [Some(2), Some(1), Some(0), None]);
        assert!(pick(&names("a,b"), &Columns::default()).expect_err("an error").contains("no user column"));
        assert!(pick(&names("user,x"), &Columns::default()).expect_err("an error").contains("no item column"));
        assert!(pick(&names("user,item,user"), &Columns::default()).expect_err("an error").contains("more than once"));
        assert!(pick(&names("a,b"), &"user=a,item=a".parse().expect("valid"))
            .expect_err("an error")
            .contains("both user and item"));
        assert!(pick(&names("a,b"), &"user=z,item=a".parse().expect("valid"))
            .expect_err("an error")
            .contains("no column \"z\""));
        for bad in ["user", "who=a", "user=a,user=b", "user="] {
            assert!(bad.parse::<Columns>().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_delimiter_is_the_most_frequent_outside_quotes() {
        assert_eq!(detect_delimiter("a,b,c"), Ok(b','));
        assert_eq!(detect_delimiter("a\tb\tc,d"), Ok(b'\t'));
        assert_eq!(detect_delimiter("\"a;b;c\",d;e").ok(), None); // one comma, one semicolon: a tie
        assert_eq!(detect_delimiter("\"a;b;c\",d,e"), Ok(b','));
        assert!(detect_delimiter("abc").is_err());
    }
}
