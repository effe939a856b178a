//! Reading request logs: the admin API's filters, pages and aggregates, as
//! SQL for D1 (SQLite).
//!
//! Everything the caller chooses becomes a bound parameter, never SQL text,
//! except the group-by column, which is picked from a fixed list. Pages are
//! newest first with a keyset cursor (`time_ms`, `request_id`), so a page
//! costs the same however deep it is and rows arriving meanwhile do not
//! shift it. Aggregates are one statement per call, counts, sums and
//! latency histograms per bucket and group (see [`super::histogram`] and
//! [`super::stats`]), read from the 15-minute rollups when the query allows
//! and from the requests otherwise. D1 binds JavaScript numbers as REAL, so
//! bucket arithmetic casts to INTEGER.

use super::histogram::BUCKETS;
use super::store::ROLLUP_MS;
use crate::error::GatewayError;
use crate::keys::base64url;

/// A value bound to a `?N` parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlParam {
    /// An integer.
    Int(i64),
    /// Text.
    Text(String),
}

/// A statement and its parameters (`?1` is `params[0]`).
#[derive(Debug, Clone, PartialEq)]
pub struct Sql {
    /// The statement.
    pub text: String,
    /// Its parameters, in order.
    pub params: Vec<SqlParam>,
}

impl Sql {
    /// Binds `value` and returns its placeholder.
    fn bind(&mut self, value: SqlParam) -> String {
        self.params.push(value);
        format!("?{}", self.params.len())
    }
}

/// Which requests a query is about.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogFilter {
    /// From this time on (ms since epoch, inclusive).
    pub from_ms: u64,
    /// Up to this time (exclusive).
    pub to_ms: u64,
    /// HTTP status: a class (`2xx`, `4xx`, `5xx`) or one status.
    pub status: Option<StatusMatch>,
    /// Route (model alias).
    pub route: Option<String>,
    /// Provider that answered.
    pub provider: Option<String>,
    /// Upstream model that answered.
    pub model: Option<String>,
    /// Gateway key id.
    pub key: Option<String>,
    /// Cache status (`hit`, `miss`, `bypass`, `refresh`, `semantic`).
    pub cache: Option<String>,
    /// Error code.
    pub error: Option<String>,
    /// The start of a request id.
    pub request_id: Option<String>,
}

/// A status filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusMatch {
    /// Every status from `n`00 to `n`99.
    Class(u16),
    /// One status.
    Exact(u16),
}

/// What can be grouped by, and the column each reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    /// Per route.
    Route,
    /// Per provider.
    Provider,
    /// Per upstream model.
    Model,
    /// Per gateway key.
    Key,
}

impl GroupBy {
    fn column(self) -> &'static str {
        match self {
            Self::Route => "route",
            Self::Provider => "provider",
            Self::Model => "model",
            Self::Key => "key_id",
        }
    }

    /// The name the admin API uses.
    pub fn name(self) -> &'static str {
        match self {
            Self::Route => "route",
            Self::Provider => "provider",
            Self::Model => "model",
            Self::Key => "key",
        }
    }
}

/// Where the previous page ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// The last row's time.
    pub time_ms: u64,
    /// The last row's request id.
    pub request_id: String,
}

impl Cursor {
    /// The opaque string the API hands out.
    pub fn encode(&self) -> String {
        base64url::encode(format!("{}|{}", self.time_ms, self.request_id).as_bytes())
    }

    /// Reads a string from [`Cursor::encode`].
    pub fn decode(text: &str) -> Option<Self> {
        let bytes = base64url::decode(text)?;
        let text = String::from_utf8(bytes).ok()?;
        let (time, request_id) = text.split_once('|')?;
        Some(Self { time_ms: time.parse().ok()?, request_id: request_id.to_owned() })
    }
}

/// The default time range: the last day.
pub const DEFAULT_RANGE_MS: u64 = 86_400_000;
/// Rows per page unless asked otherwise, and the most a page may have.
pub const DEFAULT_PAGE: u32 = 50;
/// The largest page.
pub const MAX_PAGE: u32 = 200;
/// Chart buckets aim at no more than this many points.
const MAX_POINTS: u64 = 120;
/// Bucket sizes the default picks from.
const BUCKETS_MS: [u64; 10] = [10_000, 30_000, 60_000, 300_000, 900_000, 3_600_000, 10_800_000, 21_600_000, 43_200_000, 86_400_000];

/// The summary columns of a logs page, in the API's order.
const PAGE_COLUMNS: &str = "request_id, time_ms, path, key_id, key_name, user_id, route, provider, model, status, \
error_code, outcome, cache, stream, latency_ms, ttft_ms, tokens_in, tokens_out, cost_usd, attempts";

fn invalid(param: &str, message: impl Into<String>) -> GatewayError {
    GatewayError::InvalidRequest { param: param.to_owned(), message: message.into() }
}

fn number(param: &str, value: &str) -> Result<u64, GatewayError> {
    value.parse().map_err(|_| invalid(param, format!("`{param}` must be a whole number, got {}", crate::json::quote(value))))
}

/// The parameters of a logs or stats call, read from the query string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogQuery {
    /// Which requests.
    pub filter: LogFilter,
    /// Rows per page.
    pub limit: u32,
    /// Where the previous page ended.
    pub cursor: Option<Cursor>,
    /// Bucket width for stats, when given.
    pub bucket_ms: Option<u64>,
    /// Group-by for stats.
    pub group_by: Option<GroupBy>,
}

impl LogQuery {
    /// Reads `from`, `to`, `status`, `route`, `provider`, `model`, `key`,
    /// `cache`, `error`, `q`, `limit`, `cursor`, `bucket_ms` and `group_by`;
    /// anything else is refused, naming the parameter.
    pub fn parse<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>, now_ms: u64) -> Result<Self, GatewayError> {
        let mut query = Self { filter: LogFilter::default(), limit: DEFAULT_PAGE, cursor: None, bucket_ms: None, group_by: None };
        let (mut from, mut to) = (None, None);
        for (name, value) in pairs {
            let text = || (!value.is_empty()).then(|| value.to_owned());
            match name {
                "from" => from = Some(number(name, value)?),
                "to" => to = Some(number(name, value)?),
                "status" => query.filter.status = Some(status_match(value)?),
                "route" => query.filter.route = text(),
                "provider" => query.filter.provider = text(),
                "model" => query.filter.model = text(),
                "key" => query.filter.key = text(),
                "cache" => query.filter.cache = text(),
                "error" => query.filter.error = text(),
                "q" => query.filter.request_id = text(),
                "limit" => {
                    let limit = number(name, value)?;
                    if !(1..=u64::from(MAX_PAGE)).contains(&limit) {
                        return Err(invalid(name, format!("`limit` must be between 1 and {MAX_PAGE}")));
                    }
                    query.limit = u32::try_from(limit).unwrap_or(MAX_PAGE);
                }
                "cursor" => query.cursor = Some(Cursor::decode(value).ok_or_else(|| invalid(name, "`cursor` is not one this API gave out"))?),
                "bucket_ms" => query.bucket_ms = Some(number(name, value)?.max(1_000)),
                "group_by" => {
                    query.group_by = match value {
                        "" => None,
                        "route" => Some(GroupBy::Route),
                        "provider" => Some(GroupBy::Provider),
                        "model" => Some(GroupBy::Model),
                        "key" => Some(GroupBy::Key),
                        _ => return Err(invalid(name, "`group_by` must be route, provider, model or key")),
                    }
                }
                _ => return Err(invalid(name, format!("unknown query parameter `{name}`"))),
            }
        }
        query.filter.to_ms = to.unwrap_or(now_ms.saturating_add(1));
        query.filter.from_ms = from.unwrap_or_else(|| query.filter.to_ms.saturating_sub(DEFAULT_RANGE_MS));
        if query.filter.from_ms >= query.filter.to_ms {
            return Err(invalid("from", "`from` must be before `to`"));
        }
        Ok(query)
    }

    /// The bucket width: as asked, or the smallest of a few round sizes that
    /// keeps the chart within about 120 points.
    pub fn bucket_ms(&self) -> u64 {
        self.bucket_ms.unwrap_or_else(|| {
            let span = self.filter.to_ms - self.filter.from_ms;
            BUCKETS_MS.into_iter().find(|b| span.div_ceil(*b) <= MAX_POINTS).unwrap_or(86_400_000)
        })
    }
}

fn status_match(value: &str) -> Result<StatusMatch, GatewayError> {
    match value.as_bytes() {
        [class @ b'1'..=b'5', b'x' | b'X', b'x' | b'X'] => Ok(StatusMatch::Class(u16::from(class - b'0'))),
        _ => match value.parse::<u16>() {
            Ok(status @ 100..=599) => Ok(StatusMatch::Exact(status)),
            _ => Err(invalid("status", "`status` must be a class like 5xx or a status like 429")),
        },
    }
}

impl LogFilter {
    /// The WHERE conditions, binding their values into `sql`.
    fn conditions(&self, sql: &mut Sql) -> String {
        let mut terms = vec![
            format!("time_ms >= {}", sql.bind(SqlParam::Int(clamp(self.from_ms)))),
            format!("time_ms < {}", sql.bind(SqlParam::Int(clamp(self.to_ms)))),
        ];
        match self.status {
            Some(StatusMatch::Class(class)) => {
                terms.push(format!("status >= {}", sql.bind(SqlParam::Int(i64::from(class) * 100))));
                terms.push(format!("status < {}", sql.bind(SqlParam::Int(i64::from(class + 1) * 100))));
            }
            Some(StatusMatch::Exact(status)) => terms.push(format!("status = {}", sql.bind(SqlParam::Int(i64::from(status))))),
            None => {}
        }
        let columns = [
            ("route", &self.route),
            ("provider", &self.provider),
            ("model", &self.model),
            ("key_id", &self.key),
            ("cache", &self.cache),
            ("error_code", &self.error),
        ];
        for (column, value) in columns {
            if let Some(value) = value {
                terms.push(format!("{column} = {}", sql.bind(SqlParam::Text(value.clone()))));
            }
        }
        if let Some(prefix) = &self.request_id {
            let escaped: String = prefix.chars().flat_map(|c| if matches!(c, '%' | '_' | '\\') { vec!['\\', c] } else { vec![c] }).collect();
            terms.push(format!("request_id LIKE {} ESCAPE '\\'", sql.bind(SqlParam::Text(format!("{escaped}%")))));
        }
        terms.join(" AND ")
    }
}

fn clamp(ms: u64) -> i64 {
    i64::try_from(ms).unwrap_or(i64::MAX)
}

/// One page of log summaries, newest first. Asks for one row more than the
/// page: its presence says there is a next page.
pub fn page(query: &LogQuery) -> Sql {
    let mut sql = Sql { text: String::new(), params: Vec::new() };
    let mut conditions = query.filter.conditions(&mut sql);
    if let Some(cursor) = &query.cursor {
        let time = sql.bind(SqlParam::Int(clamp(cursor.time_ms)));
        let id = sql.bind(SqlParam::Text(cursor.request_id.clone()));
        conditions.push_str(&format!(" AND (time_ms, request_id) < ({time}, {id})"));
    }
    let limit = sql.bind(SqlParam::Int(i64::from(query.limit) + 1));
    sql.text = format!("SELECT {PAGE_COLUMNS} FROM requests WHERE {conditions} ORDER BY time_ms DESC, request_id DESC LIMIT {limit}");
    sql
}

/// One record by request id.
pub const RECORD: &str = "SELECT record FROM requests WHERE request_id = ?1";

/// A page of the audit log, newest first (`?1` the cursor id or a huge
/// number, `?2` the page size + 1).
pub const AUDIT_PAGE: &str = "SELECT id, time_ms, action, target, detail FROM audit WHERE id < ?1 ORDER BY id DESC LIMIT ?2";

/// The columns of a stats row, in order: bucket start `t`, `group`, the
/// seven sums of [`StatsRow`](super::stats::StatsRow), then the latency
/// histogram (`l0`..) and the TTFT histogram (`t0`..).
///
/// Unfiltered ranges counted in whole 15-minute steps read the rollups (a
/// row per 15 minutes and route, provider, model and key); anything else
/// reads the requests themselves. Both count the same way.
pub fn stats(query: &LogQuery) -> Sql {
    if uses_rollups(query) {
        rollup_stats(query)
    } else {
        raw_stats(query)
    }
}

/// Whether `query` can be answered from the rollups: its filters are
/// rollup dimensions and its buckets whole rollup steps.
pub fn uses_rollups(query: &LogQuery) -> bool {
    let f = &query.filter;
    f.status.is_none() && f.cache.is_none() && f.error.is_none() && f.request_id.is_none() && query.bucket_ms().is_multiple_of(ROLLUP_MS)
}

/// The range a stats query really covers: rollup queries widen it to whole
/// rollup steps.
pub fn effective_range(query: &LogQuery) -> (u64, u64) {
    let (from, to) = (query.filter.from_ms, query.filter.to_ms);
    if uses_rollups(query) {
        (from / ROLLUP_MS * ROLLUP_MS, to.div_ceil(ROLLUP_MS) * ROLLUP_MS)
    } else {
        (from, to)
    }
}

fn histogram_sums(column: impl Fn(usize) -> String) -> String {
    (0..BUCKETS).map(column).collect::<Vec<_>>().join(", ")
}

fn rollup_stats(query: &LogQuery) -> Sql {
    let mut sql = Sql { text: String::new(), params: Vec::new() };
    let (from, to) = effective_range(query);
    let bucket = sql.bind(SqlParam::Int(clamp(query.bucket_ms())));
    let mut conditions = vec![
        format!("bucket_ms >= {}", sql.bind(SqlParam::Int(clamp(from)))),
        format!("bucket_ms < {}", sql.bind(SqlParam::Int(clamp(to)))),
    ];
    let f = &query.filter;
    for (column, value) in [("route", &f.route), ("provider", &f.provider), ("model", &f.model), ("key_id", &f.key)] {
        if let Some(value) = value {
            conditions.push(format!("{column} = {}", sql.bind(SqlParam::Text(value.clone()))));
        }
    }
    let group = query.group_by.map_or_else(|| "NULL".to_owned(), |g| format!("NULLIF({}, '')", g.column()));
    sql.text = format!(
        "SELECT bucket_ms / CAST({bucket} AS INTEGER) * CAST({bucket} AS INTEGER) AS t, {group} AS g, SUM(requests), SUM(errors), SUM(tokens_in), SUM(tokens_out), \
         TOTAL(cost_usd), SUM(cache_hits), SUM(cache_lookups), {}, {} FROM request_rollups WHERE {} GROUP BY t, g ORDER BY t, g",
        histogram_sums(|i| format!("SUM(l{i})")),
        histogram_sums(|i| format!("SUM(t{i})")),
        conditions.join(" AND "),
    );
    sql
}

fn raw_stats(query: &LogQuery) -> Sql {
    let mut sql = Sql { text: String::new(), params: Vec::new() };
    let bucket = sql.bind(SqlParam::Int(clamp(query.bucket_ms())));
    let conditions = query.filter.conditions(&mut sql);
    let group = query.group_by.map_or("NULL", GroupBy::column);
    sql.text = format!(
        "SELECT CAST(time_ms AS INTEGER) / CAST({bucket} AS INTEGER) * CAST({bucket} AS INTEGER) AS t, {group} AS g, COUNT(*), SUM(status >= 400), \
         COALESCE(SUM(tokens_in), 0), COALESCE(SUM(tokens_out), 0), TOTAL(cost_usd), SUM(cache IN ('hit', 'semantic')), \
         SUM(cache IN ('hit', 'semantic', 'miss', 'refresh')), {}, {} FROM requests WHERE {conditions} GROUP BY t, g ORDER BY t, g",
        histogram_sums(|i| format!("COALESCE(SUM(latency_bucket = {i}), 0)")),
        histogram_sums(|i| format!("COALESCE(SUM(ttft_bucket = {i}), 0)")),
    );
    sql
}

/// A key's recent usage: `?1` key id, `?2` a minute ago, `?3` the UTC day's
/// start, `?4` the UTC month's start. Columns: `requests_last_minute`,
/// `requests_today`, `tokens_last_minute`, `tokens_today`,
/// `cost_today_usd`, `cost_month_usd`.
pub const KEY_USAGE: &str = "SELECT COALESCE(SUM(time_ms >= ?2), 0) AS requests_last_minute, \
COALESCE(SUM(time_ms >= ?3), 0) AS requests_today, \
COALESCE(SUM(CASE WHEN time_ms >= ?2 THEN COALESCE(tokens_in, 0) + COALESCE(tokens_out, 0) END), 0) AS tokens_last_minute, \
COALESCE(SUM(CASE WHEN time_ms >= ?3 THEN COALESCE(tokens_in, 0) + COALESCE(tokens_out, 0) END), 0) AS tokens_today, \
TOTAL(CASE WHEN time_ms >= ?3 THEN cost_usd END) AS cost_today_usd, TOTAL(cost_usd) AS cost_month_usd \
FROM requests WHERE key_id = ?1 AND time_ms >= ?4";

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(query: &str) -> Result<LogQuery, GatewayError> {
        let pairs: Vec<(&str, &str)> = query.split('&').filter(|p| !p.is_empty()).map(|p| p.split_once('=').unwrap_or((p, ""))).collect();
        LogQuery::parse(pairs, 1_000_000_000)
    }

    #[test]
    fn defaults_cover_the_last_day() {
        let query = parse("").unwrap();
        assert_eq!(query.filter.to_ms, 1_000_000_001);
        assert_eq!(query.filter.from_ms, 1_000_000_001 - DEFAULT_RANGE_MS);
        assert_eq!(query.limit, DEFAULT_PAGE);
        assert_eq!(query.bucket_ms(), 900_000, "a day in 15-minute buckets: 96 points");
    }

    #[test]
    fn bad_parameters_are_named() {
        for (query, param) in [
            ("limit=0", "limit"),
            ("limit=500", "limit"),
            ("status=6xx", "status"),
            ("status=abc", "status"),
            ("from=5&to=5", "from"),
            ("cursor=!!", "cursor"),
            ("group_by=colour", "group_by"),
            ("colour=red", "colour"),
            ("from=yesterday", "from"),
        ] {
            match parse(query) {
                Err(GatewayError::InvalidRequest { param: got, .. }) => assert_eq!(got, param, "{query}"),
                other => panic!("{query}: {other:?}"),
            }
        }
    }

    #[test]
    fn every_value_is_bound_never_spliced() {
        let query = parse("status=5xx&route=x'%20OR%201=1--&provider=p&model=m&key=k&cache=hit&error=e&q=req_1%").unwrap();
        let sql = page(&query);
        assert!(!sql.text.contains("OR 1=1") && !sql.text.contains("req_1"));
        assert!(sql.text.contains("status >= ?3 AND status < ?4 AND route = ?5"));
        assert_eq!(sql.params.get(2), Some(&SqlParam::Int(500)));
        assert_eq!(sql.params.get(3), Some(&SqlParam::Int(600)));
        assert!(sql.params.contains(&SqlParam::Text("req\\_1\\%%".into())), "LIKE wildcards in the prefix are escaped: {:?}", sql.params);
        assert_eq!(sql.params.last(), Some(&SqlParam::Int(51)), "one row more than the page");
    }

    #[test]
    fn cursors_round_trip_and_continue_after_the_last_row() {
        let cursor = Cursor { time_ms: 1_234, request_id: "req_ab|c".into() };
        assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor.clone()));
        let query = LogQuery { cursor: Some(cursor), ..parse("").unwrap() };
        let sql = page(&query);
        assert!(sql.text.contains("(time_ms, request_id) < (?3, ?4)"));
        assert_eq!(sql.params.get(3), Some(&SqlParam::Text("req_ab|c".into())));
    }

    #[test]
    fn stats_read_rollups_when_they_can_and_requests_otherwise() {
        let day = parse("from=1000000&to=87400000&group_by=key&route=demo").unwrap();
        assert!(uses_rollups(&day), "15-minute buckets, a dimension filter");
        let sql = stats(&day);
        assert!(sql.text.contains("FROM request_rollups") && sql.text.contains("NULLIF(key_id, '') AS g") && sql.text.contains("route = ?4"));
        assert_eq!(effective_range(&day), (900_000, 88_200_000));
        let filtered = parse("from=1000000&to=87400000&status=5xx").unwrap();
        assert!(!uses_rollups(&filtered));
        assert!(stats(&filtered).text.contains("FROM requests"));
        let hour = parse("from=0&to=3600000").unwrap();
        assert!(!uses_rollups(&hour), "30-second buckets are finer than the rollups");
        assert_eq!(effective_range(&hour), (0, 3_600_000));
    }

    #[test]
    fn buckets_keep_charts_within_about_120_points() {
        for (span, bucket) in [(900_000u64, 10_000u64), (3_600_000, 30_000), (86_400_000, 900_000), (7 * 86_400_000, 10_800_000)] {
            let query = parse(&format!("from=0&to={span}")).unwrap();
            assert_eq!(query.bucket_ms(), bucket, "{span}");
            assert!(span.div_ceil(bucket) <= 120);
        }
    }
}
