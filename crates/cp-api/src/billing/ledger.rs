//! Charging a run: its price, split, stored once with its journal in the ledger.

use manifest::Pricing;
use protocol::{FieldError, Money, Usage};
use serde::Serialize;

use super::pricing::{BillingError, price, split};
use crate::db::charges::Charge;
use crate::db::ledger_entries::LedgerEntry;
use crate::db::runs::Run;
use crate::db::{self, Conn, Id, Time};
use crate::error::Error;

/// The platform setting holding the developer's share, in basis points (8,000 is 80%).
pub const DEVELOPER_SHARE_SETTING: &str = "developer_share_bps";
const DEFAULT_DEVELOPER_SHARE: &str = "8000";

/// Who sells what a run ran.
#[derive(Debug, Clone)]
pub struct Seller<'a> {
    pub developer_org: Id,
    /// The agent's reverse-DNS id.
    pub agent: &'a str,
    pub pricing: &'a Pricing,
}

/// A completed run's charge and its journal (customer debited, developer and platform credited).
#[derive(Debug, Clone)]
pub struct Bill {
    pub charge: Charge,
    pub entries: [LedgerEntry; 3],
}

impl Bill {
    /// Adds its writes to the transaction's: each once per run, however often the completion is reported.
    pub fn add_to<'a>(&'a self, writes: &mut db::writes::Writes<'a>) {
        writes.add(db::charges::inserting_once(&self.charge));
        for entry in &self.entries {
            writes.add(db::ledger_entries::inserting_once(entry));
        }
    }
}

/// Bills a completed run, inside the caller's transaction: prices its usage and splits the price. A free
/// agent's runs are not charged.
///
/// # Errors
///
/// [`Error::Validation`] when the usage would overflow the charge; database errors.
pub async fn charge(
    tx: &mut Conn<'_>,
    run: &Run,
    usage: &Usage,
    seller: &Seller<'_>,
) -> Result<Option<Bill>, Error> {
    if seller.pricing.is_free() {
        return Ok(None);
    }
    let refused = |error: BillingError| Error::Validation(vec![FieldError::new("usage", error.to_string())]);
    let share = developer_share(tx).await?;
    let mut priced = price(seller.pricing, usage).map_err(refused)?;
    if let Some(max) = run.max_charge_micros {
        priced = priced.capped(Money::from_micros(max));
    }
    let (developer, platform) =
        split(priced.total, share).map_err(|error| Error::Internal(error.to_string()))?;
    let now = Time::now();
    let count = |n: u64| i64::try_from(n).map_err(|_| refused(BillingError::Overflow("a counter")));
    let charge = Charge {
        run_id: run.id,
        org_id: run.org_id,
        developer_org_id: seller.developer_org,
        deployment_id: run.deployment_id,
        agent: seller.agent.to_owned(),
        base_micros: priced.base.micros(),
        unit: seller.pricing.per_unit.as_ref().map(|unit| unit.unit.clone()),
        unit_count: count(priced.unit_count)?,
        units_micros: priced.units.micros(),
        cpu_ms: count(priced.cpu_ms)?,
        compute_micros: priced.compute.micros(),
        total_micros: priced.total.micros(),
        developer_share: i32::try_from(share).unwrap_or_default(),
        developer_micros: developer.micros(),
        platform_micros: platform.micros(),
        charged_at: now,
    };
    let entries = entries(&Journal {
        id: run.id,
        customer_org: run.org_id,
        developer_org: seller.developer_org,
        developer,
        platform,
        at: now,
    })?;
    Ok(Some(Bill { charge, entries }))
}

/// The developer's share of each charge now, in basis points.
///
/// # Errors
///
/// [`Error::Internal`] when the setting is not a number; database errors.
pub async fn developer_share(tx: &mut Conn<'_>) -> Result<i64, Error> {
    // Read, not initialised: a completion writes nothing it does not need to.
    let share = db::settings::get(tx, DEVELOPER_SHARE_SETTING)
        .await?
        .unwrap_or_else(|| DEFAULT_DEVELOPER_SHARE.into());
    std::str::from_utf8(&share)
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .ok_or_else(|| Error::Internal(format!("the setting {DEVELOPER_SHARE_SETTING} is not a number")))
}

/// One charge's entries in the double-entry ledger.
#[derive(Debug, Clone, Copy)]
pub struct Journal {
    pub id: Id,
    /// Debited the whole charge.
    pub customer_org: Id,
    /// Credited the developer's part.
    pub developer_org: Id,
    pub developer: Money,
    /// Credited to the platform.
    pub platform: Money,
    pub at: Time,
}

/// Writes the journal: the customer debited what the developer and the platform are credited, so its
/// entries sum to zero.
///
/// # Errors
///
/// [`Error::Validation`] when the total overflows; database errors.
pub async fn book(tx: &mut Conn<'_>, journal: &Journal) -> Result<(), Error> {
    db::ledger_entries::insert_all(tx, &entries(journal)?).await?;
    Ok(())
}

/// The journal's entries.
fn entries(journal: &Journal) -> Result<[LedgerEntry; 3], Error> {
    let total = journal
        .developer
        .micros()
        .checked_add(journal.platform.micros())
        .ok_or_else(|| {
            Error::Validation(vec![FieldError::new(
                "total",
                BillingError::Overflow("the total").to_string(),
            )])
        })?;
    let entries = [
        (format!("customer:{}", journal.customer_org.0), -total),
        (
            format!("developer:{}", journal.developer_org.0),
            journal.developer.micros(),
        ),
        ("platform".to_owned(), journal.platform.micros()),
    ];
    Ok(entries.map(|(account, amount_micros)| LedgerEntry {
        journal_id: journal.id,
        account,
        amount_micros,
        at: journal.at,
    }))
}

/// A run's charge as its org sees it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ChargeView {
    /// What the org pays.
    #[schema(value_type = String)]
    pub total: Money,
    #[schema(value_type = String)]
    pub base: Money,
    pub unit: Option<String>,
    pub unit_count: i64,
    #[schema(value_type = String)]
    pub units: Money,
    pub cpu_ms: i64,
    #[schema(value_type = String)]
    pub compute: Money,
    /// The developer's part (`developer_share` basis points of the total, rounded down).
    #[schema(value_type = String)]
    pub developer: Money,
    /// The platform's part: the rest.
    #[schema(value_type = String)]
    pub platform: Money,
    pub developer_share: i32,
    pub charged_at: chrono::DateTime<chrono::Utc>,
}

/// A run's charge, if it has one.
///
/// # Errors
///
/// Database errors.
pub async fn charge_of(conn: &mut Conn<'_>, run: Id) -> Result<Option<ChargeView>, Error> {
    Ok(db::charges::of_run(conn, run).await?.map(|charge| ChargeView {
        total: Money::from_micros(charge.total_micros),
        base: Money::from_micros(charge.base_micros),
        unit: charge.unit,
        unit_count: charge.unit_count,
        units: Money::from_micros(charge.units_micros),
        cpu_ms: charge.cpu_ms,
        compute: Money::from_micros(charge.compute_micros),
        developer: Money::from_micros(charge.developer_micros),
        platform: Money::from_micros(charge.platform_micros),
        developer_share: charge.developer_share,
        charged_at: charge.charged_at.0,
    }))
}
