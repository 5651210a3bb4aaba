//! base64url without padding (RFC 4648 §5, as JWS compact segments are written), decoded into
//! a buffer the caller owns: a token's segments are decoded on the stack, or into a `Vec` of
//! exactly the decoded length, without the estimate, zero-fill and truncation of a general
//! decoder. It accepts exactly what the `base64` crate's `URL_SAFE_NO_PAD` engine accepts
//! (the alphabet `A–Z a–z 0–9 - _`, no `=`, no length of 1 modulo 4, the unused bits of the
//! last symbol zero) and decodes it to the same bytes; a property test and a fuzz target check
//! both against that crate.

/// Marks a byte outside the alphabet in [`DECODE`].
const INVALID: u8 = 0xFF;

/// The 6-bit value of each byte of the alphabet, [`INVALID`] for every other byte.
static DECODE: [u8; 256] = {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut table = [INVALID; 256];
    let mut i = 0;
    while i < alphabet.len() {
        table[alphabet[i] as usize] = i as u8;
        i += 1;
    }
    table
};

#[inline]
fn value(byte: u8) -> u32 {
    u32::from(DECODE[usize::from(byte)])
}

/// The number of bytes `len` symbols decode to; `None` for a length no encoding has
/// (1 modulo 4).
///
/// ```ignore
/// assert_eq!(decoded_len(4), Some(3));
/// assert_eq!(decoded_len(6), Some(4));
/// assert_eq!(decoded_len(5), None);
/// ```
#[inline]
pub(crate) fn decoded_len(len: usize) -> Option<usize> {
    let tail = match len % 4 {
        0 => 0,
        2 => 1,
        3 => 2,
        _ => return None,
    };
    Some(len / 4 * 3 + tail)
}

/// Decodes `text` into `out`, which must be exactly [`decoded_len`] of it long; `None` for any
/// byte outside the alphabet, a bad length or non-zero unused bits (what is left in `out` is
/// then unspecified).
#[inline]
pub(crate) fn decode_into(text: &[u8], out: &mut [u8]) -> Option<()> {
    if decoded_len(text.len()) != Some(out.len()) {
        return None;
    }
    let mut symbols = text.chunks_exact(4);
    let mut bytes = out.chunks_exact_mut(3);
    // Every symbol's value is OR-ed into `bad`: an INVALID one sets its high bits. One test
    // after the loop instead of a branch per symbol.
    let mut bad = 0u32;
    for (s, o) in (&mut symbols).zip(&mut bytes) {
        let Ok(&[a, b, c, d]) = <&[u8; 4]>::try_from(s) else {
            return None;
        };
        let [a, b, c, d] = [a, b, c, d].map(value);
        bad |= a | b | c | d;
        let n = (a << 18) | (b << 12) | (c << 6) | d;
        let [_, x, y, z] = n.to_be_bytes();
        o.copy_from_slice(&[x, y, z]);
    }
    let rest = symbols.remainder();
    let out_rest = bytes.into_remainder();
    match (rest, out_rest) {
        ([], []) => {}
        (&[a, b], [x]) => {
            let (a, b) = (value(a), value(b));
            bad |= a | b;
            // 12 bits carry 8: the last 4 must be zero.
            bad |= (b & 0x0F) << 8;
            *x = ((a << 2) | (b >> 4)) as u8;
        }
        (&[a, b, c], [x, y]) => {
            let (a, b, c) = (value(a), value(b), value(c));
            bad |= a | b | c;
            // 18 bits carry 16: the last 2 must be zero.
            bad |= (c & 0x03) << 8;
            let n = (a << 12) | (b << 6) | c;
            *x = (n >> 10) as u8;
            *y = (n >> 2) as u8;
        }
        _ => return None,
    }
    (bad & !0x3F == 0).then_some(())
}

/// Decodes `text` into `stack` when it fits, else into `heap` (resized to the decoded length);
/// the decoded bytes, or `None` when `text` is not base64url without padding.
#[inline]
pub(crate) fn decode_in<'b>(
    text: &[u8],
    stack: &'b mut [u8],
    heap: &'b mut Vec<u8>,
) -> Option<&'b [u8]> {
    let len = decoded_len(text.len())?;
    let out = match stack.get_mut(..len) {
        Some(out) => out,
        None => {
            heap.clear();
            heap.resize(len, 0);
            heap.as_mut_slice()
        }
    };
    decode_into(text, out)?;
    Some(out)
}

/// Decodes `text` into a new `Vec` of exactly the decoded length.
#[inline]
pub(crate) fn decode_vec(text: &[u8]) -> Option<Vec<u8>> {
    let mut out = vec![0; decoded_len(text.len())?];
    decode_into(text, &mut out)?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use proptest::prelude::*;

    use super::*;

    fn reference(text: &[u8]) -> Option<Vec<u8>> {
        URL_SAFE_NO_PAD.decode(text).ok()
    }

    #[test]
    fn decodes_as_the_base64_crate_on_edge_cases() {
        let cases: &[&[u8]] = &[
            b"",
            b"A",
            b"AA",
            b"AB",
            b"AAA",
            b"AAB",
            b"AAAA",
            b"QQ",
            b"QR",
            b"QUI",
            b"QUJ",
            b"QUJD",
            b"QUJDRA",
            b"QUJDRA=",
            b"QUJDRA==",
            b"QUJD=",
            b"-_-_",
            b"+/+/",
            b"a.b",
            b"e30",
            b"eyJhbGciOiJSUzI1NiJ9",
            b"\xff\xfe",
            b"AA\0A",
            b" AAA",
            b"AAA ",
        ];
        for &text in cases {
            assert_eq!(decode_vec(text), reference(text), "{text:?}");
        }
        assert_eq!(decoded_len(0), Some(0));
        assert_eq!(decoded_len(1), None);
        assert_eq!(decoded_len(342), Some(256));
    }

    #[test]
    fn a_stack_too_small_decodes_on_the_heap() {
        let text = URL_SAFE_NO_PAD.encode([7u8; 40]);
        let (mut stack, mut heap) = ([0u8; 16], Vec::new());
        assert_eq!(
            decode_in(text.as_bytes(), &mut stack, &mut heap),
            Some(&[7u8; 40][..])
        );
        let (mut stack, mut heap) = ([0u8; 64], Vec::new());
        assert_eq!(
            decode_in(text.as_bytes(), &mut stack, &mut heap),
            Some(&[7u8; 40][..])
        );
        assert!(heap.is_empty());
        assert_eq!(decode_in(b"A", &mut stack, &mut heap), None);
    }

    /// Mostly the alphabet, with a few bytes from outside it (padding, the standard
    /// alphabet's `+` and `/`, a '.', whitespace, NUL, high bytes).
    fn near_base64() -> impl Strategy<Value = Vec<u8>> {
        let byte = prop_oneof![
            20 => proptest::sample::select(
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".to_vec()
            ),
            1 => proptest::sample::select(b"=+/. \n\0\x80\xff".to_vec()),
        ];
        proptest::collection::vec(byte, 0..80)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        /// Any bytes: the same verdict and the same output as the base64 crate.
        #[test]
        fn any_bytes_decode_as_the_base64_crate(text in proptest::collection::vec(any::<u8>(), 0..40)) {
            prop_assert_eq!(decode_vec(&text), reference(&text));
        }

        /// Near-valid text (where the crates could disagree on the last symbol, padding or
        /// length): the same verdict and output.
        #[test]
        fn near_base64_decodes_as_the_base64_crate(text in near_base64()) {
            prop_assert_eq!(decode_vec(&text), reference(&text));
            let (mut stack, mut heap) = ([0u8; 32], Vec::new());
            prop_assert_eq!(
                decode_in(&text, &mut stack, &mut heap).map(<[u8]>::to_vec),
                reference(&text)
            );
        }

        /// Every encoding of bytes decodes back to them.
        #[test]
        fn round_trips_every_encoding(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let text = URL_SAFE_NO_PAD.encode(&bytes);
            prop_assert_eq!(decode_vec(text.as_bytes()), Some(bytes));
        }
    }
}
