//! Reading interaction files (Amazon review JSON lines of 2014/2018 and 2023, Amazon ratings CSV, RecBole atomic
//! `.inter` files, sequence lines, any table with a header (delimited text or Parquet), MovieLens and Yelp
//! ratings) and Amazon metadata.
//!
//! Design: every reader turns a line into (user, item, timestamp, rating) and pushes it into one
//! [`RawTable`], interning raw ids to dense first-seen numbers as it goes; input order is the row index, so
//! several files read in argument order form one stream. Once every file is read, the interners' tables give
//! way to the ids' bytes alone ([`Table`]). Bad lines either stop the run with
//! `file:line: reason` or are counted by reason (with their first line numbers): nothing is dropped
//! without a count.
//!
//! One job per file: [`pipeline`] reads a file on several threads and merges in input order, [`intern`]
//! numbers the raw ids, [`formats`] holds one file per input format (how its lines become records),
//! [`detect`] guesses a file's format, [`meta`] reads item metadata, [`html`] decodes the entities in it,
//! [`time`] reads and checks the times of the newer formats, [`parquet`] reads a Parquet table.

use std::str::FromStr;

use serde::Serialize;

use crate::error::{Error, Result};

pub mod detect;
pub mod formats;
pub mod html;
pub mod intern;
pub mod meta;
pub mod parquet;
pub mod pipeline;
pub mod time;

pub use formats::{Columns, Format, ItemKey, CSV_COLUMNS};
pub use html::decode_html;
pub use intern::{id_hash, Interner, Names, Ratings, RawTable, RecordTable, Table};
pub use meta::{read_meta, ItemMeta, MetaStats};
pub use pipeline::{read_interactions, BadReason, FileStats, ReadStats};

/// What to do with a line that does not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OnBadLine {
    /// Stop with `file:line: reason`.
    #[default]
    Fail,
    /// Count it by reason and go on.
    Skip,
}

impl FromStr for OnBadLine {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "fail" => Ok(OnBadLine::Fail),
            "skip" => Ok(OnBadLine::Skip),
            _ => Err(Error::InvalidArgument(format!("unknown on-bad-line policy {s:?}; expected fail or skip"))),
        }
    }
}

/// Options for reading interaction files.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// The format of every input; detected per file when `None`.
    pub format: Option<Format>,
    /// What to do with bad lines.
    pub on_bad_line: OnBadLine,
    /// The longest line accepted, in bytes before the line feed; a longer one is an error in both bad-line
    /// modes (`FILE:LINE: line longer than N bytes`), found with memory bounded by it.
    pub max_line_bytes: usize,
    /// The table format's columns (`--columns`); the rest are guessed. Only for tables.
    pub columns: Columns,
    /// The table format's delimiter (`--delimiter`); detected from the header when `None`. Only for tables.
    pub delimiter: Option<u8>,
    /// Amazon 2023's item key (`--item-key`); `parent_asin` when `None`. Only for amazon23.
    pub item_key: Option<ItemKey>,
}

impl Default for ReadOptions {
    fn default() -> Self {
        Self {
            format: None,
            on_bad_line: OnBadLine::Fail,
            max_line_bytes: crate::limits::DEFAULT_MAX_LINE_BYTES,
            columns: Columns::default(),
            delimiter: None,
            item_key: None,
        }
    }
}

impl ReadOptions {
    /// Why the options cannot read a file of `format`: a table option for another format, or the item key for
    /// another than amazon23 (an option that would be ignored is refused, never dropped silently).
    pub fn check_for(&self, format: Format) -> std::result::Result<(), String> {
        let used = |what: &str, only: Format| {
            format!(
                "{what} applies to the {} format, but this file is read as {} (pass --format {})",
                only.name(),
                format.name(),
                only.name()
            )
        };
        if format != Format::Table && !self.columns.is_empty() {
            return Err(used("--columns", Format::Table));
        }
        if format != Format::Table && self.delimiter.is_some() {
            return Err(used("--delimiter", Format::Table));
        }
        if format != Format::Amazon23 && self.item_key.is_some() {
            return Err(used("--item-key", Format::Amazon23));
        }
        Ok(())
    }

    /// Checks a `--delimiter` given by a caller: one ASCII character other than a double quote, CR or LF
    /// (`\t` and `tab` name the tab).
    pub fn parse_delimiter(s: &str) -> Result<u8> {
        let d = match s {
            "\\t" | "tab" | "\t" => b'\t',
            _ if s.len() == 1 && s.is_ascii() => s.as_bytes()[0],
            _ => {
                return Err(Error::InvalidArgument(format!(
                    "--delimiter must be one ASCII character (or \\t), got {s:?}"
                )))
            }
        };
        if matches!(d, b'"' | b'\r' | b'\n') {
            return Err(Error::InvalidArgument(format!("--delimiter cannot be {:?}", d as char)));
        }
        Ok(d)
    }
}
