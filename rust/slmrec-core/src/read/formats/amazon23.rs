//! Amazon Reviews 2023 (McAuley Lab) JSON lines: one review object per line, read by key.
//!
//! Design: as the 2018 reader, only the four keys a record needs are scanned (`user_id`, the item key,
//! `timestamp`, `rating`); every other field (`text` can be long, `images` a list of objects) is validated and
//! skipped without being materialised. The item is `parent_asin` (the product, which the metadata files are
//! keyed by) unless `--item-key asin` asks for the variant. `timestamp` is milliseconds and stored as given,
//! checked by the milliseconds rule of `read/time.rs` (a time in seconds or microseconds is a bad value).

use std::str::FromStr;

use super::{bad, json_id, json_rating, parse_ts, wrong_type, BadLine, Framing, LineFormat, Opened, Spec};
use crate::error::{Error, Result};
use crate::json::{Field, Scanner};
use crate::read::pipeline::ParsedChunk;
use crate::read::time::{TimeRule, Unit};
use crate::read::ReadOptions;

pub(super) const SPEC: Spec = Spec { name: "amazon23", aliases: &["amazon-2023"], open };

/// Which Amazon 2023 key is the item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ItemKey {
    /// `parent_asin`: the product (its variants are one item); what the metadata is keyed by.
    #[default]
    ParentAsin,
    /// `asin`: the variant.
    Asin,
}

impl ItemKey {
    /// The JSON key.
    pub fn key(self) -> &'static str {
        match self {
            ItemKey::ParentAsin => "parent_asin",
            ItemKey::Asin => "asin",
        }
    }
}

impl FromStr for ItemKey {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "parent_asin" => Ok(ItemKey::ParentAsin),
            "asin" => Ok(ItemKey::Asin),
            _ => Err(Error::InvalidArgument(format!("unknown item key {s:?}; expected parent_asin or asin"))),
        }
    }
}

fn open(_first: &str, _next: Option<&str>, opts: &ReadOptions) -> std::result::Result<Opened, String> {
    let key = opts.item_key.unwrap_or_default();
    Ok(Opened {
        parser: Box::new(Amazon23 {
            keys: ["user_id", key.key(), "timestamp", "rating"],
            time: TimeRule::new(Unit::Millis),
        }),
        columns: format!("user_id,{},timestamp (ms),rating", key.key()),
        columns_by: "key",
        header: false,
        framing: Framing::Lines,
    })
}

struct Amazon23 {
    keys: [&'static str; 4],
    time: TimeRule,
}

impl LineFormat for Amazon23 {
    fn parse(&self, scanner: &mut Scanner, text: &str, out: &mut ParsedChunk) -> std::result::Result<(), BadLine> {
        let mut f = [Field::Missing, Field::Missing, Field::Missing, Field::Missing];
        scanner.scan(text, &self.keys, &mut f).map_err(|e| bad("invalid JSON", e))?;
        let user = json_id(&f[0], "user_id")?;
        let item = json_id(&f[1], self.keys[1])?;
        let ts = match &f[2] {
            Field::Num(n) => {
                let (ts, truncated) = parse_ts(n).map_err(|e| bad("invalid value", format!("timestamp {e}")))?;
                out.truncated += truncated as u64;
                self.time.check(ts).map_err(|e| bad("invalid value", format!("timestamp: {e}")))?
            }
            Field::Missing => return Err(bad("missing field", "missing field \"timestamp\"")),
            other => return Err(wrong_type("timestamp", "a number", other)),
        };
        let rating = json_rating(&f[3], "rating")?;
        out.push(user, item, Some(ts), rating);
        Ok(())
    }
}
