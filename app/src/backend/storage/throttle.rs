//! SQL for sign-in throttling: each attempt that may cost a password hash is a row.

use super::{on_pool, BeginWrite, Db, Engine, StoreError};
use chrono::{DateTime, Utc};

/// A reserved attempt and how many attempts, this one included, the window now holds.
#[derive(Debug, Clone, Copy)]
pub struct Reservation {
    pub id: i64,
    /// For this typed address from this network address.
    pub by_email: i64,
    /// From this network address, for any address.
    pub by_ip: i64,
}

impl Db {
    /// Records an attempt before its password is checked, then counts the window, in one
    /// transaction that runs alone for this network address.
    ///
    /// So each attempt's count includes every attempt recorded before it, its own included,
    /// and of any number of parallel attempts exactly the limit see a count within it.
    /// (Counting first and recording after the hash let a parallel burst all pass one count.)
    /// SQLite runs one writing transaction at a time anyway; PostgreSQL takes a transaction lock
    /// on the network address first.
    pub async fn reserve_sign_in_attempt(
        &self,
        observatory_id: i64,
        email: &str,
        ip: &str,
        now: DateTime<Utc>,
        since: DateTime<Utc>,
    ) -> Result<Reservation, StoreError> {
        let engine = self.engine();
        on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            if engine == Engine::Postgres {
                sqlx::query("SELECT pg_advisory_xact_lock(hashtext('sign-in ' || $1))")
                    .bind(ip)
                    .execute(&mut *tx)
                    .await?;
            }
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO sign_in_failures (observatory_id, email, ip, failed_at) \
                 VALUES ($1, $2, $3, $4) RETURNING id",
            )
            .bind(observatory_id)
            .bind(email)
            .bind(ip)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            let (by_email, by_ip): (i64, i64) = sqlx::query_as(
                "SELECT \
                   (SELECT COUNT(*) FROM sign_in_failures \
                    WHERE observatory_id = $1 AND email = $2 AND ip = $3 AND failed_at >= $4), \
                   (SELECT COUNT(*) FROM sign_in_failures WHERE ip = $3 AND failed_at >= $4)",
            )
            .bind(observatory_id)
            .bind(email)
            .bind(ip)
            .bind(since)
            .fetch_one(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok::<Reservation, StoreError>(Reservation {
                id,
                by_email,
                by_ip,
            })
        })
    }

    /// Takes back a reserved attempt: it was refused before any hash, or the password matched.
    pub async fn release_sign_in_attempt(&self, id: i64) -> Result<(), StoreError> {
        on_pool!(self, |pool| {
            sqlx::query("DELETE FROM sign_in_failures WHERE id = $1")
                .bind(id)
                .execute(pool)
                .await
                .map(|_| ())
        })?;
        Ok(())
    }
}
