//! RecBole atomic `.inter` files: tab-separated, with a typed header (`user_id:token`, `item_id:token`, ...).
//!
//! Design: the header names the columns, so they are found by name (user_id, item_id, and the optional rating
//! and timestamp) and every data line must have the header's column count. Without a timestamp column the
//! records are ordered by their position in the file. A broken header stops the read in either bad-line mode.

use super::{bad, parse_rating, parse_ts, BadLine, Framing, LineFormat, Opened, Spec};
use crate::json::Scanner;
use crate::read::pipeline::ParsedChunk;
use crate::read::ReadOptions;

pub(super) const SPEC: Spec = Spec { name: "recbole", aliases: &["inter"], open };

fn open(first: &str, _next: Option<&str>, _opts: &ReadOptions) -> Result<Opened, String> {
    Ok(Opened {
        parser: Box::new(recbole_header(first)?),
        columns: first.split('\t').map(|c| c.trim()).collect::<Vec<_>>().join(","),
        columns_by: "header",
        header: true,
        framing: Framing::Lines,
    })
}

/// Where the columns are, from the header.
#[derive(Debug)]
struct RecboleHeader {
    columns: usize,
    user: usize,
    item: usize,
    rating: Option<usize>,
    timestamp: Option<usize>,
}

impl LineFormat for RecboleHeader {
    fn parse(&self, _scanner: &mut Scanner, text: &str, out: &mut ParsedChunk) -> Result<(), BadLine> {
        let h = self;
        let cols: Vec<&str> = text.split('\t').collect();
        if cols.len() != h.columns {
            return Err(bad(
                "wrong column count",
                format!("found {} columns, the header has {}", cols.len(), h.columns),
            ));
        }
        let (user, item) = (cols[h.user].trim(), cols[h.item].trim());
        if user.is_empty() || item.is_empty() {
            return Err(bad("invalid value", "empty user_id or item_id"));
        }
        let rating = match h.rating {
            Some(c) if !cols[c].trim().is_empty() => {
                parse_rating(cols[c].trim()).map_err(|e| bad("invalid value", format!("rating {e}")))?
            }
            _ => f32::NAN,
        };
        let ts = match h.timestamp {
            Some(c) => Some({
                let (ts, truncated) =
                    parse_ts(cols[c].trim()).map_err(|e| bad("invalid value", format!("timestamp {e}")))?;
                out.truncated += truncated as u64;
                ts
            }),
            None => None,
        };
        out.push(user, item, ts, rating);
        Ok(())
    }
}

fn recbole_header(text: &str) -> Result<RecboleHeader, String> {
    let mut h = RecboleHeader { columns: 0, user: usize::MAX, item: usize::MAX, rating: None, timestamp: None };
    for (i, col) in text.split('\t').enumerate() {
        let Some((name, ty)) = col.trim().split_once(':') else {
            return Err(format!("invalid RecBole header: column {:?} has no ':type'", col));
        };
        if !matches!(ty, "token" | "token_seq" | "float" | "float_seq") {
            return Err(format!(
                "invalid RecBole header: column {name:?} has unknown type {ty:?} (token, token_seq, float, float_seq)"
            ));
        }
        match name {
            "user_id" => h.user = i,
            "item_id" => h.item = i,
            "rating" => h.rating = Some(i),
            "timestamp" => h.timestamp = Some(i),
            _ => {}
        }
        h.columns = i + 1;
    }
    if h.user == usize::MAX || h.item == usize::MAX {
        return Err("invalid RecBole header: it needs user_id and item_id columns".into());
    }
    Ok(h)
}
