//! Local time as people see it. Times are stored and sent in UTC; pages show them in the
//! person's zone (or their observatory's). The browser carries no zone database: the server
//! resolves the zone into the UTC offsets it had over the years a page may show, and both sides
//! format with those, so a hydrated page shows exactly what the server rendered.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// The zone nobody chose: UTC.
pub const UTC_ZONE: &str = "UTC";

/// One stretch of time with the same UTC offset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZoneSpan {
    /// When the stretch begins, in Unix seconds.
    pub from: i64,
    /// Seconds east of UTC.
    pub offset: i32,
    /// What people there call it ("HST", "WET"), or `None` where the zone database has no name
    /// of its own (it writes "-03"): the offset is shown instead.
    pub abbreviation: Option<String>,
}

/// A time zone resolved for display.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalZone {
    /// The IANA name ("America/Santiago").
    pub name: String,
    /// Ordered by `from`; before the first, the first applies; never empty.
    pub spans: Vec<ZoneSpan>,
}

impl Default for LocalZone {
    fn default() -> Self {
        LocalZone {
            name: UTC_ZONE.into(),
            spans: vec![ZoneSpan {
                from: i64::MIN,
                offset: 0,
                abbreviation: Some(UTC_ZONE.into()),
            }],
        }
    }
}

impl LocalZone {
    /// The stretch `time` falls in.
    fn span_at(&self, time: &DateTime<Utc>) -> Option<&ZoneSpan> {
        let at = time.timestamp();
        let after = self.spans.partition_point(|span| span.from <= at);
        self.spans.get(after.saturating_sub(1))
    }

    /// What the zone is called at `time`: its abbreviation, else its offset ("UTC-3").
    pub fn label_at(&self, time: &DateTime<Utc>) -> String {
        match self.span_at(time) {
            Some(ZoneSpan {
                abbreviation: Some(name),
                ..
            }) => name.clone(),
            Some(span) => offset_label(span.offset),
            None => UTC_ZONE.into(),
        }
    }

    /// `time` moved by the zone's offset then: its fields read as the local wall clock.
    pub fn wall_clock(&self, time: &DateTime<Utc>) -> DateTime<Utc> {
        let offset = self.span_at(time).map_or(0, |span| span.offset);
        *time + Duration::seconds(i64::from(offset))
    }
}

/// "UTC", "UTC-3", "UTC+5:30".
fn offset_label(offset: i32) -> String {
    if offset == 0 {
        return UTC_ZONE.into();
    }
    let sign = if offset < 0 { '-' } else { '+' };
    let minutes = offset.unsigned_abs() / 60;
    match minutes % 60 {
        0 => format!("UTC{sign}{}", minutes / 60),
        rest => format!("UTC{sign}{}:{rest:02}", minutes / 60),
    }
}

/// Dates as the portal shows them, the same on the server and in the browser (so hydration
/// matches): `2026-12-31 21:30 UTC-3`, in `zone`, named.
pub fn format_time(time: &DateTime<Utc>, zone: &LocalZone) -> String {
    format!(
        "{} {}",
        zone.wall_clock(time).format("%Y-%m-%d %H:%M"),
        zone.label_at(time)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    #[test]
    fn utc_is_the_default_and_says_so() {
        let zone = LocalZone::default();
        assert_eq!(
            format_time(
                &Utc.with_ymd_and_hms(2026, 11, 22, 14, 5, 0).unwrap(),
                &zone
            ),
            "2026-11-22 14:05 UTC"
        );
    }

    #[test]
    fn each_stretch_applies_its_offset_and_name() {
        // Chile's summer time ended on 2026-04-05 at 03:00 UTC (from -3 to -4).
        let zone = LocalZone {
            name: "America/Santiago".into(),
            spans: vec![
                ZoneSpan {
                    from: at("2025-09-07T04:00:00Z").timestamp(),
                    offset: -3 * 3600,
                    abbreviation: None,
                },
                ZoneSpan {
                    from: at("2026-04-05T03:00:00Z").timestamp(),
                    offset: -4 * 3600,
                    abbreviation: Some("CLT".into()),
                },
            ],
        };
        assert_eq!(
            format_time(&at("2026-04-05T02:59:00Z"), &zone),
            "2026-04-04 23:59 UTC-3"
        );
        assert_eq!(
            format_time(&at("2026-04-05T03:00:00Z"), &zone),
            "2026-04-04 23:00 CLT"
        );
        // Before the first stretch, the first one's offset.
        assert_eq!(
            format_time(&at("2020-01-01T12:00:00Z"), &zone),
            "2020-01-01 09:00 UTC-3"
        );
        assert_eq!(offset_label(5 * 3600 + 1800), "UTC+5:30");
        assert_eq!(offset_label(-10 * 3600), "UTC-10");
    }
}
