//! Drive delta (contract §4.2, §4.5): rounds over a library's change numbers, `token=latest`
//! and `token=<time>`, tombstones, and 410 with a fresh enumeration when a token is gone.

use axum::http::{HeaderValue, header};
use serde_json::json;

use crate::graph::GraphState;
use crate::graph::ops::{err, no_item};
use crate::graph::tokens::DeltaToken;
use crate::http::graph::render::{self, ItemMode, item_select};
use crate::http::graph::{Ctx, Reply, ok};

/// `GET /drives/{id}/root/delta` (contract §4.2, §4.5).
pub(super) fn delta(c: &Ctx<'_>, st: &GraphState, drive_id: &str, token: Option<String>) -> Reply {
    let d = st.drives.get(drive_id).ok_or_else(no_item)?;
    let link = |t: &DeltaToken| {
        c.link(&format!(
            "/drives/{drive_id}/root/delta?token={}",
            t.encode(c.seed)
        ))
    };
    let fresh = |since: u64| DeltaToken {
        kind: "drive".into(),
        scope: drive_id.to_string(),
        since,
        upto: st.seq,
        after: None,
        issued: c.now.timestamp(),
        select: c.q.select().map(|s| s.join(",")).unwrap_or_default(),
        next: true,
    };
    let round = match token.as_deref() {
        None => fresh(0),
        Some(t) if t.eq_ignore_ascii_case("latest") => {
            let done = DeltaToken {
                next: false,
                upto: 0,
                ..fresh(st.seq)
            };
            return ok(json!({
                "@odata.context": format!("{}/$metadata#Collection(driveItem)", c.base),
                "@odata.deltaLink": link(&done),
                "value": [],
            }));
        }
        Some(t) if chrono::DateTime::parse_from_rfc3339(t).is_ok() => {
            let at = chrono::DateTime::parse_from_rfc3339(t)
                .map(|x| x.with_timezone(&chrono::Utc))
                .unwrap_or(c.now);
            fresh(st.seq_at(at))
        }
        Some(t) => {
            let decoded =
                DeltaToken::decode(c.seed, t).filter(|x| x.kind == "drive" && x.scope == drive_id);
            let expired = decoded.as_ref().is_none_or(|x| {
                c.now.timestamp() - x.issued > st.settings.delta_token_lifetime_secs
                    || x.since > st.seq
            });
            match decoded {
                Some(x) if !expired => {
                    if x.next {
                        x
                    } else {
                        DeltaToken {
                            upto: st.seq,
                            after: None,
                            issued: c.now.timestamp(),
                            next: true,
                            ..x
                        }
                    }
                }
                _ => {
                    // 410 Gone with a fresh enumeration in `Location` (contract §4.2).
                    let mut e = err(
                        410,
                        "resyncRequired",
                        "Resync required. Replace any local items with the server's version (including deletes) if you're sure that the service was up to date with your local changes when you last sync'd. Upload any local changes that the server doesn't know about.",
                    );
                    e.inner = Some("resyncChangesApplyDifferences");
                    let mut r = c.error(&e);
                    if let Ok(v) = HeaderValue::from_str(&link(&fresh(0))) {
                        r.headers_mut().insert(header::LOCATION, v);
                    }
                    return Ok(r);
                }
            }
        }
    };
    let top =
        c.q.top(st.settings.delta_page_size.max(1), 1000, "invalidRequest")?;
    let sel: Option<Vec<String>> =
        (!round.select.is_empty()).then(|| round.select.split(',').map(String::from).collect());
    let sharing = c
        .header("prefer")
        .is_some_and(|p| p.to_ascii_lowercase().contains("deltashowsharingchanges"));
    let in_round = |seq: u64| seq > round.since && seq <= round.upto;
    let mut rows: Vec<(u64, String)> = d
        .items
        .values()
        .filter(|i| in_round(i.seq))
        .map(|i| (i.seq, i.id.clone()))
        .collect();
    if round.since > 0 {
        rows.extend(
            d.removed
                .iter()
                .filter(|(_, (s, _))| in_round(*s))
                .map(|(id, (s, _))| (*s, id.clone())),
        );
    }
    rows.sort();
    let start = match &round.after {
        Some((s, id)) => rows.partition_point(|(rs, rid)| (*rs, rid.as_str()) <= (*s, id.as_str())),
        None => 0,
    };
    let end = (start + top).min(rows.len());
    // Only the page is rendered: a large library costs one page of work per request.
    let show = |id: &str| match (d.items.get(id), d.removed.get(id)) {
        (Some(i), _) => {
            let mut v = item_select(render::item_full(st, d, i, ItemMode::Delta), sel.as_deref());
            if sharing && round.since > 0 && in_round(i.shared_seq) {
                v["@microsoft.graph.sharedChanged"] = json!("True");
            }
            v
        }
        (None, Some((_, parent))) => render::deleted_item(d, id, parent.as_deref()),
        (None, None) => render::deleted_item(d, id, None),
    };
    let mut body = json!({
        "@odata.context": format!("{}/$metadata#Collection(driveItem)", c.base),
        "value": super::replay(c, st, start, round.since)
            .then(|| &rows[start - 1])
            .into_iter()
            .chain(&rows[start..end])
            .map(|r| show(&r.1))
            .collect::<Vec<_>>(),
    });
    if end < rows.len() {
        let next = DeltaToken {
            after: Some(rows[end - 1].clone()),
            ..round
        };
        body["@odata.nextLink"] = json!(link(&next));
    } else {
        let done = DeltaToken {
            since: round.upto,
            upto: 0,
            after: None,
            issued: c.now.timestamp(),
            next: false,
            ..round
        };
        body["@odata.deltaLink"] = json!(link(&done));
    }
    ok(body)
}
