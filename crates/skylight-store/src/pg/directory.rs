//! directory (PostgreSQL): to be written.

#[allow(unused_imports)]
use super::*;

/// [`Store::commit_directory`](crate::Store::commit_directory).
pub(super) fn commit_directory(
    c: &mut Client,
    tenant: &str,
    changes: &DirectoryChanges,
) -> Result<(), StoreError> {
    let _ = (&c, tenant, changes);
    Err(not_yet("commit_directory"))
}

/// [`Store::directory_cursor`](crate::Store::directory_cursor).
pub(super) fn directory_cursor(
    c: &mut Client,
    tenant: &str,
    resource: &str,
) -> Result<Option<String>, StoreError> {
    let _ = (&c, tenant, resource);
    Err(not_yet("directory_cursor"))
}

/// [`Store::directory_users`](crate::Store::directory_users).
pub(super) fn directory_users(
    c: &mut Client,
    query: &DirectoryQuery,
) -> Result<Vec<DirectoryUser>, StoreError> {
    let _ = (&c, query);
    Err(not_yet("directory_users"))
}

/// [`Store::directory_user`](crate::Store::directory_user).
pub(super) fn directory_user(
    c: &mut Client,
    tenant: Option<&str>,
    key: &str,
) -> Result<Option<DirectoryUser>, StoreError> {
    let _ = (&c, tenant, key);
    Err(not_yet("directory_user"))
}

/// [`Store::directory_groups`](crate::Store::directory_groups).
pub(super) fn directory_groups(
    c: &mut Client,
    query: &DirectoryQuery,
) -> Result<Vec<DirectoryGroup>, StoreError> {
    let _ = (&c, query);
    Err(not_yet("directory_groups"))
}

/// [`Store::group_members`](crate::Store::group_members).
pub(super) fn group_members(
    c: &mut Client,
    tenant: &str,
    group_id: &str,
    transitive: bool,
) -> Result<Vec<GroupMember>, StoreError> {
    let _ = (&c, tenant, group_id, transitive);
    Err(not_yet("group_members"))
}

/// [`Store::user_groups`](crate::Store::user_groups).
pub(super) fn user_groups(
    c: &mut Client,
    tenant: &str,
    user_id: &str,
) -> Result<Vec<DirectoryGroup>, StoreError> {
    let _ = (&c, tenant, user_id);
    Err(not_yet("user_groups"))
}

/// [`Store::oauth_apps`](crate::Store::oauth_apps).
pub(super) fn oauth_apps(c: &mut Client, query: &AppQuery) -> Result<Vec<OAuthApp>, StoreError> {
    let _ = (&c, query);
    Err(not_yet("oauth_apps"))
}

/// [`Store::oauth_app`](crate::Store::oauth_app).
pub(super) fn oauth_app(
    c: &mut Client,
    tenant: Option<&str>,
    key: &str,
) -> Result<Option<OAuthApp>, StoreError> {
    let _ = (&c, tenant, key);
    Err(not_yet("oauth_app"))
}

/// [`Store::set_app_review`](crate::Store::set_app_review).
pub(super) fn set_app_review(
    c: &mut Client,
    tenant: &str,
    id: &str,
    review: AppReview,
) -> Result<bool, StoreError> {
    let _ = (&c, tenant, id, review);
    Err(not_yet("set_app_review"))
}

/// [`Store::set_directory_status`](crate::Store::set_directory_status).
pub(super) fn set_directory_status(
    c: &mut Client,
    status: &DirectorySyncStatus,
) -> Result<(), StoreError> {
    let _ = (&c, status);
    Err(not_yet("set_directory_status"))
}

/// [`Store::directory_statuses`](crate::Store::directory_statuses).
pub(super) fn directory_statuses(c: &mut Client) -> Result<Vec<DirectorySyncStatus>, StoreError> {
    let _ = &c;
    Err(not_yet("directory_statuses"))
}
