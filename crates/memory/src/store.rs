//! Where points live: the `VectorStore` trait and its embedded implementation.

mod qdrant;
mod sqlite;

use std::future::Future;

use uuid::Uuid;

pub use qdrant::QdrantServer;
pub use sqlite::{SqliteOptions, SqliteVec};

use crate::{Collection, Error, Filter, Hit, Point, Result, Search};

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

/// Collection names go into SQL and URLs: `a-z`, `0-9` and `_`, starting with a letter, at most 48.
pub(crate) fn check_name(name: &str) -> Result<()> {
    let mut chars = name.chars();
    let starts_with_letter = chars.next().is_some_and(|first| first.is_ascii_lowercase());
    let rest_ok = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if starts_with_letter && rest_ok && name.len() <= 48 {
        Ok(())
    } else {
        Err(Error::CollectionName(name.to_owned()))
    }
}

/// A point a store may write: an org, and a finite, non-zero vector of the collection's dimension.
pub(crate) fn check_point(collection: &str, dimension: usize, point: &Point) -> Result<()> {
    if point.org.is_empty() {
        return Err(Error::NoOrg);
    }
    if point.vector.len() != dimension {
        return Err(Error::WrongDimension {
            collection: collection.to_owned(),
            expected: dimension,
            got: point.vector.len(),
        });
    }
    if point.vector.iter().any(|value| !value.is_finite()) {
        return Err(Error::NotFinite(point.id.to_string()));
    }
    if point.vector.iter().all(|value| *value == 0.0) {
        return Err(Error::ZeroVector(point.id.to_string()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collection_names_are_checked_before_they_reach_sql() {
        assert!(check_name("memory_minilm").is_ok());
        for bad in ["", "1abc", "Memory", "a-b", "a;drop", &"a".repeat(49)] {
            assert!(matches!(check_name(bad), Err(Error::CollectionName(_))), "{bad}");
        }
    }
}
