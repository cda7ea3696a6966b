//! Journal records read back after a crash: any bytes give a record, a
//! clean end, or a torn/corrupt stop, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut at = 0;
    while let Ok(Some((_, used))) = broker::persist::record::decode(&data[at..]) {
        assert!(used > 0);
        at += used;
    }
});
