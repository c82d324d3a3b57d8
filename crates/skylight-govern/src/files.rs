//! File actions (contract §4.10): which permissions each removes, the quarantines with
//! Microsoft's constraints, and restore.

use serde_json::Value;
use skylight_m365::graph::actions::Recorder;
use skylight_m365::graph::files::{Insiders, collaborators};
use skylight_m365::graph::{GraphError, segment};
use skylight_model::{ActionKind, GovernanceEntry};

use crate::GovernError;

/// The folder user quarantine moves files into, at the root of their own library.
pub const QUARANTINE_FOLDER: &str = "Quarantine";

/// A file target as the action needs it.
pub(crate) struct FileTarget {
    pub drive: String,
    pub item: String,
    pub path: String,
    pub params: Value,
    pub warnings: Vec<String>,
}

/// Reads `DRIVE/ITEM` and checks the action's constraints on it.
pub(crate) async fn resolve(
    rec: &Recorder<'_>,
    action: ActionKind,
    target: &str,
    mut params: Value,
    quarantine_site: Option<&str>,
) -> Result<FileTarget, GovernError> {
    let Some((drive, item)) = target.split_once('/') else {
        return Err(GovernError::NotFound(format!(
            "a file is named as DRIVE_ID/ITEM_ID (`skylight files --format json` shows both); got {target:?}"
        )));
    };
    let found = match rec.item(drive, item).await {
        Ok(v) => v,
        Err(e) if e.is_not_found() => {
            return Err(GovernError::NotFound(format!("no file {target:?}")));
        }
        Err(e) => return Err(e.into()),
    };
    let library = rec.drive(drive).await?;
    let name = found["name"].as_str().unwrap_or(item).to_owned();
    let web = library["webUrl"].as_str().unwrap_or_default();
    let library_path =
        skylight_m365::graph::files::percent_decode(web.rsplit('/').next().unwrap_or_default());
    let personal = library["driveType"].as_str() == Some("business");
    let mut warnings = Vec::new();
    match action {
        ActionKind::UserQuarantine => {
            let allowed = if personal {
                library_path == "Documents"
            } else {
                library_path == "Shared Documents"
            };
            if !allowed {
                return Err(GovernError::Refused(format!(
                    "user quarantine works only in SharePoint `Shared Documents` libraries (the \
                     English path) and OneDrive `Documents`; {name} is in `{library_path}`. Use \
                     admin quarantine instead"
                )));
            }
            params["original_parent"] = found["parentReference"]["id"].clone();
        }
        ActionKind::AdminQuarantine if quarantine_site.is_some() => {
            // Where the placeholder goes, even if a retry finds the file already moved.
            params["original_parent"] = found["parentReference"]["id"].clone();
            params["original_name"] = Value::String(name.clone());
        }
        ActionKind::AdminQuarantine => {
            return Err(GovernError::Refused(
                "admin quarantine needs a quarantine site: set `quarantine_site` for this tenant \
                 in the configuration (a SharePoint site only administrators can reach)"
                    .into(),
            ));
        }
        ActionKind::NotifyOwner => {
            // The owner as the inventory reads it: a OneDrive's owner, or who made the item.
            let owner = if personal {
                library["owner"]["user"]["email"].as_str()
            } else {
                found["createdBy"]["user"]["email"].as_str()
            };
            let Some(owner) = owner.filter(|o| o.contains('@')) else {
                return Err(GovernError::Refused(format!(
                    "{name} has no owner with a mail address to notify"
                )));
            };
            params["owner"] = Value::String(owner.to_owned());
        }
        ActionKind::RemoveCollaborator if params["collaborator"].as_str().is_none() => {
            return Err(GovernError::Refused(
                "say whose access to remove (--collaborator MAIL)".into(),
            ));
        }
        _ => {}
    }
    if found.get("folder").is_some_and(|f| !f.is_null())
        && matches!(
            action,
            ActionKind::UserQuarantine | ActionKind::AdminQuarantine | ActionKind::TrashFile
        )
    {
        warnings.push(format!("{name} is a folder: everything in it goes with it"));
    }
    let parent_path = found["parentReference"]["path"]
        .as_str()
        .and_then(|p| p.split_once(':'))
        .map(|(_, p)| p.to_owned())
        .unwrap_or_default();
    Ok(FileTarget {
        drive: drive.to_owned(),
        item: item.to_owned(),
        path: format!("{parent_path}/{name}"),
        params,
        warnings,
    })
}

/// Deletes the item's own permissions that `keep` does not keep; inherited ones are noted.
async fn strip(
    rec: &mut Recorder<'_>,
    drive: &str,
    item: &str,
    insiders: &Insiders,
    remove: impl Fn(&Value, &[skylight_model::Collaborator]) -> bool,
) -> Result<usize, GraphError> {
    let mut removed = 0;
    for p in rec.permissions(drive, item).await? {
        let inherited = p.get("inheritedFrom").is_some_and(|v| !v.is_null());
        let owner = p["roles"]
            .as_array()
            .is_some_and(|r| r.iter().any(|x| x == "owner"))
            && p["link"].is_null();
        if inherited || owner {
            continue;
        }
        let people = collaborators(&p, insiders);
        if remove(&p, &people)
            && let Some(id) = p["id"].as_str()
        {
            rec.delete_permission(drive, item, id).await?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// The calls of one file action.
pub(crate) async fn act(
    rec: &mut Recorder<'_>,
    entry: &GovernanceEntry,
    insiders: &Insiders,
    quarantine_drive: Option<(String, String)>,
) -> Result<(), GraphError> {
    let (drive, item) = entry
        .target_id
        .split_once('/')
        .ok_or_else(|| GraphError::Malformed("a file target without DRIVE/ITEM".into()))?;
    match entry.action {
        ActionKind::RemoveExternalUsers => {
            strip(rec, drive, item, insiders, |_, people| {
                people.iter().any(|c| c.external)
            })
            .await?;
        }
        ActionKind::RemoveSharedLinks => {
            strip(rec, drive, item, insiders, |p, _| p["link"].is_object()).await?;
        }
        ActionKind::RemoveCollaborator => {
            let who = entry.params["collaborator"]
                .as_str()
                .unwrap_or_default()
                .to_ascii_lowercase();
            strip(rec, drive, item, insiders, |_, people| {
                people
                    .iter()
                    .any(|c| c.kind != "link" && c.who.to_ascii_lowercase() == who)
            })
            .await?;
        }
        ActionKind::MakePrivate => {
            strip(rec, drive, item, insiders, |_, _| true).await?;
        }
        ActionKind::TrashFile => rec.trash(drive, item).await?,
        ActionKind::UserQuarantine => {
            strip(rec, drive, item, insiders, |_, _| true).await?;
            let folder = rec.ensure_root_folder(drive, QUARANTINE_FOLDER).await?;
            let current = rec.item(drive, item).await?;
            if current["parentReference"]["id"].as_str() == Some(folder.as_str()) {
                return Ok(());
            }
            rec.move_item(drive, item, &folder, None).await?;
        }
        ActionKind::RestoreFile => {
            let parent = entry.params["original_parent"]
                .as_str()
                .ok_or_else(|| GraphError::Malformed("no original folder recorded".into()))?;
            let current = rec.item(drive, item).await?;
            if current["parentReference"]["id"].as_str() != Some(parent) {
                rec.move_item(drive, item, parent, None).await?;
            }
        }
        ActionKind::AdminQuarantine => {
            let (to_drive, to_folder) = quarantine_drive
                .ok_or_else(|| GraphError::Malformed("no quarantine site configured".into()))?;
            let name = entry.params["original_name"]
                .as_str()
                .unwrap_or(item)
                .to_owned();
            let parent = entry.params["original_parent"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            match rec.item(drive, item).await {
                Ok(_) => {
                    match rec.copy_item(drive, item, &to_drive, &to_folder).await {
                        // Copied by an earlier attempt whose answer was lost.
                        Err(e) if e.status() == Some(409) => {}
                        other => other?,
                    }
                    rec.trash(drive, item).await?;
                }
                // Moved by an earlier attempt: only the placeholder may be missing.
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e),
            }
            let note = format!(
                "{name} was moved to the administrators' quarantine by Skylight on {}. \
                 Ask your administrator if you need it.\n",
                chrono::Utc::now().format("%Y-%m-%d %H:%M UTC")
            );
            // A PUT replaces: writing the placeholder again is harmless.
            rec.upload_text(drive, &parent, &format!("{name}.quarantined.txt"), &note)
                .await?;
        }
        _ => {}
    }
    Ok(())
}

/// The drive and folder of the admin quarantine site (`https://host/sites/name`).
pub(crate) async fn quarantine_drive(
    rec: &mut Recorder<'_>,
    client: &skylight_m365::graph::GraphClient,
    site: &str,
) -> Result<(String, String), GraphError> {
    let rest = site
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/');
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let site = if path.is_empty() {
        client.get(&format!("/sites/{}", segment(host))).await?
    } else {
        client
            .get(&format!("/sites/{}:/{path}", segment(host)))
            .await?
    };
    let site_id = site["id"]
        .as_str()
        .ok_or_else(|| GraphError::Malformed("a site without an id".into()))?;
    let drive = client
        .get(&format!("/sites/{}/drive", segment(site_id)))
        .await?;
    let drive_id = drive["id"]
        .as_str()
        .ok_or_else(|| GraphError::Malformed("a drive without an id".into()))?
        .to_owned();
    let folder = rec.ensure_root_folder(&drive_id, QUARANTINE_FOLDER).await?;
    Ok((drive_id, folder))
}
