//! Amazon review JSON lines (the 2018 and 2014 dumps): one review object per line, read by key.
//!
//! Design: only the four keys a record needs are scanned (reviewerID, asin, unixReviewTime, overall); a
//! missing or `null` rating is NaN, a float timestamp is truncated and counted.

use super::{bad, json_id, json_rating, parse_ts, wrong_type, BadLine, Framing, LineFormat, Opened, Spec};
use crate::json::{Field, Scanner};
use crate::read::pipeline::ParsedChunk;
use crate::read::ReadOptions;

pub(super) const SPEC: Spec = Spec { name: "amazon-json", aliases: &["json"], open };

fn open(_first: &str, _next: Option<&str>, _opts: &ReadOptions) -> Result<Opened, String> {
    Ok(Opened {
        parser: Box::new(AmazonJson),
        columns: "reviewerID,asin,unixReviewTime,overall".to_string(),
        columns_by: "key",
        header: false,
        framing: Framing::Lines,
    })
}

struct AmazonJson;

impl LineFormat for AmazonJson {
    fn parse(&self, scanner: &mut Scanner, text: &str, out: &mut ParsedChunk) -> Result<(), BadLine> {
        let mut f = [Field::Missing, Field::Missing, Field::Missing, Field::Missing];
        scanner
            .scan(text, &["reviewerID", "asin", "unixReviewTime", "overall"], &mut f)
            .map_err(|e| bad("invalid JSON", e))?;
        let user = json_id(&f[0], "reviewerID")?;
        let item = json_id(&f[1], "asin")?;
        let ts = match &f[2] {
            Field::Num(n) => {
                let (ts, truncated) = parse_ts(n).map_err(|e| bad("invalid value", format!("unixReviewTime {e}")))?;
                out.truncated += truncated as u64;
                ts
            }
            Field::Missing => return Err(bad("missing field", "missing field \"unixReviewTime\"")),
            other => return Err(wrong_type("unixReviewTime", "a number", other)),
        };
        let rating = json_rating(&f[3], "overall")?;
        out.push(user, item, Some(ts), rating);
        Ok(())
    }
}
