//! Bursts: failed sign-ins (per user and per address), downloads, deletions, shares, and the
//! rename storms of ransomware. A burst alerts when it passes a floor (scaled by sensitivity)
//! and twice the user's own usual peak, learnt from the bursts that raised nothing.

use skylight_model::Category;

use super::{Anomalies, Sensitivity, hit, user_finding};
use crate::event::Event;
use crate::incident::{Finding, Hit};
use crate::packed::Packed;
use crate::state::State;
use crate::window::{Entry, Span};

/// (detection, category counted, window in minutes, floor at medium sensitivity).
const BURSTS: [(&str, Category, i64, f64); 3] = [
    ("mass_download", Category::FileDownload, 15, 50.0),
    ("mass_delete", Category::FileDelete, 15, 50.0),
    ("mass_share", Category::FileShare, 30, 20.0),
];

/// Failed sign-ins of one user: window (minutes) and floor.
const FAILED: (i64, f64) = (10, 10.0);
/// Accounts failing from one address: window (minutes) and floor.
const SPRAY: (i64, f64) = (30, 10.0);
/// Renames to one unusual extension: window (minutes) and floor; a known ransomware extension
/// needs fewer.
const RENAMES: (i64, f64, f64) = (10, 20.0, 3.0);
/// Uploads and deletions by one user, each at least this many within the window (minutes): the
/// encrypt-a-copy-then-delete-the-original pattern.
const REPLACE: (i64, f64) = (10, 30.0);

/// Extensions ransomware families append (public incident write-ups).
const RANSOM_EXTENSIONS: [&str; 32] = [
    "locky",
    "zepto",
    "odin",
    "thor",
    "aesir",
    "osiris",
    "wncry",
    "wcry",
    "wnry",
    "cerber",
    "cerber3",
    "crypt",
    "crypted",
    "cryptolocker",
    "encrypted",
    "enc",
    "locked",
    "crinf",
    "r5a",
    "xrtn",
    "xtbl",
    "vvv",
    "ccc",
    "zzzzz",
    "micro",
    "ecc",
    "exx",
    "ezz",
    "crysis",
    "dharma",
    "ryk",
    "lockbit",
];

/// Extensions people use every day: a rename to one of these is not suspicious.
const COMMON_EXTENSIONS: [&str; 40] = [
    "doc", "docx", "docm", "dot", "dotx", "xls", "xlsx", "xlsm", "xlsb", "csv", "ppt", "pptx",
    "pptm", "pdf", "txt", "rtf", "md", "one", "vsdx", "msg", "eml", "png", "jpg", "jpeg", "gif",
    "bmp", "svg", "mp4", "mov", "mp3", "wav", "zip", "7z", "json", "xml", "html", "htm", "log",
    "bak", "tmp",
];

/// Words in the names of ransom notes.
const RANSOM_NOTES: [&str; 10] = [
    "decrypt",
    "ransom",
    "restore_files",
    "restore-my-files",
    "recover_files",
    "how_to_recover",
    "how_to_back_files",
    "your_files_are",
    "_readme.txt",
    "!!!_read",
];

fn floor(base: f64, s: Sensitivity) -> usize {
    (base * s.factor()).ceil().max(1.0) as usize
}

/// Adds the event to a user's window and decides against floor and peak.
#[allow(clippy::too_many_arguments)]
fn burst(
    state: &mut State,
    e: &Event,
    key: &str,
    width_min: i64,
    floor: usize,
    what: String,
    distinct: bool,
) -> Option<(Span, u32)> {
    let user = state.user(&e.row.tenant, &e.user);
    let width = width_min * 60_000;
    let span = user.windows.entry(key.to_owned()).or_default().add(
        Entry {
            ms: e.ms,
            id: e.id().into(),
            what: what.into(),
        },
        width,
        width * 2,
        distinct,
    );
    let p = user.peaks.entry(key.to_owned()).or_default();
    if e.ms > p.current_end_ms + width {
        // The previous burst is over: it joins the baseline.
        p.peak = p.peak.max(p.current);
        p.current = 0;
    }
    let peak = p.peak;
    let threshold = floor.max(2 * peak as usize);
    if span.count >= threshold {
        Some((span, peak))
    } else {
        p.current = p.current.max(u32::try_from(span.count).unwrap_or(u32::MAX));
        p.current_end_ms = p.current_end_ms.max(e.ms);
        None
    }
}

fn hits(e: &Event, span: &Span) -> Vec<Hit> {
    span.entries
        .iter()
        .map(|x| Hit {
            id: x.id.to_string(),
            ms: x.ms,
            ip: if x.id == e.id() {
                e.row.ip.clone()
            } else {
                None
            },
            country: if x.id == e.id() {
                e.row.country.clone()
            } else {
                None
            },
        })
        .collect()
}

fn usual(peak: u32) -> String {
    if peak == 0 {
        "none before".into()
    } else {
        format!("usual peak {peak}")
    }
}

/// A file's extension, lowercase.
fn extension(name: &str) -> Option<String> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    base.rsplit_once('.')
        .map(|(_, x)| x.trim().to_ascii_lowercase())
        .filter(|x| !x.is_empty() && x.len() <= 16)
}

pub(super) fn evaluate(
    a: &Anomalies,
    e: &Event,
    state: &mut State,
    out: &mut Vec<(&'static str, Finding)>,
) {
    if e.user.is_empty() {
        return;
    }
    let category = e.row.category.unwrap_or_else(|| e.activity().category);
    let failed = e.failed();

    if failed && category == Category::Login {
        if let Some(s) = a.on("failed_sign_ins", e)
            && let Some((span, peak)) = burst(
                state,
                e,
                "failed_sign_ins",
                FAILED.0,
                floor(FAILED.1, s),
                String::new(),
                false,
            )
        {
            out.push((
                "failed_sign_ins",
                user_finding(
                    e,
                    hits(e, &span),
                    format!(
                        "{} failed sign-ins within {} minutes ({}); last reason: {}",
                        span.count,
                        FAILED.0,
                        usual(peak),
                        e.activity()
                            .failure_reason
                            .as_deref()
                            .unwrap_or("not given")
                    ),
                ),
            ));
        }
        if let Some(s) = a.on("password_spray", e)
            && let Some(ip) = e.row.ip.clone()
        {
            let width = SPRAY.0 * 60_000;
            let span = state
                .address(&e.row.tenant, &ip)
                .entry("password_spray".into())
                .or_default()
                .add(
                    Entry {
                        ms: e.ms,
                        id: e.id().into(),
                        what: e.user.as_str().into(),
                    },
                    width,
                    width * 2,
                    true,
                );
            let (from, to) = (
                span.entries.first().map_or(e.ms, |x| x.ms),
                span.entries.last().map_or(e.ms, |x| x.ms),
            );
            let succeeded = state
                .addresses
                .get(&format!("{}|{ip}", e.row.tenant))
                .and_then(|w| w.get("sign_in_ok"))
                .map_or(0, |w| w.count_between(from, to));
            // An office's or a VPN's shared address sees failures among many successes; a
            // spraying address fails almost always.
            let corporate = e.row.ip_tags.as_deref().is_some_and(|t| {
                t.split('|')
                    .any(|p| p.eq_ignore_ascii_case("corporate") || p.eq_ignore_ascii_case("vpn"))
            });
            if span.count >= floor(SPRAY.1, s) && succeeded * 4 <= span.count && !corporate {
                let mut users: Vec<String> =
                    span.entries.iter().map(|x| x.what.to_string()).collect();
                users.sort();
                users.dedup();
                out.push((
                    "password_spray",
                    Finding {
                        subject: ip.clone(),
                        facts: vec![format!(
                            "{} accounts failed to sign in from {ip} within {} minutes; {succeeded} sign-ins from it succeeded meanwhile",
                            users.len(),
                            SPRAY.0
                        )],
                        users,
                        hits: span
                            .entries
                            .iter()
                            .map(|x| Hit {
                                id: x.id.to_string(),
                                ms: x.ms,
                                ip: Some(ip.clone()),
                                country: None,
                            })
                            .collect(),
                    },
                ));
            }
        }
        return;
    }
    if failed {
        return;
    }
    // Successful sign-ins count only where failures are being watched (a spray suspect).
    if category == Category::Login
        && let Some(ip) = e.row.ip.as_deref()
    {
        let key = format!("{}|{ip}", e.row.tenant);
        if state
            .addresses
            .get(&key)
            .is_some_and(|w| w.get("password_spray").is_some_and(|w| !w.is_empty()))
        {
            state
                .address(&e.row.tenant, ip)
                .entry("sign_in_ok".into())
                .or_default()
                .add(
                    Entry {
                        ms: e.ms,
                        id: e.id().into(),
                        what: Packed::default(),
                    },
                    SPRAY.0 * 60_000,
                    SPRAY.0 * 120_000,
                    false,
                );
        }
    }

    for (id, cat, minutes, base) in BURSTS {
        if category != cat {
            continue;
        }
        if let Some(s) = a.on(id, e)
            && let Some((span, peak)) =
                burst(state, e, id, minutes, floor(base, s), String::new(), false)
        {
            out.push((
                id,
                user_finding(
                    e,
                    hits(e, &span),
                    format!(
                        "{} {} activities within {minutes} minutes ({})",
                        span.count,
                        cat.as_str().replace('_', " "),
                        usual(peak)
                    ),
                ),
            ));
        }
    }

    let Some(s) = a.on("ransomware", e) else {
        return;
    };
    let op = e.operation();
    let replacing = if op.eq_ignore_ascii_case("FileUploaded") {
        Some("uploads")
    } else if op.eq_ignore_ascii_case("FileDeleted") {
        Some("deletes")
    } else {
        None
    };
    if let Some(kind) = replacing {
        let width = REPLACE.0 * 60_000;
        let user = state.user(&e.row.tenant, &e.user);
        let span = user
            .windows
            .entry(format!("replace_{kind}"))
            .or_default()
            .add(
                Entry {
                    ms: e.ms,
                    id: e.id().into(),
                    what: Packed::default(),
                },
                width,
                width * 2,
                false,
            );
        let other = if kind == "uploads" {
            "deletes"
        } else {
            "uploads"
        };
        let (from, to) = (
            span.entries.first().map_or(e.ms, |x| x.ms),
            span.entries.last().map_or(e.ms, |x| x.ms),
        );
        let others = user
            .windows
            .get(&format!("replace_{other}"))
            .map_or(0, |w| w.count_between(from - width / 2, to + width / 2));
        let need = floor(REPLACE.1, s);
        if span.count >= need && others >= need {
            let (uploads, deletes) = if kind == "uploads" {
                (span.count, others)
            } else {
                (others, span.count)
            };
            out.push((
                "ransomware",
                user_finding(
                    e,
                    hits(e, &span),
                    format!(
                        "{uploads} uploads and {deletes} deletions within about {} minutes: files replaced in bulk",
                        REPLACE.0
                    ),
                ),
            ));
        }
    }
    if op.eq_ignore_ascii_case("FileUploaded") || op.eq_ignore_ascii_case("FileCreated") {
        let name = e
            .field("SourceFileName")
            .or_else(|| e.field("ObjectId"))
            .unwrap_or_default()
            .to_ascii_lowercase();
        let base = name.rsplit(['/', '\\']).next().unwrap_or(&name).to_owned();
        if let Some(word) = RANSOM_NOTES.iter().find(|w| base.contains(*w)) {
            out.push((
                "ransomware",
                user_finding(
                    e,
                    vec![hit(e)],
                    format!("uploaded `{base}`, named like a ransom note (`{word}`)"),
                ),
            ));
        }
    }
    if op.eq_ignore_ascii_case("FileRenamed") {
        let new = e
            .field("DestinationFileExtension")
            .map(|x| x.trim_start_matches('.').to_ascii_lowercase())
            .or_else(|| e.field("DestinationFileName").and_then(|n| extension(&n)));
        let old = e
            .field("SourceFileExtension")
            .map(|x| x.trim_start_matches('.').to_ascii_lowercase())
            .or_else(|| e.field("SourceFileName").and_then(|n| extension(&n)));
        let Some(new) = new else {
            return;
        };
        if Some(&new) == old.as_ref() || COMMON_EXTENSIONS.contains(&new.as_str()) {
            return;
        }
        let known = RANSOM_EXTENSIONS.contains(&new.as_str());
        let need = floor(if known { RENAMES.2 } else { RENAMES.1 }, s);
        let key = format!("renamed_to:{new}");
        let what = e.field("SourceFileName").unwrap_or_default();
        let user = state.user(&e.row.tenant, &e.user);
        let width = RENAMES.0 * 60_000;
        let span = user.windows.entry(key).or_default().add(
            Entry {
                ms: e.ms,
                id: e.id().into(),
                what: what.into(),
            },
            width,
            width * 2,
            true,
        );
        if span.count >= need {
            out.push((
                "ransomware",
                user_finding(
                    e,
                    hits(e, &span),
                    format!(
                        "{} files renamed to `.{new}` within {} minutes{}",
                        span.count,
                        RENAMES.0,
                        if known {
                            ", an extension ransomware appends"
                        } else {
                            ""
                        }
                    ),
                ),
            ));
        }
    }
}
