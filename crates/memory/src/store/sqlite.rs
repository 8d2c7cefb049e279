//! The embedded store: SQLite with the sqlite-vec extension, one file, exact search.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use rusqlite::types::Value;
use rusqlite::{Connection, ErrorCode, OptionalExtension as _, TransactionBehavior, params_from_iter};
use uuid::Uuid;

use super::{VectorStore, check_name, check_point};
use crate::{Collection, Error, Filter, Hit, Level, Point, Result, Search};

/// The file a `SqliteVec` keeps in its directory.
const FILE: &str = "memory.sqlite";

/// sqlite-vec answers at most this many neighbours per query.
const MAX_K: usize = 4096;

/// How the embedded store behaves under contention.
#[derive(Clone, Debug)]
pub struct SqliteOptions {
    /// How long a call waits for another process's or connection's lock before `Error::Locked`.
    pub busy_timeout: Duration,
    /// Read connections kept open for concurrent searches (WAL lets them read while one writes).
    pub readers: usize,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self {
            busy_timeout: Duration::from_secs(5),
            readers: 4,
        }
    }
}

/// The embedded default `VectorStore`: `<dir>/memory.sqlite`, SQLite in WAL mode with sqlite-vec's `vec0` tables.
///
/// Each collection is a `vec0` table partitioned by `org_id` (a search reads only its org's vectors) with the
/// level, agent, namespace and times as metadata columns filtered inside the search, beside a plain table with
/// the texts. Search is exact (brute force over the org's vectors, cosine distance). A write is durable when it
/// returns (`synchronous = FULL`). Cheap to clone; clones share connections.
#[derive(Clone, Debug)]
pub struct SqliteVec {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    path: PathBuf,
    options: SqliteOptions,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    dimensions: Mutex<HashMap<String, usize>>,
}

/// An error inside a store operation, before it learns the file's path.
enum Fail {
    Sql(rusqlite::Error),
    Memory(Error),
}

impl From<rusqlite::Error> for Fail {
    fn from(error: rusqlite::Error) -> Self {
        Self::Sql(error)
    }
}

impl From<Error> for Fail {
    fn from(error: Error) -> Self {
        Self::Memory(error)
    }
}

type Done<T> = std::result::Result<T, Fail>;

impl SqliteVec {
    /// Opens (creating when absent) `<dir>/memory.sqlite` with default options.
    ///
    /// # Errors
    ///
    /// `Error::Corrupt` when the file is not a SQLite database, `Error::Locked` when another process holds it
    /// past the busy timeout, `Error::Directory` when `dir` cannot be created.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(dir, SqliteOptions::default())
    }

    /// Opens (creating when absent) `<dir>/memory.sqlite`.
    ///
    /// # Errors
    ///
    /// As `open`.
    pub fn open_with(dir: impl AsRef<Path>, options: SqliteOptions) -> Result<Self> {
        register_sqlite_vec()?;
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir).map_err(|source| Error::Directory {
            path: dir.to_owned(),
            source,
        })?;
        let path = dir.join(FILE);
        let writer = connect(&path, &options).map_err(|fail| to_error(&path, &options, fail))?;
        init(&writer).map_err(|fail| to_error(&path, &options, fail))?;
        Ok(Self {
            inner: Arc::new(Inner {
                path,
                options,
                writer: Mutex::new(writer),
                readers: Mutex::new(Vec::new()),
                dimensions: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The database file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `work` off the async runtime's threads (SQLite calls block), or inline outside a runtime.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Inner) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let inner = Arc::clone(&self.inner);
        crate::cpu::blocking(move || work(&inner)).await
    }
}

impl Inner {
    fn error(&self, fail: Fail) -> Error {
        to_error(&self.path, &self.options, fail)
    }

    fn write<T>(&self, work: impl FnOnce(&rusqlite::Transaction<'_>) -> Done<T>) -> Result<T> {
        let mut writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let run = || -> Done<T> {
            let tx = writer.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let value = work(&tx)?;
            tx.commit()?;
            Ok(value)
        };
        run().map_err(|fail| self.error(fail))
    }

    fn read<T>(&self, work: impl FnOnce(&Connection) -> Done<T>) -> Result<T> {
        let pooled = self.readers.lock().unwrap_or_else(PoisonError::into_inner).pop();
        let connection = match pooled {
            Some(connection) => connection,
            None => connect(&self.path, &self.options).map_err(|fail| self.error(fail))?,
        };
        let result = work(&connection);
        let mut readers = self.readers.lock().unwrap_or_else(PoisonError::into_inner);
        if readers.len() < self.options.readers {
            readers.push(connection);
        }
        drop(readers);
        result.map_err(|fail| self.error(fail))
    }

    /// The collection's dimension; `Error::NoCollection` when it was never created.
    fn dimension(&self, connection: &Connection, name: &str) -> Done<usize> {
        if let Some(dimension) = self
            .dimensions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
        {
            return Ok(*dimension);
        }
        let dimension: Option<i64> = connection
            .prepare_cached("SELECT dimension FROM collections WHERE name = ?1")?
            .query_row([name], |row| row.get(0))
            .optional()?;
        let dimension = dimension.ok_or_else(|| Error::NoCollection(name.to_owned()))?;
        let dimension = usize::try_from(dimension)
            .map_err(|_| Error::Stored(format!("collection {name} has dimension {dimension}")))?;
        self.dimensions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(name.to_owned(), dimension);
        Ok(dimension)
    }
}

impl VectorStore for SqliteVec {
    async fn ensure_collection(&self, collection: &Collection) -> Result<()> {
        check_name(&collection.name)?;
        if collection.dimension == 0 || collection.dimension > 8192 {
            return Err(Error::WrongDimension {
                collection: collection.name.clone(),
                expected: 384,
                got: collection.dimension,
            });
        }
        let collection = collection.clone();
        self.blocking(move |inner| {
            inner.write(|tx| {
                let stored: Option<(String, i64)> = tx
                    .query_row(
                        "SELECT model, dimension FROM collections WHERE name = ?1",
                        [&collection.name],
                        |row| Ok((row.get(0)?, row.get(1)?)),
                    )
                    .optional()?;
                let name = &collection.name;
                match stored {
                    Some((model, dimension)) => {
                        let dimension = usize::try_from(dimension).unwrap_or(0);
                        if model != collection.model || dimension != collection.dimension {
                            return Err(Error::ModelMismatch {
                                collection: name.clone(),
                                stored_model: model,
                                stored_dimension: dimension,
                                model: collection.model.clone(),
                                dimension: collection.dimension,
                            }
                            .into());
                        }
                    }
                    None => {
                        tx.execute_batch(&format!(
                            "CREATE TABLE {name}_points (
                                 rowid INTEGER PRIMARY KEY,
                                 id TEXT NOT NULL UNIQUE,
                                 org_id TEXT NOT NULL,
                                 level INTEGER NOT NULL,
                                 agent TEXT NOT NULL,
                                 namespace TEXT NOT NULL,
                                 created_at INTEGER NOT NULL,
                                 expires_at INTEGER NOT NULL,
                                 text TEXT NOT NULL,
                                 data TEXT NOT NULL
                             );
                             CREATE INDEX {name}_points_scope
                                 ON {name}_points (org_id, level, agent, namespace, created_at);
                             CREATE INDEX {name}_points_expiry ON {name}_points (expires_at);
                             CREATE VIRTUAL TABLE {name}_vec USING vec0(
                                 org_id TEXT PARTITION KEY,
                                 level INTEGER,
                                 agent TEXT,
                                 namespace TEXT,
                                 created_at INTEGER,
                                 expires_at INTEGER,
                                 embedding FLOAT[{dimension}] distance_metric=cosine
                             );",
                            dimension = collection.dimension
                        ))?;
                        tx.execute(
                            "INSERT INTO collections (name, model, dimension) VALUES (?1, ?2, ?3)",
                            (
                                name,
                                &collection.model,
                                i64::try_from(collection.dimension).unwrap_or(i64::MAX),
                            ),
                        )?;
                    }
                }
                Ok(())
            })
        })
        .await
    }

    async fn upsert(&self, collection: &str, points: Vec<Point>) -> Result<()> {
        check_name(collection)?;
        if points.is_empty() {
            return Ok(());
        }
        let name = collection.to_owned();
        self.blocking(move |inner| {
            inner.write(|tx| {
                let dimension = inner.dimension(tx, &name)?;
                for point in &points {
                    check_point(&name, dimension, point)?;
                }
                let mut find =
                    tx.prepare_cached(&format!("SELECT rowid, org_id FROM {name}_points WHERE id = ?1"))?;
                let mut insert = tx.prepare_cached(&format!(
                    "INSERT INTO {name}_points
                         (id, org_id, level, agent, namespace, created_at, expires_at, text, data)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
                ))?;
                let mut update = tx.prepare_cached(&format!(
                    "UPDATE {name}_points SET level = ?2, agent = ?3, namespace = ?4, created_at = ?5,
                         expires_at = ?6, text = ?7, data = ?8
                     WHERE rowid = ?1"
                ))?;
                let mut unvector = tx.prepare_cached(&format!("DELETE FROM {name}_vec WHERE rowid = ?1"))?;
                let mut vector = tx.prepare_cached(&format!(
                    "INSERT INTO {name}_vec
                         (rowid, org_id, level, agent, namespace, created_at, expires_at, embedding)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
                ))?;
                for point in &points {
                    let id = point.id.hyphenated().to_string();
                    let agent = point.agent.as_deref().unwrap_or("");
                    let namespace = point.namespace.as_deref().unwrap_or("");
                    let expires_at = point.expires_at.unwrap_or(i64::MAX);
                    let data = serde_json::to_string(&point.data)
                        .map_err(|error| Error::Stored(error.to_string()))?;
                    let existing: Option<(i64, String)> = find
                        .query_row([&id], |row| Ok((row.get(0)?, row.get(1)?)))
                        .optional()?;
                    let rowid = match existing {
                        Some((_, org)) if org != point.org => {
                            return Err(Error::IdTaken { id: point.id }.into());
                        }
                        Some((rowid, _)) => {
                            update.execute((
                                rowid,
                                point.level.number(),
                                agent,
                                namespace,
                                point.created_at,
                                expires_at,
                                &point.text,
                                &data,
                            ))?;
                            unvector.execute([rowid])?;
                            rowid
                        }
                        None => {
                            insert.execute((
                                &id,
                                &point.org,
                                point.level.number(),
                                agent,
                                namespace,
                                point.created_at,
                                expires_at,
                                &point.text,
                                &data,
                            ))?;
                            tx.last_insert_rowid()
                        }
                    };
                    vector.execute((
                        rowid,
                        &point.org,
                        point.level.number(),
                        agent,
                        namespace,
                        point.created_at,
                        expires_at,
                        vector_bytes(&point.vector),
                    ))?;
                }
                Ok(())
            })
        })
        .await
    }

    async fn get(&self, collection: &str, org: &str, id: Uuid) -> Result<Option<Point>> {
        check_name(collection)?;
        let (name, org) = (collection.to_owned(), org.to_owned());
        self.blocking(move |inner| {
            inner.read(|connection| {
                inner.dimension(connection, &name)?;
                let found = connection
                    .prepare_cached(&format!(
                        "SELECT {COLUMNS} FROM {name}_points p WHERE p.id = ?1 AND p.org_id = ?2"
                    ))?
                    .query_row([id.hyphenated().to_string(), org], |row| {
                        Ok((stored_row(row)?, row.get::<_, i64>(9)?))
                    })
                    .optional()?;
                let Some((stored, rowid)) = found else {
                    return Ok(None);
                };
                let bytes: Vec<u8> = connection
                    .prepare_cached(&format!("SELECT embedding FROM {name}_vec WHERE rowid = ?1"))?
                    .query_row([rowid], |row| row.get(0))?;
                let mut point = stored.into_point()?;
                point.vector = vector_from_bytes(&bytes);
                Ok(Some(point))
            })
        })
        .await
    }

    async fn search(&self, collection: &str, search: Search) -> Result<Vec<Hit>> {
        check_name(collection)?;
        if search.filter.org.is_empty() {
            return Err(Error::NoOrg);
        }
        if search.limit == 0 {
            return Ok(Vec::new());
        }
        let name = collection.to_owned();
        self.blocking(move |inner| {
            inner.read(|connection| {
                let dimension = inner.dimension(connection, &name)?;
                if search.vector.len() != dimension {
                    return Err(Error::WrongDimension {
                        collection: name.clone(),
                        expected: dimension,
                        got: search.vector.len(),
                    }
                    .into());
                }
                if search.vector.iter().any(|value| !value.is_finite()) {
                    return Err(Error::NotFinite("the query".to_owned()).into());
                }
                let mut values = vec![
                    Value::Blob(vector_bytes(&search.vector)),
                    Value::Integer(i64::try_from(search.limit.min(MAX_K)).unwrap_or(1)),
                ];
                let conditions = conditions(&search.filter, &mut values);
                let sql = format!(
                    "WITH knn AS (
                         SELECT rowid, distance FROM {name}_vec
                         WHERE embedding MATCH ?1 AND k = ?2 AND {conditions}
                     )
                     SELECT {COLUMNS}, knn.distance FROM knn JOIN {name}_points p ON p.rowid = knn.rowid
                     ORDER BY knn.distance"
                );
                let mut statement = connection.prepare_cached(&sql)?;
                let rows = statement.query_map(params_from_iter(values), |row| {
                    Ok((stored_row(row)?, row.get::<_, f64>(10)?))
                })?;
                let mut hits = Vec::new();
                for row in rows {
                    let (stored, distance) = row?;
                    #[expect(clippy::cast_possible_truncation, reason = "a cosine score fits an f32")]
                    let score = (1.0 - distance) as f32;
                    if search.min_score.is_some_and(|min| score < min) {
                        continue;
                    }
                    hits.push(Hit {
                        point: stored.into_point()?,
                        score,
                    });
                }
                Ok(hits)
            })
        })
        .await
    }

    async fn delete(&self, collection: &str, filter: Filter) -> Result<u64> {
        check_name(collection)?;
        if filter.org.is_empty() {
            return Err(Error::NoOrg);
        }
        let name = collection.to_owned();
        self.blocking(move |inner| {
            inner.write(|tx| {
                inner.dimension(tx, &name)?;
                let mut values = Vec::new();
                let conditions = conditions(&filter, &mut values);
                delete_where(tx, &name, &conditions, values)
            })
        })
        .await
    }

    async fn count(&self, collection: &str, filter: Filter) -> Result<u64> {
        check_name(collection)?;
        if filter.org.is_empty() {
            return Err(Error::NoOrg);
        }
        let name = collection.to_owned();
        self.blocking(move |inner| {
            inner.read(|connection| {
                inner.dimension(connection, &name)?;
                let mut values = Vec::new();
                let conditions = conditions(&filter, &mut values);
                let count: i64 = connection
                    .prepare_cached(&format!("SELECT count(*) FROM {name}_points WHERE {conditions}"))?
                    .query_row(params_from_iter(values), |row| row.get(0))?;
                Ok(u64::try_from(count).unwrap_or(0))
            })
        })
        .await
    }

    async fn delete_expired(&self, collection: &str, now_ms: i64) -> Result<u64> {
        check_name(collection)?;
        let name = collection.to_owned();
        self.blocking(move |inner| {
            inner.write(|tx| {
                inner.dimension(tx, &name)?;
                delete_where(tx, &name, "expires_at <= ?", vec![Value::Integer(now_ms)])
            })
        })
        .await
    }
}

/// The columns a point is read back from, in `stored_row`'s order.
const COLUMNS: &str = "p.id, p.org_id, p.level, p.agent, p.namespace, p.created_at, p.expires_at, p.text, p.data, \
                       p.rowid";

/// A point's row before its fields are checked.
struct Stored {
    id: String,
    org: String,
    level: i64,
    agent: String,
    namespace: String,
    created_at: i64,
    expires_at: i64,
    text: String,
    data: String,
}

fn stored_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Stored> {
    Ok(Stored {
        id: row.get(0)?,
        org: row.get(1)?,
        level: row.get(2)?,
        agent: row.get(3)?,
        namespace: row.get(4)?,
        created_at: row.get(5)?,
        expires_at: row.get(6)?,
        text: row.get(7)?,
        data: row.get(8)?,
    })
}

impl Stored {
    fn into_point(self) -> Result<Point> {
        let bad = |what: &str| Error::Stored(format!("point {}: {what}", self.id));
        Ok(Point {
            id: Uuid::parse_str(&self.id).map_err(|_| bad("id is not a UUID"))?,
            level: Level::from_number(self.level).ok_or_else(|| bad("unknown level"))?,
            data: serde_json::from_str(&self.data).map_err(|_| bad("data is not JSON"))?,
            org: self.org,
            agent: Some(self.agent).filter(|agent| !agent.is_empty()),
            namespace: Some(self.namespace).filter(|namespace| !namespace.is_empty()),
            created_at: self.created_at,
            expires_at: Some(self.expires_at).filter(|at| *at != i64::MAX),
            text: self.text,
            vector: Vec::new(),
        })
    }
}

/// The SQL conditions of a filter (same column names in both tables), binding its values in order.
fn conditions(filter: &Filter, values: &mut Vec<Value>) -> String {
    let mut sql = String::from("org_id = ?");
    values.push(Value::Text(filter.org.clone()));
    let mut add = |condition: &str, value: Value| {
        sql.push_str(" AND ");
        sql.push_str(condition);
        values.push(value);
    };
    if let Some(level) = filter.level {
        add("level = ?", Value::Integer(level.number()));
    }
    if let Some(agent) = &filter.agent {
        add("agent = ?", Value::Text(agent.clone()));
    }
    if let Some(namespace) = &filter.namespace {
        add("namespace = ?", Value::Text(namespace.clone()));
    }
    if let Some(from) = filter.created_from {
        add("created_at >= ?", Value::Integer(from));
    }
    if let Some(before) = filter.created_before {
        add("created_at < ?", Value::Integer(before));
    }
    if let Some(at) = filter.alive_at {
        add("expires_at > ?", Value::Integer(at));
    }
    sql
}

fn delete_where(
    tx: &rusqlite::Transaction<'_>,
    name: &str,
    conditions: &str,
    values: Vec<Value>,
) -> Done<u64> {
    let rowids = tx
        .prepare(&format!("SELECT rowid FROM {name}_points WHERE {conditions}"))?
        .query_map(params_from_iter(values), |row| row.get::<_, i64>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut unvector = tx.prepare_cached(&format!("DELETE FROM {name}_vec WHERE rowid = ?1"))?;
    let mut unpoint = tx.prepare_cached(&format!("DELETE FROM {name}_points WHERE rowid = ?1"))?;
    for rowid in &rowids {
        unvector.execute([rowid])?;
        unpoint.execute([rowid])?;
    }
    Ok(u64::try_from(rowids.len()).unwrap_or(u64::MAX))
}

fn vector_bytes(vector: &[f32]) -> Vec<u8> {
    vector.iter().flat_map(|value| value.to_le_bytes()).collect()
}

fn vector_from_bytes(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|chunk| f32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]))
        .collect()
}

fn connect(path: &Path, options: &SqliteOptions) -> Done<Connection> {
    let connection = Connection::open(path)?;
    connection.busy_timeout(options.busy_timeout)?;
    // vec0 keeps each partition's vectors in chunk blobs of about 1.5 MB (1,024 × 384 floats); reading them
    // through SQLite's 2 MB page cache costs a system call per page. Mapped, they are read in place, and the
    // pages count as the file's (the kernel may drop them), not the process's own memory.
    let _size: i64 = connection.query_row("PRAGMA mmap_size = 1073741824", [], |row| row.get(0))?;
    connection.execute_batch("PRAGMA cache_size = -16384")?;
    Ok(connection)
}

/// WAL, full sync, and the collections table; also the first read of the file, so a corrupt one fails here.
fn init(connection: &Connection) -> Done<()> {
    let _mode: String = connection.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
    connection.execute_batch(
        "PRAGMA synchronous = FULL;
         CREATE TABLE IF NOT EXISTS collections (
             name TEXT PRIMARY KEY,
             model TEXT NOT NULL,
             dimension INTEGER NOT NULL
         );",
    )?;
    Ok(())
}

fn to_error(path: &Path, options: &SqliteOptions, fail: Fail) -> Error {
    let error = match fail {
        Fail::Memory(error) => return error,
        Fail::Sql(error) => error,
    };
    match error.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => Error::Locked {
            path: path.to_owned(),
            waited_ms: options.busy_timeout.as_millis(),
        },
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => Error::Corrupt {
            path: path.to_owned(),
            detail: error.to_string(),
        },
        _ => Error::Sqlite {
            path: path.to_owned(),
            source: error,
        },
    }
}

/// Makes every SQLite connection of this process load sqlite-vec, once.
fn register_sqlite_vec() -> Result<()> {
    static REGISTERED: OnceLock<std::result::Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            let code = register_auto_extension();
            if code != rusqlite::ffi::SQLITE_OK {
                return Err(format!("sqlite3_auto_extension returned {code}"));
            }
            let connection = Connection::open_in_memory().map_err(|error| error.to_string())?;
            connection
                .query_row("SELECT vec_version()", [], |row| row.get::<_, String>(0))
                .map(|_| ())
                .map_err(|error| error.to_string())
        })
        .clone()
        .map_err(Error::Extension)
}

/// The entry point SQLite calls for an extension on each new connection.
type ExtensionInit = unsafe extern "C" fn(
    *mut rusqlite::ffi::sqlite3,
    *mut *mut std::ffi::c_char,
    *const rusqlite::ffi::sqlite3_api_routines,
) -> std::ffi::c_int;

#[expect(
    unsafe_code,
    reason = "sqlite-vec is C code linked into the bundled SQLite; registering its entry point is one FFI call"
)]
fn register_auto_extension() -> std::ffi::c_int {
    // SAFETY: `sqlite3_vec_init` is the extension's entry point with exactly SQLite's extension signature; the
    // crate declares it without parameters only because it is an opaque symbol. `sqlite3_auto_extension` may
    // be called at any time and keeps the pointer for the process's life, which a static function outlives.
    unsafe {
        let init = std::mem::transmute::<unsafe extern "C" fn(), ExtensionInit>(sqlite_vec::sqlite3_vec_init);
        rusqlite::ffi::sqlite3_auto_extension(Some(init))
    }
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

    #[test]
    fn vectors_round_trip_through_bytes() {
        let vector = vec![0.5, -1.25, f32::MIN_POSITIVE, 3.0];
        assert_eq!(vector_from_bytes(&vector_bytes(&vector)), vector);
    }
}
