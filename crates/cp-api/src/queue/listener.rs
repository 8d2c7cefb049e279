//! On PostgreSQL, each replica keeps one connection `LISTEN`ing, so whatever waits on any replica wakes for
//! what happened on another: claims for queued tasks, live event streams for runs that changed.

use std::sync::Arc;
use std::time::Duration;

use diesel_async::{AsyncConnection as _, AsyncPgConnection, SimpleAsyncConnection as _};
use futures_util::StreamExt as _;

use super::{TaskWake, Wake};
use crate::db::Id;
use crate::db::{RUNS_CHANNEL, TASKS_CHANNEL};

/// The longest pause between attempts to reconnect.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Who to wake for each channel.
#[derive(Debug, Clone)]
pub struct Wakes {
    pub tasks: Arc<TaskWake>,
    pub runs: Arc<Wake>,
}

impl Wakes {
    fn all(&self) {
        self.tasks.any_queued();
        self.runs.work_arrived();
    }
}

/// Listens until the process ends, reconnecting with backoff when the connection drops.
pub async fn listen(url: String, wakes: Wakes) {
    let mut backoff = Duration::from_millis(100);
    loop {
        match listen_once(&url, &wakes).await {
            Ok(()) => tracing::warn!("the listener's connection closed; reconnecting"),
            Err(error) => tracing::warn!(%error, ?backoff, "the listener failed; reconnecting"),
        }
        // Whatever was announced while no one listened is found by the waiters' own rechecks; wake them
        // now anyway, so nothing waits a whole recheck for it.
        wakes.all();
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

async fn listen_once(url: &str, wakes: &Wakes) -> diesel::QueryResult<()> {
    let mut conn = AsyncPgConnection::establish(url)
        .await
        .map_err(|error| diesel::result::Error::QueryBuilderError(Box::new(error)))?;
    conn.batch_execute(&format!("LISTEN {TASKS_CHANNEL}; LISTEN {RUNS_CHANNEL}"))
        .await?;
    let notifications = conn.notifications_stream();
    let mut notifications = std::pin::pin!(notifications);
    while let Some(notification) = notifications.next().await {
        let notification = notification?;
        if notification.channel != TASKS_CHANNEL {
            wakes.runs.work_arrived();
        } else if let Ok(deployment) = notification.payload.parse() {
            wakes.tasks.task_queued(Id(deployment));
        } else {
            wakes.tasks.any_queued();
        }
    }
    Ok(())
}

/// Starts the listener for a PostgreSQL database (SQLite needs none: it is one process).
pub fn spawn(database: &crate::db::Database, wakes: Wakes) {
    if let crate::db::Database::Postgres(url) = database {
        tokio::spawn(listen(url.clone(), wakes));
    }
}
