//! `db/schema.rs` is what `diesel print-schema` writes for the migrated PostgreSQL schema, and the SQLite
//! migrations make the same tables and columns in SQLite's types. This checks both against the file, so
//! neither the migrations nor the schema can drift.

use cp_api::db::Conn;
use diesel::QueryableByName;
use diesel::sql_types::{Integer, Text};
use diesel_async::RunQueryDsl;

use crate::support::{Backend, TestDb, on_both_backends};

/// `(table, [(column, diesel type)])`, tables sorted, columns in order.
type Tables = Vec<(String, Vec<(String, String)>)>;

fn schema_rs() -> Tables {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/db/schema.rs");
    let text = std::fs::read_to_string(path).unwrap();
    let mut tables: Tables = Vec::new();
    for line in text.lines().map(str::trim) {
        if let Some((name, _)) = line.split_once(" (").filter(|_| line.ends_with('{')) {
            tables.push((name.to_owned(), Vec::new()));
        } else if let Some((column, ty)) = line.strip_suffix(',').and_then(|l| l.split_once(" -> ")) {
            tables
                .last_mut()
                .unwrap()
                .1
                .push((column.to_owned(), ty.to_owned()));
        }
    }
    tables.sort();
    tables
}

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName)]
struct Column {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    ty: String,
    #[diesel(sql_type = Integer)]
    nullable: i32,
}

pub async fn table_names(conn: &mut Conn<'_>) -> Vec<String> {
    let names: Vec<Name> = match conn {
        Conn::Postgres(c) => diesel::sql_query(
            "SELECT table_name::text AS name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1",
        )
        .load(*c)
        .await
        .unwrap(),
        Conn::Sqlite(c) => diesel::sql_query(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY 1",
        )
        .load(*c)
        .await
        .unwrap(),
    };
    names.into_iter().map(|n| n.name).collect()
}

/// The diesel type `print-schema` gives a column of this database type.
fn diesel_type(backend: Backend, database_type: &str) -> String {
    let ty = match (backend, database_type) {
        (Backend::Postgres, "uuid") | (Backend::Sqlite, "TEXT uuid") => "Uuid",
        (Backend::Postgres, "timestamp with time zone") | (Backend::Sqlite, "BIGINT time") => "Timestamptz",
        (Backend::Postgres, "text") | (Backend::Sqlite, "TEXT") => "Text",
        (Backend::Postgres, "boolean") | (Backend::Sqlite, "BOOLEAN") => "Bool",
        (Backend::Postgres, "bytea") | (Backend::Sqlite, "BLOB") => "Bytea",
        (Backend::Postgres, "bigint") | (Backend::Sqlite, "BIGINT") => "Int8",
        (Backend::Postgres, "integer") | (Backend::Sqlite, "INTEGER") => "Int4",
        (_, other) => return format!("unmapped {other}"),
    };
    ty.to_owned()
}

async fn database_tables(backend: Backend, conn: &mut Conn<'_>, expected: &Tables) -> Tables {
    let mut tables = Vec::new();
    // Full-text indexes are the one part each engine does its own way (an FTS5 table and its shadow tables
    // on SQLite, an expression index on PostgreSQL).
    let relational = |t: &String| !t.starts_with("__diesel") && !t.contains("_fts");
    for table in table_names(conn).await.into_iter().filter(relational) {
        let columns: Vec<Column> = match conn {
            Conn::Postgres(c) => diesel::sql_query(
                "SELECT column_name::text AS name, data_type::text AS ty, (is_nullable = 'YES')::int AS nullable \
                 FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1 \
                 ORDER BY ordinal_position",
            )
            .bind::<Text, _>(&table)
            .load(*c)
            .await
            .unwrap(),
            Conn::Sqlite(c) => diesel::sql_query(
                // A rowid column (`INTEGER PRIMARY KEY`) holds 64 bits: it serves a schema type of either width.
                "SELECT name, CASE WHEN pk = 1 AND type = 'INTEGER' THEN 'INTEGER rowid' ELSE type END AS ty, \
                 (\"notnull\" = 0 AND pk = 0) AS nullable FROM pragma_table_info(?)",
            )
            .bind::<Text, _>(&table)
            .load(*c)
            .await
            .unwrap(),
        };
        let declared = |column: &str| {
            expected
                .iter()
                .find(|(t, _)| *t == table)
                .and_then(|(_, cs)| cs.iter().find(|(c, _)| c == column))
        };
        let columns = columns
            .into_iter()
            .map(|column| {
                // SQLite's TEXT and BIGINT each stand for two schema types; the schema says which it meant.
                let hint = match declared(&column.name)
                    .map(|(_, ty)| ty.trim_start_matches("Nullable<").trim_end_matches('>'))
                {
                    Some("Uuid") if column.ty == "TEXT" => " uuid",
                    Some("Timestamptz") if column.ty == "BIGINT" => " time",
                    _ => "",
                };
                let stored = match (
                    column.ty.as_str(),
                    declared(&column.name).map(|(_, ty)| ty.as_str()),
                ) {
                    ("INTEGER rowid", Some("Int8")) => "BIGINT",
                    ("INTEGER rowid", _) => "INTEGER",
                    (other, _) => other,
                };
                let ty = diesel_type(backend, &format!("{stored}{hint}"));
                let ty = if column.nullable == 1 {
                    format!("Nullable<{ty}>")
                } else {
                    ty
                };
                (column.name, ty)
            })
            .collect();
        tables.push((table, columns));
    }
    tables.sort();
    tables
}

on_both_backends! {
    async fn the_schema_file_matches_the_migrated_database(backend: Backend) {
        let db = TestDb::migrated(backend).await;
        let pool = cp_api::db::Pool::open(&db.database, 1).await.unwrap();
        let mut pooled = pool.get().await.unwrap();
        let expected = schema_rs();
        assert!(expected.len() >= 4, "{expected:?}");
        let found = database_tables(backend, &mut pooled.conn(), &expected).await;
        assert_eq!(found, expected);
    }
}
