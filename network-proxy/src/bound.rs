//! What an audit event may carry: a bounded target, bounded header values,
//! bounded headers in all and a bounded body. A client making thousands of
//! requests with 60 KB paths must not write 60 KB events (and rotate the
//! earlier evidence out of the log).

use codex_audit::HttpDetails;

/// The longest `target` of an event, in bytes, the cut marker included.
pub(crate) const MAX_TARGET: usize = 1024;
/// The longest recorded header name or value (and method), in bytes.
pub(crate) const MAX_HEADER_VALUE: usize = 1024;
/// The most bytes of header names and values recorded for one request.
pub(crate) const MAX_HEADERS: usize = 8 * 1024;
/// The longest recorded body, in bytes.
pub(crate) const MAX_BODY: usize = 4096;

/// Room kept under [`MAX_HEADERS`] for the marker of cut headers.
const HEADERS_MARKER_ROOM: usize = 64;

/// `text` cut to at most `max` bytes (at a char boundary), with
/// `…[N bytes cut]` appended when anything was cut; the marker counts
/// within `max`.
pub(crate) fn bound(text: String, max: usize) -> String {
    bound_cut(text, max, 0)
}

/// [`bound`] for a text of which `already_cut` more bytes were never kept.
pub(crate) fn bound_cut(mut text: String, max: usize, already_cut: usize) -> String {
    if text.len() <= max && already_cut == 0 {
        return text;
    }
    // The marker with the largest count it could carry: the real one is no
    // longer.
    let room = max.saturating_sub(marker(text.len() + already_cut).len());
    let mut keep = room.min(text.len());
    while !text.is_char_boundary(keep) {
        keep -= 1;
    }
    let cut = text.len() - keep + already_cut;
    text.truncate(keep);
    text.push_str(&marker(cut));
    text
}

fn marker(cut: usize) -> String {
    format!("…[{cut} bytes cut]")
}

/// Bytes as given, as text: printable ASCII as is, anything else (and `\`)
/// as `\xNN`.
pub(crate) fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if b.is_ascii_graphic() && b != b'\\' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// HTTP details within the bounds: method and each header name and value
/// at most [`MAX_HEADER_VALUE`] bytes, headers at most [`MAX_HEADERS`] bytes
/// in all (those past it are left out, and a last `…` entry says how many),
/// the body at most [`MAX_BODY`] bytes.
pub(crate) fn bound_http(mut http: HttpDetails) -> HttpDetails {
    http.method = http.method.map(|m| bound(m, MAX_HEADER_VALUE));
    let headers = std::mem::take(&mut http.headers);
    let mut total = 0;
    let mut left_out = 0usize;
    for (name, value) in headers {
        if left_out > 0 {
            left_out += 1;
            continue;
        }
        let name = bound(name, MAX_HEADER_VALUE);
        let value = bound(value, MAX_HEADER_VALUE);
        let size = name.len() + value.len();
        if total + size > MAX_HEADERS - HEADERS_MARKER_ROOM {
            left_out = 1;
            continue;
        }
        total += size;
        http.headers.push((name, value));
    }
    if left_out > 0 {
        http.headers
            .push(("…".to_owned(), format!("[{left_out} headers cut]")));
    }
    http.body = http.body.map(|b| bound(b, MAX_BODY));
    http
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_unchanged() {
        assert_eq!(bound("abc".to_owned(), 3), "abc");
        assert_eq!(bound(String::new(), 0), "");
    }

    #[test]
    fn long_text_is_cut_with_the_count() {
        let text = "x".repeat(60_000);
        let cut = bound(text, MAX_TARGET);
        assert!(cut.len() <= MAX_TARGET, "{}", cut.len());
        let kept = cut.find('…').unwrap();
        assert!(kept > 900, "{kept}");
        assert!(
            cut.ends_with(&format!("…[{} bytes cut]", 60_000 - kept)),
            "{cut}"
        );
    }

    #[test]
    fn cut_at_a_char_boundary() {
        // 3-byte chars: the cut may not fall inside one.
        let text = "€".repeat(1000);
        let cut = bound(text, 100);
        assert!(cut.len() <= 100);
        let kept = &cut[..cut.find('…').unwrap()];
        assert!(kept.chars().all(|c| c == '€'), "{cut}");
        assert_eq!(kept.len() % 3, 0);
    }

    #[test]
    fn bytes_never_kept_count_as_cut() {
        let cut = bound_cut("abc".to_owned(), 1024, 500);
        assert_eq!(cut, "abc…[500 bytes cut]");
    }

    #[test]
    fn escape_keeps_printable_ascii() {
        assert_eq!(escape(b"a.b:80/x?y=1"), "a.b:80/x?y=1");
        assert_eq!(escape(b"a b\0\\\xff"), "a\\x20b\\x00\\x5c\\xff");
    }

    #[test]
    fn http_details_are_bounded() {
        let mut http = HttpDetails::default().with_method("M".repeat(5000));
        for i in 0..100 {
            http = http.with_header(format!("x-{i}"), "v".repeat(3000));
        }
        http = http.with_body("b".repeat(10_000));
        let http = bound_http(http);
        assert!(http.method.as_ref().unwrap().len() <= MAX_HEADER_VALUE);
        let total: usize = http.headers.iter().map(|(n, v)| n.len() + v.len()).sum();
        assert!(total <= MAX_HEADERS, "{total}");
        assert!(
            http.headers
                .iter()
                .all(|(_, v)| v.len() <= MAX_HEADER_VALUE)
        );
        let (name, value) = http.headers.last().unwrap();
        assert_eq!(name, "…");
        let kept = http.headers.len() - 1;
        assert_eq!(value, &format!("[{} headers cut]", 100 - kept));
        assert!(http.body.unwrap().len() <= MAX_BODY);
    }
}
