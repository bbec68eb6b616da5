//! HTTP byte ranges (RFC 9110 §14) for originals, so a browser can seek in
//! an audio or video file without downloading all of it. One range per
//! request; a multi-range request gets the whole file (a valid answer).

#[derive(Debug, PartialEq, Eq)]
pub enum RangeReq {
    /// No usable Range header: send everything (200).
    Full,
    /// Bytes `start..=end` (206).
    Partial(u64, u64),
    /// The range lies outside the file (416).
    Unsatisfiable,
}

pub fn parse(header: Option<&str>, len: u64) -> RangeReq {
    let Some(h) = header else { return RangeReq::Full };
    let Some(spec) = h.trim().strip_prefix("bytes=") else { return RangeReq::Full };
    if spec.contains(',') {
        return RangeReq::Full;
    }
    let Some((a, b)) = spec.split_once('-') else { return RangeReq::Full };
    let (a, b) = (a.trim(), b.trim());
    match (a.parse::<u64>().ok(), b.parse::<u64>().ok()) {
        // bytes=-N: the last N bytes.
        (None, Some(n)) if a.is_empty() => {
            if n == 0 || len == 0 {
                RangeReq::Unsatisfiable
            } else {
                RangeReq::Partial(len.saturating_sub(n), len - 1)
            }
        }
        (Some(s), None) if b.is_empty() => {
            if s >= len {
                RangeReq::Unsatisfiable
            } else {
                RangeReq::Partial(s, len - 1)
            }
        }
        (Some(s), Some(e)) if s <= e => {
            if s >= len {
                RangeReq::Unsatisfiable
            } else {
                RangeReq::Partial(s, e.min(len - 1))
            }
        }
        _ => RangeReq::Full,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_ranges() {
        assert_eq!(parse(None, 100), RangeReq::Full);
        assert_eq!(parse(Some("bytes=0-9"), 100), RangeReq::Partial(0, 9));
        assert_eq!(parse(Some("bytes=90-"), 100), RangeReq::Partial(90, 99));
        assert_eq!(parse(Some("bytes=-10"), 100), RangeReq::Partial(90, 99));
        assert_eq!(parse(Some("bytes=50-1000"), 100), RangeReq::Partial(50, 99));
        assert_eq!(parse(Some("bytes=100-"), 100), RangeReq::Unsatisfiable);
        assert_eq!(parse(Some("bytes=0-1,5-6"), 100), RangeReq::Full);
        assert_eq!(parse(Some("bytes=9-2"), 100), RangeReq::Full);
        assert_eq!(parse(Some("items=0-1"), 100), RangeReq::Full);
        assert_eq!(parse(Some("bytes=-0"), 100), RangeReq::Unsatisfiable);
    }
}
