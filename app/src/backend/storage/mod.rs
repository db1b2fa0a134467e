//! The database: SQLite (embedded default) or PostgreSQL (scale-out), behind one type.
//!
//! SQL is written once with `$1`-style parameters, which both engines accept; the `on_pool!`
//! macro compiles each query for both drivers. What truly differs between the engines
//! (full-text search, LISTEN/NOTIFY) gets its own small function with one arm per engine.

pub mod accounts;
pub mod admin;
pub mod attachments;
pub mod backup;
pub mod bell;
pub mod drafts;
pub mod events;
pub mod inbound;
pub mod lifecycle;
pub mod links;
pub mod my_account;
pub mod notifications;
pub mod presence;
pub mod previews;
pub mod retention;
pub mod testing;
pub mod throttle;
pub mod tickets;
pub mod voice;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::str::FromStr;
use std::time::Duration;

/// A connection pool to one of the supported engines.
#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to the concrete pool of either engine.
macro_rules! on_pool {
    ($db:expr, |$pool:ident| $body:expr) => {
        match $db {
            $crate::backend::storage::Db::Sqlite($pool) => $body,
            $crate::backend::storage::Db::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_pool;

/// How every transaction begins, on each engine (`sqlx::Pool::begin` is refused by clippy.toml).
pub(crate) trait BeginWrite {
    type Engine: sqlx::Database;
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, Self::Engine>, sqlx::Error>;
}

impl BeginWrite for sqlx::SqlitePool {
    type Engine = sqlx::Sqlite;
    /// Takes SQLite's write lock at once. A transaction begun as a reader that writes later
    /// fails with "database is locked" (a busy snapshot, which no busy timeout waits out) when
    /// another writer committed meanwhile; begun as a writer, it waits its turn instead.
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error> {
        #[allow(clippy::disallowed_methods)]
        self.begin_with("BEGIN IMMEDIATE").await
    }
}

impl BeginWrite for sqlx::PgPool {
    type Engine = sqlx::Postgres;
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
        #[allow(clippy::disallowed_methods)]
        self.begin().await
    }
}

/// A transaction on either engine, for changes that span services (a message and its files).
pub enum Tx {
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

/// Runs `$body` with `$conn` bound to the transaction's connection of either engine.
macro_rules! on_tx {
    ($tx:expr, |$conn:ident| $body:expr) => {
        match $tx {
            $crate::backend::storage::Tx::Sqlite($conn) => $body,
            $crate::backend::storage::Tx::Postgres($conn) => $body,
        }
    };
}
pub(crate) use on_tx;

/// Which engine a database runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint refused the write (an e-mail already used, a duplicate name…).
    #[error("a record with the same unique value already exists")]
    Duplicate,
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration error: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
}

impl StoreError {
    /// PostgreSQL refused a text value it cannot store: a NUL character (SQLSTATE 22021) or an
    /// untranslatable one (22P05). Only input sent by someone can carry them.
    pub fn is_unstorable_text(&self) -> bool {
        match self {
            StoreError::Database(sqlx::Error::Database(db)) => {
                matches!(db.code().as_deref(), Some("22021") | Some("22P05"))
            }
            _ => false,
        }
    }
}

/// Maps unique-constraint violations to `StoreError::Duplicate`, for friendly messages upstream.
pub(crate) fn map_unique(err: sqlx::Error) -> StoreError {
    match err.as_database_error() {
        Some(db) if db.is_unique_violation() => StoreError::Duplicate,
        _ => StoreError::Database(err),
    }
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

impl Db {
    /// Opens a pool for `sqlite://path` (the file is created when missing) or `postgres://…`.
    pub async fn connect(url: &str) -> Result<Db, StoreError> {
        if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10))
                // WAL makes NORMAL durable against application crashes; only a power loss can
                // lose the last transactions, never corrupt the file.
                .synchronous(SqliteSynchronous::Normal)
                // 32 MiB of page cache per connection (the default is 2 MiB): the pages of
                // recent tickets and the search index stay in memory between requests.
                .pragma("cache_size", "-32768");
            let pool = SqlitePoolOptions::new()
                .max_connections(8)
                .connect_with(options)
                .await?;
            Ok(Db::Sqlite(pool))
        } else {
            // Plans made for each query's own values: a plan cached for a keyword search or a
            // filter without them guesses every selectivity and can walk a whole table where
            // the index would answer at once. Planning these queries costs far less.
            let options = PgConnectOptions::from_str(url)?
                .options([("plan_cache_mode", "force_custom_plan")]);
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(options)
                .await?;
            Ok(Db::Postgres(pool))
        }
    }

    pub fn engine(&self) -> Engine {
        match self {
            Db::Sqlite(_) => Engine::Sqlite,
            Db::Postgres(_) => Engine::Postgres,
        }
    }

    /// Applies the pending migrations of this engine.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self {
            Db::Sqlite(pool) => SQLITE_MIGRATIONS.run(pool).await?,
            Db::Postgres(pool) => POSTGRES_MIGRATIONS.run(pool).await?,
        }
        Ok(())
    }

    /// Whether the database answers a trivial query.
    pub async fn ping(&self) -> Result<(), StoreError> {
        on_pool!(self, |pool| sqlx::query("SELECT 1")
            .execute(pool)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// Begins a transaction, for changes that span services (a message and its files).
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        Ok(match self {
            Db::Sqlite(pool) => Tx::Sqlite(pool.begin_write().await?),
            Db::Postgres(pool) => Tx::Postgres(pool.begin_write().await?),
        })
    }

    pub async fn close(&self) {
        on_pool!(self, |pool| pool.close().await)
    }
}

impl Tx {
    pub async fn commit(self) -> Result<(), StoreError> {
        on_tx!(self, |tx| tx.commit().await)?;
        Ok(())
    }
}
