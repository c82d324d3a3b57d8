//! `skylight import FILE…`: loads audit records from files into the store, with the same
//! de-duplication as collection.
//!
//! Each file's records are grouped per content type into chunks of at most [`CHUNK`] records,
//! each committed as a blob named `import:{SHA-256 of the file}:{chunk number}`, so importing the
//! same file again changes nothing (records are keyed by tenant and Id in any case). What cannot
//! be read is quarantined in the store and printed as `FILE:LINE: reason` on stderr.

use crate::out::outln;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use skylight_m365::import::{self, Entry, Format, ImportError};
use skylight_model::{AuditRecord, BlobRef, ContentType};
use skylight_store::Store;

/// Most records committed in one transaction.
pub const CHUNK: usize = 5_000;

/// Options of `skylight import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Files to import: Management Activity API JSON (content blobs, single records), NDJSON, or
    /// Purview audit-search CSV exports (the record is in the AuditData column). Envelopes written
    /// by SIEMs (`event.original`, `o365audit`, `record`, `log`, `AuditData`) are unwrapped. The
    /// format is recognised from the content.
    #[arg(value_name = "FILE", required = true)]
    files: Vec<PathBuf>,
    #[command(flatten)]
    store: crate::collect_cmd::StoreArgs,
    /// Tenant name the records are stored under.
    #[arg(long, default_value = "imported")]
    tenant: String,
}

/// What importing one file did.
#[derive(Debug, Default, Clone, Copy)]
struct Summary {
    read: u64,
    new: u64,
    duplicates: u64,
    problems: u64,
}

impl Summary {
    fn add(&mut self, other: &Summary) {
        self.read += other.read;
        self.new += other.new;
        self.duplicates += other.duplicates;
        self.problems += other.problems;
    }
}

/// Why a file's import stopped.
enum FileError {
    /// The file could not be read (or its format was not recognised): reported, others go on.
    Unreadable(String),
    /// The store failed: nothing more can be imported.
    Store(anyhow::Error),
}

/// Imports every file; reports each file's records, new records, duplicates and problems.
pub async fn import(args: ImportArgs) -> anyhow::Result<()> {
    tokio::task::spawn_blocking(move || run(&args))
        .await
        .context("the import task failed")?
}

fn run(args: &ImportArgs) -> anyhow::Result<()> {
    let store = args.store.open()?;
    // Imported records get the built-in enrichment (country, user agent) like collected ones.
    let enricher = skylight_enrich::Enricher::builtin_only()?;
    let mut total = Summary::default();
    let mut unreadable = Vec::new();
    for path in &args.files {
        let name = path.display().to_string();
        match import_file(store.as_ref(), &enricher, &args.tenant, path) {
            Ok((format, s)) => {
                outln!(
                    "{name}: {format}: {} read, {} new, {} duplicates, {} problems",
                    s.read,
                    s.new,
                    s.duplicates,
                    s.problems
                );
                total.add(&s);
            }
            Err(FileError::Unreadable(why)) => {
                eprintln!("{name}: cannot be imported: {why}");
                unreadable.push(name);
            }
            Err(FileError::Store(e)) => {
                return Err(e.context(format!("importing {name}")));
            }
        }
    }
    if args.files.len() > 1 {
        outln!(
            "total: {} files: {} read, {} new, {} duplicates, {} problems",
            args.files.len(),
            total.read,
            total.new,
            total.duplicates,
            total.problems
        );
    }
    if total.problems > 0 {
        eprintln!(
            "{} problems were kept aside in the store's quarantine (tenant {})",
            total.problems, args.tenant
        );
    }
    if !unreadable.is_empty() {
        anyhow::bail!(
            "{} of {} files could not be imported: {}",
            unreadable.len(),
            args.files.len(),
            unreadable.join(", ")
        );
    }
    Ok(())
}

/// Imports one file in chunks per content type.
fn import_file(
    store: &dyn Store,
    enricher: &skylight_enrich::Enricher,
    tenant: &str,
    path: &Path,
) -> Result<(Format, Summary), FileError> {
    let digest = import::file_digest(path).map_err(|e| FileError::Unreadable(e.to_string()))?;
    let mut batch = Batch {
        store,
        enricher,
        tenant,
        digest,
        chunk: 0,
        pending: BTreeMap::new(),
        summary: Summary::default(),
    };
    let result = import::read_path(path, |entry| batch.take(entry));
    // Whatever was read before a read error is kept.
    let flushed = batch.flush_all();
    match result {
        Ok(format) => {
            flushed.map_err(FileError::Store)?;
            Ok((format, batch.summary))
        }
        Err(ImportError::Sink(e)) => Err(FileError::Store(e)),
        Err(ImportError::Read(e)) => {
            flushed.map_err(FileError::Store)?;
            Err(FileError::Unreadable(e.to_string()))
        }
    }
}

/// Records waiting to be committed, per content type.
struct Batch<'a> {
    store: &'a dyn Store,
    enricher: &'a skylight_enrich::Enricher,
    tenant: &'a str,
    digest: String,
    chunk: u64,
    pending: BTreeMap<ContentType, Vec<AuditRecord>>,
    summary: Summary,
}

impl Batch<'_> {
    fn take(&mut self, entry: Entry) -> anyhow::Result<()> {
        match entry {
            Entry::Record(r) => {
                self.summary.read += 1;
                let ct = r.content_type;
                let mut record = r.record;
                // The same normalised columns as collected records (the importer's own reading
                // stays when the normaliser cannot add to it).
                if let Ok(mut columns) = skylight_normalize::record_columns(&record.raw) {
                    self.enricher.enrich(&mut columns);
                    record.columns = columns;
                }
                let full = {
                    let list = self.pending.entry(ct).or_default();
                    list.push(record);
                    list.len() >= CHUNK
                };
                if full {
                    self.flush(ct)?;
                }
            }
            Entry::Problem(p) => {
                self.summary.problems += 1;
                eprintln!("{p}");
                self.store
                    .quarantine(
                        self.tenant,
                        &format!("{}:{}", p.file, p.line),
                        &p.reason,
                        &p.raw,
                    )
                    .context("cannot quarantine a problem")?;
            }
        }
        Ok(())
    }

    fn flush(&mut self, ct: ContentType) -> anyhow::Result<()> {
        let Some(records) = self.pending.remove(&ct) else {
            return Ok(());
        };
        if records.is_empty() {
            return Ok(());
        }
        let blob = BlobRef {
            content_id: format!("import:{}:{}", self.digest, self.chunk),
            created: chrono::Utc::now(),
        };
        self.chunk += 1;
        let stats = self
            .store
            .commit_blob(self.tenant, ct, &blob, &records)
            .with_context(|| format!("cannot store {} {} records", records.len(), ct.as_str()))?;
        self.summary.new += stats.inserted;
        self.summary.duplicates += stats.duplicates;
        Ok(())
    }

    fn flush_all(&mut self) -> anyhow::Result<()> {
        for ct in ContentType::ALL {
            self.flush(ct)?;
        }
        Ok(())
    }
}
