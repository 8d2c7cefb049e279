//! The cursor page envelope of every list.

use serde::{Deserialize, Serialize};

/// One page of a list. Pass `next_cursor` back as `?cursor=` for the next page; absent on the last one.
///
/// Cursors are opaque and stable under inserts, unlike offsets.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}
