//! Changes an attacker makes to keep access or take data: administrative operations, MFA
//! removal, outside sharing, and activity by accounts that should be dead. Inbox rules are in
//! `mail`, OAuth consents in `apps`.

use skylight_model::ActorKind;

use super::fields::{domain_of, internal, is_op, modified, non_empty_list, target_user};
use super::{Anomalies, hit, user_finding, when};
use crate::event::Event;
use crate::incident::{Finding, Hit};
use crate::packed::Packed;
use crate::state::{Disabled, Recent, State, insert_newest};

/// Recent successful activities kept per user, for disable markers that arrive late.
const RECENT: usize = 16;
/// How far back they are kept (ms).
const RECENT_KEEP_MS: i64 = 3_600_000;

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
            modified(e, p)
                .is_some_and(|(old, new)| non_empty_list(Some(&old)) && !non_empty_list(Some(&new)))
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
pub(super) fn account_marker(e: &Event) -> Option<(String, Option<String>)> {
    if e.failed() {
        let reason = e.activity().failure_reason.as_deref().unwrap_or_default();
        if (reason.contains("UserAccountDisabled")
            || reason == "50057"
            || e.field("ErrorNumber").as_deref() == Some("50057"))
            && !e.user.is_empty()
        {
            return Some((
                e.user.clone(),
                Some("sign-in refused: the account is disabled (50057)".into()),
            ));
        }
        return None;
    }
    // Only directory changes can mark an account; reading their target costs a parse.
    const MARKERS: [&str; 5] = [
        "Disable account.",
        "Delete user.",
        "Enable account.",
        "Restore user.",
        "Update user.",
    ];
    if !is_op(e, &MARKERS) {
        return None;
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
        && let Some((_, v)) = modified(e, "AccountEnabled")
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
                        id: r.id.to_string(),
                        ms: r.ms,
                        ip: r.ip.as_ref().map(Packed::to_string),
                        country: r.country.as_ref().map(Packed::to_string),
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
        || e.failed()
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
            user_finding(
                e,
                vec![hit(e)],
                format!(
                    "{} by {} after {} ({})",
                    e.operation(),
                    e.user,
                    when(d.ms),
                    d.how
                ),
            ),
        ));
    }
    let pos = user.recent.partition_point(|r| r.ms <= e.ms);
    let recent = Recent {
        ms: e.ms,
        id: e.id().into(),
        ip: e.row.ip.as_deref().map(Packed::from),
        country: e.row.country.as_deref().map(Packed::from),
    };
    insert_newest(&mut user.recent, pos, recent, RECENT);
    if let Some(newest) = user.recent.last().map(|r| r.ms) {
        user.recent.retain(|r| r.ms >= newest - RECENT_KEEP_MS);
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
                user_finding(e, vec![hit(e)], format!(
                        "`{}` by {} from {country} ({}): this user's administrative activity so far came from {}",
                        e.operation(),
                        e.user,
                        e.row.ip.as_deref().unwrap_or("no address"),
                        known.join(", ")
                    )),
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
            user_finding(
                e,
                vec![hit(e)],
                format!(
                    "first `{}` by {} since {} ({known} other administrative operations seen)",
                    e.operation(),
                    e.user,
                    when(first)
                ),
            ),
        ));
    }
}

/// Sharing operations and whether they name an outside recipient (the rest create links).
const SHARING: [(&str, bool); 6] = [
    ("AddedToSecureLink", true),
    ("SharingInvitationCreated", true),
    ("SharingSet", true),
    ("AddedToSharingLink", true),
    ("AnonymousLinkCreated", false),
    ("AnonymousLinkUpdated", false),
];

fn external_sharing(
    a: &Anomalies,
    e: &Event,
    state: &mut State,
    out: &mut Vec<(&'static str, Finding)>,
) {
    let Some((op, named)) = SHARING
        .iter()
        .find(|(op, _)| e.operation().eq_ignore_ascii_case(op))
    else {
        return;
    };
    let path = e.field("ObjectId").unwrap_or_default();
    let lower_path = path.to_ascii_lowercase();
    if a.sharing
        .paths
        .iter()
        .any(|p| lower_path.contains(p.as_str()))
    {
        return;
    }
    let why = if *named {
        let Some(target) = e
            .field("TargetUserOrGroupName")
            .map(|t| t.trim().to_ascii_lowercase())
            .filter(|t| t.contains('@'))
        else {
            return;
        };
        let guest = e
            .field("TargetUserOrGroupType")
            .is_some_and(|t| t.eq_ignore_ascii_case("guest"));
        let domain = domain_of(&target).unwrap_or_default();
        let mut own: Vec<String> = a.sharing.domains.clone();
        if let Some(d) = domain_of(&e.user) {
            own.push(d);
        }
        own.extend(state.tenant(&e.row.tenant).domains.iter().cloned());
        if a.sharing.users.contains(&target)
            || (!guest && internal(&domain, &own))
            || internal(&domain, &a.sharing.domains)
        {
            return;
        }
        format!(
            "{op}: `{}` shared with {target}",
            if path.is_empty() { "(no path)" } else { &path }
        )
    } else {
        format!(
            "{op}: anyone with the link can open `{}`",
            if path.is_empty() { "(no path)" } else { &path }
        )
    };
    out.push(("external_sharing", user_finding(e, vec![hit(e)], why)));
}

pub(super) fn evaluate(
    a: &Anomalies,
    e: &Event,
    state: &mut State,
    out: &mut Vec<(&'static str, Finding)>,
) {
    let mut found = Vec::new();
    if a.on("inbox_forwarding", e).is_some() {
        super::mail::forwarding(e, state, &mut found);
    }
    if a.on("inbox_manipulation", e).is_some() {
        super::mail::manipulation(e, &mut found);
    }
    if a.on("oauth_high_privilege", e).is_some() || a.on("oauth_privileged_grant", e).is_some() {
        super::apps::consent(e, state, a, &mut found);
    }
    if a.on("external_sharing", e).is_some() {
        external_sharing(a, e, state, &mut found);
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
