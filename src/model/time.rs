//! Cloudify's timestamps: Python's `str(datetime.now())`,
//! `YYYY-MM-DD HH:MM:SS.ffffff`, no fraction when microseconds are 0 (UTC
//! here; the 3.3 manager used its local zone, usually UTC too).

use std::time::{SystemTime, UNIX_EPOCH};

pub fn now() -> String {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    format_unix(d.as_secs() as i64, d.subsec_micros())
}

/// Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

pub fn format_unix(secs: i64, micros: u32) -> String {
    let (y, m, d) = civil(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    let base = format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        s / 3600,
        s % 3600 / 60,
        s % 60
    );
    if micros == 0 {
        base
    } else {
        format!("{base}.{micros:06}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_str_of_datetime() {
        assert_eq!(format_unix(0, 0), "1970-01-01 00:00:00");
        assert_eq!(
            format_unix(1_449_497_000, 123_456),
            "2015-12-07 14:03:20.123456"
        );
        assert_eq!(format_unix(951_782_400, 5), "2000-02-29 00:00:00.000005");
    }
}
