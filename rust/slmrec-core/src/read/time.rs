//! Record times of the newer readers (table, amazon23, movielens, yelp): integers in seconds or milliseconds,
//! ISO-8601 date/time strings, and the one rule that tells the two units apart and bounds them.
//!
//! Design: a file's times are in one unit. Amazon 2023 is milliseconds and MovieLens and Yelp are seconds by
//! their definition; a table's unit is fixed by its first data row: an integer time of at least
//! [`MS_FROM`] (10^11: later than the year 5138 in seconds, after 1973-03-03 in milliseconds) makes the file
//! milliseconds, anything else (a smaller integer, an ISO-8601 string) seconds. Times are stored in that unit
//! as given; an ISO-8601 string is converted to it (UTC when it has no offset; a fraction beyond the unit is
//! dropped and counted as truncated). A time more than 100 years from now, or in a milliseconds file one
//! below [`MS_FROM`], is a bad value: a seconds/milliseconds mix-up (or microseconds), never stored as if it
//! were right. The older readers keep their own rules (any i64), so their outputs do not change.

use std::time::{SystemTime, UNIX_EPOCH};

/// The smallest integer read as milliseconds when a table's unit is told from its first row.
pub const MS_FROM: i64 = 100_000_000_000;

/// How far in the future a time may lie before it is a bad value, in seconds (100 Julian years).
const FUTURE_SECONDS: i64 = 100 * 31_557_600;

/// The unit of a file's times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Seconds since 1970-01-01 UTC.
    Seconds,
    /// Milliseconds since 1970-01-01 UTC.
    Millis,
}

impl Unit {
    /// The unit a table's first time fixes: milliseconds for an integer of at least [`MS_FROM`].
    pub fn of_first(text: &str) -> Unit {
        match text.trim().parse::<i64>() {
            Ok(v) if v >= MS_FROM => Unit::Millis,
            _ => Unit::Seconds,
        }
    }

    /// The unit's name in messages and in `stats.json`'s `columns`.
    pub fn name(self) -> &'static str {
        match self {
            Unit::Seconds => "s",
            Unit::Millis => "ms",
        }
    }
}

/// How one file's times are read and checked: its unit and the latest time accepted.
#[derive(Debug, Clone, Copy)]
pub struct TimeRule {
    /// The file's unit.
    pub unit: Unit,
    /// The latest time accepted, in `unit` (100 years from the start of the run).
    max: i64,
}

impl TimeRule {
    /// The rule for a file in `unit`, bounded 100 years from now.
    pub fn new(unit: Unit) -> TimeRule {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
        let max_s = now.saturating_add(FUTURE_SECONDS);
        TimeRule { unit, max: if unit == Unit::Millis { max_s.saturating_mul(1000) } else { max_s } }
    }

    /// Checks an integer time in the file's unit (see the module docs).
    pub fn check(&self, v: i64) -> Result<i64, String> {
        if v > self.max {
            let hint = match self.unit {
                Unit::Seconds if v >= MS_FROM => " (milliseconds in a seconds column?)",
                Unit::Seconds => "",
                Unit::Millis => " (microseconds or nanoseconds?)",
            };
            return Err(format!("time {v} is more than 100 years from now in {}{hint}", self.unit_words()));
        }
        if self.unit == Unit::Millis && v < MS_FROM {
            return Err(format!(
                "time {v} is before 1973-03-03 in milliseconds, in a column of milliseconds (a time in seconds?)"
            ));
        }
        Ok(v)
    }

    fn unit_words(&self) -> &'static str {
        match self.unit {
            Unit::Seconds => "seconds",
            Unit::Millis => "milliseconds",
        }
    }

    /// Reads a time: an integer or a decimal number in the file's unit (a fraction is dropped: `true`), or an
    /// ISO-8601 date/time (converted; `true` when a fraction finer than the unit was dropped).
    pub fn parse(&self, text: &str) -> Result<(i64, bool), String> {
        let t = text.trim();
        if let Ok(v) = t.parse::<i64>() {
            return self.check(v).map(|v| (v, false));
        }
        if t.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '+' || c == '.')
            && t.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'))
        {
            if let Ok(v) = t.parse::<f64>() {
                if v.is_finite() && v.abs() < 9.0e18 {
                    return self.check(v.floor() as i64).map(|ts| (ts, v.fract() != 0.0));
                }
                return Err(format!("time {t:?} is out of range"));
            }
        }
        match parse_iso(t) {
            Some((secs, nanos)) => self.from_parts(secs, nanos),
            None => Err(format!(
                "time {:?} is neither an integer nor an ISO-8601 date/time (YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS[.f]][Z|+HH:MM])",
                shown(t)
            )),
        }
    }

    /// Converts seconds plus nanoseconds (a Parquet TIMESTAMP or DATE) to the file's unit.
    pub fn from_parts(&self, secs: i64, nanos: u32) -> Result<(i64, bool), String> {
        let (v, truncated) = match self.unit {
            Unit::Seconds => (Some(secs), nanos != 0),
            Unit::Millis => (
                secs.checked_mul(1000).and_then(|ms| ms.checked_add(nanos as i64 / 1_000_000)),
                !nanos.is_multiple_of(1_000_000),
            ),
        };
        let v = v.ok_or_else(|| format!("time of {secs} seconds is out of range"))?;
        self.check(v).map(|v| (v, truncated))
    }
}

fn shown(t: &str) -> String {
    let mut s: String = t.chars().take(40).collect();
    if s.len() < t.len() {
        s.push_str("...");
    }
    s
}

/// Days from 1970-01-01 to the proleptic Gregorian date `y-m-d` (H. Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

/// Parses an ISO-8601 date or date-time into seconds since the epoch (UTC) and the nanoseconds of a fraction.
///
/// Accepted: `YYYY-MM-DD`, then optionally `T` or one space, `HH:MM`, optionally `:SS` and a fraction (`.` or
/// `,`, 1 to 9 digits), then optionally `Z`, `+HH:MM`, `+HHMM` or `+HH` (or `-`). No offset means UTC.
/// Rejected: anything else (other orders such as `03/15/2021`, a month 13, a 30 February, an hour 24,
/// trailing text).
pub fn parse_iso(t: &str) -> Option<(i64, u32)> {
    let b = t.as_bytes();
    let num = |from: usize, len: usize| -> Option<u32> {
        let s = b.get(from..from + len)?;
        s.iter().all(u8::is_ascii_digit).then(|| s.iter().fold(0u32, |a, &c| a * 10 + (c - b'0') as u32))
    };
    let (y, m, d) = (num(0, 4)? as i64, num(5, 2)?, num(8, 2)?);
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') || !(1..=12).contains(&m) {
        return None;
    }
    if d == 0 || d > days_in_month(y, m) {
        return None;
    }
    let mut secs = days_from_civil(y, m, d) * 86_400;
    let mut i = 10;
    let mut nanos = 0u32;
    if i < b.len() {
        if !matches!(b[i], b'T' | b't' | b' ') {
            return None;
        }
        let (hh, mm) = (num(i + 1, 2)?, num(i + 4, 2)?);
        if b.get(i + 3) != Some(&b':') || hh > 23 || mm > 59 {
            return None;
        }
        secs += (hh * 3600 + mm * 60) as i64;
        i += 6;
        if b.get(i) == Some(&b':') {
            let ss = num(i + 1, 2)?;
            if ss > 59 {
                return None;
            }
            secs += ss as i64;
            i += 3;
            if matches!(b.get(i), Some(b'.' | b',')) {
                let start = i + 1;
                let mut end = start;
                while end < b.len() && b[end].is_ascii_digit() {
                    end += 1;
                }
                if end == start || end - start > 9 {
                    return None;
                }
                let digits = num(start, end - start)?;
                nanos = digits * 10u32.pow(9 - (end - start) as u32);
                i = end;
            }
        }
        match b.get(i) {
            None => {}
            Some(b'Z' | b'z') if i + 1 == b.len() => {}
            Some(&sign @ (b'+' | b'-')) => {
                let oh = num(i + 1, 2)?;
                let om = match b.len() - (i + 3) {
                    0 => 0,
                    3 if b[i + 3] == b':' => num(i + 4, 2)?,
                    2 => num(i + 3, 2)?,
                    _ => return None,
                };
                if oh > 23 || om > 59 {
                    return None;
                }
                let off = (oh * 3600 + om * 60) as i64;
                secs -= if sign == b'+' { off } else { -off };
            }
            _ => return None,
        }
    }
    Some((secs, nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_dates_convert_to_utc_seconds() {
        assert_eq!(parse_iso("1970-01-01"), Some((0, 0)));
        assert_eq!(parse_iso("2000-03-01"), Some((951_868_800, 0)));
        assert_eq!(parse_iso("2016-07-15 19:38:16"), Some((1_468_611_496, 0)));
        assert_eq!(parse_iso("2016-07-15T19:38:16Z"), Some((1_468_611_496, 0)));
        assert_eq!(parse_iso("2016-07-15T21:38:16+02:00"), Some((1_468_611_496, 0)));
        assert_eq!(parse_iso("2016-07-15T14:38:16-0500"), Some((1_468_611_496, 0)));
        assert_eq!(parse_iso("2016-07-15T20:38:16+01"), Some((1_468_611_496, 0)));
        assert_eq!(parse_iso("2016-07-15 19:38"), Some((1_468_611_480, 0)));
        assert_eq!(parse_iso("2016-07-15T19:38:16.25"), Some((1_468_611_496, 250_000_000)));
        assert_eq!(parse_iso("1969-12-31T23:59:59"), Some((-1, 0)));
        assert_eq!(parse_iso("2024-02-29"), Some((1_709_164_800, 0)));
        for bad in [
            "",
            "2016",
            "2016-7-15",
            "07/15/2016",
            "2016-13-01",
            "2023-02-29",
            "2016-07-15 24:00:00",
            "2016-07-15 19:60",
            "2016-07-15 19:38:16 extra",
            "2016-07-15T19:38:16.",
            "2016-07-15T19:38:16.1234567890",
            "2016-07-15T19:38:16+2",
            "yesterday",
        ] {
            assert_eq!(parse_iso(bad), None, "{bad}");
        }
    }

    #[test]
    fn units_are_told_apart_and_mix_ups_are_bad_values() {
        assert_eq!(Unit::of_first("1388534400"), Unit::Seconds);
        assert_eq!(Unit::of_first("1388534400000"), Unit::Millis);
        assert_eq!(Unit::of_first("2014-01-01"), Unit::Seconds);
        let s = TimeRule::new(Unit::Seconds);
        let ms = TimeRule::new(Unit::Millis);
        assert_eq!(s.parse("1388534400"), Ok((1_388_534_400, false)));
        assert_eq!(s.parse("-5"), Ok((-5, false)));
        assert_eq!(s.parse("1388534400.5"), Ok((1_388_534_400, true)));
        assert_eq!(s.parse("2014-01-01T00:00:00.5Z"), Ok((1_388_534_400, true)));
        assert_eq!(ms.parse("2014-01-01T00:00:00.5Z"), Ok((1_388_534_400_500, false)));
        assert_eq!(ms.parse("1388534400000"), Ok((1_388_534_400_000, false)));
        let e = s.parse("1388534400000").expect_err("an error");
        assert!(e.contains("more than 100 years from now") && e.contains("milliseconds in a seconds"), "{e}");
        let e = ms.parse("1388534400").expect_err("an error");
        assert!(e.contains("a time in seconds?"), "{e}");
        let e = ms.parse("1388534400000000").expect_err("an error");
        assert!(e.contains("microseconds"), "{e}");
        let e = s.parse("15/03/2021").expect_err("an error");
        assert!(e.contains("neither an integer nor an ISO-8601"), "{e}");
        assert!(s.parse("1e400").is_err());
        assert!(s.parse("NaN").is_err());
    }
}
