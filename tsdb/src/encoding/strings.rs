//! String columns: length-prefixed values, or a dictionary with bit-packed
//! indexes when the column has at most 256 distinct values and that is
//! smaller.
//!
//! Layout of a non-empty column (the count `n` is not stored): a mode byte,
//! then
//!
//! - mode 0 (plain): each value as a varint byte length and its UTF-8 bytes;
//! - mode 1 (dictionary): the entry count `d` in `1..=256` as a varint, each
//!   entry as a varint length and bytes (in order of first use), then `n`
//!   indexes of `bits(d - 1)` bits each (none when `d == 1`), padded to a
//!   byte.
//!
//! A decoded column may hold at most [`MAX_STRING_BYTES`] bytes of strings;
//! the decoder checks this before building any string.

use std::collections::HashMap;

use super::bits::{BitReader, BitWriter, get_uvarint, put_uvarint};
use super::{DecodeError, MAX_STRING_BYTES, check_count, decode_empty};

const MODE_PLAIN: u8 = 0;
const MODE_DICT: u8 = 1;

/// Most entries a dictionary may hold.
pub const MAX_DICT_LEN: usize = 256;

/// Encodes a string column; empty input gives empty output.
pub fn encode(values: &[String]) -> Vec<u8> {
    if values.is_empty() {
        return Vec::new();
    }
    let plain = encode_plain(values);
    match encode_dict(values) {
        Some(dict) if dict.len() < plain.len() => dict,
        _ => plain,
    }
}

/// Decodes `n` strings written by [`encode`].
pub fn decode(bytes: &[u8], n: usize) -> Result<Vec<String>, DecodeError> {
    if n == 0 {
        return decode_empty(bytes);
    }
    check_count(n)?;
    let (&mode, body) = bytes.split_first().ok_or(DecodeError::Truncated)?;
    match mode {
        MODE_PLAIN => decode_plain(body, n),
        MODE_DICT => decode_dict(body, n),
        other => Err(DecodeError::UnknownEncoding(other)),
    }
}

fn encode_plain(values: &[String]) -> Vec<u8> {
    let total: usize = values.iter().map(|v| v.len() + 2).sum();
    let mut out = Vec::with_capacity(total + 1);
    out.push(MODE_PLAIN);
    for v in values {
        put_str(&mut out, v);
    }
    out
}

/// The dictionary form, or `None` with more than [`MAX_DICT_LEN`] distinct
/// values.
fn encode_dict(values: &[String]) -> Option<Vec<u8>> {
    let mut index: HashMap<&str, u64> = HashMap::new();
    let mut entries: Vec<&str> = Vec::new();
    let mut ids = Vec::with_capacity(values.len());
    for v in values {
        let id = match index.get(v.as_str()) {
            Some(&id) => id,
            None => {
                if entries.len() == MAX_DICT_LEN {
                    return None;
                }
                let id = entries.len() as u64;
                index.insert(v.as_str(), id);
                entries.push(v.as_str());
                id
            }
        };
        ids.push(id);
    }
    let mut out = vec![MODE_DICT];
    put_uvarint(&mut out, entries.len() as u64);
    for entry in &entries {
        put_str(&mut out, entry);
    }
    let width = index_width(entries.len());
    let mut w = BitWriter::with_capacity((ids.len() * width as usize).div_ceil(8));
    for id in ids {
        w.write_bits(id, width);
    }
    out.extend_from_slice(&w.finish());
    Some(out)
}

fn decode_plain(body: &[u8], n: usize) -> Result<Vec<String>, DecodeError> {
    // Every value takes at least its length byte.
    if n > body.len() {
        return Err(DecodeError::Truncated);
    }
    let mut out = Vec::with_capacity(n);
    let mut pos = 0;
    let mut total = 0usize;
    for _ in 0..n {
        let s = get_str(body, &mut pos)?;
        total = total.saturating_add(s.len());
        if total > MAX_STRING_BYTES {
            return Err(DecodeError::TooLarge);
        }
        out.push(s.to_owned());
    }
    if pos == body.len() {
        Ok(out)
    } else {
        Err(DecodeError::Corrupt("trailing bytes"))
    }
}

fn decode_dict(body: &[u8], n: usize) -> Result<Vec<String>, DecodeError> {
    let mut pos = 0;
    let d = get_uvarint(body, &mut pos)?;
    let d = match usize::try_from(d) {
        Ok(d) if (1..=MAX_DICT_LEN).contains(&d) => d,
        _ => return Err(DecodeError::Corrupt("bad dictionary size")),
    };
    let mut entries = Vec::with_capacity(d);
    for _ in 0..d {
        entries.push(get_str(body, &mut pos)?);
    }
    let width = index_width(d);
    let packed = body.get(pos..).ok_or(DecodeError::Truncated)?;
    let mut r = BitReader::new(packed);
    if n.saturating_mul(width as usize) > r.remaining_bits() {
        return Err(DecodeError::Truncated);
    }
    let mut ids = Vec::with_capacity(n);
    let mut total = 0usize;
    for _ in 0..n {
        let id = usize::try_from(r.read_bits(width)?).unwrap_or(usize::MAX);
        let entry = entries
            .get(id)
            .ok_or(DecodeError::Corrupt("dictionary index out of range"))?;
        total = total.saturating_add(entry.len());
        if total > MAX_STRING_BYTES {
            return Err(DecodeError::TooLarge);
        }
        ids.push(id);
    }
    r.check_end()?;
    ids.into_iter()
        .map(|id| {
            entries
                .get(id)
                .map(|e| (*e).to_owned())
                .ok_or(DecodeError::Corrupt("dictionary index out of range"))
        })
        .collect()
}

/// Bits needed for indexes into a dictionary of `d` entries.
fn index_width(d: usize) -> u32 {
    usize::BITS - d.saturating_sub(1).leading_zeros()
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_uvarint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

/// Reads one length-prefixed UTF-8 string at `*pos`.
fn get_str<'a>(buf: &'a [u8], pos: &mut usize) -> Result<&'a str, DecodeError> {
    let len = usize::try_from(get_uvarint(buf, pos)?).map_err(|_| DecodeError::Truncated)?;
    let end = pos.checked_add(len).ok_or(DecodeError::Truncated)?;
    let raw = buf.get(*pos..end).ok_or(DecodeError::Truncated)?;
    *pos = end;
    std::str::from_utf8(raw).map_err(|_| DecodeError::Corrupt("string is not valid UTF-8"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::encoding::testutil::XorShift;
    use proptest::prelude::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    fn round_trip(values: &[String]) -> Vec<u8> {
        let bytes = encode(values);
        assert_eq!(decode(&bytes, values.len()).unwrap(), values);
        bytes
    }

    #[test]
    fn shapes_round_trip() {
        round_trip(&[]);
        round_trip(&strings(&[""]));
        round_trip(&strings(&["", "", ""]));
        round_trip(&strings(&["héllo", "wörld", "🦀", "", "a\0b"]));
        let long = "x".repeat(100_000);
        round_trip(&[long.clone(), long]);
    }

    #[test]
    fn repeated_states_use_the_dictionary() {
        let states = ["ok", "warning", "critical"];
        let values: Vec<String> = (0..1000).map(|i| states[i % 3].to_owned()).collect();
        let bytes = round_trip(&values);
        assert_eq!(bytes.first(), Some(&MODE_DICT));
        // 2 bits per value plus the entries.
        assert!(bytes.len() < 280, "{} bytes", bytes.len());
        let constant: Vec<String> = (0..1000).map(|_| "started".to_owned()).collect();
        assert!(round_trip(&constant).len() < 12);
    }

    #[test]
    fn distinct_values_stay_plain() {
        let values: Vec<String> = (0..300).map(|i| format!("node_{i}")).collect();
        assert_eq!(round_trip(&values).first(), Some(&MODE_PLAIN));
        let mut rng = XorShift(2);
        let some: Vec<String> = (0..200).map(|_| format!("{:x}", rng.next_u64())).collect();
        assert_eq!(round_trip(&some).first(), Some(&MODE_PLAIN));
    }

    #[test]
    fn truncated_or_bad_input_is_an_error() {
        let plain = strings(&["alpha", "beta", "gamma"]);
        let dict = strings(&["on", "off", "on", "on", "off", "on", "on", "on"]);
        for values in [plain, dict] {
            let bytes = encode(&values);
            for cut in 0..bytes.len() {
                assert!(decode(&bytes[..cut], values.len()).is_err(), "cut at {cut}");
            }
            let mut longer = bytes.clone();
            longer.push(0);
            assert!(decode(&longer, values.len()).is_err());
        }
        assert_eq!(decode(&[4], 1), Err(DecodeError::UnknownEncoding(4)));
        assert!(matches!(
            decode(&[MODE_PLAIN, 2, 0xC3, 0x28], 1),
            Err(DecodeError::Corrupt(_))
        ));
        assert!(matches!(
            decode(&[MODE_DICT, 0], 1),
            Err(DecodeError::Corrupt(_))
        ));
        // Index 1 of two entries is fine; index 3 of three is not.
        assert_eq!(
            decode(&[MODE_DICT, 2, 1, b'a', 1, b'b', 0b1000_0000], 1).unwrap(),
            ["b"]
        );
        assert!(matches!(
            decode(&[MODE_DICT, 3, 1, b'a', 1, b'b', 1, b'c', 0b1100_0000], 1),
            Err(DecodeError::Corrupt(_))
        ));
    }

    #[test]
    fn expansion_is_capped() {
        // One 64 KiB entry repeated by a zero-width index: 2000 copies
        // would expand to 125 MiB.
        let mut bytes = vec![MODE_DICT, 1];
        put_uvarint(&mut bytes, 1 << 16);
        bytes.extend(std::iter::repeat_n(b'z', 1 << 16));
        assert_eq!(decode(&bytes, 2000), Err(DecodeError::TooLarge));
        assert_eq!(decode(&bytes, 10).unwrap().len(), 10);
    }

    proptest! {
        #[test]
        fn any_column_round_trips(values in prop::collection::vec(".{0,12}", 0..100)) {
            let bytes = encode(&values);
            prop_assert_eq!(decode(&bytes, values.len()).unwrap(), values);
        }

        #[test]
        fn few_distinct_round_trip(picks in prop::collection::vec(0usize..5, 0..300)) {
            let palette = ["", "a", "bb", "ccc", "ünï"];
            let values: Vec<String> = picks.iter().map(|&i| palette[i].to_owned()).collect();
            let bytes = encode(&values);
            prop_assert_eq!(decode(&bytes, values.len()).unwrap(), values);
        }

        #[test]
        fn decoder_never_panics(
            mode in 0u8..3,
            rest in prop::collection::vec(any::<u8>(), 0..64),
            n in 0usize..2000,
        ) {
            let mut bytes = vec![mode];
            bytes.extend_from_slice(&rest);
            let _ = decode(&bytes, n);
            let _ = decode(&rest, n);
        }
    }
}
