//! Boolean columns: one bit per value, or run lengths when the column is
//! made of long runs, whichever is smaller.
//!
//! Layout of a non-empty column (the count `n` is not stored): a mode byte,
//! then
//!
//! - mode 0 (packed): `n` bits, most significant first, padded to a byte;
//! - mode 1 (runs): the first value as a byte (0 or 1), then the length of
//!   each run as a varint; runs alternate in value and add up to `n`.

use super::bits::{BitReader, BitWriter, get_uvarint, put_uvarint};
use super::{DecodeError, check_count, decode_empty};

const MODE_PACKED: u8 = 0;
const MODE_RUNS: u8 = 1;

/// Encodes a boolean column; empty input gives empty output.
pub fn encode(values: &[bool]) -> Vec<u8> {
    let Some(&first) = values.first() else {
        return Vec::new();
    };
    let packed_len = 1 + values.len().div_ceil(8);
    let mut runs = vec![MODE_RUNS, u8::from(first)];
    let mut current = first;
    let mut run = 0u64;
    for &v in values {
        if v == current {
            run += 1;
        } else {
            put_uvarint(&mut runs, run);
            current = v;
            run = 1;
        }
        if runs.len() >= packed_len {
            break;
        }
    }
    put_uvarint(&mut runs, run);
    if runs.len() < packed_len {
        return runs;
    }
    let mut w = BitWriter::with_capacity(packed_len);
    for &v in values {
        w.write_bit(v);
    }
    let mut out = Vec::with_capacity(packed_len);
    out.push(MODE_PACKED);
    out.extend_from_slice(&w.finish());
    out
}

/// Decodes `n` booleans written by [`encode`].
pub fn decode(bytes: &[u8], n: usize) -> Result<Vec<bool>, DecodeError> {
    if n == 0 {
        return decode_empty(bytes);
    }
    check_count(n)?;
    let (&mode, body) = bytes.split_first().ok_or(DecodeError::Truncated)?;
    match mode {
        MODE_PACKED => {
            let need = n.div_ceil(8);
            if body.len() < need {
                return Err(DecodeError::Truncated);
            }
            if body.len() > need {
                return Err(DecodeError::Corrupt("trailing bytes"));
            }
            let mut r = BitReader::new(body);
            (0..n).map(|_| r.read_bit()).collect()
        }
        MODE_RUNS => decode_runs(body, n),
        other => Err(DecodeError::UnknownEncoding(other)),
    }
}

/// Decodes the body of a run-length column of `n` values.
fn decode_runs(body: &[u8], n: usize) -> Result<Vec<bool>, DecodeError> {
    let (&first, runs) = body.split_first().ok_or(DecodeError::Truncated)?;
    let mut value = match first {
        0 => false,
        1 => true,
        _ => return Err(DecodeError::Corrupt("run value is not 0 or 1")),
    };
    let mut out = Vec::new();
    let mut pos = 0;
    while out.len() < n {
        let run = get_uvarint(runs, &mut pos)?;
        let left = n - out.len();
        let run = match usize::try_from(run) {
            Ok(run) if (1..=left).contains(&run) => run,
            _ => return Err(DecodeError::Corrupt("bad run length")),
        };
        out.extend(std::iter::repeat_n(value, run));
        value = !value;
    }
    if pos == runs.len() {
        Ok(out)
    } else {
        Err(DecodeError::Corrupt("trailing bytes"))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::encoding::testutil::XorShift;
    use proptest::prelude::*;

    fn round_trip(values: &[bool]) -> Vec<u8> {
        let bytes = encode(values);
        assert_eq!(decode(&bytes, values.len()).unwrap(), values);
        bytes
    }

    #[test]
    fn shapes_round_trip_and_pick_the_smaller_mode() {
        round_trip(&[]);
        round_trip(&[true]);
        round_trip(&[false]);
        let all_true = round_trip(&[true; 1000]);
        assert_eq!(all_true.first(), Some(&MODE_RUNS));
        assert!(all_true.len() <= 4);
        let mut runs = vec![false; 400];
        runs.extend([true; 500]);
        runs.extend([false; 100]);
        assert_eq!(round_trip(&runs).first(), Some(&MODE_RUNS));
        let alternating: Vec<bool> = (0..1000).map(|i| (i & 1) == 0).collect();
        let bytes = round_trip(&alternating);
        assert_eq!(bytes.first(), Some(&MODE_PACKED));
        assert_eq!(bytes.len(), 126);
        let mut rng = XorShift(1);
        let noisy: Vec<bool> = (0..999).map(|_| (rng.next_u64() & 1) == 1).collect();
        round_trip(&noisy);
    }

    #[test]
    fn truncated_or_bad_input_is_an_error() {
        for values in [vec![true, false, true], vec![true; 300]] {
            let bytes = encode(&values);
            for cut in 0..bytes.len() {
                assert!(decode(&bytes[..cut], values.len()).is_err(), "cut at {cut}");
            }
            let mut longer = bytes.clone();
            longer.push(1);
            assert!(decode(&longer, values.len()).is_err());
        }
        assert_eq!(decode(&[5], 1), Err(DecodeError::UnknownEncoding(5)));
        assert!(decode(&[MODE_RUNS, 2, 1], 1).is_err());
        assert!(decode(&[MODE_RUNS, 1, 0], 1).is_err());
        assert!(decode(&[MODE_RUNS, 1, 3], 2).is_err());
        assert_eq!(
            decode(
                &[MODE_RUNS, 0, 0x80, 0x80, 0x40],
                crate::encoding::MAX_POINTS + 1
            ),
            Err(DecodeError::TooLarge)
        );
    }

    proptest! {
        #[test]
        fn any_column_round_trips(values in prop::collection::vec(any::<bool>(), 0..500)) {
            let bytes = encode(&values);
            prop_assert_eq!(decode(&bytes, values.len()).unwrap(), values);
        }

        #[test]
        fn runs_round_trip(runs in prop::collection::vec(1usize..200, 0..20)) {
            let values: Vec<bool> = runs
                .iter()
                .enumerate()
                .flat_map(|(i, &len)| std::iter::repeat_n(i % 2 == 1, len))
                .collect();
            let bytes = encode(&values);
            prop_assert_eq!(decode(&bytes, values.len()).unwrap(), values);
        }

        #[test]
        fn decoder_never_panics(
            mode in 0u8..3,
            rest in prop::collection::vec(any::<u8>(), 0..32),
            n in 0usize..5000,
        ) {
            let mut bytes = vec![mode];
            bytes.extend_from_slice(&rest);
            let _ = decode(&bytes, n);
            let _ = decode(&rest, n);
        }
    }
}
