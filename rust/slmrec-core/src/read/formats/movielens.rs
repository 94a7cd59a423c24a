//! MovieLens ratings: `ratings.dat` (ML-1M, ML-10M: `UserID::MovieID::Rating::Timestamp`, no header) and
//! `ratings.csv` (ML-20M, 25M, 32M, latest: the header `userId,movieId,rating,timestamp`).
//!
//! Design: the first line tells which: a line with `::` is `ratings.dat` (it must have four `::`-separated
//! fields, so that `movies.dat` or `users.dat` given by mistake fails at once), the exact `ratings.csv` header
//! is `ratings.csv`, read by the table parser with those four columns. Timestamps are seconds, checked by
//! the seconds rule of `read/time.rs` (a time in milliseconds is a bad value).

use super::{bad, parse_rating, table, BadLine, Framing, LineFormat, Opened, Spec};
use crate::json::Scanner;
use crate::read::pipeline::ParsedChunk;
use crate::read::time::{TimeRule, Unit};
use crate::read::ReadOptions;

pub(super) const SPEC: Spec = Spec { name: "movielens", aliases: &["ml"], open };

/// The header of MovieLens' `ratings.csv`.
pub(crate) const CSV_HEADER: &str = "userId,movieId,rating,timestamp";

fn open(first: &str, _next: Option<&str>, _opts: &ReadOptions) -> std::result::Result<Opened, String> {
    let time = TimeRule::new(Unit::Seconds);
    if first.trim() == CSV_HEADER {
        return Ok(Opened {
            parser: table::fixed(b',', 4, [Some(0), Some(1), Some(3), Some(2)], time),
            columns: CSV_HEADER.to_string(),
            columns_by: "header",
            header: true,
            framing: Framing::Quoted,
        });
    }
    if first.contains("::") {
        let n = first.split("::").count();
        if n != 4 {
            return Err(format!(
                "this line has {n} '::'-separated fields; a ratings.dat line has 4 (UserID::MovieID::Rating::Timestamp): \
                 is this movies.dat or users.dat?"
            ));
        }
        return Ok(Opened {
            parser: Box::new(RatingsDat { time }),
            columns: "UserID::MovieID::Rating::Timestamp".to_string(),
            columns_by: "position",
            header: false,
            framing: Framing::Lines,
        });
    }
    if is_u_data_line(first) {
        return Ok(Opened {
            parser: table::fixed(b'\t', 4, [Some(0), Some(1), Some(3), Some(2)], time),
            columns: U_DATA_COLUMNS.to_string(),
            columns_by: "position",
            header: false,
            framing: Framing::Lines,
        });
    }
    Err(format!(
        "not a MovieLens ratings file: expected ratings.dat lines (UserID::MovieID::Rating::Timestamp), \
         ratings.csv's header ({CSV_HEADER}) or u.data lines ({U_DATA_COLUMNS}, tab-separated); for another table \
         use --format table"
    ))
}

/// The columns of ML-100K's `u.data` (tab-separated, no header).
const U_DATA_COLUMNS: &str = "user id\titem id\trating\ttimestamp";

/// Whether a line has ML-100K `u.data`'s shape: four tab-separated integers, a rating of 1 to 5 and a Unix time
/// in seconds (nine or ten digits). Narrow on purpose: a sequence file's line of a user and three items has no
/// such rating and time.
pub(crate) fn is_u_data_line(line: &str) -> bool {
    let cols: Vec<&str> = line.trim_end_matches(['\r', '\n']).split('\t').collect();
    let int = |c: &str| !c.is_empty() && c.len() <= 10 && c.bytes().all(|b| b.is_ascii_digit());
    cols.len() == 4
        && cols.iter().all(|c| int(c))
        && matches!(cols[2], "1" | "2" | "3" | "4" | "5")
        && (9..=10).contains(&cols[3].len())
}

struct RatingsDat {
    time: TimeRule,
}

impl LineFormat for RatingsDat {
    fn parse(&self, _scanner: &mut Scanner, text: &str, out: &mut ParsedChunk) -> std::result::Result<(), BadLine> {
        let mut cols = [""; 4];
        let mut n = 0;
        for c in text.split("::") {
            if n < 4 {
                cols[n] = c.trim();
            }
            n += 1;
        }
        if n != 4 {
            return Err(bad(
                "wrong column count",
                format!("found {n} '::'-separated fields, expected 4 (UserID::MovieID::Rating::Timestamp)"),
            ));
        }
        let [user, item, rating, ts] = cols;
        if user.is_empty() || item.is_empty() {
            return Err(bad("invalid value", "empty UserID or MovieID"));
        }
        let rating = parse_rating(rating).map_err(|e| bad("invalid value", format!("Rating {e}")))?;
        let (ts, truncated) = self.time.parse(ts).map_err(|e| bad("invalid value", format!("Timestamp: {e}")))?;
        out.truncated += truncated as u64;
        out.push(user, item, Some(ts), rating);
        Ok(())
    }
}
