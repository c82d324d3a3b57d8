//! `skylight activities`: the activity log on the command line, filtered with the same language
//! as the API and policies, streamed page by page (memory does not grow with the result).

use std::io::Write;

use anyhow::Context;
use clap::Args;
use serde_json::json;
use skylight_model::filter::Filter;
use skylight_model::{ActivityRow, Category, Outcome};
use skylight_store::{ActivityQuery, Cursor};

use crate::collect_cmd::StoreArgs;

/// Rows read from the store at a time.
const PAGE: usize = 1_000;

/// Options of `skylight activities`.
#[derive(Debug, Args)]
pub struct ActivitiesArgs {
    /// Conditions, all of which must hold: `FIELD=VALUE[,VALUE…]` (any of), `FIELD!=VALUE[,…]`
    /// (none of), `FIELD=*` / `FIELD!=*` (set / not set), `time=FROM..TO`, `record_type=LO..HI`,
    /// `ip=ADDRESS|CIDR`, `user~PART`, `text~WORDS` (raw record). Fields: time, app, user,
    /// operation, category, record_type, workload, ip, result, actor_kind, admin, external,
    /// impersonated, user_agent, text.
    conditions: Vec<String>,
    /// Only this tenant (its name in the configuration).
    #[arg(long)]
    tenant: Option<String>,
    /// Rows to print, newest first (0: all).
    #[arg(long, default_value_t = 100)]
    limit: usize,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    #[command(flatten)]
    store: StoreArgs,
}

/// Output formats of the activity log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns for people.
    Table,
    /// One JSON object per line.
    Json,
    /// CSV with a header line.
    Csv,
    /// One OCSF event per line (Authentication for sign-ins, API Activity otherwise).
    Ocsf,
}

/// Prints the activities that match.
pub async fn activities(args: ActivitiesArgs) -> anyhow::Result<()> {
    let filter = Filter::parse(&args.conditions)?;
    let store = args.store.open()?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut printed = 0usize;
    let mut after: Option<Cursor> = None;
    if args.format == Format::Table {
        writeln!(
            out,
            "{:<20} {:<14} {:<30} {:<36} {:<16} {:<3} {:<8} {:<16}",
            "time (UTC)", "app", "operation", "user", "ip", "cc", "result", "category"
        )?;
    } else if args.format == Format::Csv {
        writeln!(out, "{}", skylight_server::export::CSV_HEADER)?;
    }
    loop {
        let want = if args.limit == 0 {
            PAGE
        } else {
            (args.limit - printed).min(PAGE)
        };
        let query = ActivityQuery {
            tenant: args.tenant.clone(),
            filter: filter.clone(),
            limit: want,
            after,
        };
        let store = store.clone();
        let page = tokio::task::spawn_blocking(move || store.activities(&query))
            .await
            .context("activity query task failed")??;
        for row in &page.rows {
            print_row(&mut out, row, args.format)?;
        }
        printed += page.rows.len();
        out.flush()?;
        match page.next {
            Some(next) if args.limit == 0 || printed < args.limit => after = Some(next),
            _ => break,
        }
    }
    if printed == 0 && args.format == Format::Table {
        eprintln!(
            "no activity matches (records stored before normalisation have no app or category)"
        );
    }
    Ok(())
}

fn result_name(o: Option<Outcome>) -> &'static str {
    match o {
        Some(Outcome::Success) => "success",
        Some(Outcome::Failure) => "failure",
        _ => "unknown",
    }
}

/// Text for a terminal: control characters (escape sequences in attacker-chosen text) and the
/// invisible formatting characters that can disguise text (bidirectional overrides and isolates,
/// zero-width characters) become `?`.
pub fn printable(s: &str) -> String {
    s.chars()
        .map(|c| {
            let disguise = matches!(
                c,
                '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}'
            );
            if c.is_control() || disguise { '?' } else { c }
        })
        .collect()
}

fn print_row(out: &mut impl Write, r: &ActivityRow, format: Format) -> anyhow::Result<()> {
    let time = r
        .time
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default();
    let app = r.app.map_or("", |a| a.as_str());
    let category = r.category.map_or("", Category::as_str);
    let name = r
        .record_type
        .and_then(skylight_normalize::record_type)
        .map(|(n, _)| n);
    match format {
        Format::Table => {
            let cut = |s: Option<&str>, n: usize| -> String {
                printable(&s.unwrap_or("-").chars().take(n).collect::<String>())
            };
            writeln!(
                out,
                "{:<20} {:<14} {:<30} {:<36} {:<16} {:<3} {:<8} {:<16}",
                time,
                cut(Some(app), 14),
                cut(r.operation.as_deref(), 30),
                cut(r.user.as_deref(), 36),
                cut(r.ip.as_deref(), 16),
                cut(r.country.as_deref(), 3),
                result_name(r.result),
                category
            )?;
        }
        Format::Json => writeln!(out, "{}", skylight_server::activity_json(r))?,
        Format::Csv => writeln!(out, "{}", skylight_server::export::csv_line(r))?,
        Format::Ocsf => writeln!(out, "{}", ocsf(r, name))?,
    }
    Ok(())
}

/// An OCSF 1.x event: Authentication (3002) for sign-ins and sign-outs, API Activity (6003)
/// otherwise.
fn ocsf(r: &ActivityRow, record_type_name: Option<&str>) -> serde_json::Value {
    let (class_uid, category_uid, activity_id) = match r.category {
        Some(Category::Login) => (3002, 3, 1),
        Some(Category::Logout) => (3002, 3, 2),
        Some(Category::FileUpload | Category::MailSend) => (6003, 6, 1),
        Some(
            Category::FileAccess
            | Category::FileDownload
            | Category::MailAccess
            | Category::Search
            | Category::Report,
        ) => (6003, 6, 2),
        Some(Category::FileDelete) => (6003, 6, 4),
        Some(Category::Other) | None => (6003, 6, 99),
        Some(_) => (6003, 6, 3),
    };
    let (status, status_id) = match r.result {
        Some(Outcome::Success) => ("Success", 1),
        Some(Outcome::Failure) => ("Failure", 2),
        _ => ("Unknown", 0),
    };
    json!({
        "class_uid": class_uid,
        "category_uid": category_uid,
        "activity_id": activity_id,
        "type_uid": class_uid * 100 + activity_id,
        "severity_id": 1,
        "time": r.time.map(|t| t.timestamp_millis()),
        "status": status,
        "status_id": status_id,
        "actor": {"user": {"name": r.user}},
        "user": {"name": r.user},
        "src_endpoint": {"ip": r.ip, "location": {"country": r.country}, "autonomous_system": {"name": r.isp}},
        "http_request": {"user_agent": r.user_agent},
        "api": {"operation": r.operation, "service": {"name": r.workload}},
        "cloud": {"provider": "Microsoft", "account": {"name": r.tenant}},
        "metadata": {
            "uid": r.id,
            "version": "1.3.0",
            "product": {"name": "Microsoft 365", "vendor_name": "Microsoft", "feature": {"name": record_type_name}},
            "log_name": r.app.map(|a| a.display_name()),
        },
        "unmapped": {"record_type": r.record_type, "category": r.category.map(Category::as_str)},
    })
}

#[cfg(test)]
mod tests {
    use super::printable;

    #[test]
    fn terminal_text_hides_escapes_and_disguises() {
        assert_eq!(printable("ok\u{1b}[31m"), "ok?[31m");
        // A right-to-left override would show `invoice_exe.pdf` for `invoice_fdp.exe`.
        assert_eq!(printable("invoice_\u{202E}fdp.exe"), "invoice_?fdp.exe");
        assert_eq!(printable("a\u{200B}b"), "a?b");
        assert_eq!(printable("Zoë 東京"), "Zoë 東京");
    }
}
