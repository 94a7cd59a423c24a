//! Which format a file is in, guessed from its name and its first non-blank line.
//!
//! Design: a file name ending `.inter` is RecBole, `.tsv` or `.tab` a table (a Parquet file, told by its magic
//! bytes, is a table too, before any of this). Otherwise the first line decides. A JSON object is told by its
//! keys: `reviewerID` is Amazon 2014/2018, `user_id` with `parent_asin` or `asin` Amazon 2023, `user_id` with
//! `business_id` Yelp (a metadata file is an error pointing at `--meta`). A `::`-separated line is MovieLens'
//! ratings.dat, MovieLens' ratings.csv header is MovieLens; a header line (a known user or item column name
//! among its fields, or a word where a ratings CSV has its rating or timestamp) is a table; then a ratings CSV
//! (a `.csv` name, or four comma-separated fields), a RecBole header, sequence lines. A file that fits none is
//! an error asking for `--format`, never a guess.

use std::path::Path;

use super::formats::table::{detect_delimiter, header_names, GUESSES};
use super::Format;
use crate::error::{Error, Result};
use crate::input::{line_body, lines};
use crate::json::{Field, Scanner};

/// The first non-blank, valid UTF-8 line of a chunk (what the format is detected from): its 1-based index,
/// its text, and the text of the non-blank line after it (if the chunk holds one). Lines before it that are
/// not UTF-8 are left to the parser, which reports them.
pub fn first_lines(buf: &[u8], file_start: bool) -> Option<(u64, String, Option<String>)> {
    let mut found: Option<(u64, String)> = None;
    for (k, raw) in lines(buf).enumerate() {
        let line = line_body(raw, file_start && k == 0);
        if line.iter().all(|b| b.is_ascii_whitespace()) {
            continue;
        }
        match &found {
            None => {
                if let Ok(text) = std::str::from_utf8(line) {
                    found = Some((k as u64 + 1, text.to_string()));
                }
            }
            Some(_) => {
                let next = std::str::from_utf8(line).ok().map(str::to_string);
                return found.map(|(k, t)| (k, t, next));
            }
        }
    }
    found.map(|(k, t)| (k, t, None))
}

/// Guesses the format of a file from its name and its first non-blank line.
pub fn detect(path: &Path, first: &str) -> Result<Format> {
    let name = path.file_name().map(|n| n.to_string_lossy().to_lowercase()).unwrap_or_default();
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    if name.ends_with(".inter") {
        return Ok(Format::RecboleInter);
    }
    if name.ends_with(".tsv") || name.ends_with(".tab") {
        return Ok(Format::Table);
    }
    let t = first.trim_start();
    if t.starts_with('{') {
        return json_format(path, t);
    }
    if t.contains("::") && t.split("::").count() == 4 {
        return Ok(Format::MovieLens);
    }
    if super::formats::is_u_data_line(t) {
        return Ok(Format::MovieLens); // ML-100K's u.data (before the sequence-line rule, which it also fits)
    }
    if t.trim() == super::formats::movielens_csv_header() {
        return Ok(Format::MovieLens);
    }
    if looks_like_header(t) {
        return Ok(Format::Table);
    }
    if name.ends_with(".csv") || (!t.contains('\t') && t.split(',').count() == 4) {
        return Ok(Format::RatingsCsv);
    }
    if t.contains('\t') && t.split('\t').all(|c| c.contains(':')) {
        return Ok(Format::RecboleInter);
    }
    if t.split_ascii_whitespace().all(|tok| tok.parse::<i64>().is_ok()) {
        return Ok(Format::SeqLines);
    }
    Err(Error::format(path, 1, format!("cannot tell the format of this file; pass --format ({})", Format::names())))
}

/// Whether a first line is a table's header: a delimiter can be told, and a field is a known user or item
/// column name, or the line is a ratings CSV's shape with a word where the rating or timestamp goes.
fn looks_like_header(t: &str) -> bool {
    if super::formats::csv_header_line(t) {
        return true;
    }
    let Ok(delim) = detect_delimiter(t) else { return false };
    let Ok(names) = header_names(t, delim) else { return false };
    names.iter().any(|n| GUESSES[..2].iter().any(|g| g.iter().any(|g| n.eq_ignore_ascii_case(g))))
}

/// The format of a JSON-lines file, from the keys of its first object.
fn json_format(path: &Path, t: &str) -> Result<Format> {
    let keys = ["reviewerID", "user_id", "parent_asin", "asin", "business_id", "also_buy", "main_cat", "main_category"];
    let mut f: [Field<'_>; 8] = std::array::from_fn(|_| Field::Missing);
    if Scanner::new().scan(t, &keys, &mut f).is_err() {
        return Ok(Format::AmazonJson); // not one valid object: the 2018 reader reports the line
    }
    let has = |k: usize| f[k] != Field::Missing;
    let meta = |what: &str| Err(Error::format(path, 1, format!("this is {what} file: give it with --meta")));
    if has(0) {
        return Ok(Format::AmazonJson);
    }
    if has(1) && (has(2) || has(3)) {
        return Ok(Format::Amazon23);
    }
    if has(1) && has(4) {
        return Ok(Format::Yelp);
    }
    if has(2) && has(7) {
        return meta("an Amazon 2023 metadata");
    }
    if has(5) || has(6) {
        return meta("an Amazon metadata");
    }
    if has(4) {
        return Err(Error::format(
            path,
            1,
            "this is a Yelp file without user_id (business.json?); the yelp format reads review.json",
        ));
    }
    Ok(Format::AmazonJson)
}
