//! On PostgreSQL, each replica keeps one connection `LISTEN`ing for queued tasks, so a claim waiting on any
//! replica wakes for a run created on another, or on its own: while the listener is connected, it is the
//! only thing that wakes claims for queued tasks.
//!
//! Live event streams do not listen: a `NOTIFY` serializes committing transactions in PostgreSQL, and one
//! per claim, event post and completion cost the queue about a third of its throughput (measured with
//! `cargo bench --bench queue`). Streams wake at once for changes made on their own replica and look
//! again every second for changes made on another.

use std::sync::Arc;
use std::time::Duration;

use diesel_async::{AsyncConnection as _, AsyncPgConnection, SimpleAsyncConnection as _};
use futures_util::StreamExt as _;

use super::TaskWake;
use crate::db::{Id, TASKS_CHANNEL};

/// The longest pause between attempts to reconnect.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Listens until the process ends, reconnecting with backoff when the connection drops.
pub async fn listen(url: String, wake: Arc<TaskWake>) {
    let mut backoff = Duration::from_millis(100);
    loop {
        match listen_once(&url, &wake).await {
            Ok(()) => tracing::warn!("the task listener's connection closed; reconnecting"),
            Err(error) => tracing::warn!(%error, ?backoff, "the task listener failed; reconnecting"),
        }
        // Whatever was announced while no one listened is found by the claims' own rechecks; wake them now
        // anyway, so nothing waits a whole recheck for it. Until the listener is back, this replica wakes
        // its own claims directly.
        wake.set_listening(false);
        wake.any_queued();
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

async fn listen_once(url: &str, wake: &TaskWake) -> diesel::QueryResult<()> {
    let mut conn = AsyncPgConnection::establish(url)
        .await
        .map_err(|error| diesel::result::Error::QueryBuilderError(Box::new(error)))?;
    conn.batch_execute(&format!("LISTEN {TASKS_CHANNEL}")).await?;
    wake.set_listening(true);
    let notifications = conn.notifications_stream();
    let mut notifications = std::pin::pin!(notifications);
    while let Some(notification) = notifications.next().await {
        match notification?.payload.parse() {
            Ok(deployment) => wake.announced(Id(deployment)),
            Err(_) => wake.any_queued(),
        }
    }
    Ok(())
}

/// Starts the listener for a PostgreSQL database (SQLite needs none: it is one process).
pub fn spawn(database: &crate::db::Database, wake: &Arc<TaskWake>) {
    if let crate::db::Database::Postgres(url) = database {
        tokio::spawn(listen(url.clone(), Arc::clone(wake)));
    }
}
