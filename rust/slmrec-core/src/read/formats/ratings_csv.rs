//! Amazon ratings CSV: `item,user,rating,timestamp` per line, no header, read by position.
//!
//! Design: the columns are Amazon's order and nothing else; a first line that looks like a header (a word
//! where the rating or timestamp goes) stops the read with a message saying so, instead of a bad line (detection
//! reads such a file as a `table`; this reader sees it only when `--format ratings-csv` is given).

use super::{bad, parse_rating, parse_ts, BadLine, Framing, LineFormat, Opened, Spec};
use crate::json::Scanner;
use crate::read::pipeline::ParsedChunk;
use crate::read::ReadOptions;

/// The columns of a ratings CSV, by position (Amazon's order; a file in another order needs another reader).
pub const CSV_COLUMNS: &str = "item,user,rating,timestamp";

pub(super) const SPEC: Spec = Spec { name: "ratings-csv", aliases: &["csv"], open };

fn open(first: &str, _next: Option<&str>, _opts: &ReadOptions) -> Result<Opened, String> {
    if let Some(reason) = csv_header(first) {
        return Err(reason);
    }
    Ok(Opened {
        parser: Box::new(RatingsCsv),
        columns: CSV_COLUMNS.to_string(),
        columns_by: "position",
        header: false,
        framing: Framing::Lines,
    })
}

struct RatingsCsv;

impl LineFormat for RatingsCsv {
    fn parse(&self, _scanner: &mut Scanner, text: &str, out: &mut ParsedChunk) -> Result<(), BadLine> {
        let cols: Vec<&str> = text.split(',').collect();
        if cols.len() != 4 {
            return Err(bad(
                "wrong column count",
                format!("found {} columns, expected 4 (item,user,rating,timestamp)", cols.len()),
            ));
        }
        let (item, user) = (cols[0].trim(), cols[1].trim());
        if item.is_empty() || user.is_empty() {
            return Err(bad("invalid value", "empty item or user"));
        }
        let rating = parse_rating(cols[2].trim()).map_err(|e| bad("invalid value", format!("rating {e}")))?;
        let (ts, truncated) = parse_ts(cols[3].trim()).map_err(|e| bad("invalid value", format!("timestamp {e}")))?;
        out.truncated += truncated as u64;
        out.push(user, item, Some(ts), rating);
        Ok(())
    }
}

/// Why the first line of a ratings CSV is a header line, if it is: four columns whose rating or timestamp is a
/// word (starts with an ASCII letter and is not a number, like `rating` or `timestamp`). Other bad first lines
/// stay bad lines (skippable).
pub(crate) fn csv_header(text: &str) -> Option<String> {
    let cols: Vec<&str> = text.split(',').map(str::trim).collect();
    if cols.len() != 4 {
        return None;
    }
    let word = |s: &str| s.starts_with(|c: char| c.is_ascii_alphabetic()) && s.parse::<f64>().is_err();
    if !(word(cols[2]) || word(cols[3])) {
        return None;
    }
    let mut shown: String = text.chars().take(80).collect();
    if shown.len() < text.len() {
        shown.push_str("...");
    }
    Some(format!(
        "this is a header line ({shown:?}: its rating or timestamp is a word, not a number), but ratings-csv has none: it \
         reads the columns by position as {CSV_COLUMNS}; read the file with --format table (columns by header \
         name), or remove the line if the columns are in that order"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_csv_header_is_told_from_a_bad_first_line() {
        for header in [
            "user,item,rating,timestamp",
            "item,user,rating,timestamp",
            "userId,movieId,rating,timestamp",
            " a , b , rating , 1 ",
            "a,U1,5,time",
        ] {
            let why = csv_header(header).unwrap_or_default();
            assert!(why.starts_with("this is a header line") && why.contains("ratings-csv has none"), "{header}");
        }
        for data in [
            "a,U1,5.0,1388534400",
            "a,U1,nan,1",
            "a,U1,inf,1",
            "a,U1,0x10,1",
            "a,U1,,1",
            "a,U1,5",
            "a,b,c,d,e",
            "a,U1,5,\u{663}",
        ] {
            assert_eq!(csv_header(data), None, "{data}");
        }
    }
}
