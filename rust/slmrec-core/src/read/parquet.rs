//! A Parquet file read as a table: the user, item, time and rating columns chosen by name as for delimited
//! text (`formats/table.rs`'s [`pick`]), rows in file order, a row counted as a line.
//!
//! Design: the file goes through the dataset reader's checks first ([`ParquetIn::from_file`]: the footer's
//! row counts against the file size, every page header against its chunk), so a truncated or hostile file is
//! an error, never a huge allocation. Each row group is read column by column in lockstep batches of
//! [`BATCH`] rows, so memory stays bounded by a batch whatever the row group's size. Types: ids are strings
//! (UTF-8 checked) or integers of any width (as their decimal text); a time is an integer or a float (the
//! unit rule of `read/time.rs`, fixed by the first row), a string (integer or ISO-8601), or a TIMESTAMP or
//! DATE column (converted to seconds); a rating is any integer or float column or a string. Any other type
//! is an error naming the column and its type. A null id or time is a bad row (a null rating is NaN).

use std::path::Path;
use std::sync::Arc;

use parquet::basic::{ConvertedType, LogicalType, TimeUnit, Type as Physical};
use parquet::column::reader::ColumnReader;
use parquet::data_type::ByteArray;
use parquet::file::reader::FileReader;

use super::formats::table::{pick, ROLES};
use super::formats::{bad, parse_rating, BadLine};
use super::pipeline::ParsedChunk;
use super::time::{TimeRule, Unit, MS_FROM};
use super::ReadOptions;
use crate::dataset::{int_kind, ParquetIn};
use crate::error::{Error, Result};
use crate::input::Progress;

/// Rows decoded per column per step.
const BATCH: usize = 1 << 16;

/// How a chosen column's values are read.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    /// UTF-8 text.
    Text,
    /// An integer; `unsigned` for an unsigned 64-bit one (read as its bit pattern, shown as u64).
    Int { unsigned64: bool, unsigned32: bool },
    /// A float.
    Float,
    /// A TIMESTAMP: seconds from the value as `per_second` units.
    Timestamp { per_second: i64 },
    /// A DATE: days since the epoch.
    Date,
}

/// One batch of one column: the non-null values and, for an optional column, the definition levels.
#[derive(Default)]
struct Batch {
    text: Vec<ByteArray>,
    ints: Vec<i64>,
    floats: Vec<f64>,
    defs: Vec<i16>,
    optional: bool,
    next: usize,
}

/// A value of one row.
enum Value<'a> {
    Null,
    Text(&'a [u8]),
    Int(i64),
    Float(f64),
}

impl Batch {
    fn clear(&mut self) {
        self.text.clear();
        self.ints.clear();
        self.floats.clear();
        self.defs.clear();
        self.next = 0;
    }

    /// The value of row `r` of the batch (rows must be asked for in order).
    fn value(&mut self, r: usize, kind: Kind) -> Value<'_> {
        if self.optional && self.defs.get(r).is_none_or(|&d| d < 1) {
            return Value::Null;
        }
        let k = self.next;
        self.next += 1;
        match kind {
            Kind::Text => self.text.get(k).map_or(Value::Null, |b| Value::Text(b.data())),
            Kind::Float => self.floats.get(k).map_or(Value::Null, |&v| Value::Float(v)),
            _ => self.ints.get(k).map_or(Value::Null, |&v| Value::Int(v)),
        }
    }
}

/// Reads the Parquet table at `path`, handing each batch's records to `merge` in file order; returns how the
/// records were read (stats.json's `columns`).
pub(crate) fn read(
    path: &Path,
    opts: &ReadOptions,
    progress: Option<Arc<Progress>>,
    mut merge: impl FnMut(ParsedChunk) -> Result<()>,
) -> Result<String> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let size = file.metadata().map_err(|e| Error::io(path, e))?.len();
    let pin = ParquetIn::from_file(path, file)?;
    let names = pin.column_names();
    let picked = pick(&names, &opts.columns).map_err(|e| Error::format(path, 0, e))?;
    let mut cols: Vec<(usize, usize, Kind)> = Vec::new(); // (role, column index, kind)
    for (role, at) in picked.at.iter().enumerate() {
        let Some(at) = *at else { continue };
        let col = pin.find(&names[at])?;
        let kind = kind_of(&pin, col, role).map_err(|e| Error::format(path, 0, e))?;
        cols.push((role, col, kind));
    }
    let time_kind = cols.iter().find(|c| c.0 == 2).map(|c| c.2);
    let rule = TimeRule::new(match time_kind {
        Some(Kind::Int { .. } | Kind::Float | Kind::Text) => first_time_unit(&pin, &cols)?,
        _ => Unit::Seconds,
    });
    let mut describe = picked.describe;
    if time_kind.is_some() {
        describe.push_str(&format!(" (time in {})", rule.unit.name()));
    }

    let r = &pin.r;
    let mut batches: Vec<Batch> = cols.iter().map(|_| Batch::default()).collect();
    let mut ids = String::new();
    for g in 0..r.num_row_groups() {
        let rg = r.get_row_group(g).map_err(pq(path))?;
        let rows = rg.metadata().num_rows().max(0) as usize;
        let mut readers = Vec::with_capacity(cols.len());
        for &(_, col, _) in &cols {
            readers.push(rg.get_column_reader(col).map_err(pq(path))?);
        }
        let mut done = 0;
        while done < rows {
            let want = (rows - done).min(BATCH);
            for ((reader, batch), &(_, col, _)) in readers.iter_mut().zip(&mut batches).zip(&cols) {
                batch.clear();
                batch.optional = pin.descr(col).max_def_level() > 0;
                let got = read_batch(reader, want, batch).map_err(pq(path))?;
                if got != want {
                    return Err(Error::format(
                        path,
                        0,
                        format!("truncated column chunk: column {} of row group {g}", names_of(&pin, col)),
                    ));
                }
            }
            let mut chunk = ParsedChunk::default();
            for row in 0..want {
                match record(row, &cols, &mut batches, &rule, &mut ids) {
                    Ok((user_end, item_end, ts, rating, truncated)) => {
                        chunk.truncated += truncated as u64;
                        chunk.push(&ids[..user_end], &ids[user_end..item_end], ts, rating);
                        chunk.line_ok();
                    }
                    Err(b) => {
                        let at = done + row;
                        chunk.line_bad(BadLine { detail: format!("row {at}: {}", b.detail), ..b });
                    }
                }
            }
            merge(chunk)?;
            done += want;
        }
    }
    if let Some(p) = &progress {
        p.add_done(size);
    }
    Ok(describe)
}

fn pq(path: &Path) -> impl Fn(parquet::errors::ParquetError) -> Error + '_ {
    move |e| Error::format(path, 0, format!("parquet: {e}"))
}

fn names_of(pin: &ParquetIn<'_>, col: usize) -> String {
    pin.descr(col).path().string()
}

/// The unit the file's first row's time fixes (seconds when it is null or not a number).
fn first_time_unit(pin: &ParquetIn<'_>, cols: &[(usize, usize, Kind)]) -> Result<Unit> {
    let Some(&(_, col, kind)) = cols.iter().find(|c| c.0 == 2) else { return Ok(Unit::Seconds) };
    let r = &pin.r;
    if r.num_row_groups() == 0 {
        return Ok(Unit::Seconds);
    }
    let path = pin.path();
    let rg = r.get_row_group(0).map_err(pq(path))?;
    let mut reader = rg.get_column_reader(col).map_err(pq(path))?;
    let mut batch = Batch { optional: pin.descr(col).max_def_level() > 0, ..Batch::default() };
    read_batch(&mut reader, 1, &mut batch).map_err(pq(path))?;
    Ok(match batch.value(0, kind) {
        Value::Int(v) => {
            if v >= MS_FROM {
                Unit::Millis
            } else {
                Unit::Seconds
            }
        }
        Value::Float(v) if v >= MS_FROM as f64 => Unit::Millis,
        Value::Text(t) => std::str::from_utf8(t).map_or(Unit::Seconds, Unit::of_first),
        _ => Unit::Seconds,
    })
}

/// Reads up to `want` records of `reader` into `batch`; returns the records read.
fn read_batch(reader: &mut ColumnReader, want: usize, batch: &mut Batch) -> parquet::errors::Result<usize> {
    let defs = if batch.optional { Some(&mut batch.defs) } else { None };
    let (recs, _, _) = match reader {
        ColumnReader::ByteArrayColumnReader(r) => r.read_records(want, defs, None, &mut batch.text)?,
        ColumnReader::Int32ColumnReader(r) => {
            let mut v: Vec<i32> = Vec::with_capacity(want);
            let got = r.read_records(want, defs, None, &mut v)?;
            batch.ints.extend(v.iter().map(|&x| x as i64));
            got
        }
        ColumnReader::Int64ColumnReader(r) => r.read_records(want, defs, None, &mut batch.ints)?,
        ColumnReader::FloatColumnReader(r) => {
            let mut v: Vec<f32> = Vec::with_capacity(want);
            let got = r.read_records(want, defs, None, &mut v)?;
            batch.floats.extend(v.iter().map(|&x| x as f64));
            got
        }
        ColumnReader::DoubleColumnReader(r) => r.read_records(want, defs, None, &mut batch.floats)?,
        _ => (0, 0, 0), // refused by kind_of before any read
    };
    Ok(recs)
}

/// How the column `col`, chosen for `role`, is read; an error for a type that role cannot take.
fn kind_of(pin: &ParquetIn<'_>, col: usize, role: usize) -> std::result::Result<Kind, String> {
    let d = pin.descr(col);
    let logical = d.logical_type_ref().cloned();
    let kind = match (d.physical_type(), logical) {
        (Physical::BYTE_ARRAY, Some(LogicalType::String | LogicalType::Enum | LogicalType::Json) | None) => Kind::Text,
        (Physical::INT64, Some(LogicalType::Timestamp(t))) => Kind::Timestamp {
            per_second: match t.unit {
                TimeUnit::MILLIS => 1_000,
                TimeUnit::MICROS => 1_000_000,
                TimeUnit::NANOS => 1_000_000_000,
            },
        },
        (Physical::INT32, Some(LogicalType::Date)) => Kind::Date,
        (Physical::INT64, None) if d.converted_type() == ConvertedType::TIMESTAMP_MILLIS => {
            Kind::Timestamp { per_second: 1_000 }
        }
        (Physical::INT64, None) if d.converted_type() == ConvertedType::TIMESTAMP_MICROS => {
            Kind::Timestamp { per_second: 1_000_000 }
        }
        (Physical::INT32, None) if d.converted_type() == ConvertedType::DATE => Kind::Date,
        (Physical::INT32 | Physical::INT64, _) => match int_kind(&d) {
            Some((bits, signed)) => Kind::Int { unsigned64: !signed && bits == 64, unsigned32: !signed && bits == 32 },
            None => return Err(wrong(pin, col, role)),
        },
        (Physical::FLOAT | Physical::DOUBLE, None) => Kind::Float,
        _ => return Err(wrong(pin, col, role)),
    };
    let fits = match role {
        0 | 1 => matches!(kind, Kind::Text | Kind::Int { .. }),
        2 => true,
        _ => matches!(kind, Kind::Text | Kind::Int { .. } | Kind::Float),
    };
    if !fits {
        return Err(wrong(pin, col, role));
    }
    Ok(kind)
}

fn wrong(pin: &ParquetIn<'_>, col: usize, role: usize) -> String {
    let expected = match role {
        0 | 1 => "String or an integer",
        2 => "an integer, a float, a String, a Timestamp or a Date",
        _ => "a number or a String",
    };
    format!("the {} column {} has type {}, expected {expected}", ROLES[role], names_of(pin, col), pin.type_name(col))
}

/// The record of row `row` of the batches: the ids are written into `ids` (user, then item; their ends are
/// returned), then the time, the rating and whether the time lost a fraction.
fn record(
    row: usize,
    cols: &[(usize, usize, Kind)],
    batches: &mut [Batch],
    rule: &TimeRule,
    ids: &mut String,
) -> std::result::Result<(usize, usize, Option<i64>, f32, bool), BadLine> {
    ids.clear();
    let (mut user_end, mut ts, mut rating, mut truncated) = (0, None, f32::NAN, false);
    // Roles come in order user, item, time, rating (as picked).
    for (&(role, _, kind), batch) in cols.iter().zip(batches.iter_mut()) {
        let v = batch.value(row, kind);
        match role {
            0 | 1 => {
                let start = ids.len();
                match v {
                    Value::Null => return Err(bad("invalid value", format!("{} is null", ROLES[role]))),
                    Value::Text(t) => {
                        let s = std::str::from_utf8(t)
                            .map_err(|_| bad("invalid UTF-8", format!("{} is not valid UTF-8", ROLES[role])))?;
                        ids.push_str(s.trim());
                    }
                    Value::Int(i) => {
                        use std::fmt::Write;
                        let _ = match kind {
                            Kind::Int { unsigned64: true, .. } => write!(ids, "{}", i as u64),
                            Kind::Int { unsigned32: true, .. } => write!(ids, "{}", i as u32),
                            _ => write!(ids, "{i}"),
                        };
                    }
                    Value::Float(_) => return Err(bad("wrong type", format!("{} is a float", ROLES[role]))),
                }
                if ids.len() == start {
                    return Err(bad("invalid value", format!("empty {}", ROLES[role])));
                }
                if role == 0 {
                    user_end = ids.len();
                }
            }
            2 => {
                let (t, lost) = match (v, kind) {
                    (Value::Null, _) => return Err(bad("invalid value", "time is null")),
                    (Value::Int(v), Kind::Timestamp { per_second }) => {
                        let (secs, frac) = (v.div_euclid(per_second), v.rem_euclid(per_second));
                        rule.from_parts(secs, (frac * (1_000_000_000 / per_second)) as u32)
                    }
                    (Value::Int(days), Kind::Date) => rule.from_parts(days.saturating_mul(86_400), 0),
                    (Value::Int(v), Kind::Int { unsigned64: true, .. }) if v < 0 => {
                        Err(format!("time {} is out of range", v as u64))
                    }
                    (Value::Int(v), _) => rule.check(v).map(|v| (v, false)),
                    (Value::Float(f), _) if f.is_finite() && f.abs() < 9.0e18 => {
                        rule.check(f.floor() as i64).map(|v| (v, f.fract() != 0.0))
                    }
                    (Value::Float(f), _) => Err(format!("time {f} is out of range")),
                    (Value::Text(t), _) => match std::str::from_utf8(t) {
                        Ok(s) if !s.trim().is_empty() => rule.parse(s),
                        Ok(_) => Err("empty time".to_string()),
                        Err(_) => return Err(bad("invalid UTF-8", "time is not valid UTF-8")),
                    },
                }
                .map_err(|e| bad("invalid value", e))?;
                ts = Some(t);
                truncated = lost;
            }
            _ => {
                rating = match v {
                    Value::Null => f32::NAN,
                    Value::Int(i) => i as f32,
                    Value::Float(f) if f.is_finite() && (f as f32).is_finite() => f as f32,
                    Value::Float(f) => return Err(bad("invalid value", format!("rating {f} is out of range"))),
                    Value::Text(t) => match std::str::from_utf8(t).map(str::trim) {
                        Ok("") => f32::NAN,
                        Ok(s) => parse_rating(s).map_err(|e| bad("invalid value", format!("rating {e}")))?,
                        Err(_) => return Err(bad("invalid UTF-8", "rating is not valid UTF-8")),
                    },
                };
            }
        }
    }
    Ok((user_end, ids.len(), ts, rating, truncated))
}
