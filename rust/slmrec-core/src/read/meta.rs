//! Amazon item metadata (title, brand, main category), read serially beside the interaction pipeline.
//!
//! Design: metadata files are small next to the reviews, so one thread reads them line by line; the first row
//! of an item wins and later ones are counted. The schema is told from each file's first data line, so a review
//! file given as metadata fails at once: the 2018 one (`asin`; `title`, `brand`, `main_cat`) or the 2023 one
//! (`parent_asin`; `title`, `store`, `main_category`, stored in the same three columns: `store` as `brand`,
//! `main_category` as `main_cat`).

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;

use super::html::decode_html;
use super::{OnBadLine, ReadOptions};
use crate::error::{Error, Result};
use crate::input::{line_body, lines, Chunk, LineChunks, Progress};
use crate::json::{Field, Scanner};

/// Title, brand and main category of one item, from Amazon metadata.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ItemMeta {
    /// `title`, HTML entities decoded.
    pub title: Option<String>,
    /// `brand`, HTML entities decoded.
    pub brand: Option<String>,
    /// `main_cat`, HTML entities decoded.
    pub main_cat: Option<String>,
}

/// Counts from reading metadata.
#[derive(Debug, Default, Clone, Serialize)]
pub struct MetaStats {
    /// Metadata files, as given.
    pub files: Vec<String>,
    /// Lines read.
    pub lines: u64,
    /// Rows whose asin was seen before (the first row wins).
    pub duplicate_rows: u64,
    /// Lines skipped as bad.
    pub bad_lines: u64,
    /// Distinct items described.
    pub items: u64,
}

/// Reads Amazon metadata files (2020 `image` or 2021 `imageURL` schema); the first row of an asin wins.
pub fn read_meta(
    paths: &[PathBuf],
    opts: &ReadOptions,
    progress: Option<Arc<Progress>>,
) -> Result<(HashMap<String, ItemMeta>, MetaStats)> {
    let on_bad_line = opts.on_bad_line;
    let mut out: HashMap<String, ItemMeta> = HashMap::new();
    let mut stats = MetaStats::default();
    let mut scanner = Scanner::new();
    for path in paths {
        let size = crate::input::check_file(path, false)?;
        if let Some(p) = &progress {
            p.add_total(size);
        }
        stats.files.push(path.display().to_string());
        let mut chunks = LineChunks::spawn(path, progress.clone(), opts.max_line_bytes)?;
        let mut line_no = 0u64;
        // The schema of this file, once its first data line is read: the keys of the item, title, brand,
        // main category.
        let mut schema: Option<&[&str; 4]> = None;
        while let Some(chunk) = chunks.next_chunk() {
            let buf = match chunk {
                Chunk::Lines(buf) => buf,
                Chunk::Broken(reason) => return Err(Error::format(path, line_no + 1, reason)),
            };
            for raw in lines(&buf) {
                line_no += 1;
                if raw.strip_suffix(b"\n").unwrap_or(raw).len() > opts.max_line_bytes {
                    return Err(Error::format(path, line_no, crate::input::too_long(opts.max_line_bytes)));
                }
                let line = line_body(raw, line_no == 1);
                if line.iter().all(|b| b.is_ascii_whitespace()) {
                    continue;
                }
                let res = std::str::from_utf8(line)
                    .map_err(|e| format!("invalid UTF-8 at byte {}", e.valid_up_to() + 1))
                    .and_then(|text| {
                        let keys = match schema {
                            Some(keys) => keys,
                            None => {
                                let keys = meta_schema(&mut scanner, text)?;
                                schema = Some(keys);
                                keys
                            }
                        };
                        let mut f = [Field::Missing, Field::Missing, Field::Missing, Field::Missing];
                        scanner.scan(text, keys, &mut f)?;
                        let asin = match &f[0] {
                            Field::Str(s) if !s.is_empty() => s.to_string(),
                            Field::Missing => return Err(format!("missing field \"{}\"", keys[0])),
                            other => {
                                return Err(format!(
                                    "field \"{}\" is {}, expected a string",
                                    keys[0],
                                    other.type_name()
                                ))
                            }
                        };
                        let text_of = |f: &Field<'_>| match f {
                            Field::Str(s) if !s.trim().is_empty() => Some(decode_html(s.trim())),
                            _ => None,
                        };
                        Ok((asin, ItemMeta { title: text_of(&f[1]), brand: text_of(&f[2]), main_cat: text_of(&f[3]) }))
                    });
                stats.lines += 1;
                match res {
                    Ok((asin, meta)) => match out.entry(asin) {
                        Entry::Occupied(_) => stats.duplicate_rows += 1,
                        Entry::Vacant(v) => {
                            v.insert(meta);
                        }
                    },
                    Err(e) if schema.is_none() || on_bad_line == OnBadLine::Fail => {
                        return Err(Error::format(path, line_no, e));
                    }
                    Err(_) => stats.bad_lines += 1,
                }
            }
            chunks.give_back(buf);
        }
    }
    stats.items = out.len() as u64;
    Ok((out, stats))
}

/// The keys of Amazon 2018 metadata (item, title, brand, main category).
const META_2018: [&str; 4] = ["asin", "title", "brand", "main_cat"];
/// The keys of Amazon 2023 metadata, in the same roles.
const META_2023: [&str; 4] = ["parent_asin", "title", "store", "main_category"];

/// The schema of a metadata file, from its first data line.
fn meta_schema(scanner: &mut Scanner, text: &str) -> std::result::Result<&'static [&'static str; 4], String> {
    let keys = ["asin", "parent_asin", "title", "brand", "main_cat", "store", "main_category", "reviewerID", "user_id"];
    let mut f: [Field<'_>; 9] = std::array::from_fn(|_| Field::Missing);
    scanner.scan(text, &keys, &mut f)?;
    let has = |k: usize| f[k] != Field::Missing;
    if !has(7) && !has(8) {
        if has(0) && (has(2) || has(3) || has(4)) {
            return Ok(&META_2018);
        }
        if has(1) && (has(2) || has(5) || has(6)) {
            return Ok(&META_2023);
        }
    }
    Err("unknown metadata schema (expected asin with title, brand or main_cat (Amazon 2018), or parent_asin with \
         title, store or main_category (Amazon 2023); is this a review file?)"
        .to_string())
}
