//! The input formats, one file each: how a file's first line fixes the way its lines are read, and how one
//! line becomes records.
//!
//! Design: a format is a [`Spec`] (its names and an `open` function) and a [`LineFormat`] (the per-line
//! parser `open` returns, shareable across the parse threads); the pipeline knows formats only through
//! these two. Adding a format is one new file here with its `SPEC` and its parser, one arm in [`Format`] and
//! [`Format::spec`] and an entry in [`Format::ALL`] (plus a rule in `detect.rs` if its first line can tell it).
//! A format whose fields may hold line breaks (RFC 4180 quoting) says so with [`Framing::Quoted`]; the
//! pipeline then cuts records, not lines.

use std::str::FromStr;

use serde::{Serialize, Serializer};

use super::pipeline::ParsedChunk;
use super::ReadOptions;
use crate::error::{Error, Result};
use crate::json::{Field, Scanner};

mod amazon23;
mod amazon_json;
mod movielens;
mod ratings_csv;
mod recbole;
mod seq;
pub(crate) mod table;
mod yelp;

pub use amazon23::ItemKey;
pub use ratings_csv::CSV_COLUMNS;
pub(crate) use seq::SeqLines;
pub use table::Columns;

/// An input format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Amazon review JSON lines (2018 or 2014): reviewerID, asin, unixReviewTime, overall.
    AmazonJson,
    /// Amazon Reviews 2023 JSON lines: user_id, parent_asin (or asin), timestamp (ms), rating.
    Amazon23,
    /// Amazon ratings CSV without header, read by position: item,user,rating,timestamp ([`CSV_COLUMNS`]).
    RatingsCsv,
    /// RecBole atomic `.inter` file: tab-separated with a typed header.
    RecboleInter,
    /// One user per line: `user item item ...`; timestamps are the positions.
    SeqLines,
    /// Any delimited text with a header (or a Parquet file), read by column name.
    Table,
    /// MovieLens `ratings.dat` (`::`-separated) or `ratings.csv` (with its header).
    MovieLens,
    /// Yelp's academic dataset `review.json`: user_id, business_id, stars, date.
    Yelp,
}

/// What a format is: its names and how a file of it is opened.
pub struct Spec {
    /// The canonical name (what `--format` and `stats.json` use).
    pub name: &'static str,
    /// Other names `--format` accepts.
    pub aliases: &'static [&'static str],
    /// How the file's lines are read, fixed from its first non-blank line (and the line after it, `next`, for a
    /// format that tells something from its first record) and the read options; `Err` is why that line cannot
    /// start a file of this format (reported at that line).
    pub(crate) open: fn(first: &str, next: Option<&str>, opts: &ReadOptions) -> std::result::Result<Opened, String>,
}

/// How a file's bytes are cut into the units a parser reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// One record per line.
    Lines,
    /// RFC 4180: a line feed inside a double-quoted field belongs to the field, so a record may span lines.
    Quoted,
}

/// How one file's lines are read, fixed once its format and first line are known.
pub(crate) struct Opened {
    /// The per-line parser.
    pub parser: Box<dyn LineFormat>,
    /// How records are read from each line: the columns (or JSON keys) in the file's order.
    pub columns: String,
    /// Where that reading comes from: `position`, `header` or `key`.
    pub columns_by: &'static str,
    /// Whether the first line is a header (skipped, counted as a header line).
    pub header: bool,
    /// Lines or quoted records.
    pub framing: Framing,
}

/// Parses one line of a file; shared by the parse threads.
pub(crate) trait LineFormat: Send + Sync {
    /// Parses one non-blank, non-header line into `out`.
    fn parse(&self, scanner: &mut Scanner, text: &str, out: &mut ParsedChunk) -> std::result::Result<(), BadLine>;
}

impl Format {
    /// Every format, in the order `--format`'s help lists them.
    pub const ALL: [Format; 8] = [
        Format::AmazonJson,
        Format::Amazon23,
        Format::RatingsCsv,
        Format::RecboleInter,
        Format::SeqLines,
        Format::Table,
        Format::MovieLens,
        Format::Yelp,
    ];

    /// The format's [`Spec`].
    pub fn spec(self) -> &'static Spec {
        match self {
            Format::AmazonJson => &amazon_json::SPEC,
            Format::Amazon23 => &amazon23::SPEC,
            Format::RatingsCsv => &ratings_csv::SPEC,
            Format::RecboleInter => &recbole::SPEC,
            Format::SeqLines => &seq::SPEC,
            Format::Table => &table::SPEC,
            Format::MovieLens => &movielens::SPEC,
            Format::Yelp => &yelp::SPEC,
        }
    }

    /// The canonical name.
    pub fn name(self) -> &'static str {
        self.spec().name
    }

    /// The names accepted by `--format`, comma-separated.
    pub fn names() -> String {
        Format::ALL.map(Format::name).join(", ")
    }
}

/// MovieLens' ratings.csv header (what detection tells it by).
pub(crate) fn movielens_csv_header() -> &'static str {
    movielens::CSV_HEADER
}

pub(crate) use movielens::is_u_data_line;

/// Whether a first line looks like a header in a ratings CSV's shape (a word where the rating or timestamp
/// goes).
pub(crate) fn csv_header_line(text: &str) -> bool {
    ratings_csv::csv_header(text).is_some()
}

impl Serialize for Format {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl FromStr for Format {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Format::ALL
            .into_iter()
            .find(|f| f.name() == s || f.spec().aliases.contains(&s))
            .ok_or_else(|| Error::InvalidArgument(format!("unknown format {s:?}; expected one of {}", Format::names())))
    }
}

/// A line that does not parse: a reason category and a detail.
pub(crate) struct BadLine {
    pub reason: &'static str,
    pub detail: String,
    /// A problem no line-skipping can get around (a broken header): always an error.
    pub fatal: bool,
}

pub(crate) fn bad(reason: &'static str, detail: impl Into<String>) -> BadLine {
    BadLine { reason, detail: detail.into(), fatal: false }
}

/// Parses a timestamp: an integer, or a float whose fraction is dropped (reported as truncated).
fn parse_ts(s: &str) -> std::result::Result<(i64, bool), String> {
    if let Ok(v) = s.parse::<i64>() {
        return Ok((v, false));
    }
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v.abs() < 9.0e18 => Ok((v.floor() as i64, v.fract() != 0.0)),
        Ok(_) => Err(format!("{s:?} is out of range")),
        Err(_) => Err(format!("{s:?} is not a number")),
    }
}

/// A required string id of a JSON record: a non-empty string.
fn json_id<'f>(f: &'f Field<'_>, key: &str) -> std::result::Result<&'f str, BadLine> {
    match f {
        Field::Str(s) if !s.is_empty() => Ok(s),
        Field::Str(_) => Err(bad("invalid value", format!("empty \"{key}\""))),
        Field::Missing => Err(bad("missing field", format!("missing field \"{key}\""))),
        other => Err(wrong_type(key, "a string", other)),
    }
}

/// A JSON rating: a number, or NaN when missing or null.
fn json_rating(f: &Field<'_>, key: &str) -> std::result::Result<f32, BadLine> {
    match f {
        Field::Num(n) => parse_rating(n).map_err(|e| bad("invalid value", format!("{key} {e}"))),
        Field::Missing | Field::Other("null") => Ok(f32::NAN),
        other => Err(wrong_type(key, "a number", other)),
    }
}

fn wrong_type(key: &str, expected: &str, found: &Field<'_>) -> BadLine {
    bad("wrong type", format!("field \"{key}\" is {}, expected {expected}", found.type_name()))
}

pub(crate) fn parse_rating(s: &str) -> std::result::Result<f32, String> {
    match s.parse::<f32>() {
        Ok(v) if v.is_finite() => Ok(v),
        Ok(_) => Err(format!("{s:?} is out of range")),
        Err(_) => Err(format!("{s:?} is not a number")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_and_alias_parses_back_to_its_format() {
        assert_eq!(Format::names(), "amazon-json, amazon23, ratings-csv, recbole, seq, table, movielens, yelp");
        for f in Format::ALL {
            assert_eq!(f.name().parse::<Format>().ok(), Some(f));
            for a in f.spec().aliases {
                assert_eq!(a.parse::<Format>().ok(), Some(f));
            }
            assert_eq!(serde_json::to_string(&f).ok(), Some(format!("\"{}\"", f.name())));
        }
        for (alias, f) in [
            ("json", Format::AmazonJson),
            ("csv", Format::RatingsCsv),
            ("inter", Format::RecboleInter),
            ("sequence-lines", Format::SeqLines),
            ("parquet", Format::Table),
            ("tsv", Format::Table),
            ("amazon-2023", Format::Amazon23),
            ("ml", Format::MovieLens),
        ] {
            assert_eq!(alias.parse::<Format>().ok(), Some(f));
        }
        assert!("xlsx".parse::<Format>().is_err());
    }
}
