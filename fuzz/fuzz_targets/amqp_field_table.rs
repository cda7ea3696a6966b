//! Field tables: never panic, nesting limit holds, decoded tables round-trip.
#![no_main]

use broker::proto::FieldTable;
use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(table) = FieldTable::decode(data) {
        let mut buf = BytesMut::new();
        table.encode(&mut buf);
        let again = FieldTable::decode(&buf).expect("re-encoded table decodes");
        // NaN floats compare unequal to themselves; compare encodings.
        let mut buf2 = BytesMut::new();
        again.encode(&mut buf2);
        assert_eq!(buf, buf2);
    }
});
