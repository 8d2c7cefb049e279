//! Where points live: the `VectorStore` trait and its embedded implementation.

mod sqlite;

use std::future::Future;

use uuid::Uuid;

pub use sqlite::{SqliteOptions, SqliteVec};

use crate::{Collection, Filter, Hit, Point, Result, Search};

/// A vector store with tenant-scoped reads.
///
/// Every read and delete names an org (`Filter::org`, or the `org` argument); no call returns or removes a
/// point of another org. The one exception is `delete_expired`, the cross-org sweep `gc` runs.
pub trait VectorStore: Send + Sync + 'static {
    /// Creates the collection, or checks that the existing one has the same model and dimension.
    ///
    /// # Errors
    ///
    /// `Error::ModelMismatch` when it exists with another model or dimension; store errors.
    fn ensure_collection(&self, collection: &Collection) -> impl Future<Output = Result<()>> + Send;

    /// Inserts or replaces points by id, all in one transaction: all are written or none.
    ///
    /// # Errors
    ///
    /// `Error::WrongDimension`, `Error::NotFinite`, `Error::NoOrg`, `Error::IdTaken` (the id belongs to another
    /// org), `Error::NoCollection`; store errors. Nothing is written then.
    fn upsert(&self, collection: &str, points: Vec<Point>) -> impl Future<Output = Result<()>> + Send;

    /// The point with this id, if it exists in this org.
    ///
    /// # Errors
    ///
    /// Store errors.
    fn get(
        &self,
        collection: &str,
        org: &str,
        id: Uuid,
    ) -> impl Future<Output = Result<Option<Point>>> + Send;

    /// The `limit` points nearest the query vector that pass the filter and the score threshold, best first.
    ///
    /// # Errors
    ///
    /// `Error::WrongDimension` for a query vector of another length; store errors.
    fn search(&self, collection: &str, search: Search) -> impl Future<Output = Result<Vec<Hit>>> + Send;

    /// Deletes the points that pass the filter; returns how many.
    ///
    /// # Errors
    ///
    /// Store errors.
    fn delete(&self, collection: &str, filter: Filter) -> impl Future<Output = Result<u64>> + Send;

    /// How many points pass the filter.
    ///
    /// # Errors
    ///
    /// Store errors.
    fn count(&self, collection: &str, filter: Filter) -> impl Future<Output = Result<u64>> + Send;

    /// Deletes, across all orgs, the points that expired at or before `now_ms`; returns how many.
    ///
    /// # Errors
    ///
    /// Store errors.
    fn delete_expired(&self, collection: &str, now_ms: i64) -> impl Future<Output = Result<u64>> + Send;
}
