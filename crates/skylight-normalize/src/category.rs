//! Microsoft's operation names (hundreds, inconsistent across services) mapped to a stable
//! action category. Exact names first, then name patterns, then the RecordType's default.

use skylight_model::Category;

/// Operations named exactly (case-insensitive).
const EXACT: &[(&str, Category)] = &[
    ("UserLoggedIn", Category::Login),
    ("UserLoginFailed", Category::Login),
    ("MailboxLogin", Category::Login),
    ("SignInEvent", Category::Login),
    ("TeamsSessionStarted", Category::Login),
    ("UserLoggedOut", Category::Logout),
    ("FileAccessed", Category::FileAccess),
    ("FileAccessedExtended", Category::FileAccess),
    ("FilePreviewed", Category::FileAccess),
    ("PageViewed", Category::FileAccess),
    ("PageViewedExtended", Category::FileAccess),
    ("ListViewed", Category::FileAccess),
    ("ListItemViewed", Category::FileAccess),
    ("FileDownloaded", Category::FileDownload),
    ("FileSyncDownloadedFull", Category::FileDownload),
    ("FileSyncDownloadedPartial", Category::FileDownload),
    ("FileUploaded", Category::FileUpload),
    ("FileSyncUploadedFull", Category::FileUpload),
    ("FileSyncUploadedPartial", Category::FileUpload),
    ("FileCreated", Category::FileUpload),
    ("Send", Category::MailSend),
    ("SendAs", Category::MailSend),
    ("SendOnBehalf", Category::MailSend),
    ("MailItemsAccessed", Category::MailAccess),
    ("FolderBind", Category::MailAccess),
    ("MessageBind", Category::MailAccess),
    ("Move", Category::MailModify),
    ("MoveToDeletedItems", Category::MailModify),
    ("SoftDelete", Category::MailModify),
    ("HardDelete", Category::MailModify),
    ("Update", Category::MailModify),
    ("Create", Category::MailModify),
    ("Copy", Category::MailModify),
    ("ApplyRecord", Category::MailModify),
    ("UpdateFolderPermissions", Category::MailboxPermission),
    ("AddFolderPermissions", Category::MailboxPermission),
    ("RemoveFolderPermissions", Category::MailboxPermission),
    ("ModifyFolderPermissions", Category::MailboxPermission),
    ("UpdateInboxRules", Category::MailboxRule),
    ("Set-Mailbox", Category::AdminSettings),
    ("Consent to application.", Category::AppConsent),
    ("Add OAuth2PermissionGrant.", Category::AppConsent),
    ("Add delegated permission grant.", Category::AppConsent),
    (
        "Add app role assignment to service principal.",
        Category::AppConsent,
    ),
    (
        "Add app role assignment grant to user.",
        Category::AppConsent,
    ),
    ("Add service principal.", Category::AppConsent),
    ("Add service principal credentials.", Category::AppConsent),
    ("Add application.", Category::AppConsent),
    ("Update application.", Category::AppConsent),
    (
        "Update application – Certificates and secrets management ",
        Category::AppConsent,
    ),
    ("Add owner to application.", Category::AppConsent),
    ("Disable Strong Authentication.", Category::PolicyChange),
    ("AddedToGroup", Category::GroupManagement),
    ("RemovedFromGroup", Category::GroupManagement),
    ("GroupCreation", Category::GroupManagement),
    ("TeamCreated", Category::GroupManagement),
    ("TeamDeleted", Category::GroupManagement),
    ("MemberAdded", Category::GroupManagement),
    ("MemberRemoved", Category::GroupManagement),
    ("MemberRoleChanged", Category::RoleChange),
    ("MessageSent", Category::Collaboration),
    ("MessageCreatedHasLink", Category::Collaboration),
    ("ChatCreated", Category::Collaboration),
    ("ChannelAdded", Category::Collaboration),
    ("MeetingDetail", Category::Collaboration),
    ("MeetingParticipantDetail", Category::Collaboration),
    ("SearchQueryPerformed", Category::Search),
    ("SearchQueryInitiatedExchange", Category::Search),
    ("SearchQueryInitiatedSharePoint", Category::Search),
    ("SearchCreated", Category::Search),
    ("SearchStarted", Category::Search),
    ("SearchExported", Category::Search),
    ("ViewReport", Category::Report),
    ("ExportReport", Category::Report),
    ("ViewDashboard", Category::Report),
    ("ExportArtifact", Category::Report),
    ("CopilotInteraction", Category::AiInteraction),
    ("AIAppInteraction", Category::AiInteraction),
    ("AIInteractionCreatedNotification", Category::AiInteraction),
];

/// A category from the operation name's shape, when no exact name matched.
fn by_pattern(op: &str) -> Option<Category> {
    let lower = op.to_ascii_lowercase();
    let has = |s: &str| lower.contains(s);
    let starts = |s: &str| lower.starts_with(s);
    Some(
        if has("dlp") || has("sensitivitylabel") || has("labelapplied") {
            Category::Dlp
        } else if has("alert") || has("investigation") {
            Category::Alert
        } else if has("inboxrule") || has("forwarding") || has("transportrule") {
            Category::MailboxRule
        } else if has("mailboxpermission")
            || has("recipientpermission")
            || has("mailboxfolderpermission")
        {
            Category::MailboxPermission
        } else if has("member to role")
            || has("member from role")
            || has("rolegroupmember")
            || has("roleassignment")
            || has("eligible member")
        {
            Category::RoleChange
        } else if has("sharing") || has("link") || has("accessrequest") || has("invitation") {
            Category::FileShare
        } else if starts("file") || starts("folder") || starts("listitem") || starts("page") {
            if has("delete") || has("recycl") {
                Category::FileDelete
            } else if has("download") {
                Category::FileDownload
            } else if has("upload") || has("created") {
                Category::FileUpload
            } else if has("accessed") || has("viewed") || has("previewed") {
                Category::FileAccess
            } else {
                Category::FileModify
            }
        } else if has("password")
            || lower.ends_with(" user.")
            || has("user license")
            || has("disable account")
        {
            Category::UserManagement
        } else if lower.ends_with(" group.")
            || has("member to group")
            || has("member from group")
            || has("distributiongroup")
            || has("unifiedgroup")
        {
            Category::GroupManagement
        } else if has("policy") || has("conditional access") || has("strong authentication") {
            Category::PolicyChange
        } else if has("search") {
            Category::Search
        } else if has("oauth") || has("service principal") || has("application") || has("consent") {
            Category::AppConsent
        } else if has("copilot") || has("aiinteraction") {
            Category::AiInteraction
        } else {
            return None;
        },
    )
}

/// What a RecordType's operations are, when the operation says nothing more.
fn by_record_type(rt: i64) -> Category {
    match rt {
        1 | 10 | 18 | 23 | 57 | 87 | 106 | 147 | 269 | 297 | 375 | 376 => Category::AdminSettings,
        2 | 3 | 19 | 50 => Category::MailModify,
        4 | 6 | 7 | 36 | 37 | 54..=56 => Category::FileModify,
        14 => Category::FileShare,
        8 => Category::UserManagement,
        9 | 15 => Category::Login,
        11 | 13 | 33 | 43 | 48 | 63 | 71 | 72 | 75 | 82..=84 | 93..=97 | 99 | 100 | 107 => {
            Category::Dlp
        }
        28 | 40 | 41 | 47 | 64 | 78 | 86 | 89 | 98 | 113 => Category::Alert,
        20 => Category::Report,
        24 | 101 | 102 | 295 => Category::Search,
        25 | 49 | 59 | 60 | 73 | 92 | 230 => Category::Collaboration,
        261 | 284 | 328 | 334 => Category::AiInteraction,
        _ => Category::Other,
    }
}

/// The category of an operation in a record of type `rt`.
pub fn categorize(rt: Option<i64>, op: &str) -> Category {
    let op = op.trim();
    if let Some((_, c)) = EXACT
        .iter()
        .find(|(name, _)| name.trim().eq_ignore_ascii_case(op))
    {
        return *c;
    }
    // Exchange admin cmdlets: the verb and noun say it.
    by_pattern(op).unwrap_or_else(|| rt.map_or(Category::Other, by_record_type))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_operations_detections_rely_on_have_their_category() {
        for (rt, op, want) in [
            (15, "UserLoggedIn", Category::Login),
            (15, "UserLoginFailed", Category::Login),
            (6, "FileDownloaded", Category::FileDownload),
            (6, "FileDeletedFirstStageRecycleBin", Category::FileDelete),
            (6, "FileRenamed", Category::FileModify),
            (14, "AnonymousLinkCreated", Category::FileShare),
            (14, "SharingInvitationCreated", Category::FileShare),
            (1, "New-InboxRule", Category::MailboxRule),
            (1, "Set-InboxRule", Category::MailboxRule),
            (1, "Add-MailboxPermission", Category::MailboxPermission),
            (1, "Set-TransportConfig", Category::AdminSettings),
            (8, "Add member to role.", Category::RoleChange),
            (8, "Consent to application.", Category::AppConsent),
            (8, "Reset user password.", Category::UserManagement),
            (8, "Update user.", Category::UserManagement),
            (8, "Add member to group.", Category::GroupManagement),
            (8, "Update policy.", Category::PolicyChange),
            (2, "MailItemsAccessed", Category::MailAccess),
            (2, "SendAs", Category::MailSend),
            (11, "DlpRuleMatch", Category::Dlp),
            (40, "AlertTriggered", Category::Alert),
            (20, "ViewReport", Category::Report),
            (25, "MessageSent", Category::Collaboration),
            (261, "CopilotInteraction", Category::AiInteraction),
            (9999, "SomethingNew", Category::Other),
        ] {
            assert_eq!(categorize(Some(rt), op), want, "{rt} {op}");
        }
    }
}
