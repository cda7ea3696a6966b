//! Bit-level writer and reader (most significant bit first), LEB128 varints
//! and zigzag mapping: the primitives the column codecs are built from.

use super::DecodeError;

/// Appends bit fields to a byte buffer, most significant bit first.
///
/// The last byte is padded with zero bits by [`BitWriter::finish`].
#[derive(Debug, Default, Clone)]
pub struct BitWriter {
    bytes: Vec<u8>,
    /// Pending bits, right-aligned; always fewer than 8 between calls.
    acc: u64,
    /// Number of pending bits in `acc`.
    pending: u32,
}

impl BitWriter {
    /// An empty writer.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty writer with room for `bytes` bytes of output.
    pub fn with_capacity(bytes: usize) -> Self {
        Self {
            bytes: Vec::with_capacity(bytes),
            acc: 0,
            pending: 0,
        }
    }

    /// Appends one bit.
    pub fn write_bit(&mut self, bit: bool) {
        self.write_small(u64::from(bit), 1);
    }

    /// Appends the low `n` bits of `value` (`n` is clamped to 64), most
    /// significant first. Higher bits of `value` are ignored.
    pub fn write_bits(&mut self, value: u64, n: u32) {
        let n = n.min(64);
        if n > 32 {
            self.write_small(value >> 32, n - 32);
            self.write_small(value & 0xFFFF_FFFF, 32);
        } else {
            self.write_small(value, n);
        }
    }

    /// Appends the low `n <= 32` bits of `value`.
    fn write_small(&mut self, value: u64, n: u32) {
        if n == 0 {
            return;
        }
        let masked = value & ((1u64 << n) - 1);
        self.acc = (self.acc << n) | masked;
        self.pending += n;
        while self.pending >= 8 {
            self.pending -= 8;
            self.bytes.push((self.acc >> self.pending) as u8);
        }
        self.acc &= (1u64 << self.pending) - 1;
    }

    /// Number of bits written so far.
    pub fn bit_len(&self) -> usize {
        self.bytes.len() * 8 + self.pending as usize
    }

    /// The written bits, the last byte padded with zeros.
    pub fn finish(mut self) -> Vec<u8> {
        if self.pending > 0 {
            self.bytes.push((self.acc << (8 - self.pending)) as u8);
        }
        self.bytes
    }
}

/// Reads bit fields written by [`BitWriter`].
#[derive(Debug, Clone)]
pub struct BitReader<'a> {
    data: &'a [u8],
    /// Position in bits from the start of `data`.
    pos: usize,
}

impl<'a> BitReader<'a> {
    /// A reader positioned at the first bit of `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Self { data, pos: 0 }
    }

    /// Bits left to read.
    pub fn remaining_bits(&self) -> usize {
        self.data.len().saturating_mul(8).saturating_sub(self.pos)
    }

    /// Reads one bit.
    pub fn read_bit(&mut self) -> Result<bool, DecodeError> {
        let byte = *self.data.get(self.pos / 8).ok_or(DecodeError::Truncated)?;
        let bit = (byte >> (7 - self.pos % 8)) & 1;
        self.pos += 1;
        Ok(bit == 1)
    }

    /// Reads an `n`-bit field (`n <= 64`) as the low bits of the result.
    pub fn read_bits(&mut self, n: u32) -> Result<u64, DecodeError> {
        if n > 64 {
            return Err(DecodeError::Corrupt("bit field wider than 64"));
        }
        if n as usize > self.remaining_bits() {
            return Err(DecodeError::Truncated);
        }
        let mut out = 0u64;
        let mut left = n;
        while left > 0 {
            let byte = *self.data.get(self.pos / 8).ok_or(DecodeError::Truncated)?;
            let avail = 8 - (self.pos % 8) as u32;
            let take = avail.min(left);
            let bits = (u64::from(byte) >> (avail - take)) & ((1u64 << take) - 1);
            out = (out << take) | bits;
            self.pos += take as usize;
            left -= take;
        }
        Ok(out)
    }

    /// Succeeds if nothing but the padding of the last byte is left unread.
    pub fn check_end(&self) -> Result<(), DecodeError> {
        if self.pos.div_ceil(8) < self.data.len() {
            Err(DecodeError::Corrupt("trailing bytes"))
        } else {
            Ok(())
        }
    }
}

/// Maps a signed integer to an unsigned one so that small magnitudes of
/// either sign become small numbers: 0, -1, 1, -2 … map to 0, 1, 2, 3 ….
pub fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// Inverse of [`zigzag`].
pub fn unzigzag(u: u64) -> i64 {
    ((u >> 1) as i64) ^ -((u & 1) as i64)
}

/// Appends `v` as an unsigned LEB128 varint (1 to 10 bytes).
pub fn put_uvarint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Reads an unsigned LEB128 varint at `*pos`, advancing `*pos` past it.
pub fn get_uvarint(buf: &[u8], pos: &mut usize) -> Result<u64, DecodeError> {
    let mut value = 0u64;
    let mut i = *pos;
    for shift in (0..64).step_by(7) {
        let byte = *buf.get(i).ok_or(DecodeError::Truncated)?;
        i += 1;
        if shift == 63 && byte > 1 {
            return Err(DecodeError::Corrupt("varint overflows 64 bits"));
        }
        value |= u64::from(byte & 0x7F) << shift;
        if (byte & 0x80) == 0 {
            *pos = i;
            return Ok(value);
        }
    }
    Err(DecodeError::Corrupt("varint overflows 64 bits"))
}

/// Appends `v` as a zigzag-mapped LEB128 varint.
pub fn put_ivarint(out: &mut Vec<u8>, v: i64) {
    put_uvarint(out, zigzag(v));
}

/// Reads a varint written by [`put_ivarint`].
pub fn get_ivarint(buf: &[u8], pos: &mut usize) -> Result<i64, DecodeError> {
    get_uvarint(buf, pos).map(unzigzag)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn zigzag_maps_small_magnitudes_to_small_numbers() {
        let cases = [
            (0i64, 0u64),
            (-1, 1),
            (1, 2),
            (-2, 3),
            (i64::MAX, u64::MAX - 1),
        ];
        for (v, z) in cases {
            assert_eq!(zigzag(v), z);
            assert_eq!(unzigzag(z), v);
        }
        assert_eq!(zigzag(i64::MIN), u64::MAX);
        assert_eq!(unzigzag(u64::MAX), i64::MIN);
    }

    #[test]
    fn varints_round_trip_at_the_edges() {
        for v in [
            0u64,
            1,
            127,
            128,
            300,
            u64::from(u32::MAX),
            u64::MAX - 1,
            u64::MAX,
        ] {
            let mut buf = Vec::new();
            put_uvarint(&mut buf, v);
            let mut pos = 0;
            assert_eq!(get_uvarint(&buf, &mut pos).unwrap(), v);
            assert_eq!(pos, buf.len());
        }
        let mut buf = Vec::new();
        put_uvarint(&mut buf, u64::MAX);
        assert_eq!(buf.len(), 10);
    }

    #[test]
    fn varint_errors() {
        let mut pos = 0;
        assert_eq!(
            get_uvarint(&[0x80, 0x80], &mut pos),
            Err(DecodeError::Truncated)
        );
        assert_eq!(pos, 0);
        let too_long = [0xFF; 11];
        assert!(matches!(
            get_uvarint(&too_long, &mut pos),
            Err(DecodeError::Corrupt(_))
        ));
        let mut overflow = vec![0xFF; 9];
        overflow.push(0x02);
        assert!(matches!(
            get_uvarint(&overflow, &mut pos),
            Err(DecodeError::Corrupt(_))
        ));
    }

    #[test]
    fn bits_round_trip_mixed_widths() {
        let fields = [
            (1u64, 1u32),
            (0, 1),
            (0b101, 3),
            (u64::MAX, 64),
            (0, 0),
            (0x1234_5678, 32),
            (0x0001_2345_6789, 33),
            (7, 7),
            (u64::MAX, 63),
        ];
        let mut w = BitWriter::new();
        for (v, n) in fields {
            w.write_bits(v, n);
        }
        let total: u32 = fields.iter().map(|f| f.1).sum();
        assert_eq!(w.bit_len(), total as usize);
        let bytes = w.finish();
        assert_eq!(bytes.len(), (total as usize).div_ceil(8));
        let mut r = BitReader::new(&bytes);
        for (v, n) in fields {
            let mask = if n == 64 { u64::MAX } else { (1u64 << n) - 1 };
            assert_eq!(r.read_bits(n).unwrap(), v & mask);
        }
        r.check_end().unwrap();
        assert!(r.remaining_bits() < 8);
    }

    #[test]
    fn reader_reports_truncation_and_trailing_bytes() {
        let mut r = BitReader::new(&[0xA5]);
        assert!(r.read_bit().unwrap());
        assert!(!r.read_bit().unwrap());
        assert_eq!(r.read_bits(6).unwrap(), 0x25);
        assert_eq!(r.read_bit(), Err(DecodeError::Truncated));
        assert_eq!(r.read_bits(1), Err(DecodeError::Truncated));
        assert!(r.read_bits(65).is_err());
        let r = BitReader::new(&[0, 0]);
        assert!(r.check_end().is_err());
    }

    proptest! {
        #[test]
        fn bit_fields_round_trip(fields in prop::collection::vec((any::<u64>(), 0u32..=64), 0..100)) {
            let mut w = BitWriter::new();
            for &(v, n) in &fields {
                w.write_bits(v, n);
            }
            let bytes = w.finish();
            let mut r = BitReader::new(&bytes);
            for &(v, n) in &fields {
                let mask = if n == 64 { u64::MAX } else { (1u64 << n) - 1 };
                prop_assert_eq!(r.read_bits(n).unwrap(), v & mask);
            }
            prop_assert!(r.check_end().is_ok());
        }

        #[test]
        fn ivarints_round_trip(values in prop::collection::vec(any::<i64>(), 0..50)) {
            let mut buf = Vec::new();
            for &v in &values {
                put_ivarint(&mut buf, v);
            }
            let mut pos = 0;
            for &v in &values {
                prop_assert_eq!(get_ivarint(&buf, &mut pos).unwrap(), v);
            }
            prop_assert_eq!(pos, buf.len());
        }

        #[test]
        fn uvarint_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..16)) {
            let mut pos = 0;
            let _ = get_uvarint(&bytes, &mut pos);
            prop_assert!(pos <= bytes.len());
        }
    }
}
