//! The cursor of a newest-first list: the (time, id) of the last item a page showed, opaque to clients.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use crate::db::{Id, Time};
use crate::error::Error;

#[derive(Serialize, Deserialize)]
struct Cursor {
    at: i64,
    id: uuid::Uuid,
}

/// The cursor after an item created at `at` with `id`.
#[must_use]
pub fn encode(at: Time, id: Id) -> String {
    let cursor = Cursor {
        at: at.0.timestamp_micros(),
        id: id.0,
    };
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&cursor).unwrap_or_default())
}

/// Where a cursor this service gave out points.
///
/// # Errors
///
/// [`Error::BadRequest`] for anything else.
pub fn decode(text: &str) -> Result<(Time, Id), Error> {
    let cursor: Cursor = URL_SAFE_NO_PAD
        .decode(text)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| Error::BadRequest(format!("{text:?} is not a cursor this list gave out")))?;
    Ok((Time::from_unix_micros(cursor.at), Id(cursor.id)))
}
