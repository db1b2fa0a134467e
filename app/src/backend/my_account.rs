//! A person's own account: name and language, password, and where they are signed in.

use super::accounts::{self, ClientInfo, Viewer};
use super::error::ServiceError;
use super::passwords;
use super::storage::my_account::ZoneChange;
use super::storage::Db;
use super::time_zone;
use crate::i18n::{Lang, Msg};
use crate::model::{NotificationEmailState, SessionInfo, TimeZoneChoices};

/// The zones a person or an administrator may choose from, with the observatory's and the
/// person's own.
pub fn time_zone_choices(viewer: &Viewer) -> TimeZoneChoices {
    TimeZoneChoices {
        names: time_zone::choices(),
        observatory: viewer.observatory_time_zone.clone(),
        own: viewer.time_zone.clone(),
    }
}

/// Where the person's notifications go: their sign-in address, the notification address
/// they set, and one waiting for its confirmation.
pub async fn notification_email(
    db: &Db,
    viewer: &Viewer,
) -> Result<NotificationEmailState, ServiceError> {
    let (current, pending) = db.notification_emails(viewer.user_id).await?;
    Ok(NotificationEmailState {
        login: viewer.email.clone(),
        current,
        pending,
    })
}

pub async fn sessions(db: &Db, viewer: &Viewer) -> Result<Vec<SessionInfo>, ServiceError> {
    Ok(db
        .sessions_of_user(viewer.user_id)
        .await?
        .into_iter()
        .map(|s| SessionInfo {
            id: s.id,
            current: s.id == viewer.session_id,
            device: describe_user_agent(&s.user_agent),
            ip: s.ip,
            signed_in_at: s.created_at,
            last_seen_at: s.last_seen_at,
        })
        .collect())
}

/// Ends one of the viewer's own sessions (another person's ids are not found).
pub async fn end_session(db: &Db, viewer: &Viewer, session_id: i64) -> Result<(), ServiceError> {
    if db
        .delete_session_of_user(viewer.user_id, session_id)
        .await?
    {
        Ok(())
    } else {
        Err(Msg::ErrorNotFound.into())
    }
}

/// Signs the viewer out everywhere but here.
pub async fn end_other_sessions(db: &Db, viewer: &Viewer) -> Result<u64, ServiceError> {
    Ok(db
        .delete_other_sessions(viewer.user_id, viewer.session_id)
        .await?)
}

/// Saves the person's name, language and time zone (`""`: their observatory's; `None`: as it
/// was, for a form sent before its list of zones arrived).
pub async fn update_profile(
    db: &Db,
    viewer: &Viewer,
    name: &str,
    language: Lang,
    time_zone: Option<&str>,
) -> Result<(), ServiceError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(Msg::ErrorNameRequired.into());
    }
    if name.chars().count() > 200 {
        return Err(Msg::ErrorNameTooLong.into());
    }
    let zone = match time_zone.map(str::trim) {
        None => ZoneChange::Keep,
        Some("") => ZoneChange::Set(None),
        Some(named) => ZoneChange::Set(Some(time_zone::parse(named)?.name())),
    };
    db.update_profile(viewer.user_id, name, language.code(), zone)
        .await?;
    Ok(())
}

/// Changes the password after checking the current one; may end every other session.
pub async fn change_password(
    db: &Db,
    viewer: &Viewer,
    client: &ClientInfo,
    current: &str,
    new: &str,
    end_others: bool,
) -> Result<(), ServiceError> {
    // Guessing the current password from a stolen session is limited like signing in.
    let stored = db
        .password_hash_of(viewer.user_id)
        .await?
        .unwrap_or_else(|| passwords::dummy_hash().to_string());
    let matches = accounts::throttled_password_check(
        db,
        viewer.observatory_id,
        &viewer.email,
        &client.ip,
        &stored,
        current,
    )
    .await?;
    if !matches {
        return Err(Msg::ErrorCurrentPasswordWrong.into());
    }
    passwords::check_new_password(new)?;
    let hash = passwords::hash_password(new.to_string()).await?;
    db.change_password_hash(viewer.user_id, &hash).await?;
    if end_others {
        db.delete_other_sessions(viewer.user_id, viewer.session_id)
            .await?;
    }
    Ok(())
}

/// A short, recognisable name for the device of a session ("Chrome on Android").
pub fn describe_user_agent(user_agent: &str) -> String {
    let browser = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
    ]
    .into_iter()
    .find(|(marker, _)| user_agent.contains(marker))
    .map(|(_, name)| name);
    let system = [
        ("Android", "Android"),
        ("iPhone", "iPhone"),
        ("iPad", "iPad"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("Linux", "Linux"),
    ]
    .into_iter()
    .find(|(marker, _)| user_agent.contains(marker))
    .map(|(_, name)| name);
    match (browser, system) {
        (Some(b), Some(s)) => format!("{b} · {s}"),
        (Some(b), None) => b.to_string(),
        (None, Some(s)) => s.to_string(),
        (None, None) if user_agent.is_empty() => "—".to_string(),
        (None, None) => user_agent.chars().take(40).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::describe_user_agent;

    #[test]
    fn devices_are_named_briefly() {
        assert_eq!(
            describe_user_agent("Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Mobile Safari/537.36"),
            "Chrome · Android"
        );
        assert_eq!(
            describe_user_agent("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"),
            "Safari · iPhone"
        );
        assert_eq!(
            describe_user_agent(
                "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
            ),
            "Firefox · Linux"
        );
        assert_eq!(describe_user_agent(""), "—");
        assert_eq!(describe_user_agent("curl/8.5.0"), "curl/8.5.0");
    }
}
