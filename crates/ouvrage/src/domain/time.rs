//! Time as stored (milliseconds since the Unix epoch, UTC) and as shown (Europe/Paris).

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Europe::Paris;

pub fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

pub const SECOND_MS: i64 = 1000;
pub const MINUTE_MS: i64 = 60 * SECOND_MS;
pub const HOUR_MS: i64 = 60 * MINUTE_MS;
pub const DAY_MS: i64 = 24 * HOUR_MS;

fn paris(ms: i64) -> Option<DateTime<chrono_tz::Tz>> {
    Utc.timestamp_millis_opt(ms).single().map(|t| t.with_timezone(&Paris))
}

/// `22/11/2026 14:05`, in Paris time.
pub fn fr_datetime(ms: i64) -> String {
    paris(ms).map(|t| t.format("%d/%m/%Y %H:%M").to_string()).unwrap_or_default()
}

/// `22/11/2026`, in Paris time.
pub fn fr_date(ms: i64) -> String {
    paris(ms).map(|t| t.format("%d/%m/%Y").to_string()).unwrap_or_default()
}

/// The first millisecond of calendar day `iso` (`YYYY-MM-DD`) in Paris: where a list filtered
/// "from that day" starts, whatever the season's offset.
pub fn paris_day_start_ms(iso: &str) -> Option<i64> {
    let day = chrono::NaiveDate::parse_from_str(iso, "%Y-%m-%d").ok()?;
    let midnight = day.and_hms_opt(0, 0, 0)?;
    Paris.from_local_datetime(&midnight).earliest().map(|t| t.timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paris_time_follows_daylight_saving() {
        // 2026-07-01 12:00 UTC is 14:00 in Paris (CEST); 2026-01-15 12:00 UTC is 13:00 (CET).
        assert_eq!(fr_datetime(1_782_907_200_000), "01/07/2026 14:00");
        assert_eq!(fr_datetime(1_768_478_400_000), "15/01/2026 13:00");
    }
}
