//! Throwaway databases for tests, on the engine the test run names.
//!
//! `CUPULA_TEST_DATABASE_URL` unset: a new SQLite file in a temporary directory.
//! Set to `postgres://…/postgres`: a new database on that server for each call.
//! The test script runs the whole suite once per engine.

use super::{Db, StoreError};
use sqlx::Connection;

/// A migrated, empty database of its own, and its URL (for tests that start the binary).
pub struct TestDatabase {
    pub db: Db,
    pub url: String,
    /// Keeps the SQLite file's directory alive for the test's duration.
    _dir: Option<tempfile::TempDir>,
}

/// The engine the test run uses, for messages.
pub fn engine_name() -> &'static str {
    match std::env::var("CUPULA_TEST_DATABASE_URL") {
        Ok(url) if url.starts_with("postgres") => "postgres",
        _ => "sqlite",
    }
}

pub async fn fresh_database() -> Result<TestDatabase, StoreError> {
    let test_db = unmigrated_database().await?;
    test_db.db.migrate().await?;
    Ok(test_db)
}

/// An empty database no migration has touched, for tests of what a migration does to old rows.
pub async fn unmigrated_database() -> Result<TestDatabase, StoreError> {
    match std::env::var("CUPULA_TEST_DATABASE_URL") {
        Ok(server_url) if server_url.starts_with("postgres") => {
            let name = format!(
                "cupula_test_{}",
                &crate::backend::tokens::random_token()[..16]
            );
            let mut admin = sqlx::PgConnection::connect(&server_url).await?;
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&mut admin)
                .await?;
            admin.close().await?;
            let mut url = url::Url::parse(&server_url)
                .map_err(|e| StoreError::Database(sqlx::Error::Configuration(e.into())))?;
            url.set_path(&name);
            let url = url.to_string();
            let db = Db::connect(&url).await?;
            Ok(TestDatabase {
                db,
                url,
                _dir: None,
            })
        }
        _ => {
            let dir = tempfile::TempDir::new().map_err(sqlx::Error::Io)?;
            let url = format!("sqlite://{}", dir.path().join("test.db").display());
            let db = Db::connect(&url).await?;
            Ok(TestDatabase {
                db,
                url,
                _dir: Some(dir),
            })
        }
    }
}

/// Applies this engine's migrations older than `version`, leaving the database as a portal
/// last upgraded before that migration left it.
pub async fn migrate_before(db: &Db, version: i64) -> Result<(), StoreError> {
    let engine = match db {
        Db::Sqlite(_) => "sqlite",
        Db::Postgres(_) => "postgres",
    };
    let all = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../migrations")
        .join(engine);
    let older = tempfile::TempDir::new().map_err(sqlx::Error::Io)?;
    for entry in std::fs::read_dir(&all).map_err(sqlx::Error::Io)? {
        let path = entry.map_err(sqlx::Error::Io)?.path();
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let file_version = name.split('_').next().and_then(|v| v.parse::<i64>().ok());
        if file_version.is_some_and(|v| v < version) {
            std::fs::copy(&path, older.path().join(&*name)).map_err(sqlx::Error::Io)?;
        }
    }
    let migrator = sqlx::migrate::Migrator::new(older.path()).await?;
    match db {
        Db::Sqlite(pool) => migrator.run(pool).await?,
        Db::Postgres(pool) => migrator.run(pool).await?,
    }
    Ok(())
}
