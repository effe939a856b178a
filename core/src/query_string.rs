//! Reading a URL's query string (`?a=1&b=x%20y`) without a URL parser: the
//! `url` crate's internationalised-domain tables alone would cost the
//! worker's wasm far more than the admin API's few parameters are worth.

/// The decoded `name=value` pairs of `url`'s query, in order. `+` is a
/// space and `%XX` a byte (form encoding, as browsers send it); bytes that
/// do not make UTF-8 become U+FFFD.
pub fn pairs(url: &str) -> Vec<(String, String)> {
    let Some((_, query)) = url.split_once('?') else { return Vec::new() };
    let query = query.split_once('#').map_or(query, |(q, _)| q);
    query
        .split('&')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let (name, value) = part.split_once('=').unwrap_or((part, ""));
            (decode(name), decode(value))
        })
        .collect()
}

/// The origin (`scheme://host[:port]`) of an absolute URL.
pub fn origin(url: &str) -> Option<&str> {
    let (scheme, rest) = url.split_once("://")?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let host = rest.get(..end)?;
    (!scheme.is_empty() && !host.is_empty()).then(|| url.get(..scheme.len() + 3 + end)).flatten()
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        match byte {
            b'+' => out.push(b' '),
            b'%' => match bytes.get(i + 1..i + 3).and_then(|hex| u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()) {
                Some(decoded) => {
                    out.push(decoded);
                    i += 2;
                }
                None => out.push(b'%'),
            },
            _ => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_are_decoded_in_order() {
        let got = pairs("https://gw.example/admin/api/logs?route=demo&q=req_1%5F2&text=a+b%20c&empty=&flag#frag");
        let want = [("route", "demo"), ("q", "req_1_2"), ("text", "a b c"), ("empty", ""), ("flag", "")];
        assert_eq!(got, want.map(|(n, v)| (n.to_owned(), v.to_owned())));
        assert!(pairs("https://gw.example/logs").is_empty());
    }

    #[test]
    fn bad_escapes_are_kept_and_bad_utf8_replaced() {
        assert_eq!(pairs("/x?a=100%&b=%zz&c=%ff"), [("a", "100%"), ("b", "%zz"), ("c", "\u{fffd}")].map(|(n, v)| (n.to_owned(), v.to_owned())));
    }

    #[test]
    fn origins_stop_at_the_path() {
        assert_eq!(origin("http://127.0.0.1:8787/admin/api/x?y"), Some("http://127.0.0.1:8787"));
        assert_eq!(origin("https://gw.example"), Some("https://gw.example"));
        assert_eq!(origin("/relative"), None);
    }
}
