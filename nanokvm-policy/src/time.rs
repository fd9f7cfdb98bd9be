//! Time as the engine sees it: a UTC instant the caller passes in.
//!
//! The engine never reads a clock; every decision takes a [`Timestamp`]. It counts
//! milliseconds since the Unix epoch, which makes UTC calendar windows (second, minute,
//! hour, day) plain integer divisions, because Unix time has no leap seconds.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::Error;

/// A UTC instant, in milliseconds since the Unix epoch.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The instant `ms` milliseconds after the Unix epoch (negative is before).
    #[must_use]
    pub const fn from_unix_millis(ms: i64) -> Self {
        Self(ms)
    }

    /// The instant `secs` seconds after the Unix epoch.
    #[must_use]
    pub const fn from_unix_secs(secs: i64) -> Self {
        Self(secs.saturating_mul(1000))
    }

    /// Milliseconds since the Unix epoch.
    #[must_use]
    pub const fn unix_millis(self) -> i64 {
        self.0
    }

    /// Converts a [`SystemTime`] (for callers that read the clock themselves).
    #[must_use]
    pub fn from_system_time(time: SystemTime) -> Self {
        match time.duration_since(UNIX_EPOCH) {
            Ok(after) => Self(i64::try_from(after.as_millis()).unwrap_or(i64::MAX)),
            Err(before) => Self(-i64::try_from(before.duration().as_millis()).unwrap_or(i64::MAX)),
        }
    }

    /// This instant moved forward by `d` (saturating).
    #[must_use]
    pub fn after(self, d: Duration) -> Self {
        Self(
            self.0
                .saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
        )
    }

    /// Parses an RFC 3339 timestamp such as `2026-03-04T05:29:59+05:30` or
    /// `2026-03-03T23:59:59.250Z`. The offset is applied, so the result is UTC.
    /// Fractions of a second beyond milliseconds are truncated.
    ///
    /// # Errors
    ///
    /// [`Error::Timestamp`] naming what is wrong.
    ///
    /// # Example
    ///
    /// ```
    /// use nanokvm_policy::Timestamp;
    ///
    /// let local = Timestamp::parse_rfc3339("2026-03-04T05:29:59+05:30")?;
    /// let utc = Timestamp::parse_rfc3339("2026-03-03T23:59:59Z")?;
    /// assert_eq!(local, utc);
    /// # Ok::<(), nanokvm_policy::Error>(())
    /// ```
    pub fn parse_rfc3339(input: &str) -> Result<Self, Error> {
        let fail = |message| Error::Timestamp {
            input: input.to_owned(),
            message,
        };
        let b = input.as_bytes();
        if b.len() < 20 {
            return Err(fail("too short"));
        }
        let num = |range: std::ops::Range<usize>| -> Result<i64, Error> {
            let part = &b[range];
            if part.iter().all(u8::is_ascii_digit) {
                Ok(part
                    .iter()
                    .fold(0_i64, |acc, d| acc * 10 + i64::from(d - b'0')))
            } else {
                Err(fail("expected digits"))
            }
        };
        if b[4] != b'-' || b[7] != b'-' || b[13] != b':' || b[16] != b':' {
            return Err(fail("expected YYYY-MM-DDTHH:MM:SS"));
        }
        if !matches!(b[10], b'T' | b't' | b' ') {
            return Err(fail("expected `T` between date and time"));
        }
        let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
        if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
            return Err(fail("date out of range"));
        }
        // A leap second (60) is accepted and counted as the next second, as Unix time does.
        if hour > 23 || minute > 59 || second > 60 {
            return Err(fail("time out of range"));
        }
        let mut i = 19;
        let mut millis = 0_i64;
        if b[i] == b'.' {
            i += 1;
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                if i - start < 3 {
                    millis = millis * 10 + i64::from(b[i] - b'0');
                }
                i += 1;
            }
            if i == start {
                return Err(fail("expected digits after `.`"));
            }
            for _ in (i - start)..3 {
                millis *= 10;
            }
        }
        let offset_secs = match b.get(i) {
            Some(b'Z' | b'z') if i + 1 == b.len() => 0,
            Some(sign @ (b'+' | b'-')) if i + 6 == b.len() && b[i + 3] == b':' => {
                let (h, m) = (num(i + 1..i + 3)?, num(i + 4..i + 6)?);
                if h > 23 || m > 59 {
                    return Err(fail("offset out of range"));
                }
                let secs = h * 3600 + m * 60;
                if *sign == b'+' { secs } else { -secs }
            }
            _ => {
                return Err(fail(
                    "expected `Z` or an offset such as `+05:30` at the end",
                ));
            }
        };
        let days = days_from_civil(year, month, day);
        let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_secs;
        Ok(Self(secs * 1000 + millis))
    }
}

impl fmt::Display for Timestamp {
    /// RFC 3339 in UTC with milliseconds: `2026-03-03T23:59:59.000Z`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.rem_euclid(1000);
        let secs = self.0.div_euclid(1000);
        let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
        let (y, m, d) = civil_from_days(days);
        write!(
            f,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z",
            rem / 3600,
            rem / 60 % 60,
            rem % 60
        )
    }
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_display() {
        for ms in [0, 1, 86_399_999, 1_772_582_399_000, -1, -86_400_001] {
            let t = Timestamp::from_unix_millis(ms);
            assert_eq!(
                Timestamp::parse_rfc3339(&t.to_string()).ok(),
                Some(t),
                "{t}"
            );
        }
    }

    #[test]
    fn rejects_malformed_input() {
        for bad in [
            "",
            "2026-03-04",
            "2026-03-04T05:29:59",
            "2026-02-30T00:00:00Z",
            "2026-03-04T24:00:00Z",
            "2026-03-04T05:29:59+0530",
            "2026-03-04T05:29:59.Z",
            "2026-03-04T05:29:59Zjunk",
            "２026-03-04T05:29:59Z",
        ] {
            assert!(Timestamp::parse_rfc3339(bad).is_err(), "{bad}");
        }
    }
}
