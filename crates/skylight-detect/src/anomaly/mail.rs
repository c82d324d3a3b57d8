//! Inbox rules and mailbox settings: forwarding outside the tenant, and rules that delete or
//! hide mail.

use super::fields::{domain_of, internal, is_op, param, truthy};
use super::{hit, user_finding};
use crate::event::Event;
use crate::incident::Finding;
use crate::state::State;

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

pub(super) fn forwarding(e: &Event, state: &mut State, out: &mut Vec<(&'static str, Finding)>) {
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

pub(super) fn manipulation(e: &Event, out: &mut Vec<(&'static str, Finding)>) {
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
        user_finding(
            e,
            vec![hit(e)],
            format!(
                "{} `{rule}` {}{}",
                e.operation(),
                why.join(" and "),
                if conditions.is_empty() {
                    " (every message)".to_owned()
                } else {
                    format!(" when {}", conditions.join(", "))
                }
            ),
        ),
    ));
}
