//! WAL replay and block entries on truncated or corrupt files: every intact
//! record before the damage, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = tsdb::wal::decode_records(data);
    let _ = tsdb::block::decode_block(data);
});
