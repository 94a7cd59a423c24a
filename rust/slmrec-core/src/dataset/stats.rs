//! What `stats.json` records about one prepare run, as types: the read counts, the recipe's drops, the shape
//! of the result and where the time went.
//!
//! Design: the counts of reading ([`ReadStats`]), of the recipe ([`RecipeStats`]) and of metadata
//! ([`MetaStats`]) are flattened into the top level as they are, so a field is declared once, where it is
//! counted. The file is written from a [`serde_json::Value`] made of these types, so its keys are sorted in
//! every object.

use serde::Serialize;

use crate::read::{MetaStats, OnBadLine, ReadStats};
use crate::recipe::{Recipe, RecipeStats};

/// The top level of `stats.json`.
#[derive(Debug, Clone, Serialize)]
pub struct PrepStats {
    /// The crate version that wrote it.
    pub version: &'static str,
    /// The recipe applied.
    pub recipe: Recipe,
    /// The bad-line policy of the read.
    pub on_bad_line: OnBadLine,
    /// What reading counted (its per-file list is `inputs`).
    #[serde(flatten)]
    pub read: ReadStats,
    /// What each recipe step dropped.
    #[serde(flatten)]
    pub dropped: RecipeStats,
    /// Interactions kept.
    pub interactions: usize,
    /// Users kept.
    pub users: usize,
    /// Items kept.
    pub items: usize,
    /// Sequence lengths over the users.
    pub seq_len: SeqLen,
    /// Users with fewer than 3 interactions (no train/valid/test split).
    pub users_too_short_for_split: usize,
    /// The content fingerprint of the sequences (see [`super::fingerprint`]).
    pub fingerprint: String,
    /// `1 - interactions / (users * items)`.
    pub sparsity: f64,
    /// Threads of the pool the run used.
    pub threads: usize,
    /// The metadata join, when metadata was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meta: Option<MetaJoin>,
    /// Wall seconds from the start of the run to the end of the build (to the end of the write once written).
    pub elapsed_seconds: f64,
    /// Wall seconds of each phase (where the time goes).
    pub phase_seconds: PhaseSeconds,
}

/// Sequence lengths: `None` only for no users.
#[derive(Debug, Clone, Serialize)]
pub struct SeqLen {
    /// The shortest.
    pub min: Option<i64>,
    /// The longest.
    pub max: Option<i64>,
    /// The mean.
    pub mean: f64,
    /// The median (the mean of the two middle ones for an even count).
    pub median: f64,
}

/// What the metadata read counted, and how many kept items it describes.
#[derive(Debug, Clone, Serialize)]
pub struct MetaJoin {
    /// Counts of the metadata read.
    #[serde(flatten)]
    pub read: MetaStats,
    /// Kept items with a title, brand or main category.
    pub items_with_meta: usize,
}

/// Wall seconds of each phase; [`super::Dataset::write`] adds `write`, the seconds it took.
#[derive(Debug, Clone, Serialize)]
pub struct PhaseSeconds {
    /// Reading the inputs (and the metadata).
    pub read: f64,
    /// Applying the recipe.
    pub recipe: f64,
    /// Assigning ids and ordering each user's sequence.
    pub ids_and_order: f64,
}

impl SeqLen {
    /// The lengths' summary; `sorted` must be in ascending order.
    pub fn of_sorted(sorted: &[i64]) -> SeqLen {
        let n = sorted.len();
        let median = match n {
            0 => f64::NAN,
            _ if n % 2 == 1 => sorted[n / 2] as f64,
            _ => (sorted[n / 2 - 1] + sorted[n / 2]) as f64 / 2.0,
        };
        let total: i64 = sorted.iter().sum();
        SeqLen { min: sorted.first().copied(), max: sorted.last().copied(), mean: total as f64 / n as f64, median }
    }
}
