//! InfluxQL duration literals: parsing `1h30m` into nanoseconds, and printing
//! nanoseconds the way InfluxDB does (Go's `time.Duration` form, `168h0m0s`).

const MICROSECOND: i64 = 1_000;
const MILLISECOND: i64 = 1_000_000;
const SECOND: i64 = 1_000_000_000;
const MINUTE: i64 = 60 * SECOND;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;
const WEEK: i64 = 7 * DAY;

/// Units InfluxQL knows, longest first so that `ms` is not read as minutes.
const UNITS: &[(&str, i64)] = &[
    ("ns", 1),
    ("ms", MILLISECOND),
    ("u", MICROSECOND),
    ("µ", MICROSECOND),
    ("μ", MICROSECOND),
    ("s", SECOND),
    ("m", MINUTE),
    ("h", HOUR),
    ("d", DAY),
    ("w", WEEK),
];

/// Parses an InfluxQL duration such as `10s`, `100ms`, `1h30m` or `-15m`
/// into nanoseconds.
///
/// Units: `ns`, `u` or `µ` (microseconds), `ms`, `s`, `m`, `h`, `d`, `w`.
/// Every number needs a unit; there is no fraction. Returns `None` for
/// anything else, and on overflow.
pub fn parse_duration(text: &str) -> Option<i64> {
    let (negative, mut rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    if rest.is_empty() {
        return None;
    }
    let mut total: i64 = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let (number, tail) = rest.split_at_checked(digits)?;
        let value: i64 = number.parse().ok()?;
        let (unit, tail) = UNITS
            .iter()
            .find_map(|(name, ns)| tail.strip_prefix(*name).map(|tail| (*ns, tail)))?;
        total = total.checked_add(value.checked_mul(unit)?)?;
        rest = tail;
    }
    Some(if negative { -total } else { total })
}

/// Formats nanoseconds as InfluxDB prints durations (Go's `Duration.String`):
/// `0s`, `500ms`, `1.5µs`, `1m30s`, `1h0m0s`, `168h0m0s`.
pub fn format_duration(ns: i64) -> String {
    let magnitude = ns.unsigned_abs();
    let sign = if ns < 0 { "-" } else { "" };
    if magnitude == 0 {
        return "0s".to_string();
    }
    if magnitude < SECOND.unsigned_abs() {
        let (precision, unit) = if magnitude < 1_000 {
            (0, "ns")
        } else if magnitude < 1_000_000 {
            (3, "µs")
        } else {
            (6, "ms")
        };
        let (whole, fraction) = split_fraction(magnitude, precision);
        return format!("{sign}{whole}{fraction}{unit}");
    }
    let (seconds, fraction) = split_fraction(magnitude, 9);
    let minutes = seconds / 60;
    let hours = minutes / 60;
    let mut out = sign.to_string();
    if hours > 0 {
        out.push_str(&format!("{hours}h"));
    }
    if minutes > 0 {
        out.push_str(&format!("{}m", minutes % 60));
    }
    out.push_str(&format!("{}{fraction}s", seconds % 60));
    out
}

/// Splits `value` into `value / 10^precision` and the decimal fraction
/// (`".5"`, or empty when it is zero), trailing zeros trimmed.
fn split_fraction(value: u64, precision: u32) -> (u64, String) {
    let scale = 10u64.pow(precision);
    let whole = value / scale;
    let rest = value % scale;
    if rest == 0 {
        return (whole, String::new());
    }
    let width = precision as usize;
    let digits = format!("{rest:0width$}");
    (whole, format!(".{}", digits.trim_end_matches('0')))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_every_unit() {
        let cases = [
            ("1ns", 1),
            ("10u", 10_000),
            ("10µ", 10_000),
            ("10μ", 10_000),
            ("100ms", 100_000_000),
            ("10s", 10_000_000_000),
            ("5m", 300_000_000_000),
            ("1h", 3_600_000_000_000),
            ("1d", 86_400_000_000_000),
            ("1w", 604_800_000_000_000),
            ("0s", 0),
        ];
        for (text, ns) in cases {
            assert_eq!(parse_duration(text), Some(ns), "{text}");
        }
    }

    #[test]
    fn parses_combined_and_negative_durations() {
        assert_eq!(parse_duration("1h30m"), Some(5_400_000_000_000));
        assert_eq!(parse_duration("1m30s500ms"), Some(90_500_000_000));
        assert_eq!(parse_duration("-15m"), Some(-900_000_000_000));
        assert_eq!(
            parse_duration("1451606400000ms"),
            Some(1_451_606_400_000_000_000)
        );
    }

    #[test]
    fn rejects_malformed_durations() {
        for text in [
            "", "-", "1", "h", "1x", "1.5h", "1h30", "10us", "1n", " 1s", "1s ", "--1s",
        ] {
            assert_eq!(parse_duration(text), None, "{text:?}");
        }
    }

    #[test]
    fn rejects_overflow() {
        assert_eq!(parse_duration("99999999999999999999s"), None);
        assert_eq!(parse_duration("9999999999999999w"), None);
        assert_eq!(parse_duration("9223372036854775807ns1ns"), None);
    }

    #[test]
    fn formats_like_go() {
        let cases = [
            (0, "0s"),
            (1, "1ns"),
            (1_500, "1.5µs"),
            (500_000_000, "500ms"),
            (1_500_000, "1.5ms"),
            (SECOND, "1s"),
            (1_500_000_000, "1.5s"),
            (90 * SECOND, "1m30s"),
            (30 * MINUTE, "30m0s"),
            (HOUR, "1h0m0s"),
            (DAY, "24h0m0s"),
            (WEEK, "168h0m0s"),
            (HOUR + 2 * SECOND + 5, "1h0m2.000000005s"),
            (-HOUR, "-1h0m0s"),
        ];
        for (ns, text) in cases {
            assert_eq!(format_duration(ns), text, "{ns}");
        }
        assert_eq!(format_duration(i64::MIN), "-2562047h47m16.854775808s");
    }

    proptest! {
        #[test]
        fn whole_seconds_round_trip(seconds in -1_000_000_000i64..1_000_000_000) {
            let ns = seconds * SECOND;
            prop_assert_eq!(parse_duration(&format_duration(ns)), Some(ns));
        }

        #[test]
        fn parse_never_panics(text in "\\PC{0,24}") {
            let _ = parse_duration(&text);
        }
    }
}
