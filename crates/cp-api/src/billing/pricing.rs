//! Prices in exact integer micro-dollars.
//!
//! Rounding: base and per-unit prices multiply exactly; compute is `per_cpu_hour × cpu_ms / 3,600,000`,
//! rounded half up to the micro-dollar; the developer's share is `total × share / 10,000` rounded down to
//! the micro-dollar and the platform gets the rest, so the parts always sum to the total. Anything that
//! would overflow an `i64` of micro-dollars is refused, never wrapped.

use manifest::Pricing;
use protocol::{Money, Usage};
use serde::Serialize;

const CPU_MS_PER_HOUR: i128 = 3_600_000;
/// Shares are in basis points: 10,000 is all of it.
pub const WHOLE: i64 = 10_000;

/// Why a run could not be priced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BillingError {
    #[error("the charge for {0} overflows: a price or counter is out of range")]
    Overflow(&'static str),
    #[error("a developer share of {0} basis points is outside 0..=10000")]
    Share(i64),
}

/// What a run costs, part by part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Price {
    pub base: Money,
    /// Per-unit part: the units counted and their cost.
    pub units: Money,
    pub unit_count: u64,
    pub compute: Money,
    pub cpu_ms: u64,
    pub total: Money,
}

fn to_money(micros: i128, what: &'static str) -> Result<Money, BillingError> {
    i64::try_from(micros)
        .map(Money::from_micros)
        .map_err(|_| BillingError::Overflow(what))
}

/// The price of a run that used `usage` under `pricing` (the monthly fee is charged per period, not here).
///
/// # Errors
///
/// [`BillingError::Overflow`] when a part or the total leaves the range of micro-dollars.
pub fn price(pricing: &Pricing, usage: &Usage) -> Result<Price, BillingError> {
    let base = pricing.per_run.unwrap_or(Money::ZERO);
    let (units, unit_count) = match &pricing.per_unit {
        Some(per_unit) => {
            let count = usage.units.get(&per_unit.unit).copied().unwrap_or(0);
            let cost = i128::from(per_unit.price.micros()) * i128::from(count);
            (to_money(cost, "units")?, count)
        }
        None => (Money::ZERO, 0),
    };
    let compute = match pricing.per_cpu_hour {
        Some(per_hour) => {
            let exact = i128::from(per_hour.micros()) * i128::from(usage.cpu_ms);
            // Half up: add half the divisor before dividing.
            to_money((exact + CPU_MS_PER_HOUR / 2) / CPU_MS_PER_HOUR, "compute")?
        }
        None => Money::ZERO,
    };
    let total = i128::from(base.micros()) + i128::from(units.micros()) + i128::from(compute.micros());
    Ok(Price {
        base,
        units,
        unit_count,
        compute,
        cpu_ms: usage.cpu_ms,
        total: to_money(total, "the total")?,
    })
}

/// The developer's and the platform's parts of `total`, for a developer share in basis points.
///
/// # Errors
///
/// [`BillingError::Share`] for a share outside 0..=10,000.
pub fn split(total: Money, developer_share: i64) -> Result<(Money, Money), BillingError> {
    if !(0..=WHOLE).contains(&developer_share) {
        return Err(BillingError::Share(developer_share));
    }
    let developer = i128::from(total.micros()) * i128::from(developer_share) / i128::from(WHOLE);
    let developer = to_money(developer, "the developer's share")?;
    let platform = Money::from_micros(total.micros() - developer.micros());
    Ok((developer, platform))
}

impl Price {
    /// The price held to `max` (a run's maximum charge): what passes it comes off compute first, then units,
    /// then the base, so the parts still sum to the total.
    #[must_use]
    pub fn capped(mut self, max: Money) -> Self {
        let max = max.micros().max(0);
        let mut over = self.total.micros() - max;
        if over <= 0 {
            return self;
        }
        for part in [&mut self.compute, &mut self.units, &mut self.base] {
            let off = over.min(part.micros());
            *part = Money::from_micros(part.micros() - off);
            over -= off;
        }
        self.total = Money::from_micros(max);
        self
    }
}

#[cfg(test)]
mod tests {

    use std::collections::BTreeMap;

    use manifest::UnitPrice;
    use proptest::prelude::*;

    use super::*;

    fn money(text: &str) -> Money {
        text.parse().unwrap()
    }

    fn normalizer() -> Pricing {
        Pricing {
            per_run: Some(money("0.50")),
            per_unit: Some(UnitPrice {
                unit: "record".to_owned(),
                price: money("0.001"),
            }),
            per_cpu_hour: Some(money("0.50")),
            monthly: None,
        }
    }

    fn usage(records: u64, cpu_ms: u64) -> Usage {
        Usage {
            cpu_ms,
            units: BTreeMap::from([("record".to_owned(), records)]),
            ..Usage::default()
        }
    }

    #[test]
    fn a_capped_price_takes_what_passes_the_cap_off_compute_then_units_then_base() {
        let full = price(&normalizer(), &usage(15_000, 2 * 3_600_000)).unwrap();
        assert_eq!(
            full.capped(money("20.00")),
            full,
            "under the cap, nothing changes"
        );
        let capped = full.capped(money("15.25"));
        assert_eq!(
            (capped.base, capped.units, capped.compute, capped.total),
            (money("0.50"), money("14.75"), money("0.00"), money("15.25"))
        );
        let capped = full.capped(money("0.25"));
        assert_eq!(
            (capped.base, capped.units, capped.compute, capped.total),
            (money("0.25"), money("0.00"), money("0.00"), money("0.25"))
        );
        assert_eq!(capped.unit_count, 15_000, "the usage stays as counted");
    }

    #[test]
    fn the_seeds_example_comes_out_exactly() {
        let price = price(&normalizer(), &usage(15_000, 2 * 3_600_000)).unwrap();
        assert_eq!(price.base, money("0.50"));
        assert_eq!(price.units, money("15.00"));
        assert_eq!(price.compute, money("1.00"));
        assert_eq!(price.total, money("16.50"));
        let (developer, platform) = split(price.total, 8_000).unwrap();
        assert_eq!((developer, platform), (money("13.20"), money("3.30")));
    }

    #[test]
    fn compute_rounds_half_up_to_the_micro_dollar() {
        // $0.50 an hour for 1 ms is 0.1389 micro-dollars: rounds to 0; for 2 ms, 0.2778: 0; 4 ms, 0.5556: 1.
        let pricing = normalizer();
        assert_eq!(price(&pricing, &usage(0, 1)).unwrap().compute, Money::ZERO);
        assert_eq!(
            price(&pricing, &usage(0, 4)).unwrap().compute,
            Money::from_micros(1)
        );
        // 7.2 s at $1/h is exactly 2,000 micro-dollars.
        let hourly = Pricing {
            per_cpu_hour: Some(money("1")),
            ..Pricing::default()
        };
        assert_eq!(
            price(&hourly, &usage(0, 7_200)).unwrap().compute,
            Money::from_micros(2_000)
        );
    }

    #[test]
    fn a_free_agent_costs_nothing_and_overflow_is_refused() {
        assert_eq!(
            price(&Pricing::default(), &usage(5, 5)).unwrap().total,
            Money::ZERO
        );
        let huge = usage(u64::MAX, 0);
        assert_eq!(price(&normalizer(), &huge), Err(BillingError::Overflow("units")));
        assert_eq!(split(money("1"), 10_001), Err(BillingError::Share(10_001)));
    }

    proptest! {
        #[test]
        fn the_parts_of_a_split_sum_to_the_total(total in 0_i64..=i64::MAX / 10_000, share in 0_i64..=10_000) {
            let (developer, platform) = split(Money::from_micros(total), share).unwrap();
            prop_assert_eq!(developer.micros() + platform.micros(), total);
            prop_assert!(developer.micros() >= 0 && platform.micros() >= 0);
        }
    }
}
