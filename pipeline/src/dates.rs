//! Dates in filters: YYYY-MM-DD (UTC) or plain Unix seconds. Calendar rules
//! (month lengths, leap years) come from `jiff`, so "2023-02-31" is refused
//! rather than silently becoming March 3rd.

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::Timestamp;

pub fn parse_date(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(secs) = s.parse::<i64>() {
        return Timestamp::from_second(secs).ok().map(|t| t.as_second());
    }
    // Exactly YYYY-MM-DD: jiff would also take a datetime here.
    if s.len() != 10 {
        return None;
    }
    let d: Date = s.parse().ok()?;
    Some(d.to_zoned(TimeZone::UTC).ok()?.timestamp().as_second())
}

/// Unix seconds to YYYY-MM-DD (UTC), for display.
pub fn format_date(secs: i64) -> String {
    match Timestamp::from_second(secs) {
        Ok(t) => t.to_zoned(TimeZone::UTC).date().to_string(),
        Err(_) => secs.to_string(),
    }
}

/// "m:ss" (or "h:mm:ss") for a time or duration in seconds.
pub fn clock(s: f64) -> String {
    let s = s.max(0.0).floor() as u64;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn known_dates() {
        assert_eq!(super::parse_date("1970-01-01"), Some(0));
        assert_eq!(super::parse_date("2023-03-01"), Some(1_677_628_800));
        assert_eq!(super::parse_date("2023-13-01"), None);
        assert_eq!(super::format_date(1_677_628_800), "2023-03-01");
        assert_eq!(super::parse_date("1677628800"), Some(1_677_628_800));
    }

    #[test]
    fn impossible_days_are_refused() {
        assert_eq!(super::parse_date("2023-02-31"), None);
        assert_eq!(super::parse_date("2023-02-29"), None);
        assert_eq!(super::parse_date("2024-02-29"), Some(1_709_164_800));
        assert_eq!(super::parse_date("2023-04-31"), None);
        assert_eq!(super::parse_date("2023-1-1"), None);
    }
}
