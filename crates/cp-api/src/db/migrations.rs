//! The schema's migrations, embedded in the binary: `migrations/postgres` and `migrations/sqlite`.

use diesel::Connection as _;
use diesel::SqliteConnection;
use diesel::migration::MigrationVersion;
use diesel_async::AsyncPgConnection;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use super::Database;
use crate::error::Error;

const POSTGRES: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");
const SQLITE: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");

/// Which way to move the schema.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Apply every pending migration.
    Up,
    /// Revert every applied migration (each `down.sql`, newest first).
    DownAll,
}

/// Moves the schema and returns the versions applied or reverted, in order.
///
/// Diesel's migration harness is synchronous, so it runs on a blocking thread.
///
/// # Errors
///
/// [`Error::Unavailable`] when the database cannot be reached; [`Error::Internal`] when a migration fails.
pub async fn run(database: &Database, direction: Direction) -> Result<Vec<String>, Error> {
    let database = database.clone();
    tokio::task::spawn_blocking(move || match &database {
        Database::Postgres(url) => {
            let mut conn = AsyncConnectionWrapper::<AsyncPgConnection>::establish(url)
                .map_err(|error| Error::Unavailable(format!("cannot connect to PostgreSQL: {error}")))?;
            apply(&mut conn, POSTGRES, direction)
        }
        Database::Sqlite(path) => {
            if let Some(folder) = path.parent().filter(|folder| !folder.as_os_str().is_empty()) {
                std::fs::create_dir_all(folder).map_err(|error| {
                    Error::Unavailable(format!("cannot create {}: {error}", folder.display()))
                })?;
            }
            let mut conn = SqliteConnection::establish(&path.to_string_lossy())
                .map_err(|error| Error::Unavailable(format!("cannot open {}: {error}", path.display())))?;
            apply(&mut conn, SQLITE, direction)
        }
    })
    .await
    .map_err(|error| Error::Internal(format!("the migration task failed: {error}")))?
}

fn apply<C>(conn: &mut C, migrations: EmbeddedMigrations, direction: Direction) -> Result<Vec<String>, Error>
where
    C: MigrationHarness<C::Backend> + diesel::Connection,
{
    let failed = |error: Box<dyn std::error::Error + Send + Sync>| {
        Error::Internal(format!("migration failed: {error}"))
    };
    let names = |versions: Vec<MigrationVersion<'_>>| versions.iter().map(ToString::to_string).collect();
    match direction {
        Direction::Up => conn.run_pending_migrations(migrations).map(names).map_err(failed),
        Direction::DownAll => conn.revert_all_migrations(migrations).map(names).map_err(failed),
    }
}
