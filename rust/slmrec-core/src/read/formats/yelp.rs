//! Yelp's academic dataset `review.json`: one review object per line, read by key.
//!
//! Design: the four keys a record needs are scanned (`user_id`, `business_id` -> item, `stars` -> rating,
//! `date`), every other field (`text`, the vote counts) validated and skipped. `date` is Yelp's
//! `"YYYY-MM-DD HH:MM:SS"` (UTC assumed), read by the ISO-8601 rule of `read/time.rs` into seconds, so a date
//! without seconds is read too.

use super::{bad, json_id, json_rating, wrong_type, BadLine, Framing, LineFormat, Opened, Spec};
use crate::json::{Field, Scanner};
use crate::read::pipeline::ParsedChunk;
use crate::read::time::{TimeRule, Unit};
use crate::read::ReadOptions;

pub(super) const SPEC: Spec = Spec { name: "yelp", aliases: &[], open };

fn open(_first: &str, _next: Option<&str>, _opts: &ReadOptions) -> std::result::Result<Opened, String> {
    Ok(Opened {
        parser: Box::new(Yelp { time: TimeRule::new(Unit::Seconds) }),
        columns: "user_id,business_id,date,stars".to_string(),
        columns_by: "key",
        header: false,
        framing: Framing::Lines,
    })
}

struct Yelp {
    time: TimeRule,
}

impl LineFormat for Yelp {
    fn parse(&self, scanner: &mut Scanner, text: &str, out: &mut ParsedChunk) -> std::result::Result<(), BadLine> {
        let mut f = [Field::Missing, Field::Missing, Field::Missing, Field::Missing];
        scanner.scan(text, &["user_id", "business_id", "date", "stars"], &mut f).map_err(|e| bad("invalid JSON", e))?;
        let user = json_id(&f[0], "user_id")?;
        let item = json_id(&f[1], "business_id")?;
        let ts = match &f[2] {
            Field::Str(s) => {
                let (ts, truncated) = self.time.parse(s).map_err(|e| bad("invalid value", format!("date: {e}")))?;
                out.truncated += truncated as u64;
                ts
            }
            Field::Missing => return Err(bad("missing field", "missing field \"date\"")),
            other => return Err(wrong_type("date", "a string", other)),
        };
        let rating = json_rating(&f[3], "stars")?;
        out.push(user, item, Some(ts), rating);
        Ok(())
    }
}
