//! The activity log: every condition of the filter language as form rows (field, operator,
//! value) and a time range, kept in a shareable URL (`?q=app%3Dexchange&q=…`, as the API takes
//! them), a histogram over time, the results a page at a time, and a drawer with one activity
//! and its raw record (`&open=ID`, or the activity's own page).

use askama::Template;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};
use skylight_model::filter::{Field, Filter, Test};
use skylight_model::{ActivityRow, App, Category, SavedQuery};
use skylight_store::ActivityQuery;

use super::overview::log_url;
use super::{Chrome, ConsoleError, charts, enc, render, see_other, when};
use crate::AppState;
use crate::alerts::{Refusal, blocking};
use crate::auth::Principal;
use crate::{cursor_text, parse_cursor};

/// Rows per page.
const PAGE: usize = 50;
/// Blank condition rows offered under the current ones (more appear with JavaScript).
const BLANK_ROWS: usize = 2;
const HIDDEN_ROWS: usize = 6;

/// An activity as a row of a table.
pub(crate) struct Row {
    pub id: String,
    pub time: String,
    pub app: String,
    pub operation: String,
    pub category: String,
    pub user: String,
    pub user_href: String,
    pub ip: String,
    pub country: String,
    pub result: &'static str,
    /// Where the row leads: the drawer in the log, the activity's page elsewhere.
    pub href: String,
    pub selected: bool,
}

impl From<&ActivityRow> for Row {
    fn from(r: &ActivityRow) -> Self {
        let user = r.user.clone().unwrap_or_default();
        Row {
            id: r.id.clone(),
            time: when(r.time),
            app: r.app.map_or("", App::as_str).to_owned(),
            operation: r.operation.clone().unwrap_or_default(),
            category: r.category.map_or("", Category::as_str).to_owned(),
            user_href: format!("/users/{}", enc(&user)),
            user,
            ip: r.ip.clone().unwrap_or_default(),
            country: r.country.clone().unwrap_or_default(),
            result: match r.result {
                Some(skylight_model::Outcome::Success) => "success",
                Some(skylight_model::Outcome::Failure) => "failure",
                _ => "",
            },
            href: format!("/activities/{}", enc(&r.id)),
            selected: false,
        }
    }
}

/// One condition as a form row.
pub(crate) struct CondRow {
    pub field: String,
    pub op: &'static str,
    pub value: String,
    pub hidden: bool,
}

/// A condition's text split into field, operator and value (as the filter language reads it).
fn split_condition(c: &str) -> (String, &'static str, String) {
    let c = c.trim_start();
    let n = c
        .find(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_'))
        .unwrap_or(c.len());
    let (name, rest) = c.split_at(n);
    let rest = rest.trim_start();
    let (op, value) = if let Some(v) = rest.strip_prefix("!=") {
        ("!=", v)
    } else if let Some(v) = rest.strip_prefix('~') {
        ("~", v)
    } else {
        ("=", rest.strip_prefix('=').unwrap_or(rest))
    };
    (name.to_ascii_lowercase(), op, value.trim().to_owned())
}

/// A time from a form: `2026-11-20T08:00` (a `datetime-local` field, read as UTC), a date, or
/// RFC 3339.
fn form_time(s: &str) -> String {
    let s = s.trim();
    if s.len() == 16 && s.as_bytes().get(10) == Some(&b'T') {
        format!("{s}:00Z")
    } else {
        s.to_owned()
    }
}

/// The request's parameters: conditions (`q`), or a submitted form (`f`/`o`/`v` rows, `from`,
/// `to`, `range`) that is turned into conditions, plus `cursor` and `open`.
struct Params {
    conditions: Vec<String>,
    from_form: bool,
    cursor: Option<String>,
    open: Option<String>,
}

fn read_params(raw: &str, now: DateTime<Utc>) -> Params {
    let mut p = Params {
        conditions: Vec::new(),
        from_form: false,
        cursor: None,
        open: None,
    };
    let (mut fields, mut ops, mut values) = (Vec::new(), Vec::new(), Vec::new());
    let (mut from, mut to, mut range) = (String::new(), String::new(), String::new());
    for (k, v) in form_urlencoded::parse(raw.as_bytes()) {
        let v = v.into_owned();
        match k.as_ref() {
            "q" if !v.trim().is_empty() => p.conditions.push(v),
            "f" => fields.push(v),
            "o" => ops.push(v),
            "v" => values.push(v),
            "from" => from = v,
            "to" => to = v,
            "range" => range = v,
            "cursor" => p.cursor = Some(v),
            "open" => p.open = Some(v),
            _ => {}
        }
    }
    if fields.is_empty() && from.is_empty() && to.is_empty() && range.is_empty() {
        return p;
    }
    p.from_form = true;
    for (i, field) in fields.iter().enumerate() {
        let value = values.get(i).map_or("", |v| v.trim());
        let op = ops.get(i).map_or("=", String::as_str);
        let op = if ["=", "!=", "~"].contains(&op) {
            op
        } else {
            "="
        };
        if !field.is_empty() && !value.is_empty() {
            p.conditions.push(format!("{field}{op}{value}"));
        }
    }
    let ago = match range.as_str() {
        "1h" => Some(Duration::hours(1)),
        "24h" => Some(Duration::hours(24)),
        "7d" => Some(Duration::days(7)),
        "30d" => Some(Duration::days(30)),
        _ => None,
    };
    if let Some(ago) = ago {
        from = (now - ago).format("%Y-%m-%dT%H:%M:%SZ").to_string();
        to.clear();
    }
    if !from.trim().is_empty() || !to.trim().is_empty() {
        p.conditions
            .push(format!("time={}..{}", form_time(&from), form_time(&to)));
    }
    p
}

/// The query string of a list of conditions.
fn query_string(conditions: &[String]) -> String {
    let q: Vec<String> = conditions.iter().map(|c| format!("q={}", enc(c))).collect();
    q.join("&")
}

/// The time range of a filter, if it has one.
fn time_range(f: &Filter) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
    f.conditions
        .iter()
        .find_map(|c| match c.test {
            Test::TimeRange(a, b) if c.field == Field::Time => Some((a, b)),
            _ => None,
        })
        .unwrap_or((None, None))
}

/// Buckets as wide as needed for at most ~200 bars (`counts` are hourly, or five-minutely for a
/// range under a day).
fn coarsen(counts: Vec<(i64, u64)>, fine_ms: i64) -> (Vec<(i64, u64)>, i64) {
    let span = match (counts.first(), counts.last()) {
        (Some(a), Some(b)) => b.0 - a.0 + fine_ms,
        _ => return (counts, fine_ms),
    };
    let widths = [
        fine_ms,
        3_600_000,
        3 * 3_600_000,
        6 * 3_600_000,
        12 * 3_600_000,
        86_400_000,
    ];
    let width = widths
        .into_iter()
        .filter(|w| *w >= fine_ms)
        .find(|w| span / w <= 200)
        .unwrap_or(86_400_000);
    let mut out: Vec<(i64, u64)> = Vec::new();
    for (ms, n) in counts {
        let start = ms.div_euclid(width) * width;
        match out.last_mut() {
            Some(last) if last.0 == start => last.1 += n,
            _ => out.push((start, n)),
        }
    }
    (out, width)
}

/// One activity in full.
pub(crate) struct Detail {
    pub id: String,
    pub fields: Vec<(&'static str, String)>,
    pub user: String,
    pub user_href: String,
    pub normalized: String,
    pub raw: String,
    pub close_href: String,
}

fn detail_of(row: &ActivityRow, raw: &[u8], close_href: String) -> Detail {
    let json = crate::activity_json(row);
    let fields = [
        ("time", when(row.time)),
        ("app", json["app"].as_str().unwrap_or_default().to_owned()),
        ("operation", row.operation.clone().unwrap_or_default()),
        (
            "category",
            json["category"].as_str().unwrap_or_default().to_owned(),
        ),
        (
            "record type",
            format!(
                "{} {}",
                row.record_type.map(|n| n.to_string()).unwrap_or_default(),
                json["record_type_name"].as_str().unwrap_or_default()
            ),
        ),
        (
            "result",
            json["result"].as_str().unwrap_or_default().to_owned(),
        ),
        (
            "actor kind",
            json["actor_kind"].as_str().unwrap_or_default().to_owned(),
        ),
        ("address", row.ip.clone().unwrap_or_default()),
        ("country", row.country.clone().unwrap_or_default()),
        ("ISP", row.isp.clone().unwrap_or_default()),
        ("IP tags", row.ip_tags.clone().unwrap_or_default()),
        ("device", row.device_type.clone().unwrap_or_default()),
        ("client app", row.client_app.clone().unwrap_or_default()),
        ("OS", row.os.clone().unwrap_or_default()),
        ("user agent", row.user_agent.clone().unwrap_or_default()),
        ("tenant", row.tenant.clone()),
    ];
    let normalized = skylight_normalize::normalize(raw)
        .ok()
        .and_then(|a| serde_json::to_string_pretty(&a).ok())
        .unwrap_or_default();
    let raw = serde_json::from_slice::<serde_json::Value>(raw)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| String::from_utf8_lossy(raw).into_owned());
    let user = row.user.clone().unwrap_or_default();
    Detail {
        id: row.id.clone(),
        fields: fields
            .into_iter()
            .filter(|(_, v)| !v.trim().is_empty())
            .collect(),
        user_href: format!("/users/{}", enc(&user)),
        user,
        normalized,
        raw,
        close_href,
    }
}

#[derive(Template)]
#[template(path = "activities.html")]
struct LogPage {
    chrome: Chrome,
    rows: Vec<CondRow>,
    fields: Vec<&'static str>,
    from: String,
    to: String,
    error: Option<String>,
    histogram: String,
    activities: Vec<Row>,
    next: Option<String>,
    first_page: Option<String>,
    export: String,
    query: String,
    saved: Vec<(SavedQuery, String)>,
    drawer: Option<Detail>,
    hints: Vec<&'static str>,
}

/// The activity log page.
pub(super) async fn page(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ConsoleError> {
    let p = read_params(raw.as_deref().unwrap_or_default(), Utc::now());
    let query = query_string(&p.conditions);
    if p.from_form {
        // One canonical, shareable URL: the conditions themselves.
        return Ok(see_other(&format!("/activities?{query}")));
    }
    let filter = Filter::parse(&p.conditions);
    let mut rows: Vec<CondRow> = Vec::new();
    let (mut from, mut to) = (String::new(), String::new());
    for c in &p.conditions {
        let (field, op, value) = split_condition(c);
        if field == "time"
            && op == "="
            && let Some((a, b)) = value.split_once("..")
        {
            (from, to) = (a.trim().to_owned(), b.trim().to_owned());
            continue;
        }
        rows.push(CondRow {
            field,
            op,
            value,
            hidden: false,
        });
    }
    for i in 0..BLANK_ROWS + HIDDEN_ROWS {
        rows.push(CondRow {
            field: String::new(),
            op: "=",
            value: String::new(),
            hidden: i >= BLANK_ROWS,
        });
    }
    let account = who.account_id();
    let saved = blocking(&state, move |s| match account {
        Some(id) => s.saved_queries(id),
        None => Ok(Vec::new()),
    })
    .await?;
    let mut page = LogPage {
        chrome: Chrome::new(&state, &who, "activities", "Activity log", true),
        rows,
        fields: Field::ALL.iter().map(|(_, n)| *n).collect(),
        from,
        to,
        error: None,
        histogram: String::new(),
        activities: Vec::new(),
        next: None,
        first_page: p.cursor.as_ref().map(|_| format!("/activities?{query}")),
        export: format!("/activities/export.csv?{query}"),
        query: query.clone(),
        saved: saved
            .into_iter()
            .map(|s| {
                let href = format!("/activities?{}", s.query);
                (s, href)
            })
            .collect(),
        drawer: None,
        hints: App::ALL
            .iter()
            .map(|a| a.as_str())
            .chain(Category::ALL.iter().map(|c| c.as_str()))
            .chain([
                "success",
                "failure",
                "true",
                "false",
                "corporate",
                "vpn",
                "risky",
            ])
            .collect(),
    };
    let filter = match filter {
        Ok(f) => f,
        Err(e) => {
            page.error = Some(e.to_string());
            let mut res = render(&page);
            *res.status_mut() = StatusCode::BAD_REQUEST;
            return Ok(res);
        }
    };
    let after = match p.cursor.as_deref().map(parse_cursor) {
        Some(None) => {
            return Err(Refusal::new(StatusCode::BAD_REQUEST, "cursor: use the Next link").into());
        }
        Some(c) => c,
        None => None,
    };
    let (range_from, range_to) = time_range(&filter);
    let fine = match (range_from, range_to) {
        (Some(a), Some(b)) if b - a <= Duration::hours(24) => 300_000,
        _ => 3_600_000,
    };
    let q = ActivityQuery {
        tenant: None,
        filter,
        limit: PAGE,
        after,
    };
    let open = p.open.clone();
    let (list, counts, opened) = blocking(&state, move |s| {
        let list = s.activities(&q)?;
        let counts = s.activity_histogram(&q, fine)?;
        let opened = match open {
            Some(id) => s.activity(None, &id)?,
            None => None,
        };
        Ok((list, counts, opened))
    })
    .await?;
    let (buckets, width) = coarsen(counts, fine);
    let conditions = p.conditions.clone();
    page.histogram = charts::timeline(&buckets, width, |a, b| {
        let mut c: Vec<String> = conditions
            .iter()
            .filter(|c| !split_condition(c).0.eq("time"))
            .cloned()
            .collect();
        c.push(super::overview::time_condition(a, b));
        log_url(&c)
    });
    let here = format!(
        "/activities?{query}{}",
        p.cursor
            .as_ref()
            .map(|c| format!("&cursor={}", enc(c)))
            .unwrap_or_default()
    );
    page.activities = list
        .rows
        .iter()
        .map(|r| {
            let mut row = Row::from(r);
            row.href = format!("{here}&open={}", enc(&r.id));
            row.selected = p.open.as_deref() == Some(r.id.as_str());
            row
        })
        .collect();
    page.next = list
        .next
        .map(|c| format!("/activities?{query}&cursor={}", enc(&cursor_text(c))));
    page.drawer = opened.map(|(row, raw)| detail_of(&row, &raw, here.clone()));
    Ok(render(&page))
}

#[derive(Template)]
#[template(path = "activity.html")]
struct ActivityPage {
    chrome: Chrome,
    detail: Detail,
}

/// One activity's own page.
pub(super) async fn detail(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Response, ConsoleError> {
    let wanted = id.clone();
    let found = blocking(&state, move |s| s.activity(None, &wanted)).await?;
    let Some((row, raw)) = found else {
        return Ok(super::error_page(
            StatusCode::NOT_FOUND,
            &format!("no activity has the Id {id}"),
        ));
    };
    let page = ActivityPage {
        chrome: Chrome::new(&state, &who, "activities", format!("Activity {id}"), true),
        detail: detail_of(&row, &raw, "/activities".into()),
    };
    Ok(render(&page).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_rows_become_conditions_and_conditions_rows() {
        let now = DateTime::parse_from_rfc3339("2026-11-20T12:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default();
        let p = read_params(
            "f=user&o=%3D&v=alice%40contoso.com&f=country&o=!%3D&v=FR&f=&o=%3D&v=&from=2026-11-19T08%3A00&to=",
            now,
        );
        assert!(p.from_form);
        assert_eq!(
            p.conditions,
            [
                "user=alice@contoso.com",
                "country!=FR",
                "time=2026-11-19T08:00:00Z.."
            ]
        );
        let p = read_params("f=app&o=%3D&v=exchange&range=24h", now);
        assert_eq!(
            p.conditions,
            ["app=exchange", "time=2026-11-19T12:00:00Z.."]
        );
        let p = read_params("q=text~a%3Db&cursor=1.2&open=x", now);
        assert!(!p.from_form);
        assert_eq!(p.conditions, ["text~a=b"]);
        assert_eq!(
            split_condition("text~a=b"),
            ("text".into(), "~", "a=b".into())
        );
        assert_eq!(
            split_condition("ip_tag!=name:HQ"),
            ("ip_tag".into(), "!=", "name:HQ".into())
        );
    }

    #[test]
    fn long_ranges_get_wider_buckets() {
        let h = 3_600_000;
        let hourly: Vec<(i64, u64)> = (0..24 * 30).map(|i| (i * h, 1)).collect();
        let (out, width) = coarsen(hourly, h);
        assert_eq!(width, 6 * h);
        assert_eq!(out.len(), 120);
        assert!(out.iter().all(|b| b.1 == 6));
    }
}
