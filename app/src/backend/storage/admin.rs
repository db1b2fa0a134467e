//! SQL for the observatory's administration: client organizations and people.
//! Every query is scoped by `observatory_id`, so one observatory never reaches another's rows.

use super::{map_unique, on_pool, BeginWrite, Db, StoreError};
use chrono::Utc;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OrganizationRow {
    pub id: i64,
    pub name: String,
    pub active: bool,
    pub people: i64,
    pub telescopes: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PersonRow {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub role: String,
    pub organization_id: Option<i64>,
    pub organization_name: Option<String>,
    pub active: bool,
    pub has_password: bool,
}

/// An organization with its counts of people and of telescopes in service.
const ORGANIZATION_SELECT: &str = "SELECT o.id, o.name, o.active, \
    (SELECT COUNT(*) FROM users u WHERE u.organization_id = o.id) AS people, \
    (SELECT COUNT(*) FROM telescopes t WHERE t.organization_id = o.id AND t.retired_at IS NULL) \
    AS telescopes FROM organizations o";

impl Db {
    pub async fn organizations(
        &self,
        observatory_id: i64,
    ) -> Result<Vec<OrganizationRow>, StoreError> {
        let rows = on_pool!(self, |pool| {
            sqlx::query_as(&format!(
                "{ORGANIZATION_SELECT} WHERE o.observatory_id = $1 ORDER BY o.name"
            ))
            .bind(observatory_id)
            .fetch_all(pool)
            .await
        })?;
        Ok(rows)
    }

    /// Whether the organization exists in this observatory (ids of others are as good as absent).
    pub async fn organization_exists(
        &self,
        observatory_id: i64,
        organization_id: i64,
    ) -> Result<bool, StoreError> {
        let count: i64 = on_pool!(self, |pool| {
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM organizations WHERE id = $1 AND observatory_id = $2 AND active",
            )
            .bind(organization_id)
            .bind(observatory_id)
            .fetch_one(pool)
            .await
        })?;
        Ok(count == 1)
    }

    pub async fn people(&self, observatory_id: i64) -> Result<Vec<PersonRow>, StoreError> {
        let rows = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT u.id, u.name, u.email, u.role, u.organization_id, o.name AS organization_name, \
                 u.active, (u.password_hash IS NOT NULL) AS has_password \
                 FROM users u LEFT JOIN organizations o ON o.id = u.organization_id \
                 WHERE u.observatory_id = $1 ORDER BY o.name NULLS FIRST, u.name",
            )
            .bind(observatory_id)
            .fetch_all(pool)
            .await
        })?;
        Ok(rows)
    }

    pub async fn person(
        &self,
        observatory_id: i64,
        user_id: i64,
    ) -> Result<Option<PersonRow>, StoreError> {
        let row = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT u.id, u.name, u.email, u.role, u.organization_id, o.name AS organization_name, \
                 u.active, (u.password_hash IS NOT NULL) AS has_password \
                 FROM users u LEFT JOIN organizations o ON o.id = u.organization_id \
                 WHERE u.observatory_id = $1 AND u.id = $2",
            )
            .bind(observatory_id)
            .bind(user_id)
            .fetch_optional(pool)
            .await
        })?;
        Ok(row)
    }

    /// Activates or deactivates a person; deactivating ends their sessions and pending links
    /// and revokes their API keys in the same transaction, so they are out at once, and
    /// reactivating brings back none of them.
    pub async fn set_person_active(
        &self,
        observatory_id: i64,
        user_id: i64,
        active: bool,
    ) -> Result<bool, StoreError> {
        let now = Utc::now();
        on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let changed = sqlx::query(
                "UPDATE users SET active = $1, updated_at = $2 WHERE id = $3 AND observatory_id = $4",
            )
            .bind(active)
            .bind(now)
            .bind(user_id)
            .bind(observatory_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if changed == 1 && !active {
                sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "UPDATE account_tokens SET revoked_at = $1 \
                     WHERE user_id = $2 AND used_at IS NULL AND revoked_at IS NULL",
                )
                .bind(now)
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "UPDATE api_tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL",
                )
                .bind(now)
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok::<bool, StoreError>(changed == 1)
        })
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TelescopeRow {
    pub id: i64,
    pub name: String,
    pub model: String,
    pub location: String,
    pub notes: String,
    pub retired: bool,
}

/// What a telescope form sends.
pub struct TelescopeFields<'a> {
    pub name: &'a str,
    pub model: &'a str,
    pub location: &'a str,
    pub notes: &'a str,
}

impl Db {
    pub async fn organization(
        &self,
        observatory_id: i64,
        organization_id: i64,
    ) -> Result<Option<OrganizationRow>, StoreError> {
        let row = on_pool!(self, |pool| {
            sqlx::query_as(&format!(
                "{ORGANIZATION_SELECT} WHERE o.observatory_id = $1 AND o.id = $2"
            ))
            .bind(observatory_id)
            .bind(organization_id)
            .fetch_optional(pool)
            .await
        })?;
        Ok(row)
    }

    /// Renames and (de)activates an organization; deactivating ends its people's sessions and
    /// revokes their API keys in the same transaction. False when the organization is not this
    /// observatory's.
    pub async fn update_organization(
        &self,
        observatory_id: i64,
        organization_id: i64,
        name: &str,
        active: bool,
    ) -> Result<bool, StoreError> {
        on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let changed = sqlx::query(
                "UPDATE organizations SET name = $1, active = $2 WHERE id = $3 AND observatory_id = $4",
            )
            .bind(name)
            .bind(active)
            .bind(organization_id)
            .bind(observatory_id)
            .execute(&mut *tx)
            .await
            .map_err(map_unique)?
            .rows_affected();
            if changed == 1 && !active {
                sqlx::query(
                    "DELETE FROM sessions WHERE user_id IN \
                     (SELECT id FROM users WHERE organization_id = $1)",
                )
                .bind(organization_id)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "UPDATE api_tokens SET revoked_at = $1 WHERE revoked_at IS NULL \
                     AND user_id IN (SELECT id FROM users WHERE organization_id = $2)",
                )
                .bind(Utc::now())
                .bind(organization_id)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok::<bool, StoreError>(changed == 1)
        })
    }

    pub async fn telescopes(
        &self,
        observatory_id: i64,
        organization_id: i64,
    ) -> Result<Vec<TelescopeRow>, StoreError> {
        let rows = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, name, model, location, notes, (retired_at IS NOT NULL) AS retired \
                 FROM telescopes WHERE observatory_id = $1 AND organization_id = $2 \
                 ORDER BY (retired_at IS NOT NULL), name",
            )
            .bind(observatory_id)
            .bind(organization_id)
            .fetch_all(pool)
            .await
        })?;
        Ok(rows)
    }

    pub async fn update_telescope(
        &self,
        observatory_id: i64,
        telescope_id: i64,
        fields: &TelescopeFields<'_>,
    ) -> Result<bool, StoreError> {
        let changed = on_pool!(self, |pool| {
            sqlx::query(
                "UPDATE telescopes SET name = $1, model = $2, location = $3, notes = $4 \
                 WHERE id = $5 AND observatory_id = $6",
            )
            .bind(fields.name)
            .bind(fields.model)
            .bind(fields.location)
            .bind(fields.notes)
            .bind(telescope_id)
            .bind(observatory_id)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        })?;
        Ok(changed == 1)
    }

    /// Retires a telescope (it stays in the history of its requests) or puts it back in service.
    pub async fn set_telescope_retired(
        &self,
        observatory_id: i64,
        telescope_id: i64,
        retired: bool,
    ) -> Result<bool, StoreError> {
        let retired_at = retired.then(Utc::now);
        let changed = on_pool!(self, |pool| {
            sqlx::query(
                "UPDATE telescopes SET retired_at = $1 WHERE id = $2 AND observatory_id = $3",
            )
            .bind(retired_at)
            .bind(telescope_id)
            .bind(observatory_id)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        })?;
        Ok(changed == 1)
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SupportContactRow {
    pub user_id: Option<i64>,
    /// The explicit address, or the user's log-in e-mail.
    pub email: String,
    pub name: Option<String>,
}

impl Db {
    pub async fn support_contacts(
        &self,
        organization_id: i64,
    ) -> Result<Vec<SupportContactRow>, StoreError> {
        let rows = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT c.user_id, COALESCE(u.email, c.email) AS email, u.name \
                 FROM support_contacts c LEFT JOIN users u ON u.id = c.user_id \
                 WHERE c.organization_id = $1 ORDER BY c.id",
            )
            .bind(organization_id)
            .fetch_all(pool)
            .await
        })?;
        Ok(rows)
    }

    /// Replaces an organization's support contacts with these users and addresses, at once.
    pub async fn replace_support_contacts(
        &self,
        organization_id: i64,
        user_ids: &[i64],
        emails: &[String],
    ) -> Result<(), StoreError> {
        let now = Utc::now();
        on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            sqlx::query("DELETE FROM support_contacts WHERE organization_id = $1")
                .bind(organization_id)
                .execute(&mut *tx)
                .await?;
            for user_id in user_ids {
                sqlx::query(
                    "INSERT INTO support_contacts (organization_id, user_id, created_at) VALUES ($1, $2, $3)",
                )
                .bind(organization_id)
                .bind(user_id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            for email in emails {
                sqlx::query(
                    "INSERT INTO support_contacts (organization_id, email, created_at) VALUES ($1, $2, $3)",
                )
                .bind(organization_id)
                .bind(email)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok::<(), StoreError>(())
        })
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct BrandingRow {
    pub name: String,
    pub slug: String,
    pub email_sender_name: Option<String>,
    pub primary_color: String,
    pub accent_color: String,
    pub time_zone: String,
}

impl Db {
    pub async fn branding(&self, observatory_id: i64) -> Result<Option<BrandingRow>, StoreError> {
        let row = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT name, slug, email_sender_name, primary_color, accent_color, time_zone \
                 FROM observatories WHERE id = $1",
            )
            .bind(observatory_id)
            .fetch_optional(pool)
            .await
        })?;
        Ok(row)
    }

    pub async fn update_branding(
        &self,
        observatory_id: i64,
        branding: &BrandingRow,
    ) -> Result<(), StoreError> {
        on_pool!(self, |pool| {
            sqlx::query(
                "UPDATE observatories SET name = $1, slug = $2, email_sender_name = $3, \
                 primary_color = $4, accent_color = $5, time_zone = $6 WHERE id = $7",
            )
            .bind(&branding.name)
            .bind(&branding.slug)
            .bind(&branding.email_sender_name)
            .bind(&branding.primary_color)
            .bind(&branding.accent_color)
            .bind(&branding.time_zone)
            .bind(observatory_id)
            .execute(pool)
            .await
            .map(|_| ())
        })
        .map_err(map_unique)
    }
}

impl Db {
    /// Sets (or clears) the observatory's logo file; returns the one it replaces. Replaced only
    /// if nobody replaced it since it was read (else read again), so among uploads at the same
    /// moment each one's file is returned exactly once, to be deleted, and none is left behind.
    pub async fn set_logo_file(
        &self,
        observatory_id: i64,
        file: Option<&str>,
    ) -> Result<Option<String>, StoreError> {
        on_pool!(self, |pool| loop {
            let Some(previous): Option<Option<String>> =
                sqlx::query_scalar("SELECT logo_file FROM observatories WHERE id = $1")
                    .bind(observatory_id)
                    .fetch_optional(pool)
                    .await?
            else {
                break Ok(None);
            };
            let replaced = sqlx::query(
                "UPDATE observatories SET logo_file = $1 \
                 WHERE id = $2 AND logo_file IS NOT DISTINCT FROM $3",
            )
            .bind(file)
            .bind(observatory_id)
            .bind(previous.as_deref())
            .execute(pool)
            .await?
            .rows_affected();
            if replaced == 1 {
                break Ok::<Option<String>, StoreError>(previous);
            }
        })
    }
}
