//! InfluxDB line protocol, sans-IO:
//! `measurement[,tag=value…] field=value[,field=value…] [timestamp]`.
//!
//! Escapes as InfluxDB 1.x reads them: in the measurement `\,` and `\ `; in
//! tag keys, tag values and field keys also `\=`; in string field values
//! `\"` and `\\`. A backslash before anything else is kept. Field values are
//! floats (`1`, `-1.5e3`), integers (`42i`), unsigned integers (`42u`),
//! booleans (`t`, `true`, `F`, …) and double-quoted strings. Blank lines and
//! `#` comments are skipped. Each bad line is its own error, so the good
//! lines of a body can still be written (InfluxDB's partial writes).

use std::fmt::Write as _;

/// A field's value.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    Float(f64),
    Integer(i64),
    Unsigned(u64),
    Boolean(bool),
    String(String),
}

impl FieldValue {
    /// InfluxDB's name of the type (`SHOW FIELD KEYS`, type conflicts).
    pub fn type_name(&self) -> &'static str {
        match self {
            FieldValue::Float(_) => "float",
            FieldValue::Integer(_) => "integer",
            FieldValue::Unsigned(_) => "unsigned",
            FieldValue::Boolean(_) => "boolean",
            FieldValue::String(_) => "string",
        }
    }
}

/// One parsed line.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub measurement: String,
    /// Sorted by key, keys unique.
    pub tags: Vec<(String, String)>,
    /// In line order, keys unique (a repeated key keeps the last value).
    pub fields: Vec<(String, FieldValue)>,
    /// In the write's precision; `None` means "now".
    pub timestamp: Option<i64>,
}

/// The unit of a write's timestamps (`precision=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    #[default]
    Nanoseconds,
    Microseconds,
    Milliseconds,
    Seconds,
    Minutes,
    Hours,
}

impl Precision {
    /// `n`, `ns`, `u`, `µ`, `us`, `ms`, `s`, `m`, `h`.
    pub fn parse(text: &str) -> Option<Precision> {
        Some(match text {
            "" | "n" | "ns" => Precision::Nanoseconds,
            "u" | "us" | "µ" | "µs" => Precision::Microseconds,
            "ms" => Precision::Milliseconds,
            "s" => Precision::Seconds,
            "m" => Precision::Minutes,
            "h" => Precision::Hours,
            _ => return None,
        })
    }

    /// Nanoseconds per unit.
    pub fn nanos(self) -> i64 {
        match self {
            Precision::Nanoseconds => 1,
            Precision::Microseconds => 1_000,
            Precision::Milliseconds => 1_000_000,
            Precision::Seconds => 1_000_000_000,
            Precision::Minutes => 60_000_000_000,
            Precision::Hours => 3_600_000_000_000,
        }
    }

    /// The precision whose unit is `n` nanoseconds.
    pub fn from_nanos(n: i64) -> Option<Precision> {
        [
            Precision::Nanoseconds,
            Precision::Microseconds,
            Precision::Milliseconds,
            Precision::Seconds,
            Precision::Minutes,
            Precision::Hours,
        ]
        .into_iter()
        .find(|p| p.nanos() == n)
    }

    /// A timestamp in this unit as nanoseconds; `None` when out of range.
    pub fn to_nanos(self, t: i64) -> Option<i64> {
        t.checked_mul(self.nanos())
    }
}

/// Why a line was refused; displays as InfluxDB's `unable to parse` text.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("unable to parse '{line}': {reason}")]
pub struct LineError {
    pub line: String,
    pub reason: &'static str,
}

/// The longest line accepted.
pub const MAX_LINE: usize = 1 << 20;

/// Parses a body: the points of the good lines and an error per bad line.
pub fn parse_lines(body: &str) -> (Vec<Point>, Vec<LineError>) {
    let mut points = Vec::new();
    let mut errors = Vec::new();
    for raw in body.split('\n') {
        let line = raw.trim_end_matches('\r').trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match parse_line(line) {
            Ok(p) => points.push(p),
            Err(e) => errors.push(e),
        }
    }
    (points, errors)
}

/// Splits `s` at `sep` bytes that are not escaped.
fn split_unescaped(s: &str, sep: u8) -> Vec<&str> {
    let b = s.as_bytes();
    let mut parts = Vec::new();
    let (mut start, mut i) = (0, 0);
    while i < b.len() {
        match b[i] {
            b'\\' => i += 1,
            c if c == sep => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    parts.push(&s[start.min(s.len())..]);
    parts
}

/// The field pairs of a line and what follows them. Quotes open only at
/// the start of a value (right after a key's `=`), as InfluxDB scans
/// them, so a `"` inside a key is literal.
fn scan_fields(s: &str) -> Result<(Vec<&str>, &str), &'static str> {
    let b = s.as_bytes();
    let mut parts = Vec::new();
    let (mut start, mut i) = (0, 0);
    let (mut in_value, mut quoted) = (false, false);
    while i < b.len() {
        match b[i] {
            b'\\' => i += 1,
            b'"' if quoted => quoted = false,
            b'=' if !in_value => {
                in_value = true;
                if b.get(i + 1) == Some(&b'"') {
                    quoted = true;
                    i += 1;
                }
            }
            b',' if !quoted => {
                parts.push(&s[start..i]);
                start = i + 1;
                in_value = false;
            }
            b' ' if !quoted => break,
            _ => {}
        }
        i += 1;
    }
    if quoted {
        return Err("unbalanced quotes");
    }
    let end = i.min(s.len());
    parts.push(&s[start.min(end)..end]);
    Ok((parts, s.get(end..).unwrap_or_default()))
}

/// The line's sections: key (measurement and tags), field pairs, timestamp.
fn sections(line: &str) -> Result<(&str, Vec<&str>, Option<&str>), &'static str> {
    let b = line.as_bytes();
    let mut i = 0;
    while i < b.len() && b[i] != b' ' {
        if b[i] == b'\\' {
            i += 1;
        }
        i += 1;
    }
    let key = &line[..i.min(line.len())];
    let rest = line.get(i..).unwrap_or_default().trim_start_matches(' ');
    if rest.is_empty() {
        return Err("missing fields");
    }
    let (fields, tail) = scan_fields(rest)?;
    let tail = tail.trim_matches(' ');
    if tail.contains(' ') {
        return Err("invalid field format");
    }
    Ok((key, fields, (!tail.is_empty()).then_some(tail)))
}

/// Removes the backslash before each of `escaped`.
fn unescape(s: &str, escaped: &[u8]) -> String {
    if !s.contains('\\') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\'
            && let Some(&n) = chars.peek()
            && n.is_ascii()
            && escaped.contains(&(n as u8))
        {
            out.push(n);
            chars.next();
            continue;
        }
        out.push(c);
    }
    out
}

fn key_value(pair: &str) -> Result<(&str, &str), &'static str> {
    let b = pair.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 1,
            b'=' => return Ok((&pair[..i], &pair[i + 1..])),
            _ => {}
        }
        i += 1;
    }
    Err("missing tag value")
}

fn number_text_ok(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-'))
        && s.bytes().any(|c| c.is_ascii_digit())
}

fn field_value(v: &str) -> Result<FieldValue, &'static str> {
    if let Some(inner) = v.strip_prefix('"') {
        let inner = inner.strip_suffix('"').ok_or("unbalanced quotes")?;
        if inner.ends_with('\\') && !inner.ends_with("\\\\") {
            return Err("unbalanced quotes");
        }
        return Ok(FieldValue::String(unescape(inner, b"\"\\")));
    }
    match v {
        "t" | "T" | "true" | "True" | "TRUE" => return Ok(FieldValue::Boolean(true)),
        "f" | "F" | "false" | "False" | "FALSE" => return Ok(FieldValue::Boolean(false)),
        _ => {}
    }
    if let Some(int) = v.strip_suffix('i') {
        if !number_text_ok(int) || int.contains(['.', 'e', 'E']) {
            return Err("invalid number");
        }
        return int
            .parse()
            .map(FieldValue::Integer)
            .map_err(|_| "value out of range");
    }
    if let Some(uint) = v.strip_suffix('u') {
        if !number_text_ok(uint) || uint.contains(['.', 'e', 'E', '-']) {
            return Err("invalid number");
        }
        return uint
            .parse()
            .map(FieldValue::Unsigned)
            .map_err(|_| "value out of range");
    }
    if !number_text_ok(v) {
        return Err(if v.is_empty() {
            "missing field value"
        } else {
            "invalid field format"
        });
    }
    let f: f64 = v.parse().map_err(|_| "invalid number")?;
    if !f.is_finite() {
        return Err("value out of range");
    }
    Ok(FieldValue::Float(f))
}

/// Parses one line (no newline).
pub fn parse_line(line: &str) -> Result<Point, LineError> {
    let err = |reason| LineError {
        line: line.chars().take(1024).collect(),
        reason,
    };
    if line.len() > MAX_LINE {
        return Err(err("line too long"));
    }
    let (key, fields, ts) = sections(line).map_err(err)?;
    let mut key_parts = split_unescaped(key, b',').into_iter();
    let measurement = unescape(key_parts.next().unwrap_or_default(), b", ");
    if measurement.is_empty() {
        return Err(err("missing measurement"));
    }
    let mut tags = Vec::new();
    for pair in key_parts {
        let (k, v) = key_value(pair).map_err(err)?;
        if k.is_empty() {
            return Err(err("missing tag key"));
        }
        if v.is_empty() {
            return Err(err("missing tag value"));
        }
        tags.push((unescape(k, b",= "), unescape(v, b",= ")));
    }
    tags.sort_by(|a, b| a.0.cmp(&b.0));
    if tags.windows(2).any(|w| w[0].0 == w[1].0) {
        return Err(err("duplicate tags"));
    }
    let mut out_fields: Vec<(String, FieldValue)> = Vec::new();
    for pair in fields {
        let (k, v) = key_value(pair).map_err(|_| err("missing field value"))?;
        if k.is_empty() {
            return Err(err("missing field key"));
        }
        let key = unescape(k, b",= ");
        let value = field_value(v).map_err(err)?;
        match out_fields.iter_mut().find(|(fk, _)| *fk == key) {
            Some(slot) => slot.1 = value,
            None => out_fields.push((key, value)),
        }
    }
    let timestamp = match ts {
        None => None,
        Some(t) => Some(t.parse::<i64>().map_err(|_| err("bad timestamp"))?),
    };
    Ok(Point {
        measurement,
        tags,
        fields: out_fields,
        timestamp,
    })
}

fn escape_into(out: &mut String, s: &str, escaped: &[char]) {
    for c in s.chars() {
        if escaped.contains(&c) {
            out.push('\\');
        }
        out.push(c);
    }
}

/// Formats a point as one line (no newline) that [`parse_line`] reads back.
pub fn format_point(p: &Point) -> String {
    let mut out = String::new();
    escape_into(&mut out, &p.measurement, &[',', ' ']);
    for (k, v) in &p.tags {
        out.push(',');
        escape_into(&mut out, k, &[',', '=', ' ']);
        out.push('=');
        escape_into(&mut out, v, &[',', '=', ' ']);
    }
    for (i, (k, v)) in p.fields.iter().enumerate() {
        out.push(if i == 0 { ' ' } else { ',' });
        escape_into(&mut out, k, &[',', '=', ' ']);
        out.push('=');
        match v {
            FieldValue::Float(f) => {
                let _ = write!(out, "{f:?}");
            }
            FieldValue::Integer(n) => {
                let _ = write!(out, "{n}i");
            }
            FieldValue::Unsigned(n) => {
                let _ = write!(out, "{n}u");
            }
            FieldValue::Boolean(b) => out.push_str(if *b { "true" } else { "false" }),
            FieldValue::String(s) => {
                out.push('"');
                escape_into(&mut out, s, &['"', '\\']);
                out.push('"');
            }
        }
    }
    if let Some(t) = p.timestamp {
        let _ = write!(out, " {t}");
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn escapes_as_influxdb_reads_them() {
        let p = parse_line(
            r#"my\ meas,tag\,k=va\=l\ ue fi\ eld="say \"hi\"",i=42i,b=t,f=1.5e3,u=7u 1700000000"#,
        )
        .unwrap();
        assert_eq!(p.measurement, "my meas");
        assert_eq!(p.tags, vec![("tag,k".to_owned(), "va=l ue".to_owned())]);
        assert_eq!(
            p.fields,
            vec![
                (
                    "fi eld".to_owned(),
                    FieldValue::String(r#"say "hi""#.into())
                ),
                ("i".to_owned(), FieldValue::Integer(42)),
                ("b".to_owned(), FieldValue::Boolean(true)),
                ("f".to_owned(), FieldValue::Float(1500.0)),
                ("u".to_owned(), FieldValue::Unsigned(7)),
            ]
        );
        assert_eq!(p.timestamp, Some(1_700_000_000));
        let p = parse_line("cpu,z=1,a=2 value=1").unwrap();
        assert_eq!(p.tags[0].0, "a", "tags are sorted");
        assert_eq!(p.timestamp, None);
        let p = parse_line(r#"m s="a b, c=d" 5"#).unwrap();
        assert_eq!(p.fields[0].1, FieldValue::String("a b, c=d".into()));
    }

    #[test]
    fn bad_lines_are_errors_and_good_lines_survive() {
        for bad in [
            "cpu",
            "cpu value=",
            "cpu value=abc",
            "cpu value=1 notatime",
            "cpu,host value=1",
            "cpu,host= value=1",
            "cpu value=\"open",
            "cpu value=1i2",
            "cpu value=99999999999999999999i",
            "cpu value=inf",
            ",t=1 value=1",
            "cpu value=1 1 2",
            "cpu,a=1,a=2 v=1",
            "cpu =1",
        ] {
            assert!(parse_line(bad).is_err(), "{bad}");
        }
        let (points, errors) = parse_lines("# c\n\ncpu v=1 1\nbad\r\nmem v=2i 2\n");
        assert_eq!(points.len(), 2);
        assert_eq!(errors.len(), 1);
        assert_eq!(
            errors[0].to_string(),
            "unable to parse 'bad': missing fields"
        );
    }

    #[test]
    fn precisions() {
        assert_eq!(Precision::parse("ms").unwrap().to_nanos(2), Some(2_000_000));
        assert_eq!(
            Precision::parse("h").unwrap().to_nanos(1),
            Some(3_600_000_000_000)
        );
        assert_eq!(Precision::Seconds.to_nanos(i64::MAX), None);
        assert!(Precision::parse("x").is_none());
    }

    fn name() -> impl Strategy<Value = String> {
        "[a-zA-Z0-9 ,=_.\"-]{1,12}".prop_filter("no leading space or #", |s| {
            !s.starts_with(' ') && !s.starts_with('#')
        })
    }

    fn value() -> impl Strategy<Value = FieldValue> {
        prop_oneof![
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(FieldValue::Float),
            any::<i64>().prop_map(FieldValue::Integer),
            any::<u64>().prop_map(FieldValue::Unsigned),
            any::<bool>().prop_map(FieldValue::Boolean),
            "[ -~]{0,20}".prop_map(FieldValue::String),
        ]
    }

    proptest! {
        #[test]
        fn format_then_parse_is_identity(
            measurement in name(),
            tags in proptest::collection::btree_map(name(), name(), 0..4),
            fields in proptest::collection::btree_map(name(), value(), 1..4),
            timestamp in proptest::option::of(any::<i64>()),
        ) {
            let p = Point {
                measurement,
                tags: tags.into_iter().collect(),
                fields: fields.into_iter().collect(),
                timestamp,
            };
            let line = format_point(&p);
            prop_assert_eq!(parse_line(&line).unwrap(), p, "{}", line);
        }

        #[test]
        fn never_panics(s in "\\PC{0,200}") {
            let _ = parse_lines(&s);
        }
    }
}
