//! A chunk: one field's timestamps and values, each column compressed, framed
//! with a count and a checksum.
//!
//! Layout, in order:
//!
//! | bytes | content |
//! |---|---|
//! | 1 | format marker [`FORMAT_V1`] |
//! | 1 | value kind (see [`Values::kind`]) |
//! | varint | point count `n`, at most [`MAX_POINTS`] |
//! | varint | byte length of the timestamp column |
//! | .. | timestamp column ([`timestamps`]) |
//! | .. | value column, up to the checksum |
//! | 4 | CRC-32 of every byte before it, little-endian |
//!
//! The decoder verifies the checksum before it looks at anything else.

use super::bits::{get_uvarint, put_uvarint};
use super::{
    DecodeError, EncodeError, MAX_POINTS, MAX_STRING_BYTES, booleans, floats, integers, strings,
    timestamps,
};

/// First byte of every chunk in this format.
pub const FORMAT_V1: u8 = 0xC1;

const KIND_FLOAT: u8 = 0;
const KIND_INTEGER: u8 = 1;
const KIND_UNSIGNED: u8 = 2;
const KIND_BOOLEAN: u8 = 3;
const KIND_STRING: u8 = 4;

/// One column of field values, all of one type.
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    /// 64-bit floats, kind 0.
    Float(Vec<f64>),
    /// Signed integers, kind 1.
    Integer(Vec<i64>),
    /// Unsigned integers, kind 2.
    Unsigned(Vec<u64>),
    /// Booleans, kind 3.
    Boolean(Vec<bool>),
    /// UTF-8 strings, kind 4.
    String(Vec<String>),
}

impl Values {
    /// Number of values.
    pub fn len(&self) -> usize {
        match self {
            Values::Float(v) => v.len(),
            Values::Integer(v) => v.len(),
            Values::Unsigned(v) => v.len(),
            Values::Boolean(v) => v.len(),
            Values::String(v) => v.len(),
        }
    }

    /// Whether there are no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The kind byte stored in the chunk header.
    pub fn kind(&self) -> u8 {
        match self {
            Values::Float(_) => KIND_FLOAT,
            Values::Integer(_) => KIND_INTEGER,
            Values::Unsigned(_) => KIND_UNSIGNED,
            Values::Boolean(_) => KIND_BOOLEAN,
            Values::String(_) => KIND_STRING,
        }
    }
}

/// One field's points: `timestamps[i]` goes with the `i`-th value.
#[derive(Debug, Clone, PartialEq)]
pub struct Chunk {
    /// Point times, in whatever unit the caller uses; any order.
    pub timestamps: Vec<i64>,
    /// Point values; as many as there are timestamps.
    pub values: Values,
}

/// Encodes a chunk; fails if the columns differ in length or exceed the
/// limits.
pub fn encode_chunk(chunk: &Chunk) -> Result<Vec<u8>, EncodeError> {
    let n = chunk.timestamps.len();
    if chunk.values.len() != n {
        return Err(EncodeError::LengthMismatch {
            timestamps: n,
            values: chunk.values.len(),
        });
    }
    if n > MAX_POINTS {
        return Err(EncodeError::TooManyPoints(n));
    }
    if let Values::String(v) = &chunk.values {
        let total = v.iter().fold(0usize, |acc, s| acc.saturating_add(s.len()));
        if total > MAX_STRING_BYTES {
            return Err(EncodeError::StringsTooLarge(total));
        }
    }
    let ts = timestamps::encode(&chunk.timestamps);
    let values = match &chunk.values {
        Values::Float(v) => floats::encode(v),
        Values::Integer(v) => integers::encode_i64(v),
        Values::Unsigned(v) => integers::encode_u64(v),
        Values::Boolean(v) => booleans::encode(v),
        Values::String(v) => strings::encode(v),
    };
    let mut out = Vec::with_capacity(ts.len() + values.len() + 26);
    out.push(FORMAT_V1);
    out.push(chunk.values.kind());
    put_uvarint(&mut out, n as u64);
    put_uvarint(&mut out, ts.len() as u64);
    out.extend_from_slice(&ts);
    out.extend_from_slice(&values);
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    Ok(out)
}

/// Decodes a chunk written by [`encode_chunk`], checksum first.
pub fn decode_chunk(bytes: &[u8]) -> Result<Chunk, DecodeError> {
    let (body, crc) = bytes
        .split_last_chunk::<4>()
        .ok_or(DecodeError::Truncated)?;
    if crc32fast::hash(body) != u32::from_le_bytes(*crc) {
        return Err(DecodeError::BadChecksum);
    }
    let (&format, rest) = body.split_first().ok_or(DecodeError::Truncated)?;
    if format != FORMAT_V1 {
        return Err(DecodeError::UnknownFormat(format));
    }
    let (&kind, rest) = rest.split_first().ok_or(DecodeError::Truncated)?;
    if kind > KIND_STRING {
        return Err(DecodeError::UnknownKind(kind));
    }
    let mut pos = 0;
    let n = usize::try_from(get_uvarint(rest, &mut pos)?).map_err(|_| DecodeError::TooLarge)?;
    if n > MAX_POINTS {
        return Err(DecodeError::TooLarge);
    }
    let ts_len =
        usize::try_from(get_uvarint(rest, &mut pos)?).map_err(|_| DecodeError::Truncated)?;
    let ts_end = pos.checked_add(ts_len).ok_or(DecodeError::Truncated)?;
    let ts_bytes = rest.get(pos..ts_end).ok_or(DecodeError::Truncated)?;
    let value_bytes = rest.get(ts_end..).ok_or(DecodeError::Truncated)?;
    let timestamps = timestamps::decode(ts_bytes, n)?;
    let values = match kind {
        KIND_FLOAT => Values::Float(floats::decode(value_bytes, n)?),
        KIND_INTEGER => Values::Integer(integers::decode_i64(value_bytes, n)?),
        KIND_UNSIGNED => Values::Unsigned(integers::decode_u64(value_bytes, n)?),
        KIND_BOOLEAN => Values::Boolean(booleans::decode(value_bytes, n)?),
        KIND_STRING => Values::String(strings::decode(value_bytes, n)?),
        other => return Err(DecodeError::UnknownKind(other)),
    };
    Ok(Chunk { timestamps, values })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::encoding::testutil::{random_walk, regular};
    use proptest::prelude::*;

    fn round_trip(chunk: &Chunk) -> Vec<u8> {
        let bytes = encode_chunk(chunk).unwrap();
        let back = decode_chunk(&bytes).unwrap();
        assert_eq!(back.timestamps, chunk.timestamps);
        match (&back.values, &chunk.values) {
            (Values::Float(a), Values::Float(b)) => {
                let a: Vec<u64> = a.iter().map(|v| v.to_bits()).collect();
                let b: Vec<u64> = b.iter().map(|v| v.to_bits()).collect();
                assert_eq!(a, b);
            }
            (a, b) => assert_eq!(a, b),
        }
        bytes
    }

    fn chunk(values: Values) -> Chunk {
        Chunk {
            timestamps: regular(1_700_000_000_000_000_000, 10_000_000_000, values.len()),
            values,
        }
    }

    #[test]
    fn every_kind_round_trips() {
        round_trip(&chunk(Values::Float(vec![
            1.5,
            f64::NAN,
            -0.0,
            f64::INFINITY,
        ])));
        round_trip(&chunk(Values::Integer(vec![i64::MIN, 0, i64::MAX])));
        round_trip(&chunk(Values::Unsigned(vec![u64::MAX, 0, 7])));
        round_trip(&chunk(Values::Boolean(vec![true, false, false])));
        round_trip(&chunk(Values::String(vec!["a".to_owned(), "".to_owned()])));
        for empty in [
            Values::Float(vec![]),
            Values::Integer(vec![]),
            Values::Unsigned(vec![]),
            Values::Boolean(vec![]),
            Values::String(vec![]),
        ] {
            assert!(empty.is_empty());
            round_trip(&chunk(empty));
        }
        round_trip(&Chunk {
            timestamps: vec![i64::MAX, i64::MIN, 0, 0],
            values: Values::Integer(vec![1, 2, 3, 4]),
        });
    }

    #[test]
    fn rounded_metrics_cost_under_one_and_a_half_bytes_per_point() {
        let values = random_walk(17, 1000, true);
        let bytes = round_trip(&chunk(Values::Float(values)));
        assert!(bytes.len() <= 1500, "{} bytes for 1000 points", bytes.len());
    }

    #[test]
    fn encode_rejects_bad_shapes() {
        let bad = Chunk {
            timestamps: vec![1, 2],
            values: Values::Boolean(vec![true]),
        };
        assert_eq!(
            encode_chunk(&bad),
            Err(EncodeError::LengthMismatch {
                timestamps: 2,
                values: 1
            })
        );
        let too_many = Chunk {
            timestamps: vec![0; MAX_POINTS + 1],
            values: Values::Boolean(vec![false; MAX_POINTS + 1]),
        };
        assert_eq!(
            encode_chunk(&too_many),
            Err(EncodeError::TooManyPoints(MAX_POINTS + 1))
        );
    }

    /// Replaces the trailing checksum with a correct one for the new body.
    fn reseal(mut bytes: Vec<u8>) -> Vec<u8> {
        bytes.truncate(bytes.len().saturating_sub(4));
        let crc = crc32fast::hash(&bytes);
        bytes.extend_from_slice(&crc.to_le_bytes());
        bytes
    }

    #[test]
    fn damage_is_detected() {
        let bytes = encode_chunk(&chunk(Values::Float(random_walk(3, 50, true)))).unwrap();
        for i in 0..bytes.len() {
            let mut damaged = bytes.clone();
            damaged[i] ^= 0x10;
            assert!(decode_chunk(&damaged).is_err(), "flip in byte {i}");
        }
        for cut in 0..bytes.len() {
            assert!(decode_chunk(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut kind = bytes.clone();
        kind[1] = 9;
        assert_eq!(
            decode_chunk(&reseal(kind)),
            Err(DecodeError::UnknownKind(9))
        );
        let mut format = bytes.clone();
        format[0] = 0x00;
        assert_eq!(
            decode_chunk(&reseal(format)),
            Err(DecodeError::UnknownFormat(0))
        );
        let mut flipped = bytes;
        flipped[3] ^= 0x01;
        assert_eq!(decode_chunk(&flipped), Err(DecodeError::BadChecksum));
    }

    proptest! {
        #[test]
        fn integer_chunks_round_trip(points in prop::collection::vec((any::<i64>(), any::<i64>()), 0..200)) {
            let (timestamps, values): (Vec<i64>, Vec<i64>) = points.into_iter().unzip();
            let chunk = Chunk { timestamps, values: Values::Integer(values) };
            let bytes = encode_chunk(&chunk).unwrap();
            prop_assert_eq!(decode_chunk(&bytes).unwrap(), chunk);
        }

        #[test]
        fn decoder_never_panics_on_sealed_garbage(
            kind in 0u8..6,
            rest in prop::collection::vec(any::<u8>(), 0..96),
        ) {
            let mut bytes = vec![FORMAT_V1, kind];
            bytes.extend_from_slice(&rest);
            bytes.extend_from_slice(&[0; 4]);
            let _ = decode_chunk(&reseal(bytes));
            let _ = decode_chunk(&rest);
        }
    }
}
