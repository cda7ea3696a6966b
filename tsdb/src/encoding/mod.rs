//! Per-series chunk encodings: pure, sans-IO codecs that turn one column of
//! timestamps or typed field values into compact bytes and back.
//!
//! Every codec here is bit-exact: `decode(encode(x)) == x` for any input,
//! including NaN payloads, `-0.0`, unsorted or wrapping timestamps and the
//! extreme integers. Decoders never panic and never allocate from an untrusted
//! count without bounding it first: counts are capped at [`MAX_POINTS`] and
//! checked against the remaining input where each value needs at least one
//! bit or byte.
//!
//! The column codecs take the value count `n` as an argument instead of
//! storing it, because the chunk header already carries it. An empty column
//! encodes to zero bytes. Each non-empty column starts with one header byte
//! that names the variant chosen for that column:
//!
//! | module | variants |
//! |---|---|
//! | [`timestamps`] | decimal scale byte, then delta-of-delta buckets (1 bit per regular point) |
//! | [`floats`] | Gorilla XOR, decimal mantissas via [`integers`], or one constant |
//! | [`integers`] | delta + frame-of-reference bit packing, or frame-of-reference without delta |
//! | [`booleans`] | bit packed, or run lengths |
//! | [`strings`] | length-prefixed, or a dictionary of at most 256 entries |
//!
//! [`encode_chunk`] and [`decode_chunk`] frame one timestamp column and one
//! value column into a checksummed chunk; see the `chunk` module docs for the
//! layout.

pub mod bits;
pub mod booleans;
mod chunk;
pub mod floats;
pub mod integers;
pub mod strings;
pub mod timestamps;

pub use chunk::{Chunk, Values, decode_chunk, encode_chunk};

/// Most values one chunk (and so one column) may hold.
pub const MAX_POINTS: usize = 1 << 20;

/// Most bytes of string data one decoded string column may expand to.
pub const MAX_STRING_BYTES: usize = 64 << 20;

/// Why a chunk or column could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The input ended before the data it announces.
    #[error("input truncated")]
    Truncated,
    /// The input is malformed; the text says which rule it breaks.
    #[error("corrupt input: {0}")]
    Corrupt(&'static str),
    /// A count or decoded size exceeds [`MAX_POINTS`] or [`MAX_STRING_BYTES`].
    #[error("count or decoded size exceeds the limit")]
    TooLarge,
    /// The chunk's CRC-32 does not match its contents.
    #[error("checksum mismatch")]
    BadChecksum,
    /// The chunk names a value kind this version does not know.
    #[error("unknown value kind {0}")]
    UnknownKind(u8),
    /// A column header names a variant this version does not know.
    #[error("unknown column encoding {0}")]
    UnknownEncoding(u8),
    /// The chunk's first byte is not a known format marker.
    #[error("unknown chunk format {0:#04x}")]
    UnknownFormat(u8),
}

/// Why a chunk could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// The timestamp and value columns have different lengths.
    #[error("{timestamps} timestamps but {values} values")]
    LengthMismatch {
        /// Number of timestamps given.
        timestamps: usize,
        /// Number of values given.
        values: usize,
    },
    /// More than [`MAX_POINTS`] points.
    #[error("{0} points exceed the chunk limit")]
    TooManyPoints(usize),
    /// The string values add up to more than [`MAX_STRING_BYTES`].
    #[error("{0} bytes of strings exceed the chunk limit")]
    StringsTooLarge(usize),
}

/// Checks a requested value count against [`MAX_POINTS`].
pub(crate) fn check_count(n: usize) -> Result<(), DecodeError> {
    if n > MAX_POINTS {
        Err(DecodeError::TooLarge)
    } else {
        Ok(())
    }
}

/// Decodes an empty column: zero values must come from zero bytes.
pub(crate) fn decode_empty<T>(bytes: &[u8]) -> Result<Vec<T>, DecodeError> {
    if bytes.is_empty() {
        Ok(Vec::new())
    } else {
        Err(DecodeError::Corrupt("trailing bytes"))
    }
}

/// A tiny deterministic PRNG and data generators shared by the tests.
#[cfg(test)]
pub(crate) mod testutil {
    /// xorshift64: deterministic, no dependencies, good enough for test data.
    pub(crate) struct XorShift(pub(crate) u64);

    impl XorShift {
        pub(crate) fn next_u64(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0 = x;
            x
        }

        /// Uniform in `[0, 1)`.
        pub(crate) fn unit(&mut self) -> f64 {
            (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    /// A random walk from 50.0 with steps uniform in ±1.0, clamped to
    /// 0..100; `round` rounds each output to two decimals.
    pub(crate) fn random_walk(seed: u64, n: usize, round: bool) -> Vec<f64> {
        let mut rng = XorShift(seed);
        let mut x = 50.0f64;
        (0..n)
            .map(|_| {
                x = (x + rng.unit() * 2.0 - 1.0).clamp(0.0, 100.0);
                if round {
                    (x * 100.0).round() / 100.0
                } else {
                    x
                }
            })
            .collect()
    }

    /// `n` timestamps from `start`, `step` apart.
    pub(crate) fn regular(start: i64, step: i64, n: usize) -> Vec<i64> {
        (0..n as i64).map(|i| start + i * step).collect()
    }
}
