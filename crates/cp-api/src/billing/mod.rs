//! Usage billing: what a run costs under its manifest's pricing ([`price`]), how the charge splits between
//! the developer and the platform ([`split`]), and the charge and its ledger entries written once per run
//! ([`charge`]).

mod ledger;
pub mod limits;
mod pricing;

pub use ledger::{ChargeView, DEVELOPER_SHARE_SETTING, Seller, charge, charge_of};
pub use pricing::{BillingError, Price, price, split};
