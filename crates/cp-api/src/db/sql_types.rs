//! The two column types whose SQL differs between the backends, made portable.
//!
//! On PostgreSQL they are the native `uuid` and `timestamptz`; on SQLite, `TEXT` (the hyphenated UUID) and
//! `BIGINT` microseconds since the Unix epoch, which sort and compare like the times they hold. Rows carry
//! them as [`Id`] and [`Time`].

use std::io::Write as _;

use chrono::{DateTime, TimeZone, Utc};
use diesel::deserialize::FromSqlRow;
use diesel::deserialize::{self, FromSql};
use diesel::expression::AsExpression;
use diesel::pg::{Pg, PgValue};
use diesel::query_builder::QueryId;
use diesel::serialize::{self, IsNull, Output, ToSql};
use diesel::sql_types::SqlType;
use diesel::sql_types::{BigInt, Text};
use diesel::sqlite::{Sqlite, SqliteValue};

/// A UUID column.
#[derive(Debug, Clone, Copy, Default, SqlType, QueryId)]
#[diesel(postgres_type(oid = 2950, array_oid = 2951))]
#[diesel(sqlite_type(name = "Text"))]
pub struct Uuid;

/// A point in time, in UTC.
#[derive(Debug, Clone, Copy, Default, SqlType, QueryId)]
#[diesel(postgres_type(oid = 1184, array_oid = 1185))]
#[diesel(sqlite_type(name = "Long"))]
pub struct Timestamptz;

// `table!` gives every column named by a time type `+`/`-` with an interval, as for PostgreSQL's own.
impl diesel::sql_types::ops::Add for Timestamptz {
    type Rhs = diesel::sql_types::Interval;
    type Output = Timestamptz;
}

impl diesel::sql_types::ops::Sub for Timestamptz {
    type Rhs = diesel::sql_types::Interval;
    type Output = Timestamptz;
}

/// An identifier as stored: convert to and from the protocol's typed ids at the edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, AsExpression, FromSqlRow)]
#[diesel(sql_type = Uuid)]
pub struct Id(pub uuid::Uuid);

impl Id {
    /// A new time-ordered id (UUIDv7).
    #[must_use]
    pub fn new() -> Self {
        Self(uuid::Uuid::now_v7())
    }
}

impl Default for Id {
    fn default() -> Self {
        Self::new()
    }
}

/// A time as stored, with microsecond precision (what both engines keep).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, AsExpression, FromSqlRow)]
#[diesel(sql_type = Timestamptz)]
pub struct Time(pub DateTime<Utc>);

impl Time {
    /// Now, truncated to microseconds so a value reads back exactly as written.
    #[must_use]
    pub fn now() -> Self {
        Self::from_unix_micros(Utc::now().timestamp_micros())
    }

    #[must_use]
    pub fn from_unix_micros(micros: i64) -> Self {
        Self(Utc.timestamp_micros(micros).single().unwrap_or_default())
    }
}

/// Microseconds from the Unix epoch to PostgreSQL's (2000-01-01).
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;

impl ToSql<Uuid, Pg> for Id {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        out.write_all(self.0.as_bytes())?;
        Ok(IsNull::No)
    }
}

impl FromSql<Uuid, Pg> for Id {
    fn from_sql(value: PgValue<'_>) -> deserialize::Result<Self> {
        Ok(Self(uuid::Uuid::from_slice(value.as_bytes())?))
    }
}

impl ToSql<Uuid, Sqlite> for Id {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        out.set_value(self.0.to_string());
        Ok(IsNull::No)
    }
}

impl FromSql<Uuid, Sqlite> for Id {
    fn from_sql(value: SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
        let text = <String as FromSql<Text, Sqlite>>::from_sql(value)?;
        Ok(Self(uuid::Uuid::parse_str(&text)?))
    }
}

impl ToSql<Timestamptz, Pg> for Time {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        let micros = self.0.timestamp_micros() - PG_EPOCH_MICROS;
        out.write_all(&micros.to_be_bytes())?;
        Ok(IsNull::No)
    }
}

impl FromSql<Timestamptz, Pg> for Time {
    fn from_sql(value: PgValue<'_>) -> deserialize::Result<Self> {
        let bytes: [u8; 8] = value.as_bytes().try_into()?;
        Ok(Self::from_unix_micros(
            i64::from_be_bytes(bytes) + PG_EPOCH_MICROS,
        ))
    }
}

impl ToSql<Timestamptz, Sqlite> for Time {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        out.set_value(self.0.timestamp_micros());
        Ok(IsNull::No)
    }
}

impl FromSql<Timestamptz, Sqlite> for Time {
    fn from_sql(value: SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
        Ok(Self::from_unix_micros(
            <i64 as FromSql<BigInt, Sqlite>>::from_sql(value)?,
        ))
    }
}

macro_rules! id_conversions {
    ($($id:ty),*) => {$(
        impl From<$id> for Id {
            fn from(id: $id) -> Self {
                Self(id.0)
            }
        }

        impl From<Id> for $id {
            fn from(id: Id) -> Self {
                Self(id.0)
            }
        }
    )*};
}

id_conversions!(
    protocol::OrgId,
    protocol::UserId,
    protocol::DeploymentId,
    protocol::RunId,
    protocol::TaskId
);
