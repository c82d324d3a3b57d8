//! Leases on units of work, on every backend: one holder at a time, renewal, expiry, release.
#![allow(clippy::unwrap_used)]

use chrono::{DateTime, Duration, TimeZone, Utc};
use skylight_store::Store;
use skylight_store::testkit::on_every_backend;

fn t(s: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000 + s, 0).unwrap()
}

#[test]
fn one_holder_at_a_time_until_it_expires_or_is_released() {
    on_every_backend(|store: &dyn Store| {
        // Real time, with margins of a second or more: a store with a clock of its own
        // (PostgreSQL) measures leases by it, whatever time the caller says it is.
        let name = "collect:contoso:Audit.Exchange";
        let base = store.lease_time().unwrap();
        let at = |s: f64| {
            let when = base + Duration::milliseconds((s * 1000.0) as i64);
            if let Ok(wait) = (when - Utc::now()).to_std() {
                std::thread::sleep(wait);
            }
            Utc::now()
        };
        let take = |holder: &str, s: f64| {
            let now = at(s);
            store
                .acquire_lease(name, holder, now, now + Duration::seconds(3))
                .unwrap()
        };
        assert!(take("a", 0.0), "a free lease is taken");
        assert!(!take("b", 0.5), "held by a until 3");
        assert!(take("a", 1.0), "a renews");
        assert!(!take("b", 2.5), "renewed to 4");
        let leases = store.leases().unwrap();
        assert_eq!(leases.len(), 1);
        assert_eq!(leases[0].holder, "a");
        let until = leases[0].until - base;
        assert!(
            until > Duration::milliseconds(3_500) && until < Duration::milliseconds(4_900),
            "renewed for 3 s at 1 s: {until}"
        );
        assert!(take("b", 5.0), "expired at 4: b takes over");
        assert!(!take("a", 5.2), "a lost it");
        store.release_lease(name, "a").unwrap();
        assert_eq!(
            store.leases().unwrap()[0].holder,
            "b",
            "only the holder releases"
        );
        store.release_lease(name, "b").unwrap();
        assert!(store.leases().unwrap().is_empty());
        assert!(take("a", 5.2), "released: free again");
        // Leases are independent of each other.
        let now = Utc::now();
        assert!(
            store
                .acquire_lease("detect", "b", now, now + Duration::seconds(3))
                .unwrap()
        );
        let names: Vec<String> = store
            .leases()
            .unwrap()
            .into_iter()
            .map(|l| l.name)
            .collect();
        assert_eq!(names, ["collect:contoso:Audit.Exchange", "detect"]);
    });
}

#[test]
fn racing_takers_get_a_free_lease_once() {
    on_every_backend(|store: &dyn Store| {
        for round in 0..5 {
            let name = format!("race-{round}");
            let won: usize = std::thread::scope(|s| {
                let takers: Vec<_> = (0..8)
                    .map(|i| {
                        let name = &name;
                        s.spawn(move || {
                            store
                                .acquire_lease(
                                    name,
                                    &format!("p{i}"),
                                    t(0),
                                    t(0) + Duration::seconds(60),
                                )
                                .unwrap()
                        })
                    })
                    .collect();
                takers
                    .into_iter()
                    .map(|h| usize::from(h.join().unwrap()))
                    .sum()
            });
            assert_eq!(won, 1, "round {round}: exactly one taker holds it");
        }
    });
}

#[test]
fn a_keeper_hands_work_over_when_its_process_stops() {
    use skylight_store::lease::LeaseKeeper;
    use std::sync::Arc;
    use std::time::{Duration as Wait, Instant};

    fn until(what: &str, f: impl Fn() -> bool) {
        let start = Instant::now();
        while !f() {
            assert!(start.elapsed() < Wait::from_secs(10), "{what}");
            std::thread::sleep(Wait::from_millis(20));
        }
    }
    let db = skylight_store::testkit::TestDatabase::create();
    let first: Arc<dyn Store> = Arc::new(db.open());
    let second: Arc<dyn Store> = Arc::new(db.open());
    let a = LeaseKeeper::start(first, "a".into(), Wait::from_secs(3)).unwrap();
    let b = LeaseKeeper::start(second.clone(), "b".into(), Wait::from_secs(3)).unwrap();
    let la = a.want("detect");
    until("a takes the free lease", || la.held());
    let lb = b.want("detect");
    // Renewed every second, so b never gets it while a lives.
    std::thread::sleep(Wait::from_secs(4));
    assert!(la.held() && !lb.held(), "one holder while a renews");
    // A stopped keeper releases what it held at once: b takes over within a renewal round.
    drop(la);
    drop(a);
    until("b takes over after a stops", || lb.held());
    assert_eq!(second.leases().unwrap()[0].holder, "b");
}

#[test]
fn processes_share_like_units_out_and_rebalance_when_one_joins_or_stops() {
    use skylight_store::lease::LeaseKeeper;
    use std::sync::Arc;
    use std::time::{Duration as Wait, Instant};

    let db = skylight_store::testkit::TestDatabase::create();
    let units: Vec<String> = (0..9)
        .map(|i| format!("collect:t{i}:Audit.Exchange"))
        .collect();
    let start = |holder: &str| {
        let store: Arc<dyn Store> = Arc::new(db.open());
        let keeper = LeaseKeeper::start(store, holder.into(), Wait::from_secs(3)).unwrap();
        let leases: Vec<_> = units.iter().map(|u| keeper.want_shared(u)).collect();
        (keeper, leases)
    };
    let counts = |all: &[&Vec<skylight_store::lease::Lease>]| -> Vec<usize> {
        all.iter()
            .map(|ls| ls.iter().filter(|l| l.held()).count())
            .collect()
    };
    let until = |what: &str, f: &dyn Fn() -> bool| {
        let begun = Instant::now();
        while !f() {
            assert!(begun.elapsed() < Wait::from_secs(15), "{what}");
            std::thread::sleep(Wait::from_millis(50));
        }
    };
    let a = start("a");
    until("one process holds every unit", &|| counts(&[&a.1]) == [9]);
    let b = start("b");
    let c = start("c");
    until("three processes hold three each", &|| {
        counts(&[&a.1, &b.1, &c.1]) == [3, 3, 3]
    });
    // Never two holders of one unit: the store says who holds each.
    let check = db.open();
    let held: Vec<String> = check
        .leases()
        .unwrap()
        .into_iter()
        .filter(|l| l.name.starts_with("collect:"))
        .map(|l| l.name)
        .collect();
    assert_eq!(held.len(), 9);
    // One stops: the other two take its units over (five and four).
    drop(c);
    until("two processes share the nine", &|| {
        let mut n = counts(&[&a.1, &b.1]);
        n.sort_unstable();
        n == [4, 5]
    });
}
