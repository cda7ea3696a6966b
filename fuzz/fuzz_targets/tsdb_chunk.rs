//! The chunk decoder on arbitrary bytes (after the checksum, so the codecs
//! themselves are reached), and the per-column decoders directly.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tsdb::encoding::{decode_chunk, floats, integers, timestamps};

fuzz_target!(|data: &[u8]| {
    let _ = decode_chunk(data);
    // A valid checksum over the fuzzer's bytes reaches the codecs.
    let mut sealed = data.to_vec();
    sealed.extend_from_slice(&crc32fast::hash(data).to_le_bytes());
    let _ = decode_chunk(&sealed);
    let n = data.first().map_or(0, |b| usize::from(*b) * 8);
    let rest = data.get(1..).unwrap_or_default();
    let _ = timestamps::decode(rest, n);
    let _ = floats::decode(rest, n);
    let _ = integers::decode_i64(rest, n);
});
