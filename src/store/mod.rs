//! The database: SQLite (the default) or PostgreSQL, behind one interface.
//!
//! Queries are written once, in the SQL both engines speak (`$1` placeholders work in
//! SQLite too), and run through [`on_pool!`], which expands them for whichever backend
//! the pool is. SQLite gets one write connection beside a read pool: a pool of
//! writers only queues on SQLite's lock with sleeps (see DESIGN.md).

mod accounts;
mod chats;
mod contacts;
mod files;
mod messages;
mod reactions;
mod search;
mod threads;
mod users;
mod writer;

pub use accounts::{NewSession, Rotation, SessionRow};
pub use chats::{ChatListRow, ChatRow, MemberChange, MemberRow};
pub use contacts::{FriendRequestRow, Relation, Since};
pub use files::FileRow;
pub use messages::{MessageRow, Page};
pub use reactions::{PinRow, ReactionCount};
pub use search::{SearchEntry, SearchHit, SearchKey, SearchQuery, Tier};
pub use threads::{FollowRow, ThreadPage};
pub use users::UserRow;
pub use writer::{Appended, ForwardRow, NewMessage, Writer};

use std::borrow::Cow;
use std::str::FromStr;
use std::time::Duration;

use crate::config::SqliteSync;
use anyhow::Context;
use chrono::{DateTime, SubsecRound, Utc};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlSafeStr, SqlitePool};

/// The migrations, embedded in the binary: (version, name, SQLite SQL, PostgreSQL SQL).
/// Each file in `migrations/sqlite/` has its twin in `migrations/postgres/`.
const MIGRATIONS: &[(i64, &str, &str, &str)] = &[
    (
        1,
        "accounts",
        include_str!("../../migrations/sqlite/0001_accounts.sql"),
        include_str!("../../migrations/postgres/0001_accounts.sql"),
    ),
    (
        2,
        "people",
        include_str!("../../migrations/sqlite/0002_people.sql"),
        include_str!("../../migrations/postgres/0002_people.sql"),
    ),
    (
        3,
        "chats",
        include_str!("../../migrations/sqlite/0003_chats.sql"),
        include_str!("../../migrations/postgres/0003_chats.sql"),
    ),
    (
        4,
        "files",
        include_str!("../../migrations/sqlite/0004_files.sql"),
        include_str!("../../migrations/postgres/0004_files.sql"),
    ),
    (
        5,
        "reactions_pins",
        include_str!("../../migrations/sqlite/0005_reactions_pins.sql"),
        include_str!("../../migrations/postgres/0005_reactions_pins.sql"),
    ),
    (
        6,
        "search",
        include_str!("../../migrations/sqlite/0006_search.sql"),
        include_str!("../../migrations/postgres/0006_search.sql"),
    ),
    (
        7,
        "forwards",
        include_str!("../../migrations/sqlite/0007_forwards.sql"),
        include_str!("../../migrations/postgres/0007_forwards.sql"),
    ),
    (
        8,
        "threads",
        include_str!("../../migrations/sqlite/0008_threads.sql"),
        include_str!("../../migrations/postgres/0008_threads.sql"),
    ),
    (
        9,
        "search_newest",
        include_str!("../../migrations/sqlite/0009_search_newest.sql"),
        include_str!("../../migrations/postgres/0009_search_newest.sql"),
    ),
];

fn migrator(postgres: bool) -> Migrator {
    let migrations = MIGRATIONS
        .iter()
        .map(|(version, name, sqlite, pg)| {
            let sql = if postgres { pg } else { sqlite };
            Migration::new(
                *version,
                Cow::Borrowed(*name),
                MigrationType::Simple,
                sql.into_sql_str(),
                false,
            )
        })
        .collect::<Vec<_>>();
    Migrator::with_migrations(migrations)
}

/// A pool of one backend or the other.
#[derive(Clone, Debug)]
pub enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs one sqlx expression against a [`Pool`], whichever backend it is:
/// `on_pool!(&db.read, |p| sqlx::query("...").execute(p).await)`.
macro_rules! on_pool {
    ($pool:expr, |$p:ident| $body:expr) => {
        match $pool {
            $crate::store::Pool::Sqlite($p) => $body,
            $crate::store::Pool::Postgres($p) => $body,
        }
    };
}
pub(crate) use on_pool;

/// SQL for a query that takes a list of ids as one JSON array in `$1` (the one way to
/// bind a list that both engines share): `$before (the ids) $after`.
macro_rules! id_list_sql {
    ($pool:expr, $before:expr, $after:expr) => {
        match $pool {
            $crate::store::Pool::Sqlite(_) => {
                concat!($before, "(SELECT value FROM json_each($1))", $after)
            }
            $crate::store::Pool::Postgres(_) => {
                concat!(
                    $before,
                    "(SELECT jsonb_array_elements_text($1::jsonb))",
                    $after
                )
            }
        }
    };
}
pub(crate) use id_list_sql;

/// SQL over a batch of rows bound as one JSON array of objects in `$1`, read as the
/// table `v` with typed columns: `$before (the rows AS v) $after`. The text is the same
/// whatever the batch size, so PostgreSQL prepares and plans it once: a VALUES list or
/// a UNION ALL of n rows is a new statement for every n, and planning one with
/// hundreds of parameters took the writer tens of milliseconds per batch.
/// Build the rows with [`json_time`] for times; `$postgres` picks the dialect.
macro_rules! json_rows_sql {
    ($postgres:expr, $before:expr, [$c0:ident $t0:literal $(, $c:ident $t:literal)* $(,)?], $after:expr) => {
        if $postgres {
            concat!(
                $before,
                "jsonb_to_recordset($1::jsonb) AS v(",
                stringify!($c0), " ", $t0,
                $(", ", stringify!($c), " ", $t,)*
                ")",
                $after
            )
        } else {
            concat!(
                $before,
                "(SELECT value ->> '", stringify!($c0), "' AS ", stringify!($c0),
                $(", value ->> '", stringify!($c), "' AS ", stringify!($c),)*
                " FROM json_each($1)) AS v",
                $after
            )
        }
    };
}
pub(crate) use json_rows_sql;

/// Whether a connection (or, through its deref, a transaction) is to PostgreSQL: for
/// [`json_rows_sql!`] in code that is written once for both backends.
pub(crate) fn is_postgres<C: sqlx::Connection>(_: &C) -> bool {
    <C::Database as sqlx::Database>::NAME == "PostgreSQL"
}

/// A time as [`json_rows_sql!`] rows carry it: the text sqlx stores in SQLite (so
/// text comparisons there keep working), which PostgreSQL reads as a timestamptz.
pub(crate) fn json_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false)
}

/// A list of ids as the JSON array `id_list_sql!` queries take.
pub(crate) fn id_list(ids: &[String]) -> String {
    serde_json::Value::from(ids).to_string()
}

/// The database handle every use case gets through the app state.
#[derive(Clone, Debug)]
pub struct Db {
    /// Reads (and, on PostgreSQL, writes too: there it is the same pool).
    pub read: Pool,
    /// Writes. On SQLite: a single connection, so writers queue in-process, not on the lock.
    pub write: Pool,
}

impl Db {
    /// Opens the database at `url` (`sqlite://...` or `postgres://...`).
    pub async fn connect(
        url: &str,
        max_connections: u32,
        sync: SqliteSync,
    ) -> anyhow::Result<Self> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let options = PgConnectOptions::from_str(url).context("invalid PostgreSQL URL")?;
            let pool = PgPoolOptions::new()
                .max_connections(max_connections.max(2))
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(options)
                .await
                .context("cannot connect to PostgreSQL")?;
            let pool = Pool::Postgres(pool);
            return Ok(Self {
                read: pool.clone(),
                write: pool,
            });
        }
        anyhow::ensure!(
            url.starts_with("sqlite:"),
            "database_url must start with sqlite:// or postgres://"
        );
        let options = SqliteConnectOptions::from_str(url)
            .context("invalid SQLite URL")?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(match sync {
                SqliteSync::Full => SqliteSynchronous::Full,
                SqliteSync::Normal => SqliteSynchronous::Normal,
            })
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await
            .with_context(|| format!("cannot open {url}"))?;
        let read = SqlitePoolOptions::new()
            .max_connections(max_connections.max(1))
            .connect_with(options.read_only(true))
            .await
            .with_context(|| format!("cannot open {url}"))?;
        Ok(Self {
            read: Pool::Sqlite(read),
            write: Pool::Sqlite(write),
        })
    }

    /// Applies the migrations that have not run yet.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        let migrator = migrator(matches!(self.write, Pool::Postgres(_)));
        on_pool!(&self.write, |p| migrator.run(p).await).context("migrations failed")
    }

    /// Whether the database answers (for `/readyz`).
    pub async fn ping(&self) -> bool {
        on_pool!(&self.read, |p| sqlx::query("SELECT 1")
            .execute(p)
            .await
            .is_ok())
    }

    pub fn backend(&self) -> &'static str {
        match self.write {
            Pool::Sqlite(_) => "sqlite",
            Pool::Postgres(_) => "postgres",
        }
    }

    /// (connections open, of which idle) per pool, for `/metrics`.
    pub fn pool_stats(&self) -> [(&'static str, u32, usize); 2] {
        let stats = |pool: &Pool| on_pool!(pool, |p| (p.size(), p.num_idle()));
        let (r, ri) = stats(&self.read);
        let (w, wi) = stats(&self.write);
        [("read", r, ri), ("write", w, wi)]
    }

    pub async fn close(&self) {
        on_pool!(&self.write, |p| p.close().await);
        on_pool!(&self.read, |p| p.close().await);
    }
}

/// The current time at the precision both databases keep (microseconds).
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

#[cfg(test)]
mod tests {
    /// Every migration file is embedded, and each backend has the same list.
    #[test]
    fn migrations_are_all_embedded() {
        for (dir, pick) in [("sqlite", 0), ("postgres", 1)] {
            let mut files: Vec<String> = std::fs::read_dir(format!("migrations/{dir}"))
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect();
            files.sort();
            let embedded: Vec<String> = super::MIGRATIONS
                .iter()
                .map(|(v, name, ..)| format!("{v:04}_{name}.sql"))
                .collect();
            assert_eq!(files, embedded, "migrations/{dir} (pick {pick})");
        }
    }
}
