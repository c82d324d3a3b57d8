//! Groups with their members and delta, and directory roles (contract §4.4).

use serde_json::{Value, json};

use crate::graph::GraphState;
use crate::graph::ops::{err, no_object};
use crate::http::graph::query::matches;
use crate::http::graph::render::{self, select};
use crate::http::graph::{Ctx, Reply, context, ok, page};

use super::directory::*;

/// `/groups…`
pub fn groups(c: &Ctx<'_>, st: &mut GraphState, key: Option<String>) -> Reply {
    let (id, rest) = match key {
        Some(k) => (Some(k), &c.segs[1..]),
        None => (c.segs.get(1).cloned(), c.segs.get(2..).unwrap_or_default()),
    };
    let Some(id) = id else {
        c.require(GROUP_READ)?;
        if c.method != "GET" {
            return Err(err(
                405,
                "Request_BadRequest",
                "Creating groups is not supported by the simulator.",
            ));
        }
        check_options(c)?;
        let sel = c.q.select();
        let conds = filter(c, GROUP_FILTERS, "Group")?;
        let top = c.q.top(100, 999, "Request_BadRequest")?;
        let rows = st
            .groups
            .values()
            .filter_map(|g| {
                let full = render::group_full(g);
                matches(&conds, &Value::Object(full.clone()))
                    .then(|| (g.id.clone(), select(full, sel.as_deref(), None)))
            })
            .collect();
        return page(c, "groups", &context("groups", sel.as_deref()), rows, top);
    };
    if (id == "delta" || id == "delta()") && rest.is_empty() {
        c.require(GROUP_READ)?;
        return groups_delta(c, st);
    }
    let group = st.groups.get(&id).cloned().ok_or_else(|| no_object(&id))?;
    if c.method != "GET" && !matches!(rest.first().map(String::as_str), Some("drive" | "drives")) {
        return Err(err(
            405,
            "Request_BadRequest",
            "Changing groups is not supported by the simulator.",
        ));
    }
    match rest.first().map(String::as_str) {
        None => {
            c.require(GROUP_READ)?;
            let sel = c.q.select();
            let mut v = select(render::group_full(&group), sel.as_deref(), None);
            v["@odata.context"] = json!(format!("{}/$metadata#groups/$entity", c.base));
            ok(v)
        }
        Some("members") => {
            c.require(GROUP_READ)?;
            member_list(
                c,
                st,
                group.members.iter().cloned().collect(),
                rest.get(1).map(String::as_str),
            )
        }
        Some("transitiveMembers") => {
            c.require(GROUP_READ)?;
            member_list(
                c,
                st,
                st.transitive_members(&group.id),
                rest.get(1).map(String::as_str),
            )
        }
        Some("owners") => {
            c.require(GROUP_READ)?;
            member_list(c, st, group.owners.clone(), rest.get(1).map(String::as_str))
        }
        Some(rel @ ("memberOf" | "transitiveMemberOf")) => {
            c.require(GROUP_READ)?;
            let ids = if rel == "memberOf" {
                st.member_of(&group.id)
            } else {
                st.transitive_member_of(&group.id)
            };
            member_list(c, st, ids, rest.get(1).map(String::as_str))
        }
        Some("drive" | "drives") => super::files::owner_drive(c, st, &group.id, rest),
        Some("sites") if rest.get(1).map(String::as_str) == Some("root") => {
            super::files::group_site(c, st, &group)
        }
        _ => Err(err(
            400,
            "BadRequest",
            format!("Unsupported request {} {}.", c.method, c.path),
        )),
    }
}

fn groups_delta(c: &Ctx<'_>, st: &GraphState) -> Reply {
    let (token, latest) = delta_params(c)?;
    let Some(round) = delta_round(c, st, "groups", "", token.as_deref(), latest)? else {
        return latest_link(c, st, "groups", "groups", "/groups/delta");
    };
    let only = id_filter(c)?;
    let sel: Option<Vec<String>> =
        (!round.select.is_empty()).then(|| round.select.split(',').map(String::from).collect());
    let with_members = sel
        .as_ref()
        .is_none_or(|s| s.iter().any(|x| x.eq_ignore_ascii_case("members")));
    let props: Option<Vec<String>> = sel.as_ref().map(|s| {
        s.iter()
            .filter(|x| !x.eq_ignore_ascii_case("members"))
            .cloned()
            .collect()
    });
    let wanted = |id: &str| only.as_ref().is_none_or(|o| o.iter().any(|x| x == id));
    let in_round = |seq: u64| seq > round.since && seq <= round.upto;
    let kind_of = |id: &str| {
        if st.groups.contains_key(id) || st.removed_groups.contains_key(id) {
            "#microsoft.graph.group"
        } else {
            "#microsoft.graph.user"
        }
    };
    let mut rows: Vec<(u64, String)> = st
        .groups
        .values()
        .filter(|g| in_round(g.seq) && wanted(&g.id))
        .map(|g| (g.seq, g.id.clone()))
        .collect();
    if round.since > 0 {
        rows.extend(
            st.removed_groups
                .iter()
                .filter(|(id, r)| in_round(r.seq) && wanted(id))
                .map(|(id, r)| (r.seq, id.clone())),
        );
    }
    let show = |id: &str| {
        let Some(g) = st.groups.get(id) else {
            let reason = st.removed_groups.get(id).map_or("deleted", |r| r.reason);
            return json!({"id": id, "@removed": {"reason": reason}});
        };
        let mut v = select(render::group_full(g), props.as_deref(), None);
        if with_members {
            let delta: Vec<Value> = if round.since == 0 {
                g.members
                    .iter()
                    .map(|m| json!({"@odata.type": kind_of(m), "id": m}))
                    .collect()
            } else {
                // The net change of each member in the round: added, or removed.
                let mut last: std::collections::BTreeMap<&str, bool> = Default::default();
                for ch in st
                    .membership_log
                    .iter()
                    .filter(|ch| ch.group == g.id && in_round(ch.seq))
                {
                    last.insert(&ch.member, ch.added);
                }
                last.into_iter()
                    .map(|(m, added)| {
                        if added {
                            json!({"@odata.type": kind_of(m), "id": m})
                        } else {
                            json!({"@odata.type": kind_of(m), "id": m, "@removed": {"reason": "deleted"}})
                        }
                    })
                    .collect()
            };
            v["members@delta"] = Value::Array(delta);
        }
        v
    };
    delta_page(
        c,
        st,
        &round,
        rows,
        &show,
        &context("groups", sel.as_deref()),
        "/groups/delta",
    )
}

/// `/directoryRoles…`
pub fn roles(c: &Ctx<'_>, st: &mut GraphState, key: Option<String>) -> Reply {
    c.require(ROLE_READ)?;
    if c.method != "GET" {
        return Err(err(
            405,
            "Request_BadRequest",
            "Changing directory roles is not supported by the simulator.",
        ));
    }
    let (id, rest) = match key {
        Some(k) => (Some(k), &c.segs[1..]),
        None => (c.segs.get(1).cloned(), c.segs.get(2..).unwrap_or_default()),
    };
    let Some(id) = id else {
        let rows = st
            .roles
            .iter()
            .map(|r| (r.id.clone(), Value::Object(render::role_full(r))))
            .collect();
        return page(c, "roles", "directoryRoles", rows, 999);
    };
    let role = st
        .roles
        .iter()
        .find(|r| r.id == id || r.template_id == id)
        .cloned()
        .ok_or_else(|| no_object(&id))?;
    match rest.first().map(String::as_str) {
        None => {
            let mut v = Value::Object(render::role_full(&role));
            v["@odata.context"] = json!(format!("{}/$metadata#directoryRoles/$entity", c.base));
            ok(v)
        }
        Some("members") => member_list(
            c,
            st,
            role.members.iter().cloned().collect(),
            rest.get(1).map(String::as_str),
        ),
        _ => Err(err(
            400,
            "BadRequest",
            format!("Unsupported request {} {}.", c.method, c.path),
        )),
    }
}
