//! The tamper-evident audit log.
//!
//! Each row's hash is SHA-256 over the previous row's hash, its sequence number, and the canonical JSON
//! (RFC 8785) of its fields; the first row chains from 32 zero bytes. Editing a row breaks its own hash,
//! deleting or reordering rows breaks the next row's link, and deleting the newest rows no longer matches
//! the head. [`verify`] finds the first of these.

use protocol::FieldError;
use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::db::audit::{self, AuditRow};
use crate::db::{Conn, Id, Time};
use crate::error::Error;

/// Who acted, and from where (the socket's peer address; headers a client can forge are not trusted).
#[derive(Debug, Clone, Default)]
pub struct Actor {
    pub user: Option<Id>,
    pub client_addr: Option<String>,
}

/// One mutating action, as the audit log keeps it: the change itself is not stored, only its digest.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    /// The user who acted; `None` for the command line.
    pub actor: Option<Id>,
    pub org: Option<Id>,
    /// What was done, as `resource.verb` (`member.add`).
    pub action: &'a str,
    /// What it was done to (`user:<id>`).
    pub target: String,
    pub change: Value,
    pub client_addr: Option<String>,
}

/// Appends `entry`; call it inside the transaction that makes the change, so both land or neither does.
///
/// # Errors
///
/// Database errors.
pub async fn record(conn: &mut Conn<'_>, entry: Entry<'_>) -> Result<(), Error> {
    let row = AuditRow {
        seq: 0,
        at: Time::now(),
        actor_user_id: entry.actor,
        org_id: entry.org,
        action: entry.action.to_owned(),
        target: entry.target,
        change_digest: format!("sha256:{}", hex::encode(Sha256::digest(canonical(&entry.change)))),
        client_addr: entry.client_addr,
        prev_hash: Vec::new(),
        hash: Vec::new(),
    };
    let covered = covered(&row);
    audit::append(conn, row, &covered).await?;
    Ok(())
}

fn canonical(value: &impl Serialize) -> Vec<u8> {
    // Only JSON values built here go in, and those always serialize.
    serde_json_canonicalizer::to_vec(value).unwrap_or_default()
}

/// What a row's hash covers besides its link and sequence number: its fields as canonical JSON.
fn covered(row: &AuditRow) -> Vec<u8> {
    canonical(&json!({
        "at": row.at.0.timestamp_micros(),
        "actor_user_id": row.actor_user_id.map(|id| id.0),
        "org_id": row.org_id.map(|id| id.0),
        "action": row.action,
        "target": row.target,
        "change_digest": row.change_digest,
        "client_addr": row.client_addr,
    }))
}

/// The hash a row should have.
fn hash_of(row: &AuditRow) -> Vec<u8> {
    audit::link(&row.prev_hash, row.seq, &covered(row))
}

/// How far the chain checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub rows: i64,
}

/// Walks the whole chain.
///
/// # Errors
///
/// [`Error::Validation`] naming the first bad row and what is wrong with it; database errors.
pub async fn verify(conn: &mut Conn<'_>) -> Result<Verified, Error> {
    const BATCH: i64 = 1000;
    let broken = |seq: i64, message: String| {
        Error::Validation(vec![FieldError::new(format!("audit_log[seq={seq}]"), message)])
    };
    let mut expected_seq = 1_i64;
    let mut expected_prev = vec![0_u8; 32];
    loop {
        let rows = audit::page(conn, None, expected_seq - 1, BATCH).await?;
        // A gap shows as the next row having a later sequence number than expected.
        if let Some(first) = rows.first()
            && first.seq != expected_seq
        {
            return Err(broken(
                first.seq,
                format!("row {expected_seq} is missing (deleted or renumbered)"),
            ));
        }
        for row in &rows {
            if row.seq != expected_seq {
                return Err(broken(
                    row.seq,
                    format!("expected row {expected_seq} here: rows are missing or reordered"),
                ));
            }
            if row.prev_hash != expected_prev {
                return Err(broken(
                    row.seq,
                    "does not link to the row before it (a row was deleted, inserted or reordered)"
                        .to_owned(),
                ));
            }
            if hash_of(row) != row.hash {
                return Err(broken(
                    row.seq,
                    "its content does not match its hash (the row was edited)".to_owned(),
                ));
            }
            expected_prev.clone_from(&row.hash);
            expected_seq += 1;
        }
        if i64::try_from(rows.len()).unwrap_or(BATCH) < BATCH {
            break;
        }
    }
    let (head_seq, head_hash) = audit::head(conn).await?;
    let last = expected_seq - 1;
    if head_seq != last || head_hash != expected_prev {
        return Err(broken(
            head_seq,
            format!(
                "the log ends at row {last} but its head records row {head_seq} (newest rows were deleted)"
            ),
        ));
    }
    Ok(Verified { rows: last })
}
