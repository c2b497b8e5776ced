//! Calendar days and partially known dates, with the little arithmetic the
//! generator needs (ages, elapsed time) and no dependency on a date crate.

use std::fmt;

/// A calendar day in the proleptic Gregorian calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Day {
    /// Year, e.g. 2026.
    pub year: i32,
    /// Month, 1–12.
    pub month: u8,
    /// Day of the month, 1–31.
    pub day: u8,
}

impl Day {
    /// A day from its parts; no validation beyond debug assertions.
    pub const fn new(year: i32, month: u8, day: u8) -> Self {
        debug_assert!(month >= 1 && month <= 12 && day >= 1 && day <= 31);
        Self { year, month, day }
    }

    /// Days since 1970-01-01 (Howard Hinnant's `days_from_civil`).
    pub fn to_days(self) -> i64 {
        let y = i64::from(self.year) - i64::from(self.month <= 2);
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = i64::from(self.month);
        let mp = if m > 2 { m - 3 } else { m + 9 };
        let doy = (153 * mp + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// The day `days` after 1970-01-01 (inverse of [`Day::to_days`]).
    pub fn from_days(days: i64) -> Self {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
        let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
        Self { year, month, day }
    }

    /// This day moved by `days` (negative goes back).
    pub fn add_days(self, days: i64) -> Self {
        Self::from_days(self.to_days() + days)
    }

    /// Days from `self` to `later` (negative if `later` is earlier).
    pub fn days_until(self, later: Day) -> i64 {
        later.to_days() - self.to_days()
    }

    /// Completed years from `self` (a birth day) to `on`: an age.
    pub fn years_until(self, on: Day) -> i32 {
        let mut years = on.year - self.year;
        if (on.month, on.day) < (self.month, self.day) {
            years -= 1;
        }
        years
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// A date known only in part: year always, month and day when known.
/// `estimated` marks dates someone filled in rather than knew, such as the
/// 1 January convention for unknown birthdays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PartialDay {
    /// Year.
    pub year: i32,
    /// Month 1–12, if known.
    pub month: Option<u8>,
    /// Day of month, if known (only with a month).
    pub day: Option<u8>,
    /// The date was estimated or filled in by convention.
    pub estimated: bool,
}

impl PartialDay {
    /// The full day, as known.
    pub fn full(day: Day) -> Self {
        Self {
            year: day.year,
            month: Some(day.month),
            day: Some(day.day),
            estimated: false,
        }
    }

    /// Year and month only.
    pub fn year_month(day: Day) -> Self {
        Self {
            year: day.year,
            month: Some(day.month),
            day: None,
            estimated: false,
        }
    }

    /// Year only.
    pub fn year_only(year: i32) -> Self {
        Self {
            year,
            month: None,
            day: None,
            estimated: false,
        }
    }

    /// The earliest day this partial date could mean.
    pub fn earliest(&self) -> Day {
        Day::new(self.year, self.month.unwrap_or(1), self.day.unwrap_or(1))
    }

    /// The latest day this partial date could mean.
    pub fn latest(&self) -> Day {
        match (self.month, self.day) {
            (Some(m), Some(d)) => Day::new(self.year, m, d),
            (Some(m), None) => {
                let (ny, nm) = if m == 12 {
                    (self.year + 1, 1)
                } else {
                    (self.year, m + 1)
                };
                Day::new(ny, nm, 1).add_days(-1)
            }
            _ => Day::new(self.year, 12, 31),
        }
    }
}

impl fmt::Display for PartialDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}", self.year)?;
        if let Some(m) = self.month {
            write!(f, "-{m:02}")?;
            if let Some(d) = self.day {
                write!(f, "-{d:02}")?;
            }
        }
        if self.estimated {
            write!(f, " (est.)")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_round_trip() {
        for d in [-800_000_i64, -1, 0, 1, 19_000, 20_454, 60_000] {
            assert_eq!(Day::from_days(d).to_days(), d);
        }
        assert_eq!(Day::new(1970, 1, 1).to_days(), 0);
        assert_eq!(Day::new(2024, 3, 1).add_days(-1), Day::new(2024, 2, 29));
    }

    #[test]
    fn ages_count_completed_years() {
        let born = Day::new(2015, 6, 10);
        assert_eq!(born.years_until(Day::new(2025, 6, 9)), 9);
        assert_eq!(born.years_until(Day::new(2025, 6, 10)), 10);
    }

    #[test]
    fn partial_bounds() {
        let p = PartialDay::year_month(Day::new(2024, 2, 7));
        assert_eq!(p.earliest(), Day::new(2024, 2, 1));
        assert_eq!(p.latest(), Day::new(2024, 2, 29));
        assert_eq!(PartialDay::year_only(2020).latest(), Day::new(2020, 12, 31));
    }
}
