//! `@timestamp` strings ⇄ epoch milliseconds (RFC 3339 / ISO 8601 subset:
//! `YYYY-MM-DD[T ]HH:MM:SS[.fff][Z|+00:00]`, or a bare date).

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Milliseconds since the epoch, or `None` when `s` is not a timestamp.
pub fn parse_millis(s: &str) -> Option<i64> {
    let s = s.trim();
    let num = |a: usize, b: usize| -> Option<i64> { s.get(a..b)?.parse().ok() };
    let (y, mo, d) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    if s.get(4..5)? != "-"
        || s.get(7..8)? != "-"
        || !(1..=12).contains(&mo)
        || !(1..=31).contains(&d)
    {
        return None;
    }
    let mut millis = days_from_civil(y, mo as u32, d as u32) * 86_400_000;
    if s.len() > 10 {
        if !matches!(s.get(10..11)?, "T" | " ") {
            return None;
        }
        let (h, mi, sec) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
        millis += ((h * 60 + mi) * 60 + sec) * 1000;
        let rest = s.get(19..)?;
        let frac = rest.strip_prefix('.').map(|r| {
            r.chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
        });
        if let Some(f) = &frac {
            let ms: String = f.chars().chain("000".chars()).take(3).collect();
            millis += ms.parse::<i64>().ok()?;
        }
    }
    Some(millis)
}

/// `YYYY-MM-DDTHH:MM:SS.fffZ`.
pub fn format_millis(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let rem = ms.rem_euclid(86_400_000);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let secs = rem / 1000;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60,
        rem % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_forms() {
        for ms in [0, 1_449_497_000_123, 951_782_400_000, 4_102_444_799_999] {
            assert_eq!(parse_millis(&format_millis(ms)), Some(ms));
        }
        assert_eq!(
            parse_millis("2015-12-07 14:03:11.123+0000"),
            parse_millis("2015-12-07T14:03:11.123Z")
        );
        assert_eq!(parse_millis("1970-01-02"), Some(86_400_000));
        assert_eq!(parse_millis("yesterday"), None);
        assert_eq!(parse_millis("2015-13-01"), None);
    }
}
