//! `skylight files`: the SharePoint and OneDrive inventory of the files component.

use anyhow::Context;
use clap::Args;
use skylight_model::AccessLevel;
use skylight_store::FileQuery;

use crate::collect_cmd::{Format, StoreArgs};
use crate::out::outln;

/// Options of `skylight files`.
#[derive(Debug, Args)]
pub struct FilesArgs {
    /// Name contains this.
    name: Option<String>,
    /// Access levels (comma-separated: private, internal, external, public).
    #[arg(long, value_delimiter = ',')]
    access: Vec<String>,
    /// Shared with this outside domain.
    #[arg(long)]
    domain: Option<String>,
    /// Shared with this person (mail).
    #[arg(long)]
    collaborator: Option<String>,
    /// Owned by (mail or UPN).
    #[arg(long)]
    owner: Option<String>,
    /// With this extension.
    #[arg(long)]
    extension: Option<String>,
    /// Below this folder (`/Finance`).
    #[arg(long)]
    folder: Option<String>,
    /// Folders too.
    #[arg(long)]
    folders: bool,
    /// One tenant.
    #[arg(long)]
    tenant: Option<String>,
    /// At most this many, most exposed first (0: all).
    #[arg(long, default_value_t = 100)]
    limit: usize,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    #[command(flatten)]
    store: StoreArgs,
}

/// Lists files.
pub async fn files(args: FilesArgs) -> anyhow::Result<()> {
    let access = args
        .access
        .iter()
        .filter(|a| !a.trim().is_empty())
        .map(|a| {
            AccessLevel::parse(a).with_context(|| {
                format!("unknown access level `{a}`; levels: private, internal, external, public")
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let query = FileQuery {
        tenant: args.tenant,
        name: args.name,
        extension: args.extension,
        owner: args.owner,
        access,
        external_domain: args.domain,
        collaborator: args.collaborator,
        folder: args.folder,
        include_folders: args.folders,
        limit: args.limit,
        ..FileQuery::default()
    };
    let store = args.store.open()?;
    let list = tokio::task::spawn_blocking(move || store.files(&query))
        .await
        .context("files task failed")??;
    if matches!(args.format, Format::Json) {
        return crate::directory_cmd::json_lines(&list);
    }
    if list.is_empty() {
        outln!("no files match (files come from `skylight sync` with the files component)");
        return Ok(());
    }
    outln!(
        "{:<9} {:<28} {:<22} {:<30} path",
        "access",
        "owner",
        "library",
        "outside domains"
    );
    for f in &list {
        outln!(
            "{:<9} {:<28} {:<22} {:<30} {}",
            f.access.as_str(),
            f.owner.as_deref().unwrap_or("-"),
            f.library_path,
            f.external_domains.join(","),
            f.path
        );
    }
    Ok(())
}
