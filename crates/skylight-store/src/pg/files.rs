//! files (PostgreSQL): to be written.

#[allow(unused_imports)]
use super::*;

/// [`Store::commit_files`](crate::Store::commit_files).
pub(super) fn commit_files(
    c: &mut Client,
    tenant: &str,
    drive_id: &str,
    changes: &FileChanges,
) -> Result<(), StoreError> {
    let _ = (&c, tenant, drive_id, changes);
    Err(not_yet("commit_files"))
}

/// [`Store::files`](crate::Store::files).
pub(super) fn files(c: &mut Client, query: &FileQuery) -> Result<Vec<FileItem>, StoreError> {
    let _ = (&c, query);
    Err(not_yet("files"))
}

/// [`Store::file`](crate::Store::file).
pub(super) fn file(
    c: &mut Client,
    tenant: &str,
    drive_id: &str,
    id: &str,
) -> Result<Option<FileItem>, StoreError> {
    let _ = (&c, tenant, drive_id, id);
    Err(not_yet("file"))
}
