//! OAuth apps: high-privilege permissions granted, and whether the app is new to the tenant
//! (the illicit consent grant pattern).

use super::fields::is_op;
use super::{Anomalies, hit};
use crate::event::Event;
use crate::incident::Finding;
use crate::state::State;

use skylight_model::HIGH_PRIVILEGE_SCOPES;

/// How long an app counts as new to the tenant after its service principal appears (ms).
const NEW_APP_MS: i64 = 24 * 3_600_000;
/// New apps remembered per tenant.
const NEW_APPS: usize = 2_000;

/// The ids an Entra app event names: `ObjectId`, the service principal names and `Target` ids.
fn app_ids(e: &Event) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    if let Some(o) = e.field("ObjectId") {
        ids.push(o);
    }
    if let Some(names) = e.property("ModifiedProperties.TargetId.ServicePrincipalNames.NewValue") {
        ids.extend(names.split(';').map(str::to_owned));
    }
    if let Some(Ok(serde_json::Value::Array(targets))) = e
        .field("Target")
        .map(|t| serde_json::from_str::<serde_json::Value>(&t))
    {
        ids.extend(
            targets
                .iter()
                .filter(|t| t["Type"] == 2)
                .filter_map(|t| t["ID"].as_str())
                .map(|id| id.trim_start_matches("ServicePrincipal_").to_owned()),
        );
    }
    ids.iter()
        .map(|i| i.trim().to_ascii_lowercase())
        .filter(|i| !i.is_empty() && i != "serviceprincipal")
        .collect()
}

/// The app's display name (`Target` entry of type 1), when the record gives it.
fn app_name(e: &Event) -> Option<String> {
    let targets: serde_json::Value = serde_json::from_str(&e.field("Target")?).ok()?;
    targets
        .as_array()?
        .iter()
        .find(|t| t["Type"] == 1)
        .and_then(|t| t["ID"].as_str())
        .map(str::to_owned)
}

pub(super) fn consent(
    e: &Event,
    state: &mut State,
    a: &Anomalies,
    out: &mut Vec<(&'static str, Finding)>,
) {
    if is_op(e, &["Add service principal."]) {
        let tenant = state.tenant(&e.row.tenant);
        let ids = app_ids(e);
        for id in &ids {
            tenant.new_apps.insert(id.clone(), e.ms);
            tenant.new_app_subjects.insert(id.clone(), ids[0].clone());
        }
        if tenant.new_apps.len() > NEW_APPS {
            let mut by_time: Vec<(i64, String)> = tenant
                .new_apps
                .iter()
                .map(|(k, v)| (*v, k.clone()))
                .collect();
            by_time.sort();
            for (_, k) in by_time.iter().take(tenant.new_apps.len() - NEW_APPS) {
                tenant.new_apps.remove(k);
                tenant.new_app_subjects.remove(k);
            }
        }
        return;
    }
    let scopes = if is_op(e, &["Consent to application."]) {
        e.property("ModifiedProperties.ConsentAction.Permissions.NewValue")
            .map(|p| {
                // `[[Id: …, Scope:  Mail.Read User.Read, …]]`: the words after each `Scope:`.
                p.split("Scope:")
                    .skip(1)
                    .flat_map(|s| {
                        s.split([',', ']'])
                            .next()
                            .unwrap_or_default()
                            .split_whitespace()
                            .map(str::to_owned)
                            .collect::<Vec<_>>()
                    })
                    .collect::<Vec<_>>()
            })
    } else if is_op(e, &["Add delegated permission grant."]) {
        e.property("ModifiedProperties.DelegatedPermissionGrant.Scope.NewValue")
            .map(|s| s.split_whitespace().map(str::to_owned).collect())
    } else if is_op(e, &["Add app role assignment to service principal."]) {
        e.property("ModifiedProperties.AppRole.Value.NewValue")
            .map(|s| vec![s.trim().to_owned()])
    } else {
        None
    };
    let Some(scopes) = scopes else { return };
    let high: Vec<&String> = scopes
        .iter()
        .filter(|s| HIGH_PRIVILEGE_SCOPES.contains(&s.to_ascii_lowercase().as_str()))
        .collect();
    if high.is_empty() {
        return;
    }
    let ids = app_ids(e);
    let app = app_name(e)
        .or_else(|| ids.first().cloned())
        .unwrap_or_else(|| "an application".into());
    // The app's first appearance, when recent, and the id it was recorded under (the subject,
    // so that every consent to one new app joins one incident).
    let added = {
        let tenant = state.tenant(&e.row.tenant);
        ids.iter()
            .filter_map(|i| {
                let subject = tenant.new_app_subjects.get(i).unwrap_or(i);
                tenant.new_apps.get(i).map(|t| (*t, subject.clone()))
            })
            .filter(|(t, _)| (e.ms - *t).abs() <= NEW_APP_MS)
            .min()
    };
    let admin = e
        .property("ModifiedProperties.ConsentContext.IsAdminConsent.NewValue")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let all = e
        .property("ModifiedProperties.ConsentContext.OnBehalfOfAll.NewValue")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let mut facts = vec![format!(
        "{} ({}) granted {} to {app}",
        e.operation(),
        if all {
            "admin consent for every user"
        } else if admin {
            "admin consent"
        } else {
            "user consent"
        },
        high.iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    )];
    let subject = added
        .as_ref()
        .map(|(_, i)| i.clone())
        .or_else(|| ids.first().cloned())
        .unwrap_or_else(|| app.clone());
    let id = match added {
        Some((t, _)) => {
            facts.push(format!(
                "the app is new to the tenant: its service principal was added {} s earlier",
                (e.ms - t) / 1000
            ));
            "oauth_high_privilege"
        }
        None => "oauth_privileged_grant",
    };
    if a.on(id, e).is_none() {
        return;
    }
    out.push((
        id,
        Finding {
            // One incident per app: later consents to the same app join it.
            subject,
            users: vec![e.user.clone()],
            hits: vec![hit(e)],
            facts,
        },
    ));
}
