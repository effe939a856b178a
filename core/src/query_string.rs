//! Reading the parts of a URL (its path, origin and query string) without a
//! URL parser: the `url` crate's internationalised-domain tables alone
//! would cost the worker's wasm far more than these few reads are worth.

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

/// The path of an absolute URL (`/v1/models`), without its query or
/// fragment; `/` when it has none.
pub fn path(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path = rest.find(['/', '?', '#']).and_then(|i| rest.get(i..)).filter(|p| p.starts_with('/')).unwrap_or("/");
    let end = path.find(['?', '#']).unwrap_or(path.len());
    path.get(..end).unwrap_or(path)
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
    fn the_path_stops_at_the_query_and_the_fragment() {
        assert_eq!(path("https://gw.example/v1/chat/completions?x=1"), "/v1/chat/completions");
        assert_eq!(path("http://127.0.0.1:8787/admin/api/logs#top"), "/admin/api/logs");
        assert_eq!(path("https://gw.example/a/b%20c"), "/a/b%20c");
        assert_eq!(path("https://gw.example"), "/");
        assert_eq!(path("https://gw.example?x=/y"), "/");
    }

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
