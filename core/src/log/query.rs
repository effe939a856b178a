//! Reading request logs: the admin API's filters, pages and aggregates, as
//! SQL for D1 (SQLite).
//!
//! Everything the caller chooses becomes a bound parameter, never SQL text,
//! except the group-by column, which is picked from a fixed list. Pages are
//! newest first with a keyset cursor (`time_ms`, `request_id`), so a page
//! costs the same however deep it is and rows arriving meanwhile do not
//! shift it. Aggregates are computed by SQLite in one statement per call:
//! counts and sums per bucket and group, and latency/TTFT percentiles by
//! the nearest-rank method (the smallest value at or above rank
//! ⌈p·n⌉) with window functions, so no rows leave the database. D1 binds
//! JavaScript numbers as REAL, so bucket arithmetic casts to INTEGER.

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
    value.parse().map_err(|_| invalid(param, format!("`{param}` must be a whole number, got {value:?}")))
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

/// Aggregates per bucket (and group): `t` (bucket start, a multiple of the
/// bucket width since the epoch, so buckets stay put as the range moves), `group`,
/// `requests`, `errors` (status ≥ 400), `latency_p50/p95/p99`,
/// `ttft_p50/p95/p99` (streams only), `tokens_in`, `tokens_out`,
/// `cost_usd`, `cache_hits` (`hit`, `semantic`) and `cache_lookups` (those
/// and `miss`, `refresh`). Buckets without requests are absent.
pub fn stats(query: &LogQuery) -> Sql {
    stats_sql(&query.filter, Some(query.bucket_ms()), query.group_by)
}

/// The same aggregates over the whole range, as one row (`t` is `from`).
pub fn totals(query: &LogQuery) -> Sql {
    stats_sql(&query.filter, None, None)
}

fn stats_sql(filter: &LogFilter, bucket_ms: Option<u64>, group_by: Option<GroupBy>) -> Sql {
    let mut sql = Sql { text: String::new(), params: Vec::new() };
    // The whole range is one bucket, numbered 0 and starting at `from`.
    let (bucket_of, start) = match bucket_ms {
        Some(ms) => {
            let bucket = sql.bind(SqlParam::Int(clamp(ms.max(1))));
            (format!("CAST(time_ms AS INTEGER) / CAST({bucket} AS INTEGER)"), format!("agg.b * CAST({bucket} AS INTEGER)"))
        }
        None => ("0".to_owned(), format!("CAST({} AS INTEGER)", sql.bind(SqlParam::Int(clamp(filter.from_ms))))),
    };
    let conditions = filter.conditions(&mut sql);
    let group = group_by.map_or("NULL", GroupBy::column);
    let percentiles = |values: &str| {
        [50, 95, 99]
            .map(|p| format!("MIN(CASE WHEN rn * 100 >= n * {p} THEN v END) AS {values}_p{p}"))
            .join(", ")
    };
    let ranked = |column: &str, extra: &str| {
        format!(
            "SELECT b, g, {column} AS v, ROW_NUMBER() OVER (PARTITION BY b, g ORDER BY {column}) AS rn, \
             COUNT(*) OVER (PARTITION BY b, g) AS n FROM base {extra}"
        )
    };
    sql.text = format!(
        "WITH base AS (SELECT {bucket_of} AS b, {group} AS g, status, latency_ms, ttft_ms, tokens_in, \
         tokens_out, cost_usd, cache FROM requests WHERE {conditions}), \
         latency AS ({latency}), ttft AS ({ttft}), \
         lp AS (SELECT b, g, {latency_p} FROM latency GROUP BY b, g), \
         tp AS (SELECT b, g, {ttft_p} FROM ttft GROUP BY b, g), \
         agg AS (SELECT b, g, COUNT(*) AS requests, SUM(status >= 400) AS errors, COALESCE(SUM(tokens_in), 0) AS tokens_in, \
         COALESCE(SUM(tokens_out), 0) AS tokens_out, TOTAL(cost_usd) AS cost_usd, \
         SUM(cache IN ('hit', 'semantic')) AS cache_hits, SUM(cache IN ('hit', 'semantic', 'miss', 'refresh')) AS cache_lookups \
         FROM base GROUP BY b, g) \
         SELECT {start} AS t, agg.g AS \"group\", requests, errors, latency_p50, latency_p95, latency_p99, \
         ttft_p50, ttft_p95, ttft_p99, tokens_in, tokens_out, cost_usd, cache_hits, cache_lookups \
         FROM agg LEFT JOIN lp ON lp.b = agg.b AND lp.g IS agg.g LEFT JOIN tp ON tp.b = agg.b AND tp.g IS agg.g \
         ORDER BY t, \"group\"",
        latency = ranked("latency_ms", ""),
        ttft = ranked("ttft_ms", "WHERE ttft_ms IS NOT NULL"),
        latency_p = percentiles("latency"),
        ttft_p = percentiles("ttft"),
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
    fn stats_group_by_a_listed_column_only() {
        let query = parse("group_by=key&bucket_ms=60000").unwrap();
        let sql = stats(&query);
        assert!(sql.text.contains("key_id AS g"));
        assert_eq!(sql.params.first(), Some(&SqlParam::Int(60_000)));
        let totals = totals(&query);
        assert!(totals.text.contains("SELECT 0 AS b, NULL AS g"));
        assert_eq!(totals.params.first(), Some(&SqlParam::Int(i64::try_from(query.filter.from_ms).unwrap())));
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
