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
            db.migrate().await?;
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
            db.migrate().await?;
            Ok(TestDatabase {
                db,
                url,
                _dir: Some(dir),
            })
        }
    }
}
