//! Changes an attacker makes to keep access or take data: inbox rules, administrative
//! operations, OAuth consents, MFA removal, and activity by accounts that should be dead.

use skylight_model::{ActorKind, Outcome};

use super::{Anomalies, hit, when};
use crate::event::Event;
use crate::incident::{Finding, Hit};
use crate::state::{Disabled, Recent, State};

/// Parameters that forward or redirect mail.
const FORWARDING: [&str; 5] = [
    "ForwardTo",
    "ForwardAsAttachmentTo",
    "RedirectTo",
    "ForwardingSmtpAddress",
    "ForwardingAddress",
];

/// Folders people rarely open: a rule moving mail there hides it. (`Archive` is left out: rules
/// filing mail there are everyday housekeeping.)
const HIDING_FOLDERS: [&str; 6] = [
    "rss feeds",
    "rss subscriptions",
    "conversation history",
    "deleted items",
    "junk email",
    "notes",
];

/// Scopes that let an app read and change every mailbox, directory object or permission the
/// grantor can reach: Skylight's "high" permission level. Read-only mail and file scopes
/// (`Mail.Read`, `Files.Read.All`, …) are "medium" and do not alert on their own.
const HIGH_PRIVILEGE_SCOPES: [&str; 18] = [
    "mail.readwrite",
    "mail.send",
    "mail.readwrite.shared",
    "mail.send.shared",
    "mailboxsettings.readwrite",
    "full_access_as_user",
    "full_access_as_app",
    "ews.accessasuser.all",
    "sites.fullcontrol.all",
    "directory.readwrite.all",
    "directory.accessasuser.all",
    "user.readwrite.all",
    "rolemanagement.readwrite.directory",
    "application.readwrite.all",
    "approleassignment.readwrite.all",
    "group.readwrite.all",
    "policy.readwrite.conditionalaccess",
    "privilegedaccess.readwrite.azuread",
];

/// Recent successful activities kept per user, for disable markers that arrive late.
const RECENT: usize = 16;
/// How far back they are kept (ms).
const RECENT_KEEP_MS: i64 = 3_600_000;

fn is_op(e: &Event, names: &[&str]) -> bool {
    names.iter().any(|n| e.operation().eq_ignore_ascii_case(n))
}

fn param(e: &Event, name: &str) -> Option<String> {
    e.property(&format!("Parameters.{name}"))
        .map(str::to_owned)
        .filter(|v| !v.trim().is_empty())
}

fn truthy(v: Option<String>) -> bool {
    v.is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

/// The domain of an address (`smtp:` prefix and brackets removed), lowercase.
fn domain_of(address: &str) -> Option<String> {
    let a = address.trim().trim_matches(['"', '\'', '<', '>', '[', ']']);
    let a = a
        .strip_prefix("smtp:")
        .or_else(|| a.strip_prefix("SMTP:"))
        .unwrap_or(a);
    a.rsplit_once('@')
        .map(|(_, d)| d.trim().trim_end_matches('.').to_ascii_lowercase())
        .filter(|d| !d.is_empty())
}

fn internal(domain: &str, own: &[String]) -> bool {
    own.iter()
        .any(|d| domain == d || domain.ends_with(&format!(".{d}")))
}

/// The user a directory change is about (the target), lowercase.
fn target_user(e: &Event) -> Option<String> {
    e.field("ObjectId")
        .filter(|o| o.contains('@'))
        .or_else(|| {
            e.activity
                .objects
                .iter()
                .filter(|o| o.kind == skylight_model::ObjectKind::User)
                .find_map(|o| o.name.clone().or_else(|| o.id.clone()))
                .filter(|o| o.contains('@'))
        })
        .map(|u| u.to_ascii_lowercase())
}

/// Whether a JSON list written as text holds something (`[]`, empty and `null` do not).
fn non_empty_list(v: Option<&str>) -> bool {
    v.map(str::trim)
        .is_some_and(|t| !t.is_empty() && t != "[]" && t != "null")
}

fn forwarding(e: &Event, state: &mut State, out: &mut Vec<(&'static str, Finding)>) {
    if !is_op(
        e,
        &[
            "New-InboxRule",
            "Set-InboxRule",
            "Set-Mailbox",
            "UpdateInboxRules",
        ],
    ) {
        return;
    }
    let mut own: Vec<String> = Vec::new();
    if let Some(d) = domain_of(&e.user) {
        own.push(d);
    }
    if let Some(org) = e.field("OrganizationName").filter(|o| !o.trim().is_empty()) {
        own.push(org.trim().to_ascii_lowercase());
    }
    own.extend(state.tenant(&e.row.tenant).domains.iter().cloned());
    let mut external = Vec::new();
    for p in FORWARDING {
        let Some(v) = param(e, p) else { continue };
        for addr in v.split([';', ',']) {
            if let Some(d) = domain_of(addr)
                && !internal(&d, &own)
            {
                external.push(format!(
                    "{p} {}",
                    addr.trim()
                        .trim_start_matches("smtp:")
                        .trim_start_matches("SMTP:")
                ));
            }
        }
    }
    if external.is_empty() {
        return;
    }
    let rule = param(e, "Name")
        .or_else(|| param(e, "Identity"))
        .unwrap_or_else(|| "(unnamed)".into());
    let mut facts = vec![format!(
        "{} `{rule}`: {}, outside {}",
        e.operation(),
        external.join(", "),
        if own.is_empty() {
            "any domain of the tenant (none known)".to_owned()
        } else {
            own.join(", ")
        }
    )];
    if param(e, "DeliverToMailboxAndForward")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("false"))
    {
        facts.push("no copy is kept in the mailbox".into());
    }
    out.push((
        "inbox_forwarding",
        Finding {
            subject: e.user.clone(),
            users: vec![e.user.clone()],
            hits: vec![hit(e)],
            facts,
        },
    ));
}

fn manipulation(e: &Event, out: &mut Vec<(&'static str, Finding)>) {
    if !is_op(e, &["New-InboxRule", "Set-InboxRule"]) {
        return;
    }
    let mut why = Vec::new();
    if truthy(param(e, "DeleteMessage")) || truthy(param(e, "SoftDeleteMessage")) {
        why.push("deletes messages".to_owned());
    }
    if let Some(folder) = param(e, "MoveToFolder")
        && HIDING_FOLDERS.contains(&folder.trim().to_ascii_lowercase().as_str())
    {
        why.push(format!("moves messages to `{}`", folder.trim()));
    }
    if why.is_empty() {
        return;
    }
    let conditions: Vec<String> = [
        "From",
        "SubjectContainsWords",
        "SubjectOrBodyContainsWords",
        "BodyContainsWords",
    ]
    .iter()
    .filter_map(|p| param(e, p).map(|v| format!("{p} `{v}`")))
    .collect();
    let rule = param(e, "Name")
        .or_else(|| param(e, "Identity"))
        .unwrap_or_else(|| "(unnamed)".into());
    out.push((
        "inbox_manipulation",
        Finding {
            subject: e.user.clone(),
            users: vec![e.user.clone()],
            hits: vec![hit(e)],
            facts: vec![format!(
                "{} `{rule}` {}{}",
                e.operation(),
                why.join(" and "),
                if conditions.is_empty() {
                    " (every message)".to_owned()
                } else {
                    format!(" when {}", conditions.join(", "))
                }
            )],
        },
    ));
}

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

fn consent(e: &Event, state: &mut State, a: &Anomalies, out: &mut Vec<(&'static str, Finding)>) {
    if is_op(e, &["Add service principal."]) {
        let tenant = state.tenant(&e.row.tenant);
        for id in app_ids(e) {
            tenant.new_apps.insert(id, e.ms);
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
            .filter_map(|i| tenant.new_apps.get(i).map(|t| (*t, i.clone())))
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

fn mfa(e: &Event, out: &mut Vec<(&'static str, Finding)>) {
    let removed = if is_op(e, &["Disable Strong Authentication."]) {
        Some("strong authentication disabled".to_owned())
    } else if is_op(e, &["Update user."]) {
        [
            "StrongAuthenticationMethod",
            "StrongAuthenticationRequirement",
        ]
        .iter()
        .find(|p| {
            let old = e.property(&format!("ModifiedProperties.{p}.OldValue"));
            let new = e.property(&format!("ModifiedProperties.{p}.NewValue"));
            new.is_some() && non_empty_list(old) && !non_empty_list(new)
        })
        .map(|p| format!("{p} emptied"))
    } else {
        None
    };
    let Some(what) = removed else { return };
    let target = target_user(e).unwrap_or_else(|| e.user.clone());
    let mut users = vec![target.clone()];
    if !e.user.is_empty() && e.user != target {
        users.push(e.user.clone());
    }
    out.push((
        "mfa_disabled",
        Finding {
            subject: target.clone(),
            users,
            hits: vec![hit(e)],
            facts: vec![format!(
                "{what} for {target} by {}",
                e.row.user.as_deref().unwrap_or("(unknown actor)")
            )],
        },
    ));
}

/// Whether the event marks its target (or actor) as disabled, enabled again, or neither.
fn account_marker(e: &Event) -> Option<(String, Option<String>)> {
    let reason = e.activity.failure_reason.as_deref().unwrap_or_default();
    if e.activity.outcome == Outcome::Failure
        && (reason.contains("UserAccountDisabled")
            || reason == "50057"
            || e.field("ErrorNumber").as_deref() == Some("50057"))
        && !e.user.is_empty()
    {
        return Some((
            e.user.clone(),
            Some("sign-in refused: the account is disabled (50057)".into()),
        ));
    }
    let target = target_user(e)?;
    if is_op(e, &["Disable account."]) {
        return Some((target, Some(format!("disabled by {}", e.user))));
    }
    if is_op(e, &["Delete user."]) {
        return Some((target, Some(format!("deleted by {}", e.user))));
    }
    if is_op(e, &["Enable account.", "Restore user."]) {
        return Some((target, None));
    }
    if is_op(e, &["Update user."])
        && let Some(v) = e.property("ModifiedProperties.AccountEnabled.NewValue")
    {
        let v = v.to_ascii_lowercase();
        if v.contains("false") {
            return Some((target, Some(format!("disabled by {}", e.user))));
        }
        if v.contains("true") {
            return Some((target, None));
        }
    }
    None
}

fn disabled(e: &Event, state: &mut State, out: &mut Vec<(&'static str, Finding)>) {
    let tenant = e.row.tenant.clone();
    if let Some((who, how)) = account_marker(e) {
        let user = state.user(&tenant, &who);
        match how {
            Some(how) => {
                if user.disabled.as_ref().is_none_or(|d| d.ms > e.ms) {
                    user.disabled = Some(Disabled { ms: e.ms, how });
                }
                // Activities already seen that happened after the account was disabled.
                let since = user.disabled.as_ref().map_or(e.ms, |d| d.ms);
                let late: Vec<Hit> = user
                    .recent
                    .iter()
                    .filter(|r| r.ms > since)
                    .map(|r| Hit {
                        id: r.id.clone(),
                        ms: r.ms,
                        ip: r.ip.clone(),
                        country: r.country.clone(),
                    })
                    .collect();
                if !late.is_empty() {
                    let how = user
                        .disabled
                        .as_ref()
                        .map(|d| d.how.clone())
                        .unwrap_or_default();
                    out.push((
                        "disabled_user",
                        Finding {
                            subject: who.clone(),
                            users: vec![who.clone()],
                            facts: vec![format!(
                                "{} activities by {who} after {} ({how})",
                                late.len(),
                                when(since)
                            )],
                            hits: late,
                        },
                    ));
                }
            }
            None => {
                if user.disabled.as_ref().is_some_and(|d| d.ms <= e.ms) {
                    user.disabled = None;
                }
            }
        }
        return;
    }
    if e.user.is_empty()
        || e.activity.outcome == Outcome::Failure
        || matches!(
            e.row.actor_kind,
            Some(ActorKind::System | ActorKind::Application)
        )
    {
        return;
    }
    let user = state.user(&tenant, &e.user);
    if let Some(d) = &user.disabled
        && d.ms < e.ms
    {
        out.push((
            "disabled_user",
            Finding {
                subject: e.user.clone(),
                users: vec![e.user.clone()],
                hits: vec![hit(e)],
                facts: vec![format!(
                    "{} by {} after {} ({})",
                    e.operation(),
                    e.user,
                    when(d.ms),
                    d.how
                )],
            },
        ));
    }
    let pos = user.recent.partition_point(|r| r.ms <= e.ms);
    user.recent.insert(
        pos,
        Recent {
            ms: e.ms,
            id: e.activity.id.clone(),
            ip: e.row.ip.clone(),
            country: e.row.country.clone(),
        },
    );
    if let Some(newest) = user.recent.last().map(|r| r.ms) {
        user.recent.retain(|r| r.ms >= newest - RECENT_KEEP_MS);
    }
    if user.recent.len() > RECENT {
        let extra = user.recent.len() - RECENT;
        user.recent.drain(..extra);
    }
}

fn unusual_admin(
    a: &Anomalies,
    e: &Event,
    state: &mut State,
    out: &mut Vec<(&'static str, Finding)>,
) {
    if !e.row.admin
        || e.user.is_empty()
        || matches!(
            e.row.actor_kind,
            Some(ActorKind::System | ActorKind::Application)
        )
    {
        return;
    }
    let op = e.operation().to_ascii_lowercase();
    let user = state.user(&e.row.tenant, &e.user);
    let first = user.first_ms.unwrap_or(e.ms);
    let learned = e.ms - first >= a.learning_ms;
    if let Some(country) = e.row.country.clone() {
        let safe = e.row.ip_tags.as_deref().is_some_and(|t| {
            t.split('|')
                .any(|p| p.eq_ignore_ascii_case("corporate") || p.eq_ignore_ascii_case("vpn"))
        });
        let known: Vec<String> = user.admin_countries.keys().cloned().collect();
        let new_country = !user.admin_countries.contains_key(&country);
        let last = user.admin_countries.entry(country.clone()).or_insert(e.ms);
        *last = (*last).min(e.ms);
        if new_country
            && learned
            && !known.is_empty()
            && !safe
            && a.on("new_admin_location", e).is_some()
        {
            out.push((
                "new_admin_location",
                Finding {
                    subject: e.user.clone(),
                    users: vec![e.user.clone()],
                    hits: vec![hit(e)],
                    facts: vec![format!(
                        "`{}` by {} from {country} ({}): this user's administrative activity so far came from {}",
                        e.operation(),
                        e.user,
                        e.row.ip.as_deref().unwrap_or("no address"),
                        known.join(", ")
                    )],
                },
            ));
        }
    }
    if a.on("unusual_admin", e).is_none() {
        return;
    }
    let known = user.admin_ops.len();
    let new = !user.admin_ops.contains_key(&op);
    let last = user.admin_ops.entry(op).or_insert(e.ms);
    *last = (*last).max(e.ms);
    if new && learned {
        out.push((
            "unusual_admin",
            Finding {
                subject: e.user.clone(),
                users: vec![e.user.clone()],
                hits: vec![hit(e)],
                facts: vec![format!(
                    "first `{}` by {} since {} ({known} other administrative operations seen)",
                    e.operation(),
                    e.user,
                    when(first)
                )],
            },
        ));
    }
}

pub(super) fn evaluate(
    a: &Anomalies,
    e: &Event,
    state: &mut State,
    out: &mut Vec<(&'static str, Finding)>,
) {
    let mut found = Vec::new();
    if a.on("inbox_forwarding", e).is_some() {
        forwarding(e, state, &mut found);
    }
    if a.on("inbox_manipulation", e).is_some() {
        manipulation(e, &mut found);
    }
    if a.on("oauth_high_privilege", e).is_some() || a.on("oauth_privileged_grant", e).is_some() {
        consent(e, state, a, &mut found);
    }
    if a.on("mfa_disabled", e).is_some() {
        mfa(e, &mut found);
    }
    if a.on("disabled_user", e).is_some() {
        disabled(e, state, &mut found);
    }
    if a.on("unusual_admin", e).is_some() || a.on("new_admin_location", e).is_some() {
        unusual_admin(a, e, state, &mut found);
    }
    out.extend(found);
}
