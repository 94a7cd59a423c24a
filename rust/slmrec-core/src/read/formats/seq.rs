//! Sequence lines: one user per line, `user item item ...`, numeric ids separated by whitespace.
//!
//! Design: the file has no timestamps; an item's position in its line is its timestamp.

use super::{bad, BadLine, Framing, LineFormat, Opened, Spec};
use crate::json::Scanner;
use crate::read::pipeline::ParsedChunk;
use crate::read::ReadOptions;

pub(super) const SPEC: Spec = Spec { name: "seq", aliases: &["sequence-lines"], open };

fn open(_first: &str, _next: Option<&str>, _opts: &ReadOptions) -> Result<Opened, String> {
    Ok(Opened {
        parser: Box::new(SeqLines),
        columns: "user,item,item,...".to_string(),
        columns_by: "position",
        header: false,
        framing: Framing::Lines,
    })
}

/// The sequence-line parser.
pub(crate) struct SeqLines;

impl LineFormat for SeqLines {
    fn parse(&self, _scanner: &mut Scanner, text: &str, out: &mut ParsedChunk) -> Result<(), BadLine> {
        let mut toks = text.split_ascii_whitespace();
        let user = toks.next().unwrap_or_default();
        let items: Vec<&str> = toks.collect();
        for tok in std::iter::once(&user).chain(items.iter()) {
            if tok.parse::<u64>().is_err() {
                return Err(bad("invalid value", format!("{tok:?} is not a non-negative integer id")));
            }
        }
        if items.is_empty() {
            return Err(bad("invalid value", "a user with no items"));
        }
        for (pos, item) in items.iter().enumerate() {
            out.push(user, item, Some(pos as i64), f32::NAN);
        }
        Ok(())
    }
}
