//! InfluxDB line protocol: errors, never panics; what parses formats back
//! to a line that parses to the same point.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (points, _) = tsdb::line::parse_lines(text);
    for p in points {
        let again = tsdb::line::parse_line(&tsdb::line::format_point(&p));
        assert_eq!(again.ok().map(|q| q.measurement), Some(p.measurement));
    }
});
