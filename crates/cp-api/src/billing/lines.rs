//! An org's charges of a period, summed into a line per agent and charge kind.
//!
//! A run's charge has three parts (base, units, compute) but its split was made on the total, so the
//! developer's part is attributed to the parts in proportion, each rounded down, and what rounding left
//! goes to the last part with room for it: per run the parts' developer amounts sum exactly to the
//! charge's, and no part's developer amount exceeds the part. A subscription fee is one part. Sums are
//! checked: an amount that would overflow is refused, never wrapped.

use std::collections::BTreeMap;

use protocol::{FieldError, Money};
use serde::Serialize;

use super::pricing::BillingError;
use crate::db::charges::Charge;
use crate::db::subscriptions::SubscriptionCharge;
use crate::error::Error;

/// What a line charges for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Each run's base price; the quantity is runs.
    Base,
    /// The per-unit price; the quantity is units counted.
    Units,
    /// CPU time; the quantity is CPU milliseconds.
    Compute,
    /// Monthly fees; the quantity is fees.
    Subscription,
}

impl Kind {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Base => "base",
            Self::Units => "units",
            Self::Compute => "compute",
            Self::Subscription => "subscription",
        }
    }

    /// The kind stored as `text`.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Base, Self::Units, Self::Compute, Self::Subscription]
            .into_iter()
            .find(|kind| kind.as_str() == text)
    }
}

/// One line: an agent's charges of one kind in the period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Line {
    /// The agent's reverse-DNS id.
    pub agent: String,
    pub kind: Kind,
    pub quantity: i64,
    /// The unit counted, for `units` lines.
    pub unit: Option<String>,
    /// What the org pays.
    #[schema(value_type = String)]
    pub amount: Money,
    /// The developer's part of the amount.
    #[schema(value_type = String)]
    pub developer: Money,
    /// The platform's part: the rest.
    #[schema(value_type = String)]
    pub platform: Money,
}

fn overflow() -> Error {
    Error::Validation(vec![FieldError::new(
        "amount",
        BillingError::Overflow("the period's sum").to_string(),
    )])
}

/// `a + b`, refused rather than wrapped.
///
/// # Errors
///
/// [`Error::Validation`] on overflow.
pub fn add(a: i64, b: i64) -> Result<i64, Error> {
    a.checked_add(b).ok_or_else(overflow)
}

/// The developer's part of each of `parts`, given the developer's part of their sum: proportional,
/// rounded down, the remainder to the last part with room. The result sums to `developer` and each
/// entry lies in `0..=part` when `0 <= developer <= sum(parts)` and the parts are not negative.
#[must_use]
pub fn attribute<const N: usize>(parts: [i64; N], developer: i64) -> [i64; N] {
    let total: i128 = parts.iter().map(|part| i128::from(*part)).sum();
    let mut shares = [0_i64; N];
    if total <= 0 {
        return shares;
    }
    for (share, part) in shares.iter_mut().zip(parts) {
        let exact = i128::from(part) * i128::from(developer) / total;
        *share = i64::try_from(exact).unwrap_or_default();
    }
    let mut left = developer - shares.iter().sum::<i64>();
    for (share, part) in shares.iter_mut().zip(parts).rev() {
        let room = (part - *share).min(left);
        if room > 0 {
            *share += room;
            left -= room;
        }
    }
    shares
}

#[derive(Debug, Default)]
struct Sum {
    quantity: i64,
    unit: Option<String>,
    amount: i64,
    developer: i64,
}

/// The lines of a period's charges and fees, by agent then kind, without empty ones.
///
/// # Errors
///
/// [`Error::Validation`] when a sum would overflow.
pub fn lines(charges: &[Charge], fees: &[SubscriptionCharge]) -> Result<Vec<Line>, Error> {
    let mut sums: BTreeMap<(String, Kind), Sum> = BTreeMap::new();
    let mut put =
        |agent: &str, kind: Kind, quantity: i64, unit: Option<&str>, amount: i64, developer: i64| {
            if amount == 0 {
                return Ok::<(), Error>(());
            }
            let sum = sums.entry((agent.to_owned(), kind)).or_default();
            sum.quantity = add(sum.quantity, quantity)?;
            sum.amount = add(sum.amount, amount)?;
            sum.developer = add(sum.developer, developer)?;
            if sum.unit.is_none() {
                sum.unit = unit.map(str::to_owned);
            }
            Ok(())
        };
    for charge in charges {
        let parts = [charge.base_micros, charge.units_micros, charge.compute_micros];
        let [base, units, compute] = attribute(parts, charge.developer_micros);
        put(&charge.agent, Kind::Base, 1, None, charge.base_micros, base)?;
        put(
            &charge.agent,
            Kind::Units,
            charge.unit_count,
            charge.unit.as_deref(),
            charge.units_micros,
            units,
        )?;
        put(
            &charge.agent,
            Kind::Compute,
            charge.cpu_ms,
            None,
            charge.compute_micros,
            compute,
        )?;
    }
    for fee in fees {
        put(
            &fee.agent,
            Kind::Subscription,
            1,
            None,
            fee.total_micros,
            fee.developer_micros,
        )?;
    }
    Ok(sums
        .into_iter()
        .map(|((agent, kind), sum)| Line {
            agent,
            kind,
            quantity: sum.quantity,
            unit: sum.unit,
            amount: Money::from_micros(sum.amount),
            developer: Money::from_micros(sum.developer),
            platform: Money::from_micros(sum.amount - sum.developer),
        })
        .collect())
}

/// The sum of the lines' amounts, developer parts and platform parts.
///
/// # Errors
///
/// [`Error::Validation`] when a sum would overflow.
pub fn totals(lines: &[Line]) -> Result<(Money, Money, Money), Error> {
    let (mut amount, mut developer, mut platform) = (0_i64, 0_i64, 0_i64);
    for line in lines {
        amount = add(amount, line.amount.micros())?;
        developer = add(developer, line.developer.micros())?;
        platform = add(platform, line.platform.micros())?;
    }
    Ok((
        Money::from_micros(amount),
        Money::from_micros(developer),
        Money::from_micros(platform),
    ))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn the_seeds_run_attributes_eighty_percent_of_each_part() {
        let parts = [500_000, 15_000_000, 1_000_000];
        assert_eq!(attribute(parts, 13_200_000), [400_000, 12_000_000, 800_000]);
    }

    #[test]
    fn what_rounding_leaves_goes_to_a_part_with_room() {
        // 1 + 1 micro-dollars at 50%: each rounds down to 0; the 1 left goes to the last part.
        assert_eq!(attribute([1, 1], 1), [0, 1]);
        // The last part is empty: the remainder goes to one that has room.
        assert_eq!(attribute([1, 1, 0], 1), [0, 1, 0]);
        assert_eq!(attribute([0, 0, 0], 0), [0, 0, 0]);
    }

    proptest! {
        #[test]
        fn attribution_sums_to_the_developers_part_and_stays_within_each_part(
            parts in proptest::array::uniform3(0_i64..=i64::MAX / 4),
            share in 0_i64..=10_000,
        ) {
            let total: i64 = parts.iter().sum();
            let developer = i64::try_from(i128::from(total) * i128::from(share) / 10_000).unwrap();
            let shares = attribute(parts, developer);
            prop_assert_eq!(shares.iter().sum::<i64>(), developer);
            for (share, part) in shares.iter().zip(parts) {
                prop_assert!((0..=part).contains(share));
            }
        }
    }
}
