//! Groups from the directory: the list with direct and nested member counts, and one group's
//! members (direct, or every user reached through nested groups).

use askama::Template;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use skylight_model::DirectoryGroup;
use skylight_store::DirectoryQuery;

use super::{Chrome, ConsoleError, enc, param, render};
use crate::AppState;
use crate::alerts::{Refusal, blocking};
use crate::auth::Principal;

#[derive(Template)]
#[template(path = "groups.html")]
struct Index {
    chrome: Chrome,
    search: String,
    groups: Vec<(String, DirectoryGroup)>,
}

/// Groups, `?search=…`.
pub(super) async fn groups(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ConsoleError> {
    let search = param(&raw.unwrap_or_default(), "search");
    let query = DirectoryQuery {
        search: Some(search.clone()).filter(|s| !s.is_empty()),
        limit: 500,
        ..DirectoryQuery::default()
    };
    let groups = blocking(&state, move |s| s.directory_groups(&query)).await?;
    let page = Index {
        chrome: Chrome::new(&state, &who, "groups", "Groups", false),
        search,
        groups: groups
            .into_iter()
            .map(|g| (format!("/groups/{}", enc(&g.id)), g))
            .collect(),
    };
    Ok(render(&page))
}

#[derive(Template)]
#[template(path = "group.html")]
struct GroupPage {
    chrome: Chrome,
    group: DirectoryGroup,
    transitive: bool,
    base: String,
    /// (href of a user or group, name, kind).
    members: Vec<(Option<String>, String, String)>,
}

/// One group and its members, `?transitive=1` for nested members.
pub(super) async fn group(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ConsoleError> {
    let transitive = !param(&raw.unwrap_or_default(), "transitive").is_empty();
    let gid = id.clone();
    let found = blocking(&state, move |s| {
        let group = s
            .directory_groups(&DirectoryQuery::default())?
            .into_iter()
            .find(|g| g.id == gid);
        match group {
            Some(g) => {
                let members = s.group_members(&g.tenant, &g.id, transitive)?;
                Ok(Some((g, members)))
            }
            None => Ok(None),
        }
    })
    .await?;
    let (group, members) = found.ok_or_else(|| {
        ConsoleError(Refusal::new(
            StatusCode::NOT_FOUND,
            format!("no group with the id {id:?}"),
        ))
    })?;
    let page = GroupPage {
        chrome: Chrome::new(&state, &who, "groups", group.display_name.clone(), false),
        base: format!("/groups/{}", enc(&group.id)),
        group,
        transitive,
        members: members
            .into_iter()
            .map(|m| {
                let name = m.name.clone().unwrap_or_else(|| m.id.clone());
                let href = match m.kind.as_str() {
                    "user" => Some(format!("/users/{}", enc(&name))),
                    "group" => Some(format!("/groups/{}", enc(&m.id))),
                    _ => None,
                };
                (href, name, m.kind)
            })
            .collect(),
    };
    Ok(render(&page))
}
