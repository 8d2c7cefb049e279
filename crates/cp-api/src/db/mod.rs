//! Storage: PostgreSQL in production, SQLite embedded by default, one schema and one set of queries.
//!
//! A query is written once and runs on either engine through [`on_backend!`]; the few places where the
//! engines really differ live in their own modules.

pub mod agent_versions;
pub mod agents;
pub mod api_keys;
pub mod approvals;
pub mod audit;
mod blocking;
pub mod changes;
pub mod charges;
pub mod data_planes;
pub mod deployments;
pub mod invoices;
pub mod ledger_entries;
pub mod memberships;
pub mod migrations;
pub mod orgs;
pub mod payouts;
pub mod refresh_tokens;
pub mod reviews;
pub mod run_events;
pub mod runs;
pub mod schema;
pub mod search;
pub mod settings;
pub mod sql_types;
pub mod subscriptions;
pub mod tasks;
pub mod users;
pub mod webhooks;
pub mod writes;

use std::path::PathBuf;
use std::time::Duration;

use diesel::SqliteConnection;
use diesel_async::pooled_connection::deadpool::{Object, Pool as DeadPool};
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod};
use diesel_async::sync_connection_wrapper::SyncConnectionWrapper;
use diesel_async::{
    AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection, TransactionManager,
};

pub use sql_types::{Id, Time};

use crate::error::Error;

pub type PgConn = AsyncPgConnection;
pub type SqliteConn = SyncConnectionWrapper<SqliteConnection, blocking::FinishOnDrop>;

/// Where the control plane keeps its state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Database {
    /// A `postgres://` URL.
    Postgres(String),
    /// A SQLite file.
    Sqlite(PathBuf),
}

impl Database {
    /// A `postgres://` (or `postgresql://`) URL, or else SQLite at `<data_dir>/cp.sqlite`.
    #[must_use]
    pub fn from_options(database_url: Option<&str>, data_dir: &std::path::Path) -> Self {
        match database_url {
            Some(url) if !url.is_empty() => url.strip_prefix("sqlite://").map_or_else(
                || Self::Postgres(url.to_owned()),
                |path| Self::Sqlite(PathBuf::from(path)),
            ),
            _ => Self::Sqlite(data_dir.join("cp.sqlite")),
        }
    }

    /// The database as a user would name it, without a password.
    #[must_use]
    pub fn describe(&self) -> String {
        match self {
            Self::Postgres(url) => match (url.find("://"), url.rfind('@')) {
                (Some(scheme), Some(at)) if at > scheme => format!("{}://…{}", &url[..scheme], &url[at..]),
                _ => url.clone(),
            },
            Self::Sqlite(path) => format!("sqlite {}", path.display()),
        }
    }
}

/// The channel on which PostgreSQL tells every replica a deployment has a task to claim.
pub const TASKS_CHANNEL: &str = "cp_tasks";

/// A statement diesel would prepare afresh each time, prepared once per connection and reused.
///
/// Diesel never caches an `INSERT` of a struct (its SQL depends on which fields are `None`), any `UPDATE`,
/// or raw SQL, so on PostgreSQL each costs a parse round trip before the real one. Keyed by its SQL text
/// instead, such a statement is exact to reuse: the same text is the same statement. Only for statements
/// whose SQL takes a bounded number of shapes (a batch insert has one per batch size), since each shape
/// stays prepared for the connection's life.
#[derive(Debug, Clone, Copy)]
pub struct Prepared<Q>(pub Q);

impl<Q, DB> diesel::query_builder::QueryFragment<DB> for Prepared<Q>
where
    DB: diesel::backend::Backend,
    Q: diesel::query_builder::QueryFragment<DB>,
{
    fn walk_ast<'b>(&'b self, pass: diesel::query_builder::AstPass<'_, 'b, DB>) -> diesel::QueryResult<()> {
        self.0.walk_ast(pass)
    }

    fn is_safe_to_cache_prepared(&self, _backend: &DB) -> diesel::QueryResult<bool> {
        Ok(true)
    }
}

impl<Q> diesel::query_builder::QueryId for Prepared<Q> {
    type QueryId = ();
    // No static id: the statement cache keys it by its SQL text.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q: diesel::query_builder::Query> diesel::query_builder::Query for Prepared<Q> {
    type SqlType = Q::SqlType;
}

/// A pool of connections to one backend.
#[derive(Clone)]
pub enum Pool {
    Postgres(DeadPool<PgConn>),
    Sqlite(DeadPool<SqliteConn>),
}

/// Pools and connections show which engine they are, and nothing of the connection.
macro_rules! debug_as_backend {
    ($($kind:ty),*) => {$(
        impl std::fmt::Debug for $kind {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(match self {
                    Self::Postgres(_) => "postgres",
                    Self::Sqlite(_) => "sqlite",
                })
            }
        }
    )*};
}
debug_as_backend!(Pool, Pooled, Conn<'_>);

/// A connection taken from the pool.
#[expect(
    clippy::large_enum_variant,
    reason = "held briefly on a request's stack; boxing would add an allocation to every checkout"
)]
pub enum Pooled {
    Postgres(Object<PgConn>),
    Sqlite(Object<SqliteConn>),
}

/// A connection (or a transaction on one), as query functions take it.
pub enum Conn<'a> {
    Postgres(&'a mut PgConn),
    Sqlite(&'a mut SqliteConn),
}

impl Pooled {
    pub fn conn(&mut self) -> Conn<'_> {
        match self {
            Self::Postgres(object) => Conn::Postgres(object),
            Self::Sqlite(object) => Conn::Sqlite(object),
        }
    }
}

/// Runs the same diesel code on whichever backend `conn` (a `&mut Conn`) is, with `c` bound to the engine's
/// own connection.
macro_rules! on_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::Conn::Postgres($c) => {
                let $c: &mut $crate::db::PgConn = &mut **$c;
                $body
            }
            $crate::db::Conn::Sqlite($c) => {
                let $c: &mut $crate::db::SqliteConn = &mut **$c;
                $body
            }
        }
    };
}
pub(crate) use on_backend;

/// Runs `work` in one transaction: all of it is written, or none.
///
/// # Errors
///
/// Whatever `work` returns, after rolling back; database errors as [`Error`].
pub async fn transaction<T>(
    conn: &mut Conn<'_>,
    work: impl AsyncFnOnce(&mut Conn<'_>) -> Result<T, Error>,
) -> Result<T, Error> {
    // Every transaction here writes. SQLite's must take the write lock at `BEGIN` (`IMMEDIATE`): a deferred
    // one that reads first and writes later can fail at the write without waiting for the lock.
    match conn {
        Conn::Postgres(c) => {
            <PgConn as AsyncConnection>::TransactionManager::begin_transaction(&mut **c).await?
        }
        Conn::Sqlite(c) => {
            c.spawn_blocking(|inner| {
                diesel::connection::AnsiTransactionManager::begin_transaction_sql(inner, "BEGIN IMMEDIATE")
            })
            .await?;
        }
    }
    match work(conn).await {
        Ok(value) => {
            on_backend!(conn, |c| commit(c).await)?;
            Ok(value)
        }
        Err(error) => {
            // The work's error is the one to report; a failed rollback leaves the connection marked broken,
            // and the pool discards it.
            if let Err(rollback_error) = on_backend!(conn, |c| rollback(c).await) {
                tracing::warn!(%rollback_error, "rollback failed");
            }
            Err(error)
        }
    }
}

async fn commit<C: AsyncConnection>(conn: &mut C) -> diesel::QueryResult<()> {
    C::TransactionManager::commit_transaction(conn).await
}

async fn rollback<C: AsyncConnection>(conn: &mut C) -> diesel::QueryResult<()> {
    C::TransactionManager::rollback_transaction(conn).await
}

impl<'a> From<&'a mut PgConn> for Conn<'a> {
    fn from(conn: &'a mut PgConn) -> Self {
        Self::Postgres(conn)
    }
}

impl<'a> From<&'a mut SqliteConn> for Conn<'a> {
    fn from(conn: &'a mut SqliteConn) -> Self {
        Self::Sqlite(conn)
    }
}

/// SQLite settings for every connection: write-ahead logging so readers never block the writer, a wait
/// instead of an error when another connection holds the write lock, and enforced foreign keys.
const SQLITE_SETUP: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                            PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;";

impl Pool {
    /// Opens a pool; SQLite's folder is created if missing.
    ///
    /// # Errors
    ///
    /// [`Error::Unavailable`] when the database cannot be reached.
    pub async fn open(database: &Database, max_size: usize) -> Result<Self, Error> {
        let pool = match database {
            // No `SELECT 1` each time a connection is taken (`Fast`): that is a round trip more on every
            // request, and requests take several. A connection whose server went away is dropped when it
            // comes back (its socket is closed), after failing the one query that found out.
            Database::Postgres(url) => {
                let mut config = ManagerConfig::<PgConn>::default();
                config.recycling_method = RecyclingMethod::Fast;
                let manager = AsyncDieselConnectionManager::<PgConn>::new_with_config(url.as_str(), config);
                Self::Postgres(build(manager, max_size)?)
            }
            Database::Sqlite(path) => {
                if let Some(folder) = path.parent().filter(|folder| !folder.as_os_str().is_empty()) {
                    std::fs::create_dir_all(folder).map_err(|error| {
                        Error::Unavailable(format!("cannot create {}: {error}", folder.display()))
                    })?;
                }
                let mut config = ManagerConfig::<SqliteConn>::default();
                config.recycling_method = RecyclingMethod::Fast;
                config.custom_setup = Box::new(|url| {
                    Box::pin(async move {
                        let mut conn = SqliteConn::establish(url).await?;
                        conn.batch_execute(SQLITE_SETUP)
                            .await
                            .map_err(|error| diesel::ConnectionError::BadConnection(error.to_string()))?;
                        Ok(conn)
                    })
                });
                let manager = AsyncDieselConnectionManager::<SqliteConn>::new_with_config(
                    path.to_string_lossy(),
                    config,
                );
                Self::Sqlite(build(manager, max_size)?)
            }
        };
        // Fail at start-up, not at the first request.
        pool.get().await?;
        Ok(pool)
    }

    /// A connection from the pool.
    ///
    /// # Errors
    ///
    /// [`Error::Unavailable`] when no connection can be had in time.
    pub async fn get(&self) -> Result<Pooled, Error> {
        let unavailable = |error: diesel_async::pooled_connection::deadpool::PoolError| {
            Error::Unavailable(format!("database unavailable: {error}"))
        };
        Ok(match self {
            Self::Postgres(pool) => Pooled::Postgres(pool.get().await.map_err(unavailable)?),
            Self::Sqlite(pool) => Pooled::Sqlite(pool.get().await.map_err(unavailable)?),
        })
    }

    /// Whether the database answers a trivial query.
    pub async fn is_ready(&self) -> bool {
        let Ok(mut pooled) = self.get().await else {
            return false;
        };
        let mut conn = pooled.conn();
        on_backend!(&mut conn, |c| diesel::select(diesel::dsl::sql::<
            diesel::sql_types::Integer,
        >("1"))
        .execute(c)
        .await
        .is_ok())
    }
}

fn build<C>(manager: AsyncDieselConnectionManager<C>, max_size: usize) -> Result<DeadPool<C>, Error>
where
    C: diesel_async::pooled_connection::PoolableConnection + Send + 'static,
    for<'a> diesel::dsl::select<diesel::dsl::AsExprOf<i32, diesel::sql_types::Integer>>:
        diesel_async::methods::LoadQuery<'a, C, i32>,
    diesel::query_builder::SqlQuery: diesel::query_builder::QueryFragment<C::Backend>,
{
    DeadPool::builder(manager)
        .max_size(max_size)
        .wait_timeout(Some(Duration::from_secs(5)))
        .create_timeout(Some(Duration::from_secs(5)))
        .runtime(deadpool::Runtime::Tokio1)
        .build()
        .map_err(|error| Error::Unavailable(format!("cannot open the connection pool: {error}")))
}
