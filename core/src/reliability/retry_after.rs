//! Upstream wait hints: how long an upstream asked us to stay away.
//!
//! Reads three kinds of hint and turns each into milliseconds from `now`:
//! `Retry-After` (RFC 9110 §10.2.3, seconds or an HTTP-date),
//! `retry-after-ms` (OpenAI, as honoured by openai-node's retry loop), and
//! OpenAI's `x-ratelimit-reset-{requests,tokens}` durations (Go
//! `time.Duration` text such as `6m0s`). Every parser returns `None` for
//! input it does not understand rather than guessing, and rounds up so a
//! client is never told to come back early.

/// Milliseconds in each Go duration unit, as numerator over denominator, so
/// sub-millisecond units stay exact.
const UNITS: [(&str, u128, u128); 7] = [
    ("h", 3_600_000, 1),
    ("ms", 1, 1),
    ("m", 60_000, 1),
    ("s", 1_000, 1),
    ("us", 1, 1_000),
    ("µs", 1, 1_000), // U+00B5 MICRO SIGN, as Go prints it
    ("ns", 1, 1_000_000),
];
/// Go also accepts U+03BC GREEK SMALL LETTER MU for microseconds.
const MU_US: &str = "μs";
/// Fraction digits beyond this are ignored: 10^-9 h is 3.6 µs, far below
/// the millisecond we round to, and it keeps u128 sums of u64::MAX ms exact.
const MAX_FRACTION_DIGITS: u32 = 9;

const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const LONG_DAYS: [&str; 7] = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];

/// Parses a `Retry-After` value (RFC 9110 §10.2.3) into milliseconds to wait
/// from `now_ms`.
///
/// Accepts delay-seconds (`120`) and all three HTTP-date forms, as RFC 9110
/// §5.6.7 requires of recipients. A date in the past means 0 (retry now).
/// Absurdly large delay-seconds saturate; callers cap the wait anyway.
pub fn parse_retry_after(value: &str, now_ms: u64) -> Option<u64> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        let seconds = value.parse::<u64>().unwrap_or(u64::MAX);
        return Some(seconds.saturating_mul(1_000));
    }
    let date_ms = i128::from(http_date_to_unix_secs(value, now_ms)?) * 1_000;
    let wait = (date_ms - i128::from(now_ms)).max(0);
    Some(u64::try_from(wait).unwrap_or(u64::MAX))
}

/// Parses OpenAI's `retry-after-ms` header: a non-negative number of
/// milliseconds, possibly fractional (openai-node reads it with
/// `parseFloat`). Fractions round up. Read as fixed point rather than as a
/// float, which keeps float parsing out of the browser SDK's wasm.
pub fn parse_retry_after_ms(value: &str) -> Option<u64> {
    let value = value.trim();
    if !value.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    let ms = parse_fixed_point(value)?.div_ceil(10u128.pow(MAX_FRACTION_DIGITS));
    Some(u64::try_from(ms).unwrap_or(u64::MAX))
}

/// Parses a Go-style duration as OpenAI sends in `x-ratelimit-reset-requests`
/// and `x-ratelimit-reset-tokens` (`1s`, `6m0s`, `12ms`, `1h2m3.5s`, `0.5s`)
/// into milliseconds, rounding up. A bare `0` is accepted, as in Go.
pub fn parse_reset_duration(value: &str) -> Option<u64> {
    let mut rest = value.trim();
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    // Sum exactly in units of 10^-(MAX_FRACTION_DIGITS + 6) ms: the extra
    // 10^6 lets `ns` (10^-6 ms) divide without remainder. Saturates only far
    // beyond u64::MAX ms.
    let scale = 10u128.pow(MAX_FRACTION_DIGITS) * 1_000_000;
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let number_end = rest.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(rest.len());
        let (number, after) = rest.split_at(number_end);
        let unit_end = after.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_end);
        let (per_ms_num, per_ms_den) = unit_ms(unit)?;
        let fixed = parse_fixed_point(number)?;
        total = total.saturating_add(fixed.saturating_mul(per_ms_num).saturating_mul(1_000_000) / per_ms_den);
        rest = after;
    }
    let ms = total.div_ceil(scale);
    Some(u64::try_from(ms).unwrap_or(u64::MAX))
}

/// Formats milliseconds the way OpenAI's reset headers do (Go's
/// `time.Duration` text): `0s`, `12ms`, `1s`, `1.5s`, `6m0s`, `1h0m0s`.
/// [`parse_reset_duration`] reads it back exactly.
pub fn format_reset_duration(ms: u64) -> String {
    if ms == 0 {
        return "0s".to_owned();
    }
    if ms < 1_000 {
        return format!("{ms}ms");
    }
    let (hours, minutes) = (ms / 3_600_000, ms / 60_000 % 60);
    let (seconds, millis) = (ms / 1_000 % 60, ms % 1_000);
    let mut out = String::new();
    if hours > 0 {
        out.push_str(&format!("{hours}h"));
    }
    if hours > 0 || minutes > 0 {
        out.push_str(&format!("{minutes}m"));
    }
    out.push_str(&seconds.to_string());
    if millis > 0 {
        let fraction = format!("{millis:03}");
        out.push('.');
        out.push_str(fraction.trim_end_matches('0'));
    }
    out.push('s');
    out
}

/// The wait a response asked for with `retry-after-ms` or, failing that,
/// `Retry-After`, in milliseconds from `now_ms`. These say when to send the
/// same request again, so a client honours them on any status.
pub fn retry_after_ms(get: impl Fn(&str) -> Option<String>, now_ms: u64) -> Option<u64> {
    get("retry-after-ms")
        .and_then(|v| parse_retry_after_ms(&v))
        .or_else(|| get("retry-after").and_then(|v| parse_retry_after(&v, now_ms)))
}

/// Picks the wait an upstream response asked for, in milliseconds from
/// `now_ms`, or `None` when it gave no usable hint.
///
/// `get` returns a header's value by name (the caller matches names
/// case-insensitively). Order, most specific first: `retry-after-ms`, then
/// `Retry-After`; only when neither yields a value, the larger of
/// `x-ratelimit-reset-requests` and `x-ratelimit-reset-tokens`, since those
/// say when a whole window refills, not when one request may go.
pub fn upstream_wait_ms(get: impl Fn(&str) -> Option<String>, now_ms: u64) -> Option<u64> {
    if let Some(ms) = retry_after_ms(&get, now_ms) {
        return Some(ms);
    }
    ["x-ratelimit-reset-requests", "x-ratelimit-reset-tokens"]
        .into_iter()
        .filter_map(|name| get(name).and_then(|v| parse_reset_duration(&v)))
        .max()
}

fn unit_ms(unit: &str) -> Option<(u128, u128)> {
    if unit == MU_US {
        return Some((1, 1_000));
    }
    UNITS.iter().find(|(name, _, _)| *name == unit).map(|&(_, num, den)| (num, den))
}

/// Reads `12`, `0.5`, `.5` or `5.` as a fixed-point number scaled by
/// 10^MAX_FRACTION_DIGITS. Requires at least one digit, as Go does.
fn parse_fixed_point(number: &str) -> Option<u128> {
    let (int, frac) = number.split_once('.').unwrap_or((number, ""));
    if (int.is_empty() && frac.is_empty()) || frac.contains('.') {
        return None;
    }
    let mut value: u128 = 0;
    for b in int.bytes() {
        value = value.saturating_mul(10).saturating_add(u128::from(b.checked_sub(b'0')?));
    }
    let mut digits = 0;
    for b in frac.bytes().take(MAX_FRACTION_DIGITS as usize) {
        value = value.saturating_mul(10).saturating_add(u128::from(b.checked_sub(b'0')?));
        digits += 1;
    }
    Some(value.saturating_mul(10u128.pow(MAX_FRACTION_DIGITS - digits)))
}

/// Parses an HTTP-date (RFC 9110 §5.6.7) into Unix seconds: IMF-fixdate
/// `Sun, 06 Nov 1994 08:49:37 GMT`, obsolete RFC 850
/// `Sunday, 06-Nov-94 08:49:37 GMT` and asctime `Sun Nov  6 08:49:37 1994`.
/// The weekday is checked to be a name but not against the date: it is
/// redundant, and mismatches are not worth refusing a hint over.
fn http_date_to_unix_secs(value: &str, now_ms: u64) -> Option<i64> {
    let (year, month, day, time) = if let Some((weekday, rest)) = value.split_once(',') {
        let fields: Vec<&str> = rest.split_ascii_whitespace().collect();
        match fields.as_slice() {
            [day, month, year, time, "GMT"] if DAYS.contains(&weekday) => {
                (number(year, 4, 4)?, month_number(month)?, number(day, 2, 2)?, *time)
            }
            [date, time, "GMT"] if LONG_DAYS.contains(&weekday) => {
                let mut parts = date.split('-');
                let (day, month, yy) = (parts.next()?, parts.next()?, parts.next()?);
                if parts.next().is_some() {
                    return None;
                }
                let year = rfc850_year(number(yy, 2, 2)?, now_ms);
                (year, month_number(month)?, number(day, 2, 2)?, *time)
            }
            _ => return None,
        }
    } else {
        let fields: Vec<&str> = value.split_ascii_whitespace().collect();
        match fields.as_slice() {
            [weekday, month, day, time, year] if DAYS.contains(weekday) => {
                (number(year, 4, 4)?, month_number(month)?, number(day, 1, 2)?, *time)
            }
            _ => return None,
        }
    };
    let mut hms = time.split(':');
    let (h, m, s) = (number(hms.next()?, 2, 2)?, number(hms.next()?, 2, 2)?, number(hms.next()?, 2, 2)?);
    // Second 60 is a leap second (RFC 5322 §3.3 allows it); it lands on the
    // next minute, which is as good as Unix time can do.
    if hms.next().is_some() || h > 23 || m > 59 || s > 60 || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + h * 3_600 + m * 60 + s)
}

/// RFC 9110 §5.6.7: a two-digit year that appears more than 50 years in the
/// future is the most recent past year with those digits.
fn rfc850_year(yy: i64, now_ms: u64) -> i64 {
    let now_year = civil_from_days(i64::try_from(now_ms / 86_400_000).unwrap_or(i64::MAX / 2)).0;
    let candidate = now_year - now_year.rem_euclid(100) + yy;
    if candidate > now_year + 50 {
        candidate - 100
    } else if candidate + 100 <= now_year + 50 {
        candidate + 100
    } else {
        candidate
    }
}

fn number(text: &str, min_len: usize, max_len: usize) -> Option<i64> {
    let ok = (min_len..=max_len).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit());
    ok.then(|| text.parse().ok()).flatten()
}

fn month_number(name: &str) -> Option<i64> {
    let index = MONTHS.iter().position(|m| *m == name)?;
    i64::try_from(index).ok().map(|i| i + 1)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 for a proleptic Gregorian date. Howard Hinnant,
/// "chrono-Compatible Low-Level Date Algorithms", `days_from_civil`
/// (<https://howardhinnant.github.io/date_algorithms.html>): shift the year
/// to start in March so the leap day is last, then count 400-year eras of
/// 146097 days; 719468 is the day number of 1970-01-01 in that count.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let doy = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`] (Hinnant's `civil_from_days`):
/// `(year, month, day)` for a day count since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// 2026-01-01T00:00:00Z, a fixed "now" for the tests.
    const NOW: u64 = 1_767_225_600_000;

    #[test]
    fn retry_after_seconds_are_honoured() {
        assert_eq!(parse_retry_after("120", NOW), Some(120_000));
        assert_eq!(parse_retry_after(" 0 ", NOW), Some(0));
        assert_eq!(parse_retry_after("99999999999999999999999", NOW), Some(u64::MAX));
    }

    #[test]
    fn retry_after_http_date_is_honoured() {
        let now = 784_111_777_000 - 30_000; // 30 s before the RFC's example date
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now), Some(30_000));
        assert_eq!(parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", now), Some(30_000));
        assert_eq!(parse_retry_after("Sun Nov  6 08:49:37 1994", now), Some(30_000));
    }

    #[test]
    fn retry_after_in_the_past_means_now() {
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", NOW), Some(0));
    }

    #[test]
    fn garbage_is_ignored() {
        for bad in ["", "soon", "-5", "+5", "1.5", "Sun, 06 Nov 1994 08:49:37 UTC", "Sun, 6 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 24:00:00 GMT", "Sun, 06 Foo 1994 08:49:37 GMT", "Sun, 29 Feb 2023 00:00:00 GMT",
            "Sun, 31 Apr 2024 00:00:00 GMT", "Sun, 06 Nov 1994 08:49 GMT", "Sunday, 06-Nov-1994 08:49:37 GMT"] {
            assert_eq!(parse_retry_after(bad, NOW), None, "{bad:?}");
        }
    }

    #[test]
    fn leap_day_and_year_boundaries_convert_exactly() {
        assert_eq!(http_date_to_unix_secs("Thu, 29 Feb 2024 00:00:00 GMT", NOW), Some(1_709_164_800));
        assert_eq!(http_date_to_unix_secs("Fri, 01 Mar 2024 00:00:00 GMT", NOW), Some(1_709_251_200));
        assert_eq!(http_date_to_unix_secs("Fri, 31 Dec 1999 23:59:59 GMT", NOW), Some(946_684_799));
        assert_eq!(http_date_to_unix_secs("Sat, 01 Jan 2000 00:00:00 GMT", NOW), Some(946_684_800));
        assert_eq!(http_date_to_unix_secs("Thu Jan  1 00:00:00 1970", NOW), Some(0));
        assert_eq!(http_date_to_unix_secs("Tue, 29 Feb 2000 12:00:00 GMT", NOW), Some(951_825_600));
        assert_eq!(http_date_to_unix_secs("Thu, 29 Feb 2100 00:00:00 GMT", NOW), None);
    }

    #[test]
    fn rfc850_two_digit_years_stay_within_fifty_years_ahead() {
        // From 2026: "76" is 50 years ahead (kept), "77" would be 51 (so 1977).
        assert_eq!(rfc850_year(76, NOW), 2076);
        assert_eq!(rfc850_year(77, NOW), 1977);
        assert_eq!(rfc850_year(26, NOW), 2026);
        assert_eq!(http_date_to_unix_secs("Thursday, 01-Jan-70 00:00:00 GMT", 0), Some(0));
    }

    #[test]
    fn retry_after_ms_accepts_fractions_and_rounds_up() {
        assert_eq!(parse_retry_after_ms("250"), Some(250));
        assert_eq!(parse_retry_after_ms(" 12.2 "), Some(13));
        assert_eq!(parse_retry_after_ms("0.0001"), Some(1));
        assert_eq!(parse_retry_after_ms("7."), Some(7));
        assert_eq!(parse_retry_after_ms("99999999999999999999999"), Some(u64::MAX));
        for bad in ["", ".", "-1", "NaN", "inf", "12ms", "1.2.3", "1e3"] {
            assert_eq!(parse_retry_after_ms(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn openai_reset_durations_parse_to_milliseconds() {
        let cases = [("1s", 1_000), ("6m0s", 360_000), ("12ms", 12), ("1h2m3.5s", 3_723_500), ("0.5s", 500),
            ("0", 0), ("0s", 0), ("1.5µs", 1), ("1μs", 1), ("999ns", 1), (".5s", 500), ("2h", 7_200_000)];
        for (text, ms) in cases {
            assert_eq!(parse_reset_duration(text), Some(ms), "{text:?}");
        }
        for bad in ["", "s", "1", "5x", "1..5s", "-1s", ".s", "1 s"] {
            assert_eq!(parse_reset_duration(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn reset_durations_format_like_openai() {
        let cases = [(0, "0s"), (12, "12ms"), (1_000, "1s"), (1_500, "1.5s"), (360_000, "6m0s"),
            (3_600_000, "1h0m0s"), (3_723_050, "1h2m3.05s")];
        for (ms, text) in cases {
            assert_eq!(format_reset_duration(ms), text);
        }
    }

    fn headers(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| pairs.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| (*v).to_owned())
    }

    #[test]
    fn retry_after_ms_wins_over_retry_after() {
        let get = headers(&[("Retry-After", "10"), ("retry-after-ms", "1500")]);
        assert_eq!(upstream_wait_ms(get, NOW), Some(1_500));
    }

    #[test]
    fn retry_after_wins_over_reset_headers() {
        let get = headers(&[("retry-after-ms", "junk"), ("Retry-After", "2"), ("x-ratelimit-reset-tokens", "1m0s")]);
        assert_eq!(upstream_wait_ms(get, NOW), Some(2_000));
    }

    #[test]
    fn larger_reset_header_is_used_without_retry_after() {
        let get = headers(&[("x-ratelimit-reset-requests", "1s"), ("x-ratelimit-reset-tokens", "6m0s")]);
        assert_eq!(upstream_wait_ms(get, NOW), Some(360_000));
        assert_eq!(upstream_wait_ms(headers(&[]), NOW), None);
    }

    proptest! {
        #[test]
        fn parsers_never_panic(s in "\\PC*", now: u64) {
            let _ = parse_retry_after(&s, now);
            let _ = parse_retry_after_ms(&s);
            let _ = parse_reset_duration(&s);
        }

        #[test]
        fn date_shaped_input_never_panics(s in "[A-Za-z]{3,9}, [0-9]{1,3}[ -][A-Za-z]{3}[ -][0-9]{2,5} [0-9:]{5,9} GMT", now: u64) {
            let _ = parse_retry_after(&s, now);
        }

        #[test]
        fn reset_duration_round_trips(ms: u64) {
            prop_assert_eq!(parse_reset_duration(&format_reset_duration(ms)), Some(ms));
        }

        #[test]
        fn delay_seconds_round_trip(secs in 0u64..=u64::MAX / 1_000, now: u64) {
            prop_assert_eq!(parse_retry_after(&secs.to_string(), now), Some(secs * 1_000));
        }

        #[test]
        fn civil_dates_round_trip(days in -1_000_000i64..3_000_000) {
            let (y, m, d) = civil_from_days(days);
            prop_assert!((1..=12).contains(&m) && d >= 1 && d <= days_in_month(y, m));
            prop_assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}
