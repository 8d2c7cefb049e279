//! Billing periods: calendar months in UTC, named `YYYY-MM`.
//!
//! A period runs from 00:00:00 UTC on its first day up to, not including, 00:00:00 UTC on the first day
//! of the next month; a charge belongs to the period its `charged_at` falls in, whatever the org's or
//! the reader's time zone.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};

use crate::db::Time;

/// A calendar month in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Period {
    year: i32,
    /// 1..=12.
    month: u32,
}

/// Why a string is not a period.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a month: write it as YYYY-MM, e.g. 2026-10")]
pub struct PeriodError(String);

impl Period {
    /// The period `at` falls in.
    #[must_use]
    pub fn containing(at: DateTime<Utc>) -> Self {
        Self {
            year: at.year(),
            month: at.month(),
        }
    }

    /// The period now is in.
    #[must_use]
    pub fn current() -> Self {
        Self::containing(Time::now().0)
    }

    /// The period before this one.
    #[must_use]
    pub fn previous(self) -> Self {
        match self.month {
            1 => Self {
                year: self.year - 1,
                month: 12,
            },
            month => Self {
                year: self.year,
                month: month - 1,
            },
        }
    }

    /// The period after this one.
    #[must_use]
    pub fn next(self) -> Self {
        match self.month {
            12 => Self {
                year: self.year + 1,
                month: 1,
            },
            month => Self {
                year: self.year,
                month: month + 1,
            },
        }
    }

    /// The first instant of the period.
    #[must_use]
    pub fn start(self) -> Time {
        let first = Utc.with_ymd_and_hms(self.year, self.month, 1, 0, 0, 0).single();
        Time(first.unwrap_or_default())
    }

    /// The first instant after the period.
    #[must_use]
    pub fn end(self) -> Time {
        self.next().start()
    }

    /// Whether the whole period lies before `at`.
    #[must_use]
    pub fn has_ended_by(self, at: Time) -> bool {
        self.end() <= at
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl FromStr for Period {
    type Err = PeriodError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let refused = || PeriodError(text.to_owned());
        let (year, month) = text.split_once('-').ok_or_else(refused)?;
        if year.len() != 4
            || month.len() != 2
            || !(year.bytes().chain(month.bytes())).all(|b| b.is_ascii_digit())
        {
            return Err(refused());
        }
        let year: i32 = year.parse().map_err(|_| refused())?;
        let month: u32 = month.parse().map_err(|_| refused())?;
        // 1970 on: times before the epoch are not stored.
        NaiveDate::from_ymd_opt(year, month, 1)
            .filter(|_| year >= 1970)
            .map(|_| Self { year, month })
            .ok_or_else(refused)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_period_is_a_utc_calendar_month() {
        let october: Period = "2026-10".parse().unwrap();
        assert_eq!(october.start().0.to_rfc3339(), "2026-10-01T00:00:00+00:00");
        assert_eq!(october.end().0.to_rfc3339(), "2026-11-01T00:00:00+00:00");
        let december: Period = "2026-12".parse().unwrap();
        assert_eq!(december.next().to_string(), "2027-01");
        assert_eq!(december.next().previous(), december);
        let last_micro = Time::from_unix_micros(october.end().0.timestamp_micros() - 1);
        assert_eq!(Period::containing(last_micro.0), october);
        assert!(october.has_ended_by(october.end()));
        assert!(!october.has_ended_by(last_micro));
    }

    #[test]
    fn only_yyyy_mm_is_a_period() {
        for bad in [
            "2026-13",
            "2026-00",
            "2026-1",
            "26-10",
            "2026/10",
            "",
            "2026-10-01",
            "october",
            "+026-10",
            "1969-12",
        ] {
            let error = bad.parse::<Period>().unwrap_err();
            assert!(error.to_string().contains("YYYY-MM"), "{bad}: {error}");
        }
    }
}
