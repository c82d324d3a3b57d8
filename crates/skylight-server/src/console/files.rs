//! The SharePoint and OneDrive inventory (files component): files most exposed first, with
//! filters, and one file's page with its collaborators (own and inherited) and the file actions.

use askama::Template;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use skylight_model::{AccessLevel, FileItem};
use skylight_store::{FileQuery, GovernanceQuery};

use super::governance::{EntryRow, FILE_ACTIONS, action_links, file_href};
use super::{Chrome, ConsoleError, enc, param, render, when};
use crate::AppState;
use crate::alerts::{Refusal, blocking};
use crate::auth::Principal;

/// One file as a row of the inventory.
struct FileRow {
    href: String,
    name: String,
    path: String,
    owner: String,
    access: &'static str,
    domains: String,
    shared_with: usize,
    modified: String,
}

impl From<&FileItem> for FileRow {
    fn from(f: &FileItem) -> Self {
        FileRow {
            href: file_href(&format!("{}/{}", f.drive_id, f.id)),
            name: f.name.clone(),
            path: f.path.clone(),
            owner: f.owner.clone().unwrap_or_default(),
            access: f.access.as_str(),
            domains: f.external_domains.join(", "),
            shared_with: f.collaborators.len(),
            modified: when(f.modified),
        }
    }
}

/// The filters of the inventory, as given.
struct Filters {
    access: String,
    domain: String,
    owner: String,
    name: String,
    extension: String,
    folder: String,
}

#[derive(Template)]
#[template(path = "files.html")]
struct Index {
    chrome: Chrome,
    f: Filters,
    levels: Vec<&'static str>,
    files: Vec<FileRow>,
}

fn some(s: &str) -> Option<String> {
    Some(s.to_owned()).filter(|s| !s.is_empty())
}

/// The inventory: `?access=…&domain=…&owner=…&name=…&extension=…&folder=…`.
pub(super) async fn index(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ConsoleError> {
    let raw = raw.unwrap_or_default();
    let f = Filters {
        access: param(&raw, "access"),
        domain: param(&raw, "domain"),
        owner: param(&raw, "owner"),
        name: param(&raw, "name"),
        extension: param(&raw, "extension"),
        folder: param(&raw, "folder"),
    };
    let access = if f.access.is_empty() {
        Vec::new()
    } else {
        vec![AccessLevel::parse(&f.access).ok_or_else(|| {
            ConsoleError(Refusal::new(
                StatusCode::BAD_REQUEST,
                format!("unknown access level {:?}", f.access),
            ))
        })?]
    };
    let query = FileQuery {
        name: some(&f.name),
        extension: some(&f.extension),
        owner: some(&f.owner),
        access,
        external_domain: some(&f.domain),
        folder: some(&f.folder),
        limit: 500,
        ..FileQuery::default()
    };
    let files = blocking(&state, move |s| s.files(&query)).await?;
    let page = Index {
        chrome: Chrome::new(&state, &who, "files", "Files", false),
        f,
        levels: AccessLevel::ALL.iter().map(|a| a.as_str()).collect(),
        files: files.iter().map(FileRow::from).collect(),
    };
    Ok(render(&page))
}

#[derive(Template)]
#[template(path = "file.html")]
struct FilePage {
    chrome: Chrome,
    row: FileRow,
    library: String,
    web_url: String,
    /// (kind, who, roles, external, inherited, the confirmation page removing them when they
    /// can be removed here: a person or group shared on this item itself).
    collaborators: Vec<(String, String, String, bool, bool, Option<String>)>,
    actions: Vec<(String, &'static str, &'static str)>,
    governance: Vec<EntryRow>,
}

/// One file, `/files/{drive}/{item}`.
pub(super) async fn page(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path((drive, item)): Path<(String, String)>,
) -> Result<Response, ConsoleError> {
    let target = format!("{drive}/{item}");
    let t = target.clone();
    let found = blocking(&state, move |s| {
        let file = s
            .files(&FileQuery {
                drive_id: Some(drive.clone()),
                include_folders: true,
                ..FileQuery::default()
            })?
            .into_iter()
            .find(|f| f.id == item);
        let Some(file) = file else {
            return Ok(None);
        };
        let log = s.governance_log(&GovernanceQuery {
            tenant: Some(file.tenant.clone()),
            target: Some(t),
            limit: 50,
            ..GovernanceQuery::default()
        })?;
        Ok(Some((file, log)))
    })
    .await?;
    let (file, log) = found.ok_or_else(|| {
        ConsoleError(Refusal::new(
            StatusCode::NOT_FOUND,
            format!("no file {target:?} in the inventory"),
        ))
    })?;
    let page = FilePage {
        chrome: Chrome::new(&state, &who, "files", file.name.clone(), false),
        row: FileRow::from(&file),
        library: format!("{} ({})", file.library, file.drive_type),
        web_url: file.web_url.clone().unwrap_or_default(),
        collaborators: file
            .collaborators
            .iter()
            .map(|c| {
                // Inherited access is removed on the folder it comes from; links have their own
                // action (remove shared links).
                let remove = (!c.inherited && c.kind != "link" && !c.who.is_empty()).then(|| {
                    format!(
                        "/governance/confirm?action=remove-collaborator&target={}&collaborator={}",
                        enc(&target),
                        enc(&c.who)
                    )
                });
                (
                    c.kind.clone(),
                    c.who.clone(),
                    c.roles.join(", "),
                    c.external,
                    c.inherited,
                    remove,
                )
            })
            .collect(),
        actions: action_links(FILE_ACTIONS, &target),
        governance: log.iter().map(EntryRow::from).collect(),
    };
    Ok(render(&page))
}
