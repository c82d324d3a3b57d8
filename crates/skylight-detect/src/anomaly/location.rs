//! Where users act from: impossible travel, infrequent countries, risky addresses. Like Defender
//! for Cloud Apps, these ignore failed activities (a failed sign-in from far away is someone else
//! trying, which the sign-in detections cover) and activities by services.

use skylight_model::ActorKind;

use super::{Anomalies, Sensitivity, hit, thousands, user_finding, when};
use crate::event::Event;
use crate::geo;
use crate::incident::{Finding, Hit};
use crate::state::{Place, Seen, State, insert_newest};

/// Located activities kept per user.
const MAX_PLACES: usize = 32;
/// How far back places are kept (ms).
const PLACES_KEEP_MS: i64 = crate::window::KEEP_MS;
/// Faster than an airliner, door to door (km/h).
const MAX_SPEED_KMH: f64 = 1_000.0;

fn min_distance_km(s: Sensitivity) -> f64 {
    match s {
        Sensitivity::Low => 3_000.0,
        Sensitivity::Medium => 1_500.0,
        Sensitivity::High => 500.0,
    }
}

fn tagged(e: &Event, category: &str) -> bool {
    e.row
        .ip_tags
        .as_deref()
        .is_some_and(|t| t.split('|').any(|p| p.eq_ignore_ascii_case(category)))
}

/// Whether the event counts for location detections.
fn located(e: &Event) -> bool {
    !e.failed()
        && !e.user.is_empty()
        && e.row.country.is_some()
        && !matches!(
            e.row.actor_kind,
            Some(ActorKind::System | ActorKind::Application)
        )
}

fn place_hit(p: &Place) -> Hit {
    Hit {
        id: p.id.to_string(),
        ms: p.ms,
        ip: Some(p.ip.to_string()),
        country: Some(p.country.to_string()),
    }
}

fn minutes(ms: i64) -> String {
    let m = ms.abs() / 60_000;
    if m < 120 {
        format!("{m} minutes")
    } else {
        format!("{:.1} hours", ms.abs() as f64 / 3_600_000.0)
    }
}

pub(super) fn evaluate(
    a: &Anomalies,
    e: &Event,
    state: &mut State,
    out: &mut Vec<(&'static str, Finding)>,
) {
    if !located(e) {
        return;
    }
    let tenant = e.row.tenant.clone();
    let country = e.row.country.clone().unwrap_or_default();
    let ip = e.row.ip.clone().unwrap_or_default();
    let learning_ms = a.learning_ms;
    let user = state.user(&tenant, &e.user);
    let first_ms = *user.first_ms.get_or_insert(e.ms);
    user.first_ms = Some(first_ms.min(e.ms));

    if let Some(s) = a.on("risky_ip", e)
        && tagged(e, "risky")
    {
        let _ = s;
        let names: Vec<&str> = e
            .row
            .ip_tags
            .as_deref()
            .unwrap_or_default()
            .split('|')
            .filter_map(|p| p.strip_prefix("name:"))
            .collect();
        out.push((
            "risky_ip",
            user_finding(
                e,
                vec![hit(e)],
                format!(
                    "{} from {ip}, in the risky range {}",
                    e.operation(),
                    names.join(", ")
                ),
            ),
        ));
    }

    if let Some(s) = a.on("impossible_travel", e) {
        let place = Place {
            ms: e.ms,
            country: country.as_str().into(),
            ip: ip.as_str().into(),
            id: e.id().into(),
            safe: tagged(e, "corporate") || tagged(e, "vpn") || tagged(e, "cloud_provider"),
        };
        let vpn = tagged(e, "vpn");
        let places = &mut user.places;
        let pos = places.partition_point(|p| p.ms <= e.ms);
        // The nearest activity before and after, in another country.
        let before = places[..pos].iter().rev().find(|p| p.country != country);
        let after = places[pos..].iter().find(|p| p.country != country);
        for other in [before, after].into_iter().flatten() {
            if (place.safe && other.safe) || vpn {
                continue;
            }
            let (Some(here), Some(there)) =
                (geo::place(&country), other.country.with_str(geo::place))
            else {
                continue;
            };
            let km = geo::distance_km(here, there);
            let dt = (e.ms - other.ms).abs();
            let hours = (dt as f64 / 3_600_000.0).max(1.0 / 60.0);
            let speed = km / hours;
            if km < min_distance_km(s) || speed <= MAX_SPEED_KMH {
                continue;
            }
            let (first, second) = if other.ms <= e.ms {
                (other, &place)
            } else {
                (&place, other)
            };
            out.push((
                "impossible_travel",
                user_finding(e, vec![place_hit(first), place_hit(second)], format!(
                        "{} from {} ({}) at {}; {} earlier from {} ({}): {} km apart, {} km/h needed",
                        if second.id == e.id() { e.operation() } else { "activity" },
                        second.country,
                        second.ip,
                        when(second.ms),
                        minutes(second.ms - first.ms),
                        first.country,
                        first.ip,
                        thousands(km.round() as u64),
                        thousands(speed.round() as u64),
                    )),
            ));
        }
        // A place next to one in the same country minutes away adds nothing travel could use.
        let redundant = [pos.checked_sub(1), Some(pos)]
            .into_iter()
            .flatten()
            .filter_map(|i| places.get(i))
            .any(|p| p.country == place.country && (p.ms - place.ms).abs() <= 10 * 60_000);
        if !redundant {
            insert_newest(places, pos, place, MAX_PLACES);
        }
        if let Some(newest) = places.last().map(|p| p.ms) {
            places.retain(|p| p.ms >= newest - PLACES_KEEP_MS);
        }
    }

    let known = user.countries.len();
    let learned = e.ms - first_ms >= learning_ms;
    let seen = user.countries.get(&country).copied();
    if let Some(_s) = a.on("infrequent_country", e)
        // A country seen later than this activity (records arrive out of order) is not new.
        && seen.is_none()
        && learned
        && known > 0
    {
        let mut usual: Vec<(&String, &Seen)> = user.countries.iter().collect();
        usual.sort_by_key(|(_, s)| std::cmp::Reverse(s.n));
        let usual: Vec<String> = usual
            .iter()
            .take(3)
            .map(|(c, s)| format!("{c} ({})", thousands(s.n)))
            .collect();
        out.push((
            "infrequent_country",
            user_finding(e, vec![hit(e)], format!(
                    "first activity from {country} ({ip}) in this user's history since {}; usual countries: {}",
                    when(first_ms),
                    usual.join(", ")
                )),
        ));
    }
    let entry = user.countries.entry(country).or_insert(Seen {
        first_ms: e.ms,
        last_ms: e.ms,
        n: 0,
    });
    entry.first_ms = entry.first_ms.min(e.ms);
    entry.last_ms = entry.last_ms.max(e.ms);
    entry.n += 1;
}
