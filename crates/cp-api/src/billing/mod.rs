//! Usage billing and revenue.
//!
//! - What a run costs under its manifest's pricing ([`price`]), how a charge splits between the developer
//!   and the platform ([`split`]), and the charge and its ledger journal written once per run
//!   ([`charge`]).
//! - Subscriptions to an agent's monthly fee, charged once per period ([`subscriptions`]).
//! - Periods: calendar months in UTC, `YYYY-MM` ([`Period`]).
//! - Closing a period ([`close_period`]): each org's invoice, a line per agent and charge kind
//!   ([`invoices`], [`lines`]), and each developer org's payout, carried over below $100 ([`payouts`]).
//! - Payment through a [`PaymentProvider`]; the default, [`Manual`], leaves it to a platform admin.
//!
//! Money is integer micro-dollars throughout. Compute rounds half up; a developer's share rounds down and
//! the platform gets the rest; on invoice lines the developer's part of a run is attributed to its parts
//! in proportion, rounded down, the remainder to the last part with room. Sums are checked: what would
//! overflow is refused, never wrapped. Every journal's entries sum to zero.

mod close;
pub mod invoices;
mod ledger;
pub mod limits;
pub mod lines;
pub mod overview;
mod payment;
pub mod payouts;
mod period;
mod pricing;
pub mod schedule;
pub mod subscriptions;

pub use close::{Closed, close_period};
pub use ledger::{
    Bill, ChargeView, DEVELOPER_SHARE_SETTING, Journal, Seller, book, charge, charge_of, developer_share,
};
pub use payment::{Collection, Manual, PaymentProvider};
pub use period::{Period, PeriodError};
pub use pricing::{BillingError, Price, price, split};
