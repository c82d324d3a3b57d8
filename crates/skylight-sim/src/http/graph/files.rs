//! Sites, drives, drive items, drive delta and sharing permissions (contract §4.5–§4.7).

use axum::http::{HeaderValue, StatusCode, header};
use serde_json::{Value, json};

use super::query::{check_filter, matches, parse_filter};
use super::render::{self, ItemMode, item_select, select};
use super::{Ctx, Reply, context, json_response, no_content, ok, page, page_at};
use crate::graph::drives::GDrive;
use crate::graph::ops::{Conflict, OpError, err, no_item};
use crate::graph::{GGroup, GraphState};

const SITE_READ: &[&str] = &[
    "Sites.Read.All",
    "Sites.ReadWrite.All",
    "Sites.FullControl.All",
    "Sites.Manage.All",
];
const FILE_READ: &[&str] = &[
    "Files.Read.All",
    "Files.ReadWrite.All",
    "Sites.Read.All",
    "Sites.ReadWrite.All",
    "Sites.FullControl.All",
    "Sites.Manage.All",
];
const FILE_WRITE: &[&str] = &[
    "Files.ReadWrite.All",
    "Sites.ReadWrite.All",
    "Sites.FullControl.All",
    "Sites.Manage.All",
];

fn unsupported(c: &Ctx<'_>) -> OpError {
    err(
        400,
        "invalidRequest",
        format!("Unsupported request {} {}.", c.method, c.path),
    )
}

fn site_rows(
    c: &Ctx<'_>,
    st: &GraphState,
    personal_too: bool,
) -> Result<Vec<(String, Value)>, OpError> {
    let conds = match c.q.get("$filter") {
        None => Vec::new(),
        Some(f) => {
            let conds = parse_filter(f)?;
            check_filter(
                &conds,
                &[
                    ("isPersonalSite", &["eq"]),
                    ("displayName", &["eq", "startswith"]),
                    ("webUrl", &["eq", "startswith"]),
                    ("name", &["eq"]),
                ],
                true,
                "Site",
            )
            .map_err(|e| err(400, "invalidRequest", e.message))?;
            conds
        }
    };
    let search =
        c.q.get("search")
            .map(|s| s.trim_matches('"').to_lowercase());
    let sel = c.q.select();
    Ok(st
        .sites
        .iter()
        .filter(|s| personal_too || !s.personal)
        .filter(|s| match search.as_deref() {
            None | Some("*") | Some("") => true,
            Some(q) => {
                s.display_name.to_lowercase().contains(q) || s.name.to_lowercase().contains(q)
            }
        })
        .filter_map(|s| {
            let full = render::site_full(s);
            matches(&conds, &Value::Object(full.clone()))
                .then(|| (s.id.clone(), select(full, sel.as_deref(), None)))
        })
        .collect())
}

/// `/sites…`
pub fn sites(c: &Ctx<'_>, st: &mut GraphState, key: Option<String>) -> Reply {
    let (id, rest): (Option<String>, Vec<String>) = match key {
        Some(k) => (Some(k), c.segs[1..].to_vec()),
        None => (
            c.segs.get(1).cloned(),
            c.segs.get(2..).unwrap_or_default().to_vec(),
        ),
    };
    let Some(id) = id else {
        c.require_files(SITE_READ)?;
        let rows = site_rows(c, st, false)?;
        return page(
            c,
            "sites",
            "sites",
            rows,
            c.q.top(200, 999, "invalidRequest")?,
        );
    };
    let (func, _) = super::key_syntax(&id);
    if matches!(
        func.as_str(),
        "getAllSites" | "oneDrive.getAllSites" | "microsoft.graph.getAllSites"
    ) && rest.is_empty()
    {
        c.require_files(SITE_READ)?;
        let rows = site_rows(c, st, true)?;
        let sel = c.q.select();
        return page_at(
            c,
            "all-sites",
            &context("sites", sel.as_deref()),
            rows,
            c.q.top(200, 999, "invalidRequest")?,
            "/sites/oneDrive.getAllSites",
        );
    }
    // `/sites/{hostname}:/sites/{path}:` addresses a site by URL.
    let (site_ix, rest) = if let Some(host) = id.strip_suffix(':') {
        let mut path = Vec::new();
        let mut it = rest.into_iter();
        for s in it.by_ref() {
            let done = s.ends_with(':');
            path.push(s.trim_end_matches(':').to_string());
            if done {
                break;
            }
        }
        let url = format!("https://{host}/{}", path.join("/"));
        let ix = st
            .sites
            .iter()
            .position(|s| s.web_url.eq_ignore_ascii_case(&url))
            .ok_or_else(no_item)?;
        (ix, it.collect::<Vec<_>>())
    } else {
        let ix = st
            .sites
            .iter()
            .position(|s| s.id.eq_ignore_ascii_case(&id) || s.site_guid.eq_ignore_ascii_case(&id))
            .ok_or_else(no_item)?;
        (ix, rest)
    };
    let site = st.sites[site_ix].clone();
    match rest.first().map(String::as_str) {
        None => {
            c.require_files(SITE_READ)?;
            let mut v = select(render::site_full(&site), c.q.select().as_deref(), None);
            v["@odata.context"] = json!(format!("{}/$metadata#sites/$entity", c.base));
            ok(v)
        }
        Some("drives") if rest.len() == 1 => {
            c.require_files(FILE_READ)?;
            let rows = site
                .drives
                .iter()
                .filter_map(|d| st.drives.get(d))
                .map(|d| (d.id.clone(), Value::Object(render::drive_full(st, d))))
                .collect();
            page(c, "site-drives", "drives", rows, 999)
        }
        Some("drive") => {
            let d = site.drives.first().cloned().ok_or_else(no_item)?;
            drive_routes(c, st, &d, &rest[1..])
        }
        _ => Err(unsupported(c)),
    }
}

/// `/groups/{id}/sites/root`: a Microsoft 365 group's team site.
pub fn group_site(c: &Ctx<'_>, st: &GraphState, g: &GGroup) -> Reply {
    c.require_files(SITE_READ)?;
    let s = g.site.and_then(|i| st.sites.get(i)).ok_or_else(no_item)?;
    ok(Value::Object(render::site_full(s)))
}

/// `/users/{id}/drive…`, `/users/{id}/drives`, `/groups/{id}/drive…`.
pub fn owner_drive(c: &Ctx<'_>, st: &mut GraphState, owner: &str, rest: &[String]) -> Reply {
    let drive = st
        .sites
        .iter()
        .find(|s| {
            s.personal
                && st
                    .drives
                    .get(s.drives.first().map(String::as_str).unwrap_or_default())
                    .is_some_and(|d| d.owner.id.as_deref() == Some(owner))
        })
        .or_else(|| st.sites.iter().find(|s| s.group.as_deref() == Some(owner)))
        .and_then(|s| s.drives.first().cloned());
    let missing = || {
        if st.users.contains_key(owner) {
            err(404, "ResourceNotFound", "User's mysite not found.")
        } else {
            no_item()
        }
    };
    match rest.first().map(String::as_str) {
        Some("drives") if rest.len() == 1 => {
            c.require_files(FILE_READ)?;
            let rows = drive
                .iter()
                .filter_map(|d| st.drives.get(d))
                .map(|d| (d.id.clone(), Value::Object(render::drive_full(st, d))))
                .collect();
            page(c, "owner-drives", "drives", rows, 999)
        }
        Some("drive") => {
            let d = drive.ok_or_else(missing)?;
            drive_routes(c, st, &d, &rest[1..])
        }
        _ => Err(unsupported(c)),
    }
}

/// `/drives/{id}…`
pub fn drives(c: &Ctx<'_>, st: &mut GraphState) -> Reply {
    let Some(id) = c.segs.get(1).cloned() else {
        return Err(err(
            400,
            "invalidRequest",
            "Listing drives needs a site, user or group: use /sites/{id}/drives.",
        ));
    };
    let rest = c.segs[2..].to_vec();
    drive_routes(c, st, &id, &rest)
}

/// Collects a `:/a/b:` path starting at `segs[0]`: the path and the segments after it.
fn colon_path(segs: &[String]) -> (String, Vec<String>) {
    let mut path = Vec::new();
    let mut i = 0;
    while i < segs.len() {
        let s = &segs[i];
        i += 1;
        if s.ends_with(':') {
            path.push(s.trim_end_matches(':').to_string());
            break;
        }
        path.push(s.clone());
    }
    (
        path.into_iter()
            .filter(|p| !p.is_empty())
            .collect::<Vec<_>>()
            .join("/"),
        segs[i..].to_vec(),
    )
}

/// Walks a path below an item.
fn walk(d: &GDrive, from: &str, path: &str) -> Option<String> {
    let mut cur = from.to_string();
    for part in path.split('/').filter(|p| !p.is_empty()) {
        cur = d.child_named(&cur, part)?.id.clone();
    }
    Some(cur)
}

fn drive_routes(c: &Ctx<'_>, st: &mut GraphState, drive_id: &str, rest: &[String]) -> Reply {
    let d = st.drives.get(drive_id).ok_or_else(no_item)?;
    let root = d.root_id.clone();
    let Some(first) = rest.first() else {
        c.require_files(FILE_READ)?;
        if c.method != "GET" {
            return Err(unsupported(c));
        }
        let mut v = select(render::drive_full(st, d), c.q.select().as_deref(), None);
        v["@odata.context"] = json!(format!("{}/$metadata#drives/$entity", c.base));
        return ok(v);
    };
    let (head, _) = super::key_syntax(first);
    if head == "root" {
        return item_routes(c, st, drive_id, &root, &rest[1..]);
    }
    if let Some(after) = first.strip_prefix("root:") {
        // `root:/a/b:/children`: the first segment is `root:` (the path follows).
        let mut segs = Vec::new();
        if !after.is_empty() {
            segs.push(after.to_string());
        }
        segs.extend_from_slice(&rest[1..]);
        return by_path(c, st, drive_id, &root, &segs);
    }
    if head == "items" {
        let Some(item) = rest.get(1) else {
            return Err(unsupported(c));
        };
        if let Some(id) = item.strip_suffix(':') {
            return by_path(c, st, drive_id, id, &rest[2..]);
        }
        return item_routes(c, st, drive_id, item, &rest[2..]);
    }
    Err(unsupported(c))
}

/// An item addressed by a path below `from` (`…/items/{id}:/a/b:/rest`).
fn by_path(c: &Ctx<'_>, st: &mut GraphState, drive_id: &str, from: &str, segs: &[String]) -> Reply {
    let (path, sub) = colon_path(segs);
    let d = st.drives.get(drive_id).ok_or_else(no_item)?;
    if !d.items.contains_key(from) {
        return Err(no_item());
    }
    if c.method == "PUT" && sub.len() == 1 && sub[0] == "content" {
        let (parent_path, name) = path.rsplit_once('/').unwrap_or(("", path.as_str()));
        let parent = walk(d, from, parent_path).ok_or_else(no_item)?;
        return upload(c, st, drive_id, &parent, name);
    }
    let item = walk(d, from, &path).ok_or_else(no_item)?;
    item_routes(c, st, drive_id, &item, &sub)
}

fn conflict(c: &Ctx<'_>, body: &serde_json::Map<String, Value>) -> Result<Conflict, OpError> {
    Conflict::parse(c.q.get("@microsoft.graph.conflictBehavior").or_else(|| {
        body.get("@microsoft.graph.conflictBehavior")
            .and_then(Value::as_str)
    }))
}

fn item_json(c: &Ctx<'_>, st: &GraphState, drive_id: &str, item: &str) -> Result<Value, OpError> {
    let (d, i) = st.item(drive_id, item)?;
    let mut v = item_select(
        render::item_full(st, d, i, ItemMode::Full),
        c.q.select().as_deref(),
    );
    v["@odata.context"] = json!(format!(
        "{}/$metadata#drives('{}')/items/$entity",
        c.base, d.id
    ));
    Ok(v)
}

fn upload(c: &Ctx<'_>, st: &mut GraphState, drive_id: &str, parent: &str, name: &str) -> Reply {
    c.require_files(FILE_WRITE)?;
    let mode = Conflict::parse(Some(
        c.q.get("@microsoft.graph.conflictBehavior")
            .unwrap_or("replace"),
    ))?;
    if c.body.len() > 4 * 1024 * 1024 {
        return Err(err(
            413,
            "requestTooLarge",
            "Simple upload is limited to 4 MB; use an upload session.",
        ));
    }
    let (id, created) = st.upload(
        drive_id,
        parent,
        name,
        c.body.len() as u64,
        mode,
        &c.actor,
        c.now,
    )?;
    let v = item_json(c, st, drive_id, &id)?;
    Ok(json_response(
        if created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        },
        &v,
    ))
}

fn item_routes(
    c: &Ctx<'_>,
    st: &mut GraphState,
    drive_id: &str,
    item: &str,
    sub: &[String],
) -> Reply {
    let write = c.method != "GET";
    if write {
        c.require_files(FILE_WRITE)?;
    } else {
        c.require_files(FILE_READ)?;
    }
    st.item(drive_id, item)?;
    let if_match = c.header("if-match").map(String::from);
    let first = sub.first().map(|s| super::key_syntax(s));
    match (
        c.method.as_str(),
        first.as_ref().map(|(h, v)| (h.as_str(), v.clone())),
        sub.get(1).map(String::as_str),
    ) {
        ("GET", None, _) => ok(item_json(c, st, drive_id, item)?),
        ("PATCH", None, _) => {
            let body = c.json_body()?;
            let mode = conflict(c, &body)?;
            st.move_item(
                drive_id,
                item,
                &body,
                mode,
                if_match.as_deref(),
                &c.actor,
                c.now,
            )?;
            ok(item_json(c, st, drive_id, item)?)
        }
        ("DELETE", None, _) => {
            st.delete_item(drive_id, item, if_match.as_deref(), &c.actor, c.now)?;
            no_content()
        }
        ("GET", Some(("children", _)), None) => {
            let (d, _) = st.item(drive_id, item)?;
            let sel = c.q.select();
            let rows = d
                .children(item)
                .into_iter()
                .map(|i| {
                    (
                        format!("{}\u{1}{}", i.name.to_lowercase(), i.id),
                        item_select(render::item_full(st, d, i, ItemMode::Full), sel.as_deref()),
                    )
                })
                .collect();
            let ctx = format!("drives('{drive_id}')/items('{item}')/children");
            page(
                c,
                &format!("children-{item}"),
                &ctx,
                rows,
                c.q.top(200, 999, "invalidRequest")?,
            )
        }
        ("POST", Some(("children", _)), None) => {
            let body = c.json_body()?;
            let name = body
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| err(400, "invalidRequest", "name is required."))?;
            if body.get("folder").is_none() {
                return Err(err(
                    400,
                    "invalidRequest",
                    "Only folders can be created this way; upload files with PUT …/content.",
                ));
            }
            let mode = conflict(c, &body)?;
            let id = st.create_folder(drive_id, item, name, mode, &c.actor, c.now)?;
            let v = item_json(c, st, drive_id, &id)?;
            Ok(json_response(StatusCode::CREATED, &v))
        }
        ("GET", Some(("delta", token)), None) => {
            let (d, i) = st.item(drive_id, item)?;
            if i.parent.is_some() {
                return Err(err(
                    400,
                    "invalidRequest",
                    "Delta is only supported on the root of a OneDrive for Business or SharePoint library.",
                ));
            }
            let d = d.id.clone();
            super::drive_delta::delta(
                c,
                st,
                &d,
                token.or_else(|| c.q.get("token").map(String::from)),
            )
        }
        ("GET", Some(("permissions", _)), None) => {
            let (d, _) = st.item(drive_id, item)?;
            let perms: Vec<Value> = d
                .effective_perms(item)
                .into_iter()
                .map(|(p, from)| render::perm_json(d, p, from))
                .collect();
            ok(
                json!({"@odata.context": format!("{}/$metadata#drives('{drive_id}')/items('{item}')/permissions", c.base), "value": perms}),
            )
        }
        ("GET", Some(("permissions", _)), Some(pid)) => {
            let (d, _) = st.item(drive_id, item)?;
            let (p, from) = d
                .effective_perms(item)
                .into_iter()
                .find(|(p, _)| p.id == pid)
                .ok_or_else(no_item)?;
            ok(render::perm_json(d, p, from))
        }
        ("DELETE", Some(("permissions", _)), Some(pid)) => {
            st.delete_permission(drive_id, item, pid, if_match.as_deref(), &c.actor, c.now)?;
            no_content()
        }
        ("POST", Some(("invite", _)), None) => {
            let body = c.json_body()?;
            let perms = st.invite(drive_id, item, &body, &c.actor, c.now)?;
            let d = st.drives.get(drive_id).ok_or_else(no_item)?;
            ok(
                json!({"@odata.context": format!("{}/$metadata#Collection(permission)", c.base), "value": perms.iter().map(|p| render::perm_json(d, p, None)).collect::<Vec<_>>()}),
            )
        }
        ("POST", Some(("createLink", _)), None) => {
            let body = c.json_body()?;
            let (p, created) = st.create_link(drive_id, item, &body, &c.actor, c.now)?;
            let d = st.drives.get(drive_id).ok_or_else(no_item)?;
            // 201 for a new link, 200 when an equivalent one already existed (contract G11).
            Ok(json_response(
                if created {
                    StatusCode::CREATED
                } else {
                    StatusCode::OK
                },
                &render::perm_json(d, &p, None),
            ))
        }
        ("POST", Some(("copy", _)), None) => {
            let body = c.json_body()?;
            let job = st.copy_item(drive_id, item, &body, &c.actor, c.now)?;
            let mut r = StatusCode::ACCEPTED.into_response_with_location(&format!(
                "{}/_api/v2.0/monitor/{job}",
                c.sim.urls.graph
            ));
            r.headers_mut()
                .insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
            Ok(r)
        }
        ("PUT", Some(("content", _)), None) => {
            let (d, i) = st.item(drive_id, item)?;
            if i.folder {
                return Err(err(400, "invalidRequest", "A folder has no content."));
            }
            let parent = i.parent.clone().ok_or_else(no_item)?;
            let name = i.name.clone();
            let _ = d;
            upload(c, st, drive_id, &parent, &name)
        }
        _ => Err(unsupported(c)),
    }
}

/// A response with a `Location` header.
trait WithLocation {
    fn into_response_with_location(self, location: &str) -> axum::response::Response;
}

impl WithLocation for StatusCode {
    fn into_response_with_location(self, location: &str) -> axum::response::Response {
        use axum::response::IntoResponse;
        let mut r = self.into_response();
        if let Ok(v) = HeaderValue::from_str(location) {
            r.headers_mut().insert(header::LOCATION, v);
        }
        r
    }
}
