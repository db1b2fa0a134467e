//! Time zones: the observatory's (an administration setting) and each person's (My account), as
//! IANA names checked against the zone database compiled into the server. Stored times stay UTC;
//! this turns a name into what pages need to show local dates (`model::LocalZone`) and gives the
//! local year that ticket numbers carry.

use crate::i18n::Msg;
use crate::model::{LocalZone, ZoneSpan, UTC_ZONE};
use chrono::{DateTime, Datelike, Duration, Offset, TimeZone, Utc};
use chrono_tz::{OffsetName, Tz};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// The regions whose zones people choose from (the database also keeps old aliases such as
/// `US/Pacific` and `Etc/GMT+3`, which still parse but are not offered).
const REGIONS: [&str; 9] = [
    "Africa/",
    "America/",
    "Antarctica/",
    "Asia/",
    "Atlantic/",
    "Australia/",
    "Europe/",
    "Indian/",
    "Pacific/",
];

/// The years before now whose dates a page may show with their own offsets; older ones use the
/// earliest offset resolved.
const YEARS_BACK: i32 = 6;
/// The years ahead (expiry dates, timers).
const YEARS_AHEAD: i32 = 3;

/// The zone named, if the database knows it.
pub fn parse(name: &str) -> Result<Tz, Msg> {
    name.trim()
        .parse::<Tz>()
        .map_err(|_| Msg::ErrorUnknownTimeZone)
}

/// A stored zone name; a name the database no longer knows reads as UTC rather than failing a
/// page.
pub fn stored(name: &str) -> Tz {
    parse(name).unwrap_or(Tz::UTC)
}

/// The zones people choose from, by name.
pub fn choices() -> Vec<String> {
    let mut names: Vec<String> = chrono_tz::TZ_VARIANTS
        .iter()
        .map(|tz| tz.name())
        .filter(|name| REGIONS.iter().any(|region| name.starts_with(region)))
        .map(str::to_string)
        .collect();
    names.sort();
    names.insert(0, UTC_ZONE.to_string());
    names
}

/// The calendar year at `at` in `zone`: a request opened on December 31 in Chile carries that
/// year even when it is already January in UTC.
pub fn local_year(zone: Tz, at: DateTime<Utc>) -> i32 {
    at.with_timezone(&zone).year()
}

/// The zone a person sees dates in: their own when set, else their observatory's.
pub fn for_person(own: Option<&str>, observatory: &str) -> LocalZone {
    let name = own
        .filter(|name| !name.trim().is_empty())
        .unwrap_or(observatory);
    let zone = stored(name);
    let year = Utc::now().year();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(found) = lock(cache).get(&(zone, year)) {
        return LocalZone::clone(found);
    }
    let resolved = Arc::new(resolve(zone, year));
    lock(cache).insert((zone, year), resolved.clone());
    LocalZone::clone(&resolved)
}

/// Resolved zones by the year they were resolved in (a few hundred at most).
type ResolvedZones = Mutex<HashMap<(Tz, i32), Arc<LocalZone>>>;
static CACHE: OnceLock<ResolvedZones> = OnceLock::new();

fn lock(cache: &ResolvedZones) -> std::sync::MutexGuard<'_, HashMap<(Tz, i32), Arc<LocalZone>>> {
    cache
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// What the zone is at one instant: its offset and its own abbreviation (`None` for the
/// database's numeric ones such as "-03").
fn offset_at(zone: Tz, at: DateTime<Utc>) -> (i32, Option<String>) {
    let local = at.with_timezone(&zone);
    let offset = local.offset();
    let name = offset
        .abbreviation()
        .filter(|name| name.starts_with(|c: char| c.is_ascii_alphabetic()))
        .map(str::to_string);
    (offset.fix().local_minus_utc(), name)
}

/// The zone's stretches of one offset from `YEARS_BACK` before `year` to `YEARS_AHEAD` after. A
/// zone changes offset at most a few times a year and never twice in a day, so it is read day
/// by day and each change is narrowed to its second.
fn resolve(zone: Tz, year: i32) -> LocalZone {
    let first = Utc
        .with_ymd_and_hms(year - YEARS_BACK, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or_default();
    let last = Utc
        .with_ymd_and_hms(year + YEARS_AHEAD, 12, 31, 0, 0, 0)
        .single()
        .unwrap_or_default();
    let (offset, abbreviation) = offset_at(zone, first);
    let mut spans = vec![ZoneSpan {
        from: first.timestamp(),
        offset,
        abbreviation,
    }];
    let mut day = first;
    while day < last {
        let next = day + Duration::days(1);
        let current = spans
            .last()
            .map(|span| (span.offset, span.abbreviation.clone()));
        if current.as_ref() != Some(&offset_at(zone, next)) {
            // The change lies in (day, next]: narrow it to the second.
            let (mut before, mut after) = (day.timestamp(), next.timestamp());
            while after - before > 1 {
                let middle = before + (after - before) / 2;
                let at = DateTime::from_timestamp(middle, 0).unwrap_or(next);
                if current.as_ref() == Some(&offset_at(zone, at)) {
                    before = middle;
                } else {
                    after = middle;
                }
            }
            let from = DateTime::from_timestamp(after, 0).unwrap_or(next);
            let (offset, abbreviation) = offset_at(zone, from);
            spans.push(ZoneSpan {
                from: after,
                offset,
                abbreviation,
            });
        }
        day = next;
    }
    LocalZone {
        name: zone.name().to_string(),
        spans,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::format_time;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    #[test]
    fn names_are_checked_and_unknown_ones_refused() {
        assert_eq!(parse(" America/Santiago ").unwrap(), Tz::America__Santiago);
        assert_eq!(parse("Mars/Olympus"), Err(Msg::ErrorUnknownTimeZone));
        assert_eq!(parse(""), Err(Msg::ErrorUnknownTimeZone));
        assert_eq!(stored("Mars/Olympus"), Tz::UTC);
        let choices = choices();
        assert_eq!(choices[0], "UTC");
        for observatory in ["America/Santiago", "Atlantic/Canary", "Pacific/Honolulu"] {
            assert!(
                choices.iter().any(|name| name == observatory),
                "{observatory}"
            );
        }
        assert!(!choices.iter().any(|name| name.starts_with("Etc/")));
    }

    #[test]
    fn the_local_year_is_the_observatory_s() {
        // 23:30 on December 31 in Chile (summer time, UTC-3) is already January in UTC.
        let night = at("2027-01-01T02:30:00Z");
        assert_eq!(local_year(Tz::America__Santiago, night), 2026);
        assert_eq!(local_year(Tz::UTC, night), 2027);
        assert_eq!(
            local_year(Tz::Atlantic__Canary, at("2026-12-31T23:30:00Z")),
            2026
        );
        assert_eq!(
            local_year(Tz::Atlantic__Canary, at("2027-01-01T00:00:00Z")),
            2027
        );
    }

    #[test]
    fn resolved_offsets_agree_with_the_database_at_every_hour() {
        for zone in [
            Tz::America__Santiago,
            Tz::Atlantic__Canary,
            Tz::Pacific__Honolulu,
            Tz::Australia__Lord_Howe,
        ] {
            let resolved = resolve(zone, 2026);
            let mut hour = at("2025-01-01T00:00:00Z");
            while hour < at("2028-01-01T00:00:00Z") {
                let expected = hour.with_timezone(&zone);
                assert_eq!(
                    resolved
                        .wall_clock(&hour)
                        .format("%Y-%m-%d %H:%M:%S")
                        .to_string(),
                    expected.format("%Y-%m-%d %H:%M:%S").to_string(),
                    "{zone} at {hour}"
                );
                hour += Duration::minutes(30);
            }
        }
    }

    #[test]
    fn dates_name_their_zone() {
        let canary = for_person(None, "Atlantic/Canary");
        assert_eq!(canary.name, "Atlantic/Canary");
        assert_eq!(
            format_time(&at("2026-07-01T12:00:00Z"), &canary),
            "2026-07-01 13:00 WEST"
        );
        let person = for_person(Some("Pacific/Honolulu"), "Atlantic/Canary");
        assert_eq!(
            format_time(&at("2026-07-01T12:00:00Z"), &person),
            "2026-07-01 02:00 HST"
        );
        let chile = for_person(Some(""), "America/Santiago");
        assert_eq!(
            format_time(&at("2027-01-01T02:30:00Z"), &chile),
            "2026-12-31 23:30 UTC-3"
        );
    }
}
