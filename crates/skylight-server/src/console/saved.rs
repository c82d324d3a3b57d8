//! The activity log's CSV export (streamed: any number of rows in constant memory) and saved
//! queries (per account).

use axum::body::{Body, Bytes};
use axum::extract::{Extension, Form, Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use skylight_model::filter::Filter;
use skylight_store::ActivityQuery;

use super::{ConsoleError, see_other};
use crate::AppState;
use crate::alerts::{Refusal, blocking};
use crate::auth::{Principal, audit};
use crate::export::{CSV_HEADER, csv_line};

/// Rows read from the store per round of the export.
const ROUND: usize = 5_000;
/// The longest saved query string and name.
const MAX_QUERY: usize = 4_000;
const MAX_NAME: usize = 100;

/// The conditions (`q`) of a query string.
fn conditions(raw: &str) -> Vec<String> {
    form_urlencoded::parse(raw.as_bytes())
        .filter(|(k, v)| k == "q" && !v.trim().is_empty())
        .map(|(_, v)| v.into_owned())
        .collect()
}

/// Every activity that matches, as CSV (the CLI's `--format csv` layout, formula-safe cells).
pub(super) async fn export(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ConsoleError> {
    let raw = raw.unwrap_or_default();
    let conditions = conditions(&raw);
    let filter = Filter::parse(&conditions)
        .map_err(|e| Refusal::new(StatusCode::BAD_REQUEST, e.to_string()))?;
    audit(
        &state,
        &who,
        "activities.export",
        None,
        Some(conditions.join(" ")),
    )
    .await;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let store = state.store.clone();
    tokio::task::spawn_blocking(move || {
        let mut query = ActivityQuery {
            tenant: None,
            filter,
            limit: ROUND,
            after: None,
        };
        let mut chunk = format!("{CSV_HEADER}\n");
        loop {
            let page = match store.activities(&query) {
                Ok(p) => p,
                Err(e) => {
                    tracing::error!(error = %e, "the export failed");
                    let _ = tx.blocking_send(Err(std::io::Error::other("the store failed")));
                    return;
                }
            };
            for r in &page.rows {
                chunk.push_str(&csv_line(r));
                chunk.push('\n');
            }
            // A closed channel: the client went away.
            if tx
                .blocking_send(Ok(Bytes::from(std::mem::take(&mut chunk))))
                .is_err()
            {
                return;
            }
            match page.next {
                Some(next) => query.after = Some(next),
                None => return,
            }
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"skylight-activities.csv\"",
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

/// The form that saves the log's current query.
#[derive(Deserialize)]
pub(super) struct SaveForm {
    name: String,
    query: String,
}

fn account_of(who: &Principal) -> Result<i64, Refusal> {
    who.account_id().ok_or_else(|| {
        Refusal::new(
            StatusCode::BAD_REQUEST,
            "saved queries belong to console accounts: sign in to save one",
        )
    })
}

/// Saves the query under a name (replacing one of the same name).
pub(super) async fn save_query(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Form(form): Form<SaveForm>,
) -> Result<Response, ConsoleError> {
    let account = account_of(&who)?;
    let name = form.name.trim().to_owned();
    let bad = |why: &str| Refusal::new(StatusCode::BAD_REQUEST, why);
    if name.is_empty() || name.chars().count() > MAX_NAME {
        return Err(bad("name: 1 to 100 characters").into());
    }
    if form.query.len() > MAX_QUERY {
        return Err(bad("the query is too long to save").into());
    }
    let conditions = conditions(&form.query);
    Filter::parse(&conditions).map_err(|e| bad(&e.to_string()))?;
    // Only the conditions are kept, re-encoded: nothing else of the submitted text.
    let query = conditions
        .iter()
        .map(|c| format!("q={}", super::enc(c)))
        .collect::<Vec<_>>()
        .join("&");
    let saved = blocking(&state, move |s| s.save_query(account, &name, &query)).await?;
    Ok(see_other(&format!("/activities?{}", saved.query)))
}

/// Deletes one of the account's saved queries.
pub(super) async fn delete_query(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<i64>,
) -> Result<Response, ConsoleError> {
    let account = account_of(&who)?;
    if !blocking(&state, move |s| s.delete_saved_query(account, id)).await? {
        return Err(Refusal::new(StatusCode::NOT_FOUND, "no such saved query").into());
    }
    Ok(see_other("/activities"))
}
