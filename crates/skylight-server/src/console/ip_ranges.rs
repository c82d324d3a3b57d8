//! Settings → IP ranges (administrators): name the organisation's networks, VPN egress, risky
//! and cloud-provider addresses, with tags. Activities stored from then on carry the category,
//! name and tags of the ranges holding their address, which the activity log, policies and the
//! anomaly detections (corporate and VPN ranges are not "travel") read. Ranges of the
//! configuration file are shown beside them, not editable here.

use askama::Template;
use axum::extract::{Extension, Form, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use skylight_enrich::{IpCategory, IpRangeConfig, IpRanges};
use skylight_store::settings::IP_RANGES;

use super::{Chrome, ConsoleError, render, see_other, when};
use crate::AppState;
use crate::alerts::{Refusal, blocking};
use crate::auth::{Principal, audit};

/// The most ranges the console keeps (each activity's address is checked against all of them).
const MAX_RANGES: usize = 500;

/// One range as the page lists it.
struct Row {
    range: IpRangeConfig,
    /// The blocks, one per line (for the edit form).
    cidrs_text: String,
    /// The tags, comma-separated (for the edit form).
    tags_text: String,
}

impl Row {
    fn new(range: IpRangeConfig) -> Row {
        Row {
            cidrs_text: range.cidrs.join("\n"),
            tags_text: range.tags.join(", "),
            range,
        }
    }
}

#[derive(Template)]
#[template(path = "ip_ranges.html")]
struct RangesPage {
    chrome: Chrome,
    console: Vec<Row>,
    file: Vec<Row>,
    categories: Vec<&'static str>,
    version: i64,
    changed: String,
    message: Option<String>,
    error: Option<String>,
    /// The new-range form as sent, when it was refused.
    draft: RangeForm,
}

/// The new-range and edit-range form.
#[derive(Debug, Default, Clone, Deserialize)]
pub(super) struct RangeForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    category: String,
    /// One block per line (or separated by commas or spaces).
    #[serde(default)]
    cidrs: String,
    /// Comma-separated.
    #[serde(default)]
    tags: String,
    /// The version of the ranges the form was made from.
    #[serde(default)]
    version: i64,
    /// `save` (add or replace by name) or `delete`.
    #[serde(default)]
    op: String,
}

/// The console's ranges and their version (0: never saved).
async fn load(state: &AppState) -> Result<(Vec<IpRangeConfig>, i64, String), Refusal> {
    let setting = blocking(state, |s| s.setting(IP_RANGES)).await?;
    let Some(setting) = setting else {
        return Ok((Vec::new(), 0, String::new()));
    };
    let ranges = serde_json::from_str(&setting.value).map_err(|e| {
        Refusal::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the stored IP ranges cannot be read ({e}); save them again"),
        )
    })?;
    let changed = format!(
        "version {}, changed by {} on {}",
        setting.version,
        setting.updated_by,
        when(Some(setting.updated_at))
    );
    Ok((ranges, setting.version, changed))
}

async fn page(
    state: &AppState,
    who: &Principal,
    message: Option<String>,
    error: Option<String>,
    draft: RangeForm,
) -> Result<Response, ConsoleError> {
    let (ranges, version, changed) = load(state).await?;
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let page = RangesPage {
        chrome: Chrome::new(state, who, "settings", "IP ranges", false),
        console: ranges.into_iter().map(Row::new).collect(),
        file: state
            .console
            .file_ip_ranges
            .iter()
            .cloned()
            .map(Row::new)
            .collect(),
        categories: IpCategory::ALL.iter().map(|c| c.as_str()).collect(),
        version,
        changed,
        message,
        error,
        draft,
    };
    Ok((status, render(&page)).into_response())
}

/// The ranges.
pub(super) async fn index(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
) -> Result<Response, ConsoleError> {
    page(&state, &who, None, None, RangeForm::default()).await
}

/// Reads a range from the form, as the enricher will: every block must be an address or CIDR
/// block, the name must fit the activity's tags (`name:…`), the tags too.
fn read_range(form: &RangeForm) -> Result<IpRangeConfig, String> {
    let name = form.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 64 {
        return Err("name: 1 to 64 characters".into());
    }
    if name.contains('|') || name.chars().any(char::is_control) {
        return Err("name: no `|` or control characters".into());
    }
    let category = IpCategory::parse(&form.category)
        .ok_or("category: corporate, vpn, risky, cloud_provider or other")?;
    let cidrs: Vec<String> = form
        .cidrs
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if cidrs.is_empty() {
        return Err("addresses: at least one address or CIDR block (203.0.113.0/24)".into());
    }
    let mut tags: Vec<String> = Vec::new();
    for tag in form
        .tags
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        if tag.len() > 40
            || !tag
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err(format!(
                "tag `{tag}`: letters, digits, `-`, `_` and `.`, up to 40"
            ));
        }
        let tag = tag.to_ascii_lowercase();
        if !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    let range = IpRangeConfig {
        name,
        category,
        cidrs,
        tags,
    };
    IpRanges::new(std::slice::from_ref(&range)).map_err(|e| e.to_string())?;
    Ok(range)
}

/// Adds, replaces (by name) or deletes a range; refused, with the form kept, when it is wrong
/// or when someone else changed the ranges since the page was shown.
pub(super) async fn save(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Form(form): Form<RangeForm>,
) -> Result<Response, ConsoleError> {
    let (mut ranges, version, _) = load(&state).await?;
    if form.version != version {
        let why = "someone changed the IP ranges since this page was shown: here they are now; make your change again".to_owned();
        return page(&state, &who, None, Some(why), form).await;
    }
    let name = form.name.trim().to_owned();
    let (action, detail) = if form.op == "delete" {
        let before = ranges.len();
        ranges.retain(|r| r.name != name);
        if ranges.len() == before {
            return Err(
                Refusal::new(StatusCode::NOT_FOUND, "no console range has that name").into(),
            );
        }
        ("ip_range.delete", None)
    } else {
        let range = match read_range(&form) {
            Ok(r) => r,
            Err(why) => return page(&state, &who, None, Some(why), form).await,
        };
        if state
            .console
            .file_ip_ranges
            .iter()
            .any(|r| r.name == range.name)
        {
            let why = format!(
                "name: `{}` is a range of the configuration file; choose another name",
                range.name
            );
            return page(&state, &who, None, Some(why), form).await;
        }
        let detail = format!(
            "{}: {}{}",
            range.category.as_str(),
            range.cidrs.join(" "),
            if range.tags.is_empty() {
                String::new()
            } else {
                format!(" (tags {})", range.tags.join(", "))
            }
        );
        let count = ranges.len();
        match ranges.iter_mut().find(|r| r.name == range.name) {
            Some(old) => *old = range,
            None if count >= MAX_RANGES => {
                let why = format!("at most {MAX_RANGES} ranges: merge some blocks into one range");
                return page(&state, &who, None, Some(why), form).await;
            }
            None => ranges.push(range),
        }
        ("ip_range.save", Some(detail))
    };
    let value = serde_json::to_string(&ranges)
        .map_err(|e| Refusal::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let by = who.actor.clone();
    let written = blocking(&state, move |s| {
        s.put_setting(IP_RANGES, &value, version, &by)
    })
    .await?;
    if written.is_none() {
        let why = "someone changed the IP ranges at the same moment: here they are now; make your change again".to_owned();
        return page(&state, &who, None, Some(why), form).await;
    }
    audit(&state, &who, action, Some(name), detail).await;
    Ok(see_other("/settings/ip-ranges"))
}
