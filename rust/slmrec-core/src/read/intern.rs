//! Raw ids interned to dense numbers, and the tables of records a read produces.
//!
//! Design: see [`Interner`]; interning is the one serial step of a read, so it does as little as possible.
//! Memory follows the records, not the text around them: a record is four plain columns (interned user and
//! item, timestamp, and a one-byte code of its rating while the file has few distinct ratings, see
//! [`Ratings`]); an id costs its key and a number in the interner's table while reading, and only its bytes
//! in one arena ([`Names`]) once the read is over and the table is dropped.

use std::hash::BuildHasher;

use hashbrown::HashTable;
use rustc_hash::FxBuildHasher;

/// An id as the interner stores it. An id of at most 16 bytes that does not end in a NUL byte is the bytes
/// themselves, zero-padded (its length is where the padding starts). Any other id is `LONG`, its length
/// (5 bytes, little-endian), where it starts in the arena of such ids (6 bytes) and its first 4 bytes. UTF-8
/// never holds the byte `LONG`, so the two forms cannot be confused.
type Key = [u8; 16];
const LONG: u8 = 0xFF;

/// `key` as stored, but for the arena offset of a long key (zeros; a probe does not know it).
#[inline]
fn key_of(key: &str) -> Key {
    let b = key.as_bytes();
    let mut k = [0u8; 16];
    if b.len() <= 16 && b.last() != Some(&0) {
        k[..b.len()].copy_from_slice(b);
    } else {
        k[0] = LONG;
        k[1..6].copy_from_slice(&(b.len() as u64).to_le_bytes()[..5]);
        let p = b.len().min(4);
        k[12..12 + p].copy_from_slice(&b[..p]);
    }
    k
}

/// Reads `n` little-endian bytes as a number.
#[inline]
fn le(b: &[u8]) -> usize {
    let mut x = [0u8; 8];
    x[..b.len()].copy_from_slice(b);
    u64::from_le_bytes(x) as usize
}

/// The bytes of a stored key (`long`: the arena of long keys).
#[inline]
fn key_bytes<'a>(k: &'a Key, long: &'a str) -> &'a [u8] {
    if k[0] != LONG {
        let len = 16 - k.iter().rev().take_while(|&&b| b == 0).count();
        &k[..len]
    } else {
        let (len, start) = (le(&k[1..6]), le(&k[6..12]));
        long.as_bytes().get(start..start + len).unwrap_or_default()
    }
}

/// Whether the stored key `k` is `key`, whose [`key_of`] is `probe`.
#[inline]
fn holds(k: &Key, probe: &Key, key: &str, long: &str) -> bool {
    if probe[0] != LONG {
        k == probe
    } else {
        k[..6] == probe[..6] && k[12..] == probe[12..] && key_bytes(k, long) == key.as_bytes()
    }
}

/// Raw ids interned to dense numbers in first-seen order.
///
/// Design: interning is the one serial step of the read (records must be numbered in input order), so it does
/// as little as possible there. The parse workers hash each id ([`id_hash`]); the merge thread only probes a
/// [`HashTable`] of numbers with that hash. The keys are stored by number, beside the table: an id of up to
/// 16 bytes (Amazon's reviewerIDs and asins, numeric ids) in place, compared as one 16-byte array; a longer
/// one in an arena, its slot holding where, its length and first bytes. The table holds only the numbers, so
/// it stays small (it is the part that doubles and is rehashed as the ids come); growing it rehashes from the
/// stored keys, so no hash is kept per id. The last key is remembered: dumps come grouped (Amazon lines by
/// asin, sequence lines by user), so the same id often repeats on consecutive records and skips the probe.
/// [`Interner::into_names`] drops the table and lays the keys out by number in a [`Names`] arena.
#[derive(Debug, Default)]
pub struct Interner {
    table: HashTable<u32>,
    keys: Vec<Key>,
    /// The bytes of the long keys, one after another.
    long: String,
    last: Option<(u64, u32)>,
}

/// The hash [`Interner`] files an id under.
#[inline]
pub fn id_hash(key: &str) -> u64 {
    hash_bytes(key.as_bytes())
}

#[inline]
fn hash_bytes(key: &[u8]) -> u64 {
    FxBuildHasher.hash_one(key)
}

impl Interner {
    /// The number of `key`, given a new one if unseen.
    #[inline]
    pub fn intern(&mut self, key: &str) -> u32 {
        self.intern_hashed(key, id_hash(key))
    }

    /// [`Interner::intern`] with `hash == id_hash(key)` already computed.
    #[inline]
    pub fn intern_hashed(&mut self, key: &str, hash: u64) -> u32 {
        let probe = key_of(key);
        let (keys, long) = (&self.keys, &self.long);
        if let Some((h, id)) = self.last {
            if h == hash && holds(&keys[id as usize], &probe, key, long) {
                return id;
            }
        }
        let id = match self.table.find(hash, |&id| holds(&keys[id as usize], &probe, key, long)) {
            Some(&id) => id,
            None => {
                let id = self.keys.len() as u32;
                let mut k = probe;
                if k[0] == LONG {
                    k[6..12].copy_from_slice(&(self.long.len() as u64).to_le_bytes()[..6]);
                    self.long.push_str(key);
                }
                self.keys.push(k);
                let (keys, long) = (&self.keys, &self.long);
                self.table.insert_unique(hash, id, |&id| hash_bytes(key_bytes(&keys[id as usize], long)));
                id
            }
        };
        self.last = Some((hash, id));
        id
    }
    /// How many distinct keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }
    /// Whether no key was seen.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
    /// The keys, indexed by their number; the table is dropped first.
    pub fn into_names(self) -> Names {
        let Interner { table, keys, long, .. } = self;
        drop(table);
        let total: usize = keys.iter().map(|k| key_bytes(k, &long).len()).sum();
        let mut bytes = Vec::with_capacity(total);
        let mut ends = Vec::with_capacity(keys.len());
        for k in &keys {
            bytes.extend_from_slice(key_bytes(k, &long));
            ends.push(bytes.len() as u64);
        }
        drop((keys, long));
        // Every piece is a whole key, itself valid UTF-8, so this never takes the lossy path.
        let bytes = String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        Names { bytes, ends }
    }
}

/// Strings indexed by number, stored as one arena of bytes and the end of each string in it.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Names {
    bytes: String,
    ends: Vec<u64>,
}

impl Names {
    /// How many strings.
    pub fn len(&self) -> usize {
        self.ends.len()
    }
    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }
    /// String `i` (`i < len()`).
    #[inline]
    pub fn get(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.bytes[start..self.ends[i] as usize]
    }
    /// Appends a string.
    pub fn push(&mut self, s: &str) {
        self.bytes.push_str(s);
        self.ends.push(self.bytes.len() as u64);
    }
    /// The strings in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }
}

impl<'a> FromIterator<&'a str> for Names {
    fn from_iter<I: IntoIterator<Item = &'a str>>(iter: I) -> Self {
        let mut n = Names::default();
        for s in iter {
            n.push(s);
        }
        n
    }
}

/// The rating of each record: a one-byte code into the distinct ratings seen (by bit pattern, NaN for none)
/// while there are at most 256 of them (review ratings have five), the ratings themselves after.
#[derive(Debug, Default, Clone)]
pub struct Ratings {
    codes: Vec<u8>,
    values: Vec<u32>,
    /// Every rating, once the distinct ones outgrew a byte.
    full: Option<Vec<f32>>,
}

impl Ratings {
    /// Appends a rating.
    #[inline]
    pub fn push(&mut self, r: f32) {
        if let Some(full) = &mut self.full {
            full.push(r);
            return;
        }
        let bits = r.to_bits();
        match self.values.iter().position(|&v| v == bits) {
            Some(c) => self.codes.push(c as u8),
            None if self.values.len() <= u8::MAX as usize => {
                self.codes.push(self.values.len() as u8);
                self.values.push(bits);
            }
            None => {
                let mut full: Vec<f32> = Vec::with_capacity(self.codes.capacity());
                full.extend(self.codes.iter().map(|&c| f32::from_bits(self.values[c as usize])));
                full.push(r);
                self.codes = Vec::new();
                self.full = Some(full);
            }
        }
    }
    /// The rating of record `i`.
    #[inline]
    pub fn get(&self, i: usize) -> f32 {
        match &self.full {
            Some(full) => full[i],
            None => f32::from_bits(self.values[self.codes[i] as usize]),
        }
    }
    /// How many records.
    pub fn len(&self) -> usize {
        self.full.as_ref().map_or(self.codes.len(), Vec::len)
    }
    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Every record read, in input order (the row index is the input order): four columns and the raw ids, being
/// interned while reading ([`RawTable`]), by number after ([`Table`]).
#[derive(Debug, Default)]
pub struct RecordTable<Ids> {
    /// Raw user ids.
    pub users: Ids,
    /// Raw item ids.
    pub items: Ids,
    /// Interned user of each record.
    pub user: Vec<u32>,
    /// Interned item of each record.
    pub item: Vec<u32>,
    /// Timestamp of each record (positions for sequence lines).
    pub ts: Vec<i64>,
    /// Rating of each record; NaN when the format has none.
    pub rating: Ratings,
}

/// The records of a read under way.
pub type RawTable = RecordTable<Interner>;
/// The records of a finished read, the raw ids by number.
pub type Table = RecordTable<Names>;

impl<Ids> RecordTable<Ids> {
    /// The number of records.
    pub fn len(&self) -> usize {
        self.ts.len()
    }
    /// Whether there is no record.
    pub fn is_empty(&self) -> bool {
        self.ts.is_empty()
    }
}

impl RawTable {
    /// Appends a record (ids with their [`id_hash`]).
    #[inline]
    pub fn push(&mut self, user: (&str, u64), item: (&str, u64), ts: i64, rating: f32) {
        self.user.push(self.users.intern_hashed(user.0, user.1));
        self.item.push(self.items.intern_hashed(item.0, item.1));
        self.ts.push(ts);
        self.rating.push(rating);
    }
    /// The records with their ids laid out by number ([`Interner::into_names`]).
    pub fn finish(self) -> Table {
        let RecordTable { users, items, user, item, ts, rating } = self;
        let users = users.into_names();
        let items = items.into_names();
        RecordTable { users, items, user, item, ts, rating }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interner_numbers_in_first_seen_order_with_or_without_the_last_key() {
        let mut i = Interner::default();
        let keys = ["b", "a", "a", "b", "c", "a", "c", "c", ""];
        let ids: Vec<u32> = keys.iter().map(|k| i.intern(k)).collect();
        assert_eq!(ids, [0, 1, 1, 0, 2, 1, 2, 2, 3]);
        assert_eq!(i.len(), 4);
        assert_eq!(i.into_names().iter().collect::<Vec<_>>(), ["b", "a", "c", ""]);
        // Many keys: the table grows (rehashing with the stored hashes) and keeps every number.
        let mut i = Interner::default();
        for n in 0..10_000u32 {
            assert_eq!(i.intern(&format!("u{n}")), n);
        }
        for n in (0..10_000u32).rev() {
            assert_eq!(i.intern_hashed(&format!("u{n}"), id_hash(&format!("u{n}"))), n);
        }
        // Keys longer than the 16 inline bytes, equal in their first 16: told apart by the stored names.
        let long = |n: u32| format!("{}{n}", "x".repeat(20));
        for n in 0..1000u32 {
            assert_eq!(i.intern(&long(n)), 10_000 + n);
        }
        for n in 0..1000u32 {
            assert_eq!(i.intern(&long(n)), 10_000 + n);
            assert_eq!(i.intern(&format!("u{n}")), n);
        }
        // A key with a NUL byte is not confused with its shorter zero-padded prefix.
        assert_ne!(i.intern("ab\0"), i.intern("ab"));
        // The names come back by number, long ones (from the arena) and short ones (from the slots) alike.
        let n = i.len();
        let names = i.into_names();
        assert_eq!(names.len(), n);
        for k in 0..1000u32 {
            assert_eq!(names.get(k as usize), format!("u{k}"));
            assert_eq!(names.get(10_000 + k as usize), long(k));
        }
        assert_eq!((names.get(n - 2), names.get(n - 1)), ("ab\0", "ab"));
        // Keys that end in NUL go to the arena whatever their length; a 16-byte key stays inline.
        let mut i = Interner::default();
        let keys = ["\0", "", "a\0", "a", "0123456789abcdef", "0123456789abcdef\0", "\0\0", "é\0"];
        let ids: Vec<u32> = keys.iter().chain(&keys).map(|k| i.intern(k)).collect();
        assert_eq!(ids, [0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(i.into_names().iter().collect::<Vec<_>>(), keys);
    }

    #[test]
    fn ratings_are_coded_until_they_outgrow_a_byte() {
        let mut r = Ratings::default();
        let values: Vec<f32> = (0..300).map(|k| k as f32 / 2.0).chain([f32::NAN, 1.0]).collect();
        for &v in &values[..256] {
            r.push(v);
        }
        assert!(r.full.is_none() && r.codes.len() == 256);
        for &v in &values[256..] {
            r.push(v);
        }
        assert!(r.full.is_some());
        assert_eq!(r.len(), values.len());
        for (k, v) in values.iter().enumerate() {
            assert_eq!(r.get(k).to_bits(), v.to_bits());
        }
    }
}
