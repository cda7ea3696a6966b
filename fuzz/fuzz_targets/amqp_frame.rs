//! Frame decoder: never panics; every decoded frame re-encodes to bytes that
//! decode and re-encode to the same bytes.
#![no_main]

use broker::proto::frame::{decode_frame, encode_frame};
use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut buf = BytesMut::from(data);
    while let Ok(Some(frame)) = decode_frame(&mut buf, 131_072) {
        let mut again = BytesMut::new();
        encode_frame(&frame, &mut again);
        let bytes = again.clone();
        let round = decode_frame(&mut again, 1 << 30)
            .expect("re-encoded frame decodes")
            .expect("complete");
        // Compare encodings: NaN floats in tables are unequal to themselves.
        let mut third = BytesMut::new();
        encode_frame(&round, &mut third);
        assert_eq!(bytes, third);
    }
});
