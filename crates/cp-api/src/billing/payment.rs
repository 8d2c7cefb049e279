//! How an issued invoice gets paid: a [`PaymentProvider`] is asked to collect it when it is issued.
//!
//! The default provider, [`Manual`], collects nothing itself: a platform admin records the payment (or
//! voids the invoice) over `POST /api/v1/invoices/{id}/paid` and `…/void`. A card or bank provider
//! answers [`Collection::Paid`] with its reference instead, and the invoice is marked paid at once.

use std::future::Future;

use crate::db::invoices::Invoice;
use crate::error::Error;

/// What a provider did with an invoice it was asked to collect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Collection {
    /// Paid; the provider's reference for the payment.
    Paid { reference: String },
    /// Left to be recorded later (by a platform admin, or the provider's notification).
    Pending,
}

/// Collects issued invoices.
pub trait PaymentProvider: Send + Sync {
    /// The provider's name, as invoices and logs show it.
    fn name(&self) -> &'static str;

    /// Asks for payment of `invoice`, just issued.
    ///
    /// # Errors
    ///
    /// When the provider cannot be reached; the invoice stays issued and unpaid.
    fn collect(&self, invoice: &Invoice) -> impl Future<Output = Result<Collection, Error>> + Send;
}

/// Payment recorded by hand: invoices stay issued until a platform admin marks them paid.
#[derive(Debug, Clone, Copy, Default)]
pub struct Manual;

impl PaymentProvider for Manual {
    fn name(&self) -> &'static str {
        "manual"
    }

    async fn collect(&self, _invoice: &Invoice) -> Result<Collection, Error> {
        Ok(Collection::Pending)
    }
}
