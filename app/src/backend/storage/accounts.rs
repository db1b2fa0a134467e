//! SQL for observatories, organizations, users, telescopes and sessions.

use super::{map_unique, on_pool, on_tx, BeginWrite, Db, StoreError, Tx};
use chrono::{DateTime, Utc};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ObservatoryRow {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub ticket_prefix: String,
    pub primary_color: String,
    pub accent_color: String,
    pub logo_file: Option<String>,
    /// The name its e-mails are sent under; `None`: its name.
    pub email_sender_name: Option<String>,
    /// Its IANA time zone.
    pub time_zone: String,
}

impl ObservatoryRow {
    /// The name its e-mails are sent under.
    pub fn sender_name(&self) -> &str {
        sender_name(self.email_sender_name.as_deref(), &self.name)
    }
}

/// The name an observatory's e-mails are sent under: its branding's sender name, else its name.
pub fn sender_name<'a>(configured: Option<&'a str>, name: &'a str) -> &'a str {
    configured
        .map(str::trim)
        .filter(|configured| !configured.is_empty())
        .unwrap_or(name)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    pub id: i64,
    pub observatory_id: i64,
    pub organization_id: Option<i64>,
    pub email: String,
    pub name: String,
    pub role: String,
    pub language: String,
    pub password_hash: Option<String>,
    pub active: bool,
    /// The client's organization is active (`None` for staff).
    pub organization_active: Option<bool>,
    /// The zone they chose in My account; `None`: their observatory's.
    pub time_zone: Option<String>,
    /// Their observatory's zone.
    pub observatory_time_zone: String,
}

impl UserRow {
    /// Whether the person may be signed in: their account and, for clients, their organization
    /// are active.
    pub fn may_sign_in(&self) -> bool {
        self.active && self.organization_active.unwrap_or(true)
    }
}

/// A session joined with the person it belongs to.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionRow {
    pub session_id: i64,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    #[sqlx(flatten)]
    pub user: UserRow,
    pub organization_name: Option<String>,
}

pub struct NewObservatory<'a> {
    pub slug: &'a str,
    pub name: &'a str,
    pub ticket_prefix: &'a str,
}

pub struct NewUser<'a> {
    pub observatory_id: i64,
    pub organization_id: Option<i64>,
    pub email: &'a str,
    pub name: &'a str,
    pub role: &'a str,
    pub language: &'a str,
    pub password_hash: Option<&'a str>,
}

pub struct NewTelescope<'a> {
    pub observatory_id: i64,
    pub organization_id: i64,
    pub name: &'a str,
    pub model: &'a str,
    pub location: &'a str,
    pub notes: &'a str,
}

pub struct NewSession<'a> {
    pub token_hash: &'a str,
    pub user_id: i64,
    pub now: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub user_agent: &'a str,
    pub ip: &'a str,
}

const USER_COLUMNS: &str = "u.id, u.observatory_id, u.organization_id, u.email, u.name, u.role, \
                            u.language, u.password_hash, u.active, \
                            (SELECT active FROM organizations WHERE id = u.organization_id) \
                            AS organization_active, u.time_zone, \
                            (SELECT time_zone FROM observatories WHERE id = u.observatory_id) \
                            AS observatory_time_zone";

impl Db {
    pub async fn count_observatories(&self) -> Result<i64, StoreError> {
        let count: i64 = on_pool!(self, |pool| {
            sqlx::query_scalar("SELECT COUNT(*) FROM observatories")
                .fetch_one(pool)
                .await
        })?;
        Ok(count)
    }

    pub async fn count_users(&self) -> Result<i64, StoreError> {
        let count: i64 = on_pool!(self, |pool| {
            sqlx::query_scalar("SELECT COUNT(*) FROM users")
                .fetch_one(pool)
                .await
        })?;
        Ok(count)
    }

    pub async fn insert_observatory(&self, new: NewObservatory<'_>) -> Result<i64, StoreError> {
        on_pool!(self, |pool| {
            sqlx::query_scalar(
                "INSERT INTO observatories (slug, name, ticket_prefix, created_at) \
                 VALUES ($1, $2, $3, $4) RETURNING id",
            )
            .bind(new.slug)
            .bind(new.name)
            .bind(new.ticket_prefix)
            .bind(Utc::now())
            .fetch_one(pool)
            .await
        })
        .map_err(map_unique)
    }

    /// The observatory a request is served for when the address does not name one:
    /// the first one created.
    pub async fn default_observatory(&self) -> Result<Option<ObservatoryRow>, StoreError> {
        let row = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, slug, name, ticket_prefix, primary_color, accent_color, logo_file, \
                 email_sender_name, time_zone \
                 FROM observatories ORDER BY id LIMIT 1",
            )
            .fetch_optional(pool)
            .await
        })?;
        Ok(row)
    }

    pub async fn insert_organization(
        &self,
        observatory_id: i64,
        name: &str,
    ) -> Result<i64, StoreError> {
        on_pool!(self, |pool| {
            sqlx::query_scalar(
                "INSERT INTO organizations (observatory_id, name, created_at) \
                 VALUES ($1, $2, $3) RETURNING id",
            )
            .bind(observatory_id)
            .bind(name)
            .bind(Utc::now())
            .fetch_one(pool)
            .await
        })
        .map_err(map_unique)
    }

    /// Finds a person of an observatory by their (lower-cased) log-in e-mail.
    pub async fn user_by_email(
        &self,
        observatory_id: i64,
        email: &str,
    ) -> Result<Option<UserRow>, StoreError> {
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM users u WHERE u.observatory_id = $1 AND u.email = $2"
        );
        let row = on_pool!(self, |pool| {
            sqlx::query_as(&sql)
                .bind(observatory_id)
                .bind(email)
                .fetch_optional(pool)
                .await
        })?;
        Ok(row)
    }

    /// A person's new password: outstanding reset and invitation links stop working with it.
    pub async fn change_password_hash(&self, user_id: i64, hash: &str) -> Result<(), StoreError> {
        let now = Utc::now();
        on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
                .bind(hash)
                .bind(now)
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
            sqlx::query(super::links::REVOKE_PASSWORD_LINKS)
                .bind(now)
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok::<(), StoreError>(())
        })
    }

    pub async fn set_password_hash(&self, user_id: i64, hash: &str) -> Result<(), StoreError> {
        on_pool!(self, |pool| {
            sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
                .bind(hash)
                .bind(Utc::now())
                .bind(user_id)
                .execute(pool)
                .await
                .map(|_| ())
        })?;
        Ok(())
    }

    pub async fn set_user_language(&self, user_id: i64, language: &str) -> Result<(), StoreError> {
        on_pool!(self, |pool| {
            sqlx::query("UPDATE users SET language = $1, updated_at = $2 WHERE id = $3")
                .bind(language)
                .bind(Utc::now())
                .bind(user_id)
                .execute(pool)
                .await
                .map(|_| ())
        })?;
        Ok(())
    }

    pub async fn insert_telescope(&self, new: NewTelescope<'_>) -> Result<i64, StoreError> {
        on_pool!(self, |pool| {
            sqlx::query_scalar(
                "INSERT INTO telescopes (observatory_id, organization_id, name, model, location, \
                 notes, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            )
            .bind(new.observatory_id)
            .bind(new.organization_id)
            .bind(new.name)
            .bind(new.model)
            .bind(new.location)
            .bind(new.notes)
            .bind(Utc::now())
            .fetch_one(pool)
            .await
        })
        .map_err(map_unique)
    }

    /// Names of the active telescopes of an organization, for the home page summary.
    pub async fn telescope_names(&self, organization_id: i64) -> Result<Vec<String>, StoreError> {
        let names = on_pool!(self, |pool| {
            sqlx::query_scalar(
                "SELECT name FROM telescopes WHERE organization_id = $1 AND retired_at IS NULL \
                 ORDER BY name",
            )
            .bind(organization_id)
            .fetch_all(pool)
            .await
        })?;
        Ok(names)
    }

    pub async fn insert_session(&self, new: NewSession<'_>) -> Result<i64, StoreError> {
        on_pool!(self, |pool| {
            sqlx::query_scalar(
                "INSERT INTO sessions (token_hash, user_id, created_at, last_seen_at, expires_at, \
                 user_agent, ip) VALUES ($1, $2, $3, $3, $4, $5, $6) RETURNING id",
            )
            .bind(new.token_hash)
            .bind(new.user_id)
            .bind(new.now)
            .bind(new.expires_at)
            .bind(new.user_agent)
            .bind(new.ip)
            .fetch_one(pool)
            .await
        })
        .map_err(map_unique)
    }

    /// The session with this token hash and its person (whatever their state: callers decide).
    pub async fn session_by_token_hash(
        &self,
        token_hash: &str,
    ) -> Result<Option<SessionRow>, StoreError> {
        let sql = format!(
            "SELECT s.id AS session_id, s.created_at, s.last_seen_at, s.expires_at, {USER_COLUMNS}, \
             o.name AS organization_name \
             FROM sessions s JOIN users u ON u.id = s.user_id \
             LEFT JOIN organizations o ON o.id = u.organization_id \
             WHERE s.token_hash = $1"
        );
        let row = on_pool!(self, |pool| {
            sqlx::query_as(&sql)
                .bind(token_hash)
                .fetch_optional(pool)
                .await
        })?;
        Ok(row)
    }

    /// A person and their organization's name, by id (for API keys).
    pub async fn user_with_organization(
        &self,
        user_id: i64,
    ) -> Result<Option<(UserRow, Option<String>)>, StoreError> {
        #[derive(sqlx::FromRow)]
        struct Row {
            #[sqlx(flatten)]
            user: UserRow,
            organization_name: Option<String>,
        }
        let sql = format!(
            "SELECT {USER_COLUMNS}, o.name AS organization_name FROM users u \
             LEFT JOIN organizations o ON o.id = u.organization_id WHERE u.id = $1"
        );
        let row: Option<Row> = on_pool!(self, |pool| {
            sqlx::query_as(&sql)
                .bind(user_id)
                .fetch_optional(pool)
                .await
        })?;
        Ok(row.map(|r| (r.user, r.organization_name)))
    }

    pub async fn touch_session(
        &self,
        session_id: i64,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        on_pool!(self, |pool| {
            sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id = $2")
                .bind(now)
                .bind(session_id)
                .execute(pool)
                .await
                .map(|_| ())
        })?;
        Ok(())
    }

    pub async fn delete_session(&self, session_id: i64) -> Result<(), StoreError> {
        on_pool!(self, |pool| {
            sqlx::query("DELETE FROM sessions WHERE id = $1")
                .bind(session_id)
                .execute(pool)
                .await
                .map(|_| ())
        })?;
        Ok(())
    }

    pub async fn count_sessions_of_user(&self, user_id: i64) -> Result<i64, StoreError> {
        let count = on_pool!(self, |pool| {
            sqlx::query_scalar("SELECT COUNT(*) FROM sessions WHERE user_id = $1")
                .bind(user_id)
                .fetch_one(pool)
                .await
        })?;
        Ok(count)
    }
}

impl Tx {
    /// Adds a person in this transaction (with what else makes the account: its invitation).
    pub async fn insert_user(&mut self, new: NewUser<'_>) -> Result<i64, StoreError> {
        let now = Utc::now();
        on_tx!(self, |conn| {
            sqlx::query_scalar(
                "INSERT INTO users (observatory_id, organization_id, email, name, role, language, \
                 password_hash, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id",
            )
            .bind(new.observatory_id)
            .bind(new.organization_id)
            .bind(new.email)
            .bind(new.name)
            .bind(new.role)
            .bind(new.language)
            .bind(new.password_hash)
            .bind(now)
            .fetch_one(&mut **conn)
            .await
        })
        .map_err(map_unique)
    }
}
