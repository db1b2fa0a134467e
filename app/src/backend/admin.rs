//! The observatory's administration: client organizations, the people of the portal, its
//! branding and its outgoing e-mail.
//! Every function takes the `Viewer` and checks it first; every query is scoped to the viewer's
//! observatory, so another observatory's ids behave as if they did not exist.

use super::accounts::{insert_invited_account, NewAccount, Viewer};
use super::config::Config;
use super::error::ServiceError;
use super::links;
use super::storage::accounts::NewTelescope;
use super::storage::admin::{BrandingRow, PersonRow, TelescopeFields};
use super::storage::links::OutboxFilter;
use super::storage::{Db, StoreError};
use super::time_zone;
use crate::i18n::{Lang, Msg};
use crate::model::{
    AccountState, BrandingSettings, ContactEntry, Email, LinkKind, MailState, OrganizationDetail,
    OrganizationSummary, OutboxMail, Person, Role, SupportContact, Telescope, OUTBOX_PAGE,
};

pub async fn organizations(
    db: &Db,
    viewer: &Viewer,
) -> Result<Vec<OrganizationSummary>, ServiceError> {
    viewer.require_admin()?;
    Ok(db
        .organizations(viewer.observatory_id)
        .await?
        .into_iter()
        .map(|o| OrganizationSummary {
            id: o.id,
            name: o.name,
            active: o.active,
            people: o.people,
            telescopes: o.telescopes,
        })
        .collect())
}

pub async fn create_organization(
    db: &Db,
    viewer: &Viewer,
    name: &str,
) -> Result<i64, ServiceError> {
    viewer.require_admin()?;
    let name = name.trim();
    if name.is_empty() {
        return Err(Msg::ErrorNameRequired.into());
    }
    db.insert_organization(viewer.observatory_id, name)
        .await
        .map_err(|e| match e {
            StoreError::Duplicate => ServiceError::User(Msg::ErrorOrganizationTaken),
            other => ServiceError::Store(other),
        })
}

pub async fn people(db: &Db, viewer: &Viewer) -> Result<Vec<Person>, ServiceError> {
    viewer.require_admin()?;
    Ok(db
        .people(viewer.observatory_id)
        .await?
        .into_iter()
        .filter_map(person_of)
        .collect())
}

fn person_of(row: PersonRow) -> Option<Person> {
    Some(Person {
        id: row.id,
        role: Role::from_code(&row.role)?,
        state: if !row.active {
            AccountState::Deactivated
        } else if row.has_password {
            AccountState::Active
        } else {
            AccountState::Invited
        },
        name: row.name,
        email: row.email,
        organization: row.organization_name,
    })
}

/// What the invitation form sends.
pub struct Invitation<'a> {
    pub name: &'a str,
    pub email: &'a str,
    pub role: Role,
    /// Required for clients, ignored for staff.
    pub organization_id: Option<i64>,
    pub language: Lang,
}

/// Adds a person without a password and e-mails them an invitation to choose one.
pub async fn invite(
    db: &Db,
    config: &Config,
    viewer: &Viewer,
    invitation: Invitation<'_>,
) -> Result<(), ServiceError> {
    viewer.require_admin()?;
    // Checked in the order of the form's fields, so the first message is about the first problem.
    if invitation.name.trim().is_empty() {
        return Err(Msg::ErrorNameRequired.into());
    }
    let email = Email::parse(invitation.email)?;
    let organization_id = match invitation.role {
        Role::Client => {
            // Each field is authorized on its own: the organization must be one of this
            // observatory's, whatever id the form carried.
            let id = invitation
                .organization_id
                .ok_or(ServiceError::User(Msg::ErrorOrganizationRequired))?;
            if !db.organization_exists(viewer.observatory_id, id).await? {
                return Err(Msg::ErrorOrganizationRequired.into());
            }
            Some(id)
        }
        Role::Admin | Role::Agent => None,
    };
    let account = NewAccount {
        observatory_id: viewer.observatory_id,
        organization_id,
        email: invitation.email,
        name: invitation.name,
        role: invitation.role,
        language: invitation.language,
        password: None,
    };
    // The account, its link and its e-mail commit together: a refused link leaves no account
    // behind that would make the retry "already used".
    let recipient = links::LinkRecipient {
        observatory_id: viewer.observatory_id,
        email: email.as_str(),
        name: invitation.name.trim(),
        language: invitation.language,
    };
    let link = links::compose_link(db, config, &recipient, LinkKind::Invitation)
        .await?
        .ok_or(ServiceError::User(Msg::ErrorTooManyAttempts))?;
    let mut tx = db.begin().await?;
    let user_id = insert_invited_account(&mut tx, &account).await?;
    link.store(&mut tx, user_id).await?;
    tx.commit().await?;
    Ok(())
}

/// Sends a new invitation (the earlier link stops working) to someone who has not yet joined.
pub async fn resend_invitation(
    db: &Db,
    config: &Config,
    viewer: &Viewer,
    user_id: i64,
) -> Result<(), ServiceError> {
    viewer.require_admin()?;
    let person = invited_person(db, viewer, user_id).await?;
    links::invite(db, config, viewer.observatory_id, &person.email).await
}

/// Withdraws a pending invitation: its link stops working and the account is deactivated, so
/// "forgot password" cannot open it either. Inviting again means reactivating and resending.
pub async fn revoke_invitation(db: &Db, viewer: &Viewer, user_id: i64) -> Result<(), ServiceError> {
    viewer.require_admin()?;
    let person = invited_person(db, viewer, user_id).await?;
    db.set_person_active(viewer.observatory_id, person.id, false)
        .await?;
    Ok(())
}

async fn invited_person(db: &Db, viewer: &Viewer, user_id: i64) -> Result<PersonRow, ServiceError> {
    let person = db
        .person(viewer.observatory_id, user_id)
        .await?
        .ok_or(ServiceError::User(Msg::ErrorNotFound))?;
    if person.has_password || !person.active {
        return Err(Msg::ErrorAlreadyJoined.into());
    }
    Ok(person)
}

/// Switches a person's access off (their sessions end and their API keys are revoked at once)
/// or back on (with new sessions and keys only).
pub async fn set_active(
    db: &Db,
    viewer: &Viewer,
    user_id: i64,
    active: bool,
) -> Result<(), ServiceError> {
    viewer.require_admin()?;
    if user_id == viewer.user_id {
        return Err(Msg::ErrorCannotDeactivateSelf.into());
    }
    if db
        .set_person_active(viewer.observatory_id, user_id, active)
        .await?
    {
        Ok(())
    } else {
        Err(Msg::ErrorNotFound.into())
    }
}

/// One organization with its telescopes and people.
pub async fn organization(
    db: &Db,
    viewer: &Viewer,
    organization_id: i64,
) -> Result<OrganizationDetail, ServiceError> {
    viewer.require_admin()?;
    let row = db
        .organization(viewer.observatory_id, organization_id)
        .await?
        .ok_or(ServiceError::User(Msg::ErrorNotFound))?;
    let telescopes = db
        .telescopes(viewer.observatory_id, organization_id)
        .await?
        .into_iter()
        .map(|t| Telescope {
            id: t.id,
            name: t.name,
            model: t.model,
            location: t.location,
            notes: t.notes,
            retired: t.retired,
        })
        .collect();
    let people = db
        .people(viewer.observatory_id)
        .await?
        .into_iter()
        .filter(|p| p.organization_id == Some(organization_id))
        .filter_map(person_of)
        .collect();
    let support_contacts = db
        .support_contacts(organization_id)
        .await?
        .into_iter()
        .map(|c| SupportContact {
            user_id: c.user_id,
            email: c.email,
            name: c.name,
        })
        .collect();
    Ok(OrganizationDetail {
        support_contacts,
        organization: OrganizationSummary {
            id: row.id,
            name: row.name,
            active: row.active,
            people: row.people,
            telescopes: row.telescopes,
        },
        telescopes,
        people,
    })
}

/// Renames an organization or switches it off (its people are signed out, cannot sign in, and
/// their API keys are revoked).
pub async fn update_organization(
    db: &Db,
    viewer: &Viewer,
    organization_id: i64,
    name: &str,
    active: bool,
) -> Result<(), ServiceError> {
    viewer.require_admin()?;
    let name = checked_text(name, 200, true)?;
    match db
        .update_organization(viewer.observatory_id, organization_id, name, active)
        .await
    {
        Ok(true) => Ok(()),
        Ok(false) => Err(Msg::ErrorNotFound.into()),
        Err(StoreError::Duplicate) => Err(Msg::ErrorOrganizationTaken.into()),
        Err(other) => Err(other.into()),
    }
}

pub async fn add_telescope(
    db: &Db,
    viewer: &Viewer,
    organization_id: i64,
    fields: TelescopeFields<'_>,
) -> Result<(), ServiceError> {
    viewer.require_admin()?;
    let fields = checked_telescope(fields)?;
    if db
        .organization(viewer.observatory_id, organization_id)
        .await?
        .is_none()
    {
        return Err(Msg::ErrorNotFound.into());
    }
    db.insert_telescope(NewTelescope {
        observatory_id: viewer.observatory_id,
        organization_id,
        name: fields.name,
        model: fields.model,
        location: fields.location,
        notes: fields.notes,
    })
    .await?;
    Ok(())
}

pub async fn update_telescope(
    db: &Db,
    viewer: &Viewer,
    telescope_id: i64,
    fields: TelescopeFields<'_>,
) -> Result<(), ServiceError> {
    viewer.require_admin()?;
    let fields = checked_telescope(fields)?;
    if db
        .update_telescope(viewer.observatory_id, telescope_id, &fields)
        .await?
    {
        Ok(())
    } else {
        Err(Msg::ErrorNotFound.into())
    }
}

pub async fn set_telescope_retired(
    db: &Db,
    viewer: &Viewer,
    telescope_id: i64,
    retired: bool,
) -> Result<(), ServiceError> {
    viewer.require_admin()?;
    if db
        .set_telescope_retired(viewer.observatory_id, telescope_id, retired)
        .await?
    {
        Ok(())
    } else {
        Err(Msg::ErrorNotFound.into())
    }
}

fn checked_telescope(fields: TelescopeFields<'_>) -> Result<TelescopeFields<'_>, Msg> {
    Ok(TelescopeFields {
        name: checked_text(fields.name, 200, true)?,
        model: checked_text(fields.model, 200, false)?,
        location: checked_text(fields.location, 200, false)?,
        notes: checked_text(fields.notes, 4000, false)?,
    })
}

/// Trims a text field and checks it is present (when required) and not too long.
fn checked_text(text: &str, max_chars: usize, required: bool) -> Result<&str, Msg> {
    let text = text.trim();
    if required && text.is_empty() {
        Err(Msg::ErrorNameRequired)
    } else if text.chars().count() > max_chars {
        Err(Msg::ErrorTextTooLong)
    } else {
        Ok(text)
    }
}

/// Replaces the organization's support contacts. Every entry is checked before anything is
/// saved: an invalid address refuses the whole list, and users must be the organization's own.
pub async fn save_support_contacts(
    db: &Db,
    viewer: &Viewer,
    organization_id: i64,
    entries: &[ContactEntry],
) -> Result<(), ServiceError> {
    viewer.require_admin()?;
    if db
        .organization(viewer.observatory_id, organization_id)
        .await?
        .is_none()
    {
        return Err(Msg::ErrorNotFound.into());
    }
    let members: Vec<i64> = db
        .people(viewer.observatory_id)
        .await?
        .into_iter()
        .filter(|p| p.organization_id == Some(organization_id))
        .map(|p| p.id)
        .collect();
    let mut user_ids = Vec::new();
    let mut emails = Vec::new();
    for entry in entries {
        match entry {
            ContactEntry::User(id) if members.contains(id) => {
                if !user_ids.contains(id) {
                    user_ids.push(*id);
                }
            }
            ContactEntry::User(_) => return Err(Msg::ErrorNotFound.into()),
            ContactEntry::Email(address) => {
                let email = Email::parse(address).map_err(|_| Msg::ErrorInvalidContactEmail)?;
                if !emails.contains(&email.as_str().to_string()) {
                    emails.push(email.as_str().to_string());
                }
            }
        }
    }
    db.replace_support_contacts(organization_id, &user_ids, &emails)
        .await?;
    Ok(())
}

/// The least contrast the brand colours must keep with the white text drawn on them (WCAG AA
/// for normal text).
pub const MIN_BRAND_CONTRAST: f64 = 4.5;

pub async fn branding(db: &Db, viewer: &Viewer) -> Result<BrandingSettings, ServiceError> {
    viewer.require_admin()?;
    let row = db
        .branding(viewer.observatory_id)
        .await?
        .ok_or(ServiceError::User(Msg::ErrorNotFound))?;
    Ok(BrandingSettings {
        name: row.name,
        slug: row.slug,
        email_sender_name: row.email_sender_name.unwrap_or_default(),
        primary_color: row.primary_color,
        accent_color: row.accent_color,
        time_zone: row.time_zone,
    })
}

/// Saves the observatory's look after checking every field; pages show it from the next load.
pub async fn update_branding(
    db: &Db,
    viewer: &Viewer,
    settings: &BrandingSettings,
) -> Result<(), ServiceError> {
    viewer.require_admin()?;
    let name = checked_text(&settings.name, 200, true)?;
    let slug = settings.slug.trim().to_lowercase();
    let slug_ok = (2..=40).contains(&slug.len())
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-')
        && !slug.ends_with('-');
    if !slug_ok {
        return Err(Msg::ErrorSlugInvalid.into());
    }
    let sender = links::header_safe(checked_text(&settings.email_sender_name, 100, false)?);
    let readable = |colour: &str| {
        crate::model::contrast_ratio(&colour.to_lowercase(), "#ffffff")
            .is_some_and(|r| r >= MIN_BRAND_CONTRAST)
    };
    if !readable(&settings.primary_color) {
        return Err(Msg::ErrorPrimaryUnreadable.into());
    }
    if !readable(&settings.accent_color) {
        return Err(Msg::ErrorAccentUnreadable.into());
    }
    let zone = time_zone::parse(&settings.time_zone)?;
    let row = BrandingRow {
        name: name.to_string(),
        slug,
        email_sender_name: (!sender.trim().is_empty()).then(|| sender.trim().to_string()),
        primary_color: settings.primary_color.to_lowercase(),
        accent_color: settings.accent_color.to_lowercase(),
        time_zone: zone.name().to_string(),
    };
    match db.update_branding(viewer.observatory_id, &row).await {
        Ok(()) => Ok(()),
        Err(StoreError::Duplicate) => Err(Msg::ErrorSlugTaken.into()),
        Err(other) => Err(other.into()),
    }
}

/// The observatory's e-mails, newest first (`OUTBOX_PAGE` of them, from before `before_id`),
/// all or only those waiting or failed; links redacted.
pub async fn outbox(
    db: &Db,
    viewer: &Viewer,
    filter: OutboxFilter,
    before_id: Option<i64>,
) -> Result<Vec<OutboxMail>, ServiceError> {
    viewer.require_admin()?;
    Ok(db
        .observatory_outbox(viewer.observatory_id, filter, before_id, OUTBOX_PAGE)
        .await?
        .into_iter()
        .map(|row| OutboxMail {
            id: row.id,
            state: if row.sent_at.is_some() {
                MailState::Sent
            } else if row.cancelled_at.is_some() {
                MailState::Cancelled
            } else if row.failed_at.is_some() {
                MailState::Failed
            } else {
                MailState::Waiting
            },
            to: row.to_address,
            subject: row.subject,
            kind: row.kind,
            attempts: row.attempts,
            last_error: row.last_error,
            created_at: row.created_at,
            sent_at: row.sent_at,
            next_attempt_at: row.next_attempt_at,
        })
        .collect())
}

/// A failed e-mail of the observatory is sent again, its attempts counted afresh.
pub async fn retry_mail(db: &Db, viewer: &Viewer, mail_id: i64) -> Result<(), ServiceError> {
    viewer.require_admin()?;
    if db.retry_failed_mail(viewer.observatory_id, mail_id).await? {
        Ok(())
    } else {
        Err(Msg::ErrorMailNotRetryable.into())
    }
}

/// An unsent e-mail of the observatory is never sent; a link it carried is wiped.
pub async fn cancel_mail(db: &Db, viewer: &Viewer, mail_id: i64) -> Result<(), ServiceError> {
    viewer.require_admin()?;
    if db
        .cancel_mail(viewer.observatory_id, mail_id, chrono::Utc::now())
        .await?
    {
        Ok(())
    } else {
        Err(Msg::ErrorMailNotCancellable.into())
    }
}
