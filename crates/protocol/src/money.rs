//! Money as exact integer micro-dollars.
//!
//! Amounts cross the wire as decimal strings (`"0.50"`, `"0.001"`) so no JSON number ever passes through a
//! float. Parsing is exact: more than six decimal places is an error, never a rounding.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

const MICROS_PER_DOLLAR: i64 = 1_000_000;
const DECIMALS: usize = 6;

/// An amount of US dollars, held as integer micro-dollars (1 USD = 1,000,000).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(
    feature = "openapi",
    derive(utoipa::ToSchema),
    schema(value_type = String, pattern = r"^-?[0-9]+(\.[0-9]{1,6})?$", example = "0.50")
)]
pub struct Money(i64);

/// Why a decimal string is not an amount of money.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MoneyError {
    #[error("amount {0:?} is not a decimal number of dollars like \"0.50\"")]
    Syntax(String),
    #[error("amount {0:?} has more than 6 decimal places (the smallest unit is one micro-dollar)")]
    TooPrecise(String),
    #[error("amount {0:?} is too large")]
    Overflow(String),
}

impl Money {
    pub const ZERO: Money = Money(0);

    #[must_use]
    pub const fn from_micros(micros: i64) -> Self {
        Self(micros)
    }

    #[must_use]
    pub const fn micros(self) -> i64 {
        self.0
    }

    #[must_use]
    pub const fn is_negative(self) -> bool {
        self.0 < 0
    }

    /// The amount rounded to whole cents, halves away from zero (for showing; charges keep micros).
    #[must_use]
    pub const fn rounded_to_cents(self) -> Self {
        const CENT: i64 = MICROS_PER_DOLLAR / 100;
        let cents = self.0 / CENT;
        let rest = self.0 % CENT;
        let rounded = if rest >= CENT / 2 {
            cents.saturating_add(1)
        } else if rest <= -CENT / 2 {
            cents.saturating_sub(1)
        } else {
            cents
        };
        // Near the ends of the range, rounding out would overflow: keep the whole cents.
        match rounded.checked_mul(CENT) {
            Some(micros) => Self(micros),
            None => Self(cents * CENT),
        }
    }
}

impl FromStr for Money {
    type Err = MoneyError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let syntax = || MoneyError::Syntax(text.to_owned());
        let (negative, unsigned) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || !all_digits(whole) || !all_digits(fraction) || unsigned.ends_with('.') {
            return Err(syntax());
        }
        if fraction.len() > DECIMALS {
            return Err(MoneyError::TooPrecise(text.to_owned()));
        }
        let overflow = || MoneyError::Overflow(text.to_owned());
        let dollars: i64 = whole.parse().map_err(|_| overflow())?;
        let padded = format!("{fraction:0<DECIMALS$}");
        let micros: i64 = padded.parse().map_err(|_| syntax())?;
        let total = dollars
            .checked_mul(MICROS_PER_DOLLAR)
            .and_then(|d| d.checked_add(micros))
            .ok_or_else(overflow)?;
        Ok(Self(if negative { -total } else { total }))
    }
}

/// Writes at least two decimals (`"16.50"`), and more only when they carry value (`"0.001"`), so every
/// amount has exactly one spelling.
impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let per_dollar = MICROS_PER_DOLLAR.unsigned_abs();
        let fraction = format!("{:06}", abs % per_dollar);
        let trimmed = fraction.trim_end_matches('0');
        let shown = if trimmed.len() < 2 {
            &fraction[..2]
        } else {
            trimmed
        };
        write!(f, "{sign}{}.{shown}", abs / per_dollar)
    }
}

impl Serialize for Money {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn rounding_to_cents_takes_halves_away_from_zero() {
        let cents = |text: &str| text.parse::<Money>().unwrap().rounded_to_cents().to_string();
        assert_eq!(cents("6748.584"), "6748.58");
        assert_eq!(cents("705.217586"), "705.22");
        assert_eq!(cents("0.005"), "0.01");
        assert_eq!(cents("-0.005"), "-0.01");
        assert_eq!(cents("-0.004999"), "0.00");
        assert_eq!(
            Money::from_micros(i64::MAX).rounded_to_cents().micros() % 10_000,
            0
        );
    }

    #[test]
    fn parses_exact_amounts() {
        let cases = [
            ("0.50", 500_000),
            ("0.001", 1_000),
            ("16.5", 16_500_000),
            ("100", 100_000_000),
            ("0.000001", 1),
            ("-3.30", -3_300_000),
        ];
        for (text, micros) in cases {
            assert_eq!(text.parse::<Money>().unwrap().micros(), micros, "{text}");
        }
    }

    #[test]
    fn rejects_what_is_not_an_exact_amount() {
        for bad in [
            "", ".5", "1.", "1e3", "+1", " 1", "1,50", "0x10", "--1", "1.2.3", "NaN",
        ] {
            assert!(
                matches!(bad.parse::<Money>(), Err(MoneyError::Syntax(_))),
                "{bad:?}"
            );
        }
        assert!(matches!(
            "0.0000001".parse::<Money>(),
            Err(MoneyError::TooPrecise(_))
        ));
        assert!(matches!(
            "99999999999999999999".parse::<Money>(),
            Err(MoneyError::Overflow(_))
        ));
        assert!(matches!(
            "9223372036854.775808".parse::<Money>(),
            Err(MoneyError::Overflow(_))
        ));
    }

    #[test]
    fn has_one_spelling() {
        let spelled = |text: &str| text.parse::<Money>().unwrap().to_string();
        assert_eq!(spelled("0.5"), "0.50");
        assert_eq!(spelled("16.500000"), "16.50");
        assert_eq!(spelled("0.001"), "0.001");
        assert_eq!(spelled("7"), "7.00");
        assert_eq!(spelled("-0.000001"), "-0.000001");
        assert_eq!(Money::from_micros(i64::MIN).to_string(), "-9223372036854.775808");
    }

    #[test]
    fn refuses_json_numbers() {
        assert!(serde_json::from_str::<Money>("0.5").is_err());
        assert_eq!(
            serde_json::from_str::<Money>(r#""0.5""#).unwrap().micros(),
            500_000
        );
    }

    proptest! {
        #[test]
        fn display_round_trips(micros in any::<i64>().prop_filter("parseable", |m| *m != i64::MIN)) {
            let money = Money::from_micros(micros);
            prop_assert_eq!(money.to_string().parse::<Money>().unwrap(), money);
        }

        #[test]
        fn never_panics(text in "\\PC{0,24}") {
            let _ = text.parse::<Money>();
        }
    }
}
