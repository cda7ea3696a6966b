//! Float columns: one constant, decimal mantissas, or Gorilla XOR, whichever
//! is smallest. All three are bit-exact, NaN payloads and `-0.0` included.
//!
//! Layout of a non-empty column (the count `n` is not stored): a mode byte,
//! then
//!
//! - mode 0 (Gorilla XOR): a bit stream holding the first value's 64 bits,
//!   then for each later value its XOR `x` with the previous one: `0` if
//!   `x == 0`; `10` and the bits inside the previous window if `x` fits it;
//!   else `11`, 5 bits of leading zeros (capped at 31), 6 bits of
//!   meaningful length minus one, and the meaningful bits;
//! - mode 1 (decimal): an exponent byte `e` in `0..=15`, then the integer
//!   mantissas `m` as an [`integers`](super::integers) column; each value is
//!   `m as f64 / 10^e`;
//! - mode 2 (constant): the one value's bits, 8 bytes little-endian.
//!
//! The decimal mode is what makes metrics rounded to a few decimals cheap:
//! the encoder takes it only if every value is finite, not `-0.0`, and
//! recomputing `m as f64 / 10^e` with `|m| < 2^53` reproduces its exact bits
//! for one common `e`, the smallest that works.

use super::bits::{BitReader, BitWriter};
use super::{DecodeError, check_count, decode_empty, integers};

const MODE_GORILLA: u8 = 0;
const MODE_DECIMAL: u8 = 1;
const MODE_CONSTANT: u8 = 2;

/// `10^e` for every decimal exponent the format allows; all exact in `f64`.
const POW10: [f64; 16] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];

/// Mantissas must stay below 2^53 in magnitude, so `m as f64` is exact.
const MANTISSA_LIMIT: f64 = 9_007_199_254_740_992.0;

/// Encodes a float column; empty input gives empty output.
pub fn encode(values: &[f64]) -> Vec<u8> {
    let Some(first) = values.first() else {
        return Vec::new();
    };
    let first_bits = first.to_bits();
    if values.iter().all(|v| v.to_bits() == first_bits) {
        let mut out = Vec::with_capacity(9);
        out.push(MODE_CONSTANT);
        out.extend_from_slice(&first_bits.to_le_bytes());
        return out;
    }
    let gorilla = encode_gorilla(values);
    if let Some((exp, mantissas)) = to_decimal(values) {
        let ints = integers::encode_i64(&mantissas);
        if ints.len() + 2 < gorilla.len() {
            let mut out = Vec::with_capacity(ints.len() + 2);
            out.push(MODE_DECIMAL);
            out.push(exp);
            out.extend_from_slice(&ints);
            return out;
        }
    }
    gorilla
}

/// Decodes `n` floats written by [`encode`].
pub fn decode(bytes: &[u8], n: usize) -> Result<Vec<f64>, DecodeError> {
    if n == 0 {
        return decode_empty(bytes);
    }
    check_count(n)?;
    let (&mode, body) = bytes.split_first().ok_or(DecodeError::Truncated)?;
    match mode {
        MODE_GORILLA => decode_gorilla(body, n),
        MODE_DECIMAL => {
            let (&exp, ints) = body.split_first().ok_or(DecodeError::Truncated)?;
            let scale = *POW10
                .get(usize::from(exp))
                .ok_or(DecodeError::Corrupt("decimal exponent out of range"))?;
            let mantissas = integers::decode_i64(ints, n)?;
            Ok(mantissas.into_iter().map(|m| m as f64 / scale).collect())
        }
        MODE_CONSTANT => {
            let raw: [u8; 8] = body.try_into().map_err(|_| {
                if body.len() < 8 {
                    DecodeError::Truncated
                } else {
                    DecodeError::Corrupt("trailing bytes")
                }
            })?;
            Ok(vec![f64::from_bits(u64::from_le_bytes(raw)); n])
        }
        other => Err(DecodeError::UnknownEncoding(other)),
    }
}

/// The mantissa `m` with `m as f64 / 10^exp` bit-identical to `v`, if any.
fn mantissa(v: f64, exp: usize) -> Option<i64> {
    let scale = *POW10.get(exp)?;
    let m = (v * scale).round();
    if !m.is_finite() || m.abs() >= MANTISSA_LIMIT {
        return None;
    }
    let m = m as i64;
    ((m as f64 / scale).to_bits() == v.to_bits()).then_some(m)
}

/// The common exponent and the mantissas, if every value is decimal.
fn to_decimal(values: &[f64]) -> Option<(u8, Vec<i64>)> {
    let mut min_exp = 0;
    for &v in values {
        // Also rejects -0.0: its mantissa 0 recomputes to +0.0.
        let exp = (0..POW10.len()).find(|&e| mantissa(v, e).is_some())?;
        min_exp = min_exp.max(exp);
    }
    // A value exact at some `e` is almost always exact at larger `e` too;
    // verification decides.
    (min_exp..POW10.len()).find_map(|e| {
        let mantissas: Option<Vec<i64>> = values.iter().map(|&v| mantissa(v, e)).collect();
        mantissas.map(|m| (e as u8, m))
    })
}

/// Gorilla XOR encoding of a non-empty column, mode byte included.
fn encode_gorilla(values: &[f64]) -> Vec<u8> {
    let mut w = BitWriter::with_capacity(values.len() * 2 + 8);
    let mut prev = values.first().map_or(0, |v| v.to_bits());
    w.write_bits(prev, 64);
    // (leading zeros, trailing zeros) of the current window.
    let mut window: Option<(u32, u32)> = None;
    for v in values.iter().skip(1) {
        let cur = v.to_bits();
        let xor = cur ^ prev;
        prev = cur;
        if xor == 0 {
            w.write_bit(false);
            continue;
        }
        let lead = xor.leading_zeros().min(31);
        let trail = xor.trailing_zeros();
        match window {
            Some((wl, wt)) if lead >= wl && trail >= wt => {
                w.write_bits(0b10, 2);
                w.write_bits(xor >> wt, 64 - wl - wt);
            }
            _ => {
                let len = 64 - lead - trail;
                w.write_bits(0b11, 2);
                w.write_bits(u64::from(lead), 5);
                w.write_bits(u64::from(len - 1), 6);
                w.write_bits(xor >> trail, len);
                window = Some((lead, trail));
            }
        }
    }
    let body = w.finish();
    let mut out = Vec::with_capacity(body.len() + 1);
    out.push(MODE_GORILLA);
    out.extend_from_slice(&body);
    out
}

/// Decodes the bit stream of a Gorilla XOR column of `n >= 1` values.
fn decode_gorilla(body: &[u8], n: usize) -> Result<Vec<f64>, DecodeError> {
    let mut r = BitReader::new(body);
    let mut prev = r.read_bits(64)?;
    // Every later value takes at least one bit.
    if n - 1 > r.remaining_bits() {
        return Err(DecodeError::Truncated);
    }
    let mut out = Vec::with_capacity(n);
    out.push(f64::from_bits(prev));
    let mut window: Option<(u32, u32)> = None;
    for _ in 1..n {
        if r.read_bit()? {
            let xor = if r.read_bit()? {
                let lead = r.read_bits(5)? as u32;
                let len = r.read_bits(6)? as u32 + 1;
                if lead + len > 64 {
                    return Err(DecodeError::Corrupt("xor window wider than 64 bits"));
                }
                let trail = 64 - lead - len;
                window = Some((lead, trail));
                r.read_bits(len)? << trail
            } else {
                let (wl, wt) =
                    window.ok_or(DecodeError::Corrupt("xor window reused before set"))?;
                r.read_bits(64 - wl - wt)? << wt
            };
            prev ^= xor;
        }
        out.push(f64::from_bits(prev));
    }
    r.check_end()?;
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::encoding::testutil::{XorShift, random_walk};
    use proptest::prelude::*;

    fn bits(values: &[f64]) -> Vec<u64> {
        values.iter().map(|v| v.to_bits()).collect()
    }

    fn round_trip(values: &[f64]) -> Vec<u8> {
        let bytes = encode(values);
        let back = decode(&bytes, values.len()).unwrap();
        assert_eq!(bits(&back), bits(values), "input {values:?}");
        bytes
    }

    const SPECIALS: [f64; 18] = [
        0.0,
        -0.0,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
        f64::from_bits(0x7FF8_0000_0000_0001),
        f64::from_bits(0xFFF8_0000_DEAD_BEEF),
        f64::from_bits(0x7FF0_0000_0000_0001),
        f64::from_bits(0xFFF4_0000_0000_0000),
        f64::MIN_POSITIVE,
        f64::from_bits(1),
        f64::from_bits(0x000F_FFFF_FFFF_FFFF),
        f64::MAX,
        f64::MIN,
        f64::EPSILON,
        0.1,
        -2.5,
        1e300,
    ];

    #[test]
    fn special_values_round_trip_bit_exactly() {
        round_trip(&SPECIALS);
        for &v in &SPECIALS {
            round_trip(&[v]);
            round_trip(&[v; 5]);
            // Mixed into a decimal column, each one must force a fallback or
            // survive the decimal path exactly.
            round_trip(&[0.1, 0.25, v, 3.0]);
            round_trip(&[v, 12.5]);
        }
        round_trip(&[]);
    }

    #[test]
    fn negative_zero_is_not_decimal() {
        assert!(to_decimal(&[1.5, -0.0]).is_none());
        assert!(to_decimal(&[f64::from_bits(1)]).is_none());
        assert_eq!(to_decimal(&[1.5, 0.0, -2.25]).map(|d| d.0), Some(2));
        let bytes = round_trip(&[1.5, -0.0, 2.0]);
        assert_eq!(bytes.first(), Some(&MODE_GORILLA));
    }

    #[test]
    fn rounded_random_walk_takes_the_decimal_path() {
        let values = random_walk(42, 1000, true);
        let bytes = round_trip(&values);
        assert_eq!(bytes.first(), Some(&MODE_DECIMAL));
        assert_eq!(bytes.get(1), Some(&2));
        assert!(bytes.len() <= 1300, "{} bytes", bytes.len());
    }

    #[test]
    fn constant_column_is_tiny() {
        let bytes = round_trip(&[42.125; 1000]);
        assert_eq!(bytes.first(), Some(&MODE_CONSTANT));
        assert!(bytes.len() < 20);
    }

    #[test]
    fn full_precision_is_no_worse_than_gorilla() {
        let walk = random_walk(9, 1000, false);
        let mut rng = XorShift(5);
        let noise: Vec<f64> = (0..1000).map(|_| rng.unit() * 1e6 - 5e5).collect();
        let raw: Vec<f64> = (0..1000).map(|_| f64::from_bits(rng.next_u64())).collect();
        let walk_bytes = round_trip(&walk).len();
        assert!(walk_bytes < 8 * walk.len(), "{walk_bytes} bytes");
        for values in [walk, noise, raw] {
            let bytes = round_trip(&values);
            assert!(bytes.len() <= encode_gorilla(&values).len());
        }
    }

    #[test]
    fn truncated_or_bad_input_is_an_error() {
        for values in [
            random_walk(1, 20, true),
            random_walk(1, 20, false),
            vec![7.5; 3],
        ] {
            let bytes = encode(&values);
            for cut in 0..bytes.len() {
                assert!(decode(&bytes[..cut], values.len()).is_err(), "cut at {cut}");
            }
            let mut longer = bytes.clone();
            longer.push(0);
            assert!(decode(&longer, values.len()).is_err());
        }
        assert_eq!(decode(&[9], 1), Err(DecodeError::UnknownEncoding(9)));
        assert_eq!(
            decode(&[MODE_DECIMAL, 16, 0, 0], 1),
            Err(DecodeError::Corrupt("decimal exponent out of range"))
        );
        let reuse_first = [MODE_GORILLA, 0, 0, 0, 0, 0, 0, 0, 0, 0b1000_0000];
        assert!(decode(&reuse_first, 2).is_err());
    }

    proptest! {
        #[test]
        fn any_bits_round_trip(raw in prop::collection::vec(any::<u64>(), 0..300)) {
            let values: Vec<f64> = raw.iter().map(|&b| f64::from_bits(b)).collect();
            let back = decode(&encode(&values), values.len()).unwrap();
            prop_assert_eq!(bits(&back), raw);
        }

        #[test]
        fn decimals_round_trip(parts in prop::collection::vec((-10_000_000i64..10_000_000, 0usize..6), 1..300)) {
            let values: Vec<f64> = parts.iter().map(|&(m, e)| m as f64 / POW10[e]).collect();
            let bytes = encode(&values);
            let back = decode(&bytes, values.len()).unwrap();
            prop_assert_eq!(bits(&back), bits(&values));
        }

        #[test]
        fn repeats_round_trip(raw in prop::collection::vec(0u64..4, 1..300)) {
            let palette = [f64::NAN, 1.25, -0.0, 1e-310];
            let values: Vec<f64> = raw.iter().map(|&i| palette[i as usize]).collect();
            let back = decode(&encode(&values), values.len()).unwrap();
            prop_assert_eq!(bits(&back), bits(&values));
        }

        #[test]
        fn decoder_never_panics(
            mode in 0u8..4,
            rest in prop::collection::vec(any::<u8>(), 0..80),
            n in 0usize..2000,
        ) {
            let mut bytes = vec![mode];
            bytes.extend_from_slice(&rest);
            let _ = decode(&bytes, n);
            let _ = decode(&rest, n);
        }
    }
}
