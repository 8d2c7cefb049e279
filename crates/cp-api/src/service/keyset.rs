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

/// The page size a list asks for: 20 unless given, within 1..=100.
///
/// # Errors
///
/// [`Error::BadRequest`] for a limit outside 1..=100.
pub fn limit(asked: Option<i64>) -> Result<i64, Error> {
    let limit = asked.unwrap_or(20);
    if (1..=100).contains(&limit) {
        Ok(limit)
    } else {
        Err(Error::BadRequest(format!("limit {limit} is outside 1..=100")))
    }
}

/// A page from `rows`, read with one more than `limit` to tell whether more follow; `key` is each row's
/// (time, id), `view` what a client sees of it.
///
/// # Errors
///
/// Whatever `view` returns.
pub fn page<T, V>(
    mut rows: Vec<T>,
    limit: i64,
    key: impl Fn(&T) -> (Time, Id),
    view: impl Fn(&T) -> Result<V, Error>,
) -> Result<protocol::Page<V>, Error> {
    let more = rows.len() as i64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or_default());
    let next_cursor = more.then(|| rows.last()).flatten().map(|last| {
        let (at, id) = key(last);
        encode(at, id)
    });
    Ok(protocol::Page {
        items: rows.iter().map(view).collect::<Result<_, _>>()?,
        next_cursor,
    })
}
