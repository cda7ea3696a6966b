//! Timestamp columns: delta-of-delta in Gorilla-style variable-width buckets,
//! after dividing the deltas by their largest common power of ten.
//!
//! Layout of a non-empty column (the count `n` is not stored):
//!
//! 1. one byte `k` in `0..=18`: every delta is a multiple of `10^k`;
//! 2. a bit stream: the first timestamp as 64 raw bits, then for each later
//!    timestamp the zigzagged delta-of-delta `z` of the scaled deltas
//!    `q = (t[i] - t[i-1]) / 10^k`, the first `q` taken against 0.
//!
//! | prefix | payload | used when |
//! |---|---|---|
//! | `0` | none | `z == 0` |
//! | `10` | 7 bits | `z < 2^7` |
//! | `110` | 12 bits | `z < 2^12` |
//! | `1110` | 20 bits | `z < 2^20` |
//! | `11110` | 32 bits | `z < 2^32` |
//! | `11111` | 64 bits | otherwise |
//!
//! All arithmetic wraps modulo 2^64, so any `i64` sequence (unsorted, equal,
//! or jumping from `i64::MIN` to `i64::MAX`) round-trips exactly. A regular
//! series costs one bit per point after the second.

use super::bits::{BitReader, BitWriter, unzigzag, zigzag};
use super::{DecodeError, check_count, decode_empty};

/// `10^k` for every scale exponent `k` the format allows.
const SCALES: [i64; 19] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
    1_000_000_000,
    10_000_000_000,
    100_000_000_000,
    1_000_000_000_000,
    10_000_000_000_000,
    100_000_000_000_000,
    1_000_000_000_000_000,
    10_000_000_000_000_000,
    100_000_000_000_000_000,
    1_000_000_000_000_000_000,
];

/// Payload widths of the buckets between `0` and the 64-bit escape.
const WIDTHS: [u32; 4] = [7, 12, 20, 32];

/// Encodes a timestamp column; empty input gives empty output.
pub fn encode(ts: &[i64]) -> Vec<u8> {
    let Some((&first, rest)) = ts.split_first() else {
        return Vec::new();
    };
    let (exp, scale) = common_scale(ts);
    let mut w = BitWriter::with_capacity(9 + ts.len() / 8);
    w.write_bits(first as u64, 64);
    let mut prev = first;
    let mut prev_q = 0i64;
    for &t in rest {
        // Exact: every delta is a multiple of the positive `scale`.
        let q = t.wrapping_sub(prev) / scale;
        write_dod(&mut w, zigzag(q.wrapping_sub(prev_q)));
        prev = t;
        prev_q = q;
    }
    let body = w.finish();
    let mut out = Vec::with_capacity(1 + body.len());
    out.push(exp);
    out.extend_from_slice(&body);
    out
}

/// Decodes `n` timestamps written by [`encode`].
pub fn decode(bytes: &[u8], n: usize) -> Result<Vec<i64>, DecodeError> {
    if n == 0 {
        return decode_empty(bytes);
    }
    check_count(n)?;
    let (&exp, body) = bytes.split_first().ok_or(DecodeError::Truncated)?;
    let scale = *SCALES
        .get(usize::from(exp))
        .ok_or(DecodeError::Corrupt("timestamp scale out of range"))?;
    let mut r = BitReader::new(body);
    let first = r.read_bits(64)? as i64;
    // Every later timestamp takes at least one bit.
    if n - 1 > r.remaining_bits() {
        return Err(DecodeError::Truncated);
    }
    let mut out = Vec::with_capacity(n);
    out.push(first);
    let mut prev = first;
    let mut prev_q = 0i64;
    for _ in 1..n {
        let q = prev_q.wrapping_add(unzigzag(read_dod(&mut r)?));
        let t = prev.wrapping_add(q.wrapping_mul(scale));
        out.push(t);
        prev = t;
        prev_q = q;
    }
    r.check_end()?;
    Ok(out)
}

/// The largest `k` such that every delta is a multiple of `10^k`, with
/// `10^k`; `(0, 1)` when all deltas are zero or there are none.
fn common_scale(ts: &[i64]) -> (u8, i64) {
    let mut k = SCALES.len() - 1;
    let mut any_nonzero = false;
    for (a, b) in ts.iter().zip(ts.iter().skip(1)) {
        let delta = b.wrapping_sub(*a);
        if delta == 0 {
            continue;
        }
        any_nonzero = true;
        while k > 0 && delta % SCALES.get(k).copied().unwrap_or(1) != 0 {
            k -= 1;
        }
        if k == 0 {
            break;
        }
    }
    if !any_nonzero {
        k = 0;
    }
    (k as u8, SCALES.get(k).copied().unwrap_or(1))
}

/// Writes one zigzagged delta-of-delta in its bucket.
fn write_dod(w: &mut BitWriter, z: u64) {
    if z == 0 {
        w.write_bit(false);
        return;
    }
    for (i, &width) in WIDTHS.iter().enumerate() {
        if z < (1u64 << width) {
            // `i + 1` one bits, then a zero bit.
            let len = i as u32 + 2;
            w.write_bits((1u64 << len) - 2, len);
            w.write_bits(z, width);
            return;
        }
    }
    w.write_bits(0b11111, 5);
    w.write_bits(z, 64);
}

/// Reads one zigzagged delta-of-delta written by [`write_dod`].
fn read_dod(r: &mut BitReader<'_>) -> Result<u64, DecodeError> {
    if !r.read_bit()? {
        return Ok(0);
    }
    for &width in &WIDTHS {
        if !r.read_bit()? {
            return r.read_bits(width);
        }
    }
    r.read_bits(64)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::encoding::testutil::{XorShift, regular};
    use proptest::prelude::*;

    fn round_trip(ts: &[i64]) -> Vec<u8> {
        let bytes = encode(ts);
        assert_eq!(decode(&bytes, ts.len()).unwrap(), ts, "input {ts:?}");
        bytes
    }

    #[test]
    fn special_sequences_round_trip() {
        let cases: &[&[i64]] = &[
            &[],
            &[0],
            &[i64::MIN],
            &[i64::MAX],
            &[i64::MIN, i64::MAX],
            &[i64::MAX, i64::MIN, i64::MAX, 0, i64::MIN],
            &[5, 5, 5, 5],
            &[100, 90, 80, 70, 75],
            &[0, i64::MAX, 1, i64::MAX - 1],
            &[-1_000_000_000_000_000_000, 1_000_000_000_000_000_000, 0],
            &[1, 2, 4, 8, 16, 1 << 40, 1 << 62, -(1 << 62)],
        ];
        for ts in cases {
            round_trip(ts);
        }
    }

    #[test]
    fn regular_ten_second_series_costs_about_one_bit_per_point() {
        // Nanoseconds, as the line protocol stores them.
        let ns = regular(1_700_000_000_000_000_000, 10_000_000_000, 1000);
        let bytes = round_trip(&ns);
        assert!(bytes.len() < 200, "{} bytes", bytes.len());
        assert_eq!(bytes.first(), Some(&10));
        // Seconds and milliseconds cost the same.
        assert_eq!(
            round_trip(&regular(1_700_000_000, 10, 1000)).len(),
            bytes.len()
        );
        assert_eq!(
            round_trip(&regular(1_700_000_000_000, 10_000, 1000)).len(),
            bytes.len()
        );
    }

    #[test]
    fn jittered_series_round_trips_and_stays_small() {
        let mut rng = XorShift(7);
        let ts: Vec<i64> = (0..1000i64)
            .map(|i| 1_700_000_000_000 + i * 10_000 + (rng.next_u64() % 5) as i64)
            .collect();
        let bytes = round_trip(&ts);
        assert!(bytes.len() < 1200, "{} bytes", bytes.len());
    }

    #[test]
    fn truncated_input_is_an_error() {
        let ts = [
            1_700_000_000_000,
            1_700_000_010_000,
            1_700_000_020_000,
            3,
            i64::MIN,
        ];
        let bytes = encode(&ts);
        for cut in 0..bytes.len() {
            assert!(decode(&bytes[..cut], ts.len()).is_err(), "cut at {cut}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode(&longer, ts.len()).is_err());
        assert_eq!(
            decode(&bytes, crate::encoding::MAX_POINTS + 1),
            Err(DecodeError::TooLarge)
        );
        assert_eq!(
            decode(&[19, 0, 0, 0, 0, 0, 0, 0, 0], 1),
            Err(DecodeError::Corrupt("timestamp scale out of range"))
        );
    }

    proptest! {
        #[test]
        fn any_sequence_round_trips(ts in prop::collection::vec(any::<i64>(), 0..300)) {
            let bytes = encode(&ts);
            prop_assert_eq!(decode(&bytes, ts.len()).unwrap(), ts);
        }

        #[test]
        fn near_regular_sequences_round_trip(
            start in any::<i64>(),
            step in -1_000_000i64..1_000_000,
            jitter in prop::collection::vec(-3i64..3, 0..300),
        ) {
            let ts: Vec<i64> = jitter
                .iter()
                .enumerate()
                .map(|(i, j)| start.wrapping_add(step.wrapping_mul(i as i64)).wrapping_add(*j))
                .collect();
            let bytes = encode(&ts);
            prop_assert_eq!(decode(&bytes, ts.len()).unwrap(), ts);
        }

        #[test]
        fn decoder_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..64), n in 0usize..2000) {
            let _ = decode(&bytes, n);
        }
    }
}
