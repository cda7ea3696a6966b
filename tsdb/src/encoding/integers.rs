//! Integer columns: frame-of-reference bit packing in blocks of 128, applied
//! either to the deltas between neighbours or to the values themselves,
//! whichever is smaller for the column.
//!
//! Layout of a non-empty column (the count `n` is not stored): a mode byte,
//! then
//!
//! - mode 0 (delta): the first value as a zigzag varint, then the `n - 1`
//!   wrapping deltas `v[i] - v[i-1]` as blocks;
//! - mode 1 (plain): the `n` values as blocks.
//!
//! Each block of up to 128 numbers is a width byte `w` in `0..=64`, the
//! block minimum as a zigzag varint, then each number minus the minimum in
//! `w` bits, padded to a whole byte. A block whose numbers are all equal
//! (a constant rate, say) has `w = 0` and costs two or three bytes.
//!
//! Unsigned columns reuse the same format through a bit cast to `i64`.

use super::bits::{BitReader, BitWriter, get_ivarint, put_ivarint};
use super::{DecodeError, check_count, decode_empty};

/// Numbers per frame-of-reference block.
pub const BLOCK_LEN: usize = 128;

const MODE_DELTA: u8 = 0;
const MODE_PLAIN: u8 = 1;

/// Encodes a signed integer column; empty input gives empty output.
pub fn encode_i64(values: &[i64]) -> Vec<u8> {
    let Some(&first) = values.first() else {
        return Vec::new();
    };
    let deltas: Vec<i64> = values
        .iter()
        .zip(values.iter().skip(1))
        .map(|(a, b)| b.wrapping_sub(*a))
        .collect();
    let mut delta = vec![MODE_DELTA];
    put_ivarint(&mut delta, first);
    pack_blocks(&deltas, &mut delta);
    let mut plain = vec![MODE_PLAIN];
    pack_blocks(values, &mut plain);
    if plain.len() < delta.len() {
        plain
    } else {
        delta
    }
}

/// Decodes `n` signed integers written by [`encode_i64`].
pub fn decode_i64(bytes: &[u8], n: usize) -> Result<Vec<i64>, DecodeError> {
    if n == 0 {
        return decode_empty(bytes);
    }
    check_count(n)?;
    let (&mode, _) = bytes.split_first().ok_or(DecodeError::Truncated)?;
    let mut pos = 1;
    let out = match mode {
        MODE_DELTA => {
            let first = get_ivarint(bytes, &mut pos)?;
            check_block_room(bytes, pos, n - 1)?;
            let mut out = Vec::with_capacity(n);
            out.push(first);
            unpack_blocks(bytes, &mut pos, n - 1, &mut out)?;
            let mut acc = 0i64;
            for v in &mut out {
                acc = acc.wrapping_add(*v);
                *v = acc;
            }
            out
        }
        MODE_PLAIN => {
            check_block_room(bytes, pos, n)?;
            let mut out = Vec::with_capacity(n);
            unpack_blocks(bytes, &mut pos, n, &mut out)?;
            out
        }
        other => return Err(DecodeError::UnknownEncoding(other)),
    };
    if pos == bytes.len() {
        Ok(out)
    } else {
        Err(DecodeError::Corrupt("trailing bytes"))
    }
}

/// Encodes an unsigned integer column (bit cast to `i64`, then
/// [`encode_i64`]).
pub fn encode_u64(values: &[u64]) -> Vec<u8> {
    let cast: Vec<i64> = values.iter().map(|&v| v as i64).collect();
    encode_i64(&cast)
}

/// Decodes `n` unsigned integers written by [`encode_u64`].
pub fn decode_u64(bytes: &[u8], n: usize) -> Result<Vec<u64>, DecodeError> {
    Ok(decode_i64(bytes, n)?
        .into_iter()
        .map(|v| v as u64)
        .collect())
}

/// Appends `values` as frame-of-reference blocks.
fn pack_blocks(values: &[i64], out: &mut Vec<u8>) {
    for block in values.chunks(BLOCK_LEN) {
        let min = block.iter().copied().min().unwrap_or(0);
        let max = block.iter().copied().max().unwrap_or(0);
        // `max >= min`, so the wrapped difference is the true range.
        let range = max.wrapping_sub(min) as u64;
        let width = u64::BITS - range.leading_zeros();
        out.push(width as u8);
        put_ivarint(out, min);
        if width > 0 {
            let mut w = BitWriter::with_capacity((block.len() * width as usize).div_ceil(8));
            for &v in block {
                w.write_bits(v.wrapping_sub(min) as u64, width);
            }
            out.extend_from_slice(&w.finish());
        }
    }
}

/// Fails unless `bytes[pos..]` can hold the blocks of `count` numbers
/// (each block takes at least two bytes), so callers may then allocate.
fn check_block_room(bytes: &[u8], pos: usize, count: usize) -> Result<(), DecodeError> {
    let blocks = count.div_ceil(BLOCK_LEN);
    if blocks > bytes.len().saturating_sub(pos) / 2 {
        Err(DecodeError::Truncated)
    } else {
        Ok(())
    }
}

/// Reads the blocks of `count` numbers at `*pos`, appending them to `out`.
fn unpack_blocks(
    bytes: &[u8],
    pos: &mut usize,
    count: usize,
    out: &mut Vec<i64>,
) -> Result<(), DecodeError> {
    let mut left = count;
    while left > 0 {
        let len = left.min(BLOCK_LEN);
        let width = u32::from(*bytes.get(*pos).ok_or(DecodeError::Truncated)?);
        *pos += 1;
        if width > u64::BITS {
            return Err(DecodeError::Corrupt("bit width above 64"));
        }
        let min = get_ivarint(bytes, pos)?;
        if width == 0 {
            out.extend(std::iter::repeat_n(min, len));
        } else {
            let packed_len = (len * width as usize).div_ceil(8);
            let end = pos.checked_add(packed_len).ok_or(DecodeError::Truncated)?;
            let packed = bytes.get(*pos..end).ok_or(DecodeError::Truncated)?;
            let mut r = BitReader::new(packed);
            for _ in 0..len {
                out.push(min.wrapping_add(r.read_bits(width)? as i64));
            }
            *pos = end;
        }
        left -= len;
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::encoding::testutil::XorShift;
    use proptest::prelude::*;

    fn round_trip(values: &[i64]) -> Vec<u8> {
        let bytes = encode_i64(values);
        assert_eq!(decode_i64(&bytes, values.len()).unwrap(), values);
        bytes
    }

    #[test]
    fn extremes_round_trip() {
        let cases: &[&[i64]] = &[
            &[],
            &[0],
            &[i64::MIN],
            &[i64::MAX],
            &[i64::MIN, i64::MAX, i64::MIN, 0, -1, 1, i64::MAX],
            &[i64::MAX, i64::MAX - 1, i64::MIN + 1, i64::MIN],
        ];
        for values in cases {
            round_trip(values);
        }
        let unsigned = [0, 1, u64::MAX, u64::MAX - 1, 1 << 63, (1 << 63) - 1, 42];
        let bytes = encode_u64(&unsigned);
        assert_eq!(decode_u64(&bytes, unsigned.len()).unwrap(), unsigned);
    }

    #[test]
    fn counters_with_a_constant_rate_are_tiny() {
        let values: Vec<i64> = (0..1000).map(|i| 1_000_000 + i * 1500).collect();
        let bytes = round_trip(&values);
        assert_eq!(bytes.first(), Some(&MODE_DELTA));
        assert!(bytes.len() < 40, "{} bytes", bytes.len());
        let constant = [-7i64; 1000];
        assert!(round_trip(&constant).len() < 24);
    }

    #[test]
    fn noisy_values_pick_plain_packing() {
        let mut rng = XorShift(3);
        let values: Vec<i64> = (0..1000)
            .map(|_| 1_000_000_000 + (rng.next_u64() % 1000) as i64)
            .collect();
        let bytes = round_trip(&values);
        assert_eq!(bytes.first(), Some(&MODE_PLAIN));
        // 10 bits per value plus block headers; deltas would need 11 bits.
        assert!(bytes.len() < 1350, "{} bytes", bytes.len());
    }

    #[test]
    fn small_deltas_pack_into_a_byte_each() {
        let mut rng = XorShift(11);
        let mut x = 5000i64;
        let values: Vec<i64> = (0..1000)
            .map(|_| {
                x += (rng.next_u64() % 201) as i64 - 100;
                x
            })
            .collect();
        let bytes = round_trip(&values);
        assert!(bytes.len() <= 1000 + 8 * 4 + 4, "{} bytes", bytes.len());
    }

    #[test]
    fn truncated_or_bad_input_is_an_error() {
        let values = [5i64, -3, 1 << 40, 7, 7, 7, i64::MIN];
        let bytes = encode_i64(&values);
        for cut in 0..bytes.len() {
            assert!(
                decode_i64(&bytes[..cut], values.len()).is_err(),
                "cut at {cut}"
            );
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode_i64(&longer, values.len()).is_err());
        assert_eq!(decode_i64(&[7], 1), Err(DecodeError::UnknownEncoding(7)));
        assert_eq!(
            decode_i64(&[MODE_PLAIN, 65, 0], 1),
            Err(DecodeError::Corrupt("bit width above 64"))
        );
        assert_eq!(
            decode_i64(&[MODE_PLAIN, 0, 0], 10_000),
            Err(DecodeError::Truncated)
        );
        assert_eq!(
            decode_i64(&bytes, crate::encoding::MAX_POINTS + 1),
            Err(DecodeError::TooLarge)
        );
        assert!(decode_i64(&[0], 0).is_err());
    }

    proptest! {
        #[test]
        fn any_i64_round_trips(values in prop::collection::vec(any::<i64>(), 0..400)) {
            let bytes = encode_i64(&values);
            prop_assert_eq!(decode_i64(&bytes, values.len()).unwrap(), values);
        }

        #[test]
        fn any_u64_round_trips(values in prop::collection::vec(any::<u64>(), 0..400)) {
            let bytes = encode_u64(&values);
            prop_assert_eq!(decode_u64(&bytes, values.len()).unwrap(), values);
        }

        #[test]
        fn small_range_round_trips(values in prop::collection::vec(-300i64..300, 0..400)) {
            let bytes = encode_i64(&values);
            prop_assert_eq!(decode_i64(&bytes, values.len()).unwrap(), values);
        }

        #[test]
        fn decoder_never_panics(
            mode in 0u8..3,
            rest in prop::collection::vec(any::<u8>(), 0..64),
            n in 0usize..2000,
        ) {
            let mut bytes = vec![mode];
            bytes.extend_from_slice(&rest);
            let _ = decode_i64(&bytes, n);
            let _ = decode_i64(&rest, n);
        }
    }
}
