//! Fixed UTF-16 strings for WFP display data and registry names, built at compile time.

/// `N` UTF-16 code units of an ASCII `text`, NUL-padded: `N` must exceed `text.len()` so the
/// result is NUL-terminated. Non-ASCII input fails the build.
pub const fn wide<const N: usize>(text: &str) -> [u16; N] {
    let bytes = text.as_bytes();
    assert!(bytes.len() < N, "no room for the NUL terminator");
    let mut out = [0u16; N];
    let mut i = 0;
    while i < bytes.len() {
        assert!(bytes[i].is_ascii(), "ASCII only");
        out[i] = bytes[i] as u16;
        i += 1;
    }
    out
}

/// The length in bytes (without the NUL) of a NUL-terminated wide string, for UNICODE_STRING.
pub const fn wide_len_bytes(text: &[u16]) -> u16 {
    let mut i = 0;
    while i < text.len() && text[i] != 0 {
        i += 1;
    }
    (i * 2) as u16
}
