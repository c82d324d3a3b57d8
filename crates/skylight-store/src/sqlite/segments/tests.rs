//! Sealing, reading sealed records back, and retention of segments.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use chrono::{Duration as Days, TimeZone, Utc};
use skylight_model::filter::Filter;
use skylight_model::{AuditRecord, BlobRef, ContentType};

use super::super::SqliteStore;
use crate::{ActivityQuery, Store};

/// Record `n` of day `day` (May 2024), about 1 KB, a tenth of it text unique to it.
fn record(n: usize, day: u32) -> AuditRecord {
    let mut x = n as u64 * 2_654_435_761 + 1;
    let noise: String = (0..100)
        .map(|_| {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            char::from(b'a' + (x >> 59) as u8)
        })
        .collect();
    AuditRecord::from_json(&format!(
        r#"{{"Id":"rec-{n}","CreationTime":"2024-05-{day:02}T{:02}:{:02}:00","UserId":"user{}@x.com","Operation":"FileAccessed","Noise":"{noise}","Padding":"{}"}}"#,
        n % 24,
        n % 60,
        n % 50,
        "the quick brown fox jumps over the lazy dog ".repeat(20),
    ))
    .unwrap()
}

/// Commits `records` in blobs of 100 as `content_type`.
fn commit(store: &SqliteStore, content_type: ContentType, records: &[AuditRecord]) {
    for (b, blob) in records.chunks(100).enumerate() {
        let blob_ref = BlobRef {
            content_id: format!("{content_type}-{}-{b}", blob[0].columns.id),
            created: Utc.with_ymd_and_hms(2024, 5, 20, 0, 0, 0).unwrap(),
        };
        store
            .commit_blob("t", content_type, &blob_ref, blob)
            .unwrap();
    }
}

/// Every stored record's raw bytes, by Id, as detection reads them.
fn raws(store: &SqliteStore) -> BTreeMap<String, Vec<u8>> {
    store
        .activities_since(0, usize::MAX >> 1)
        .unwrap()
        .into_iter()
        .map(|a| (a.row.id, a.raw))
        .collect()
}

fn count(store: &SqliteStore, sql: &str) -> i64 {
    store
        .with_connection(|c| Ok(c.query_row(sql, [], |r| r.get(0))?))
        .unwrap()
}

const UNSEALED: &str = "SELECT count(*) FROM raw_chunks WHERE sealed = 0";

/// Moves chunk `id`'s data back into its row, as stored before schema 19.
fn as_before_segments(store: &SqliteStore, id: i64) {
    store
        .with_connection(|c| {
            c.execute_batch(&format!(
                "UPDATE raw_chunks SET data = (SELECT data FROM raw_segments s \
                 WHERE s.id = segment_id), segment_id = NULL, segment_offset = NULL \
                 WHERE id = {id}; \
                 DELETE FROM raw_segments WHERE id NOT IN (SELECT segment_id FROM raw_chunks \
                 WHERE segment_id IS NOT NULL);"
            ))?;
            Ok(())
        })
        .unwrap();
}

#[test]
fn sealed_records_read_back_byte_for_byte_wherever_they_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    // 5,000 records (about 5.5 MB) each of two content types, their blobs interleaved.
    let exchange: Vec<_> = (0..5000).map(|n| record(n, 14)).collect();
    let sharepoint: Vec<_> = (5000..10_000).map(|n| record(n, 14)).collect();
    for (e, s) in exchange.chunks(500).zip(sharepoint.chunks(500)) {
        commit(&store, ContentType::Exchange, e);
        commit(&store, ContentType::SharePoint, s);
    }
    // Two chunks as a store of schema 18 holds them, with their data in their rows.
    as_before_segments(&store, 1);
    as_before_segments(&store, 2);
    let before = raws(&store);
    assert_eq!(before.len(), 10_000);
    let chunk_bytes = count(
        &store,
        "SELECT (SELECT sum(length(data)) FROM raw_chunks) + \
         (SELECT sum(length(data)) FROM raw_segments)",
    );
    // Each chunk stored since is a segment of its own.
    assert_eq!(count(&store, "SELECT count(*) FROM raw_segments"), 98);

    // Just stored: nothing is due.
    let now = Utc::now();
    assert_eq!(store.seal_chunks(now).unwrap(), super::Sealed::default());
    assert_eq!(count(&store, UNSEALED), 100);
    // A quarter of an hour later: one full segment of each content type; the rest waits
    // for more chunks of its kind.
    let sealed = store.seal_chunks(now + Days::minutes(16)).unwrap();
    assert_eq!(sealed.segments, 2);
    assert!(sealed.chunks >= 76, "{sealed:?}");
    assert_eq!(count(&store, UNSEALED), 100 - sealed.chunks as i64);
    // A day later, the rest too, whatever its size.
    let rest = store.seal_chunks(now + Days::hours(25)).unwrap();
    assert_eq!(rest.segments, 2);
    assert_eq!(count(&store, UNSEALED), 0);
    assert_eq!(
        store.seal_chunks(now + Days::days(30)).unwrap(),
        super::Sealed::default()
    );
    // Each segment holds one content type.
    assert_eq!(
        count(
            &store,
            "SELECT count(*) FROM (SELECT segment_id FROM raw_chunks \
             GROUP BY segment_id HAVING count(DISTINCT content_type) > 1)"
        ),
        0
    );
    // Sealed chunks keep no data of their own, and their small segments are gone.
    assert_eq!(count(&store, "SELECT sum(length(data)) FROM raw_chunks"), 0);
    assert_eq!(count(&store, "SELECT count(*) FROM raw_segments"), 4);
    let segment_bytes = count(&store, "SELECT sum(length(data)) FROM raw_segments");
    // (Mostly random text here: Microsoft 365's records shrink by a fifth.)
    assert!(
        segment_bytes < chunk_bytes,
        "{segment_bytes} vs {chunk_bytes}"
    );

    // Detection's read, one record with its row, one raw record, the log's free text.
    assert_eq!(raws(&store), before);
    for id in ["rec-0", "rec-1234", "rec-5000", "rec-9999"] {
        let (row, raw) = store.activity(None, id).unwrap().unwrap();
        assert_eq!(row.id, id);
        assert_eq!(&raw, &before[id]);
        assert_eq!(
            store.raw_record("t", id).unwrap().as_ref(),
            Some(&before[id])
        );
    }
    let noise = serde_json::from_slice::<serde_json::Value>(&before["rec-3777"]).unwrap()["Noise"]
        .as_str()
        .unwrap()
        .to_owned();
    let page = store
        .activities(&ActivityQuery {
            tenant: None,
            filter: Filter::parse(&[&format!("text~{noise}")]).unwrap(),
            limit: 10,
            after: None,
        })
        .unwrap();
    let found: Vec<_> = page.rows.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(found, ["rec-3777"]);

    // Reopened, as another process would find it.
    drop(store);
    let store = SqliteStore::open(dir.path()).unwrap();
    assert_eq!(raws(&store), before);
}

/// Records `range` of May `day` at hours `first_hour` to `first_hour + 5`.
fn at_hours(range: std::ops::Range<usize>, day: u32, first_hour: usize) -> Vec<AuditRecord> {
    range
        .map(|n| {
            let r = record(n, day);
            let json = String::from_utf8(r.raw.to_vec()).unwrap().replace(
                &format!("T{:02}:", n % 24),
                &format!("T{:02}:", first_hour + n % 6),
            );
            AuditRecord::from_json(&json).unwrap()
        })
        .collect()
}

/// Every segment's bytes, decompressed.
fn segment_bytes(store: &SqliteStore) -> Vec<u8> {
    store
        .with_connection(|c| {
            let mut out = Vec::new();
            let mut stmt = c.prepare("SELECT data, raw_len FROM raw_segments")?;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                out.extend(crate::batch::unpack(
                    &r.get::<_, Vec<u8>>(0)?,
                    r.get(1)?,
                    "s",
                )?);
            }
            Ok(out)
        })
        .unwrap()
}

fn holds(bytes: &[u8], text: &str) -> bool {
    bytes.windows(text.len()).any(|w| w == text.as_bytes())
}

#[test]
fn retention_deletes_segments_whole_within_a_day() {
    let store = SqliteStore::open_in_memory().unwrap();
    let day = |d: u32, h: u32| Utc.with_ymd_and_hms(2024, 5, d, h, 0, 0).unwrap();
    // Exchange on the 14th; SharePoint on the 14th, early and late on the 16th, and a
    // record without a time: segments are cut by day, and the untimed one is alone.
    commit(&store, ContentType::Exchange, &at_hours(0..300, 14, 0));
    commit(&store, ContentType::SharePoint, &at_hours(300..400, 14, 0));
    commit(&store, ContentType::SharePoint, &at_hours(400..700, 16, 0));
    commit(
        &store,
        ContentType::SharePoint,
        &at_hours(700..1000, 16, 18),
    );
    let untimed = AuditRecord::from_json(r#"{"Id":"untimed","Operation":"FileAccessed"}"#);
    commit(&store, ContentType::SharePoint, &[untimed.unwrap()]);
    store.seal_chunks(Utc::now() + Days::days(2)).unwrap();
    assert_eq!(count(&store, UNSEALED), 0);
    assert_eq!(count(&store, "SELECT count(*) FROM raw_segments"), 4);
    let before = raws(&store);
    let gone = |id: &str| format!(r#""Id":"{id}""#);

    // The 14th: both its segments go, though SharePoint's next chunks are in the store.
    assert_eq!(store.delete_activities_before(day(15, 0)).unwrap(), 400);
    assert_eq!(count(&store, "SELECT count(*) FROM raw_segments"), 2);
    assert!(!holds(&segment_bytes(&store), &gone("rec-0")));
    assert!(!holds(&segment_bytes(&store), &gone("rec-399")));
    // The 16th's morning: its chunks go, its segment stays for the evening's records
    // (the morning's bytes with it, until the day has gone).
    assert_eq!(store.delete_activities_before(day(16, 12)).unwrap(), 300);
    assert_eq!(count(&store, "SELECT count(*) FROM raw_segments"), 2);
    assert_eq!(count(&store, "SELECT count(*) FROM raw_chunks"), 4);
    let after = raws(&store);
    assert_eq!(after.len(), 301);
    for (id, raw) in &after {
        assert_eq!(raw, &before[id]);
    }
    // Then the whole day; the untimed record stays, alone in its segment.
    assert_eq!(store.delete_activities_before(day(17, 0)).unwrap(), 300);
    assert_eq!(count(&store, "SELECT count(*) FROM raw_segments"), 1);
    assert_eq!(count(&store, "SELECT count(*) FROM raw_chunks"), 1);
    assert_eq!(raws(&store).keys().collect::<Vec<_>>(), ["untimed"]);
    assert!(!holds(&segment_bytes(&store), &gone("rec-999")));
}

#[test]
fn retention_deletes_the_segments_a_process_of_schema_18_left() {
    let store = SqliteStore::open_in_memory().unwrap();
    commit(&store, ContentType::Exchange, &at_hours(0..100, 14, 0));
    commit(&store, ContentType::Exchange, &at_hours(100..200, 16, 0));
    let cutoff = Utc.with_ymd_and_hms(2024, 5, 15, 0, 0, 0).unwrap();
    // What its retention runs: records, then chunks, not knowing of segments.
    store
        .with_connection(|c| {
            let ms = cutoff.timestamp_millis();
            c.execute(
                "DELETE FROM records WHERE creation_ms > 0 AND creation_ms < ?1",
                [ms],
            )?;
            c.execute(
                "DELETE FROM raw_chunks WHERE max_ms < ?1 AND min_ms > 0",
                [ms],
            )?;
            Ok(())
        })
        .unwrap();
    assert_eq!(count(&store, "SELECT count(*) FROM raw_segments"), 2);
    store.delete_activities_before(cutoff).unwrap();
    assert_eq!(count(&store, "SELECT count(*) FROM raw_segments"), 1);
    assert_eq!(raws(&store).len(), 100);
}

#[test]
fn a_blob_of_old_records_committed_during_retention_keeps_its_chunk() {
    let store = SqliteStore::open_in_memory().unwrap();
    let cutoff = Utc.with_ymd_and_hms(2024, 5, 15, 0, 0, 0).unwrap();
    commit(&store, ContentType::Exchange, &at_hours(0..100, 14, 0));
    while store
        .lock()
        .delete_records_batch(cutoff.timestamp_millis())
        .unwrap()
        > 0
    {}
    // A late blob of old records, between the records' deletion and the chunks'.
    commit(&store, ContentType::Exchange, &at_hours(100..200, 14, 0));
    assert!(
        !store
            .lock()
            .delete_chunks_before(cutoff.timestamp_millis())
            .unwrap()
    );
    assert_eq!(raws(&store).len(), 100, "its records read");
    // Retention goes round again and deletes them with their chunk.
    assert_eq!(store.delete_activities_before(cutoff).unwrap(), 100);
    assert_eq!(count(&store, "SELECT count(*) FROM raw_chunks"), 0);
    assert_eq!(count(&store, "SELECT count(*) FROM raw_segments"), 0);
}

#[test]
fn chunks_to_seal_are_read_in_order_from_their_index_without_a_sort() {
    let store = SqliteStore::open_in_memory().unwrap();
    let plan: Vec<String> = store
        .with_connection(|c| {
            let mut stmt = c.prepare(&format!("EXPLAIN QUERY PLAN {}", super::NEXT_GROUP))?;
            let rows = stmt.query_map([0], |r| r.get::<_, String>(3))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .unwrap();
    assert_eq!(
        plan,
        ["SCAN raw_chunks USING COVERING INDEX raw_chunks_unsealed"]
    );
}

#[test]
fn a_chunk_whose_segment_is_missing_is_an_error_not_empty_data() {
    let store = SqliteStore::open_in_memory().unwrap();
    commit(&store, ContentType::Exchange, &at_hours(0..100, 14, 0));
    let packed = store.with_connection(|c| {
        c.execute_batch("DELETE FROM raw_segments")?;
        super::ChunkReader::default().packed(c, 1)
    });
    assert!(
        matches!(packed, Err(crate::StoreError::Corrupt(_))),
        "{packed:?}"
    );
}

#[test]
fn a_damaged_chunk_is_left_as_it_is_and_the_others_are_sealed() {
    let store = SqliteStore::open_in_memory().unwrap();
    commit(
        &store,
        ContentType::Exchange,
        &(0..500).map(|n| record(n, 14)).collect::<Vec<_>>(),
    );
    store
        .with_connection(|c| {
            c.execute_batch(
                "UPDATE raw_segments SET data = X'00' \
                 WHERE id = (SELECT segment_id FROM raw_chunks WHERE id = 3)",
            )?;
            Ok(())
        })
        .unwrap();
    // Sealing everything ends (the damaged chunk is not tried again and again).
    let sealed = store.seal_chunks(Utc::now() + Days::days(2)).unwrap();
    assert_eq!(
        sealed,
        super::Sealed {
            segments: 1,
            chunks: 4
        }
    );
    assert_eq!(count(&store, UNSEALED), 1);
    assert_eq!(
        count(
            &store,
            "SELECT count(*) FROM raw_chunks WHERE id = 3 AND sealed = 0"
        ),
        1
    );
    assert!(store.activity(None, "rec-0").unwrap().is_some());
    assert!(store.activity(None, "rec-499").unwrap().is_some());
}

/// The only group due two days from now, read and compressed as the sealing thread would.
fn the_one_group_due(store: &SqliteStore) -> (super::Gathered, Vec<u8>) {
    let later = (Utc::now() + Days::days(2)).timestamp_millis();
    let mut inner = store.lock();
    let due = inner.next_groups(later, 4).unwrap();
    assert_eq!(due.len(), 1);
    let group = inner.read_group(&due[0]).unwrap().unwrap();
    let packed = super::compress(&mut None, &group.plain).unwrap();
    (group, packed)
}

#[test]
fn a_segment_compressed_beside_the_writer_seals_only_the_chunks_left_as_read() {
    let store = SqliteStore::open_in_memory().unwrap();
    // One group: SharePoint's 16th, three chunks in the morning, three in the evening.
    commit(&store, ContentType::SharePoint, &at_hours(0..300, 16, 0));
    commit(&store, ContentType::SharePoint, &at_hours(300..600, 16, 18));
    let before = raws(&store);
    let (group, packed) = the_one_group_due(&store);
    assert_eq!(group.placed.len(), 6);

    // While it is compressed, retention deletes the morning's chunks.
    let noon = Utc.with_ymd_and_hms(2024, 5, 16, 12, 0, 0).unwrap();
    assert_eq!(store.delete_activities_before(noon).unwrap(), 300);
    assert_eq!(store.lock().write_segment(&group, &packed).unwrap(), 3);
    assert_eq!(count(&store, UNSEALED), 0);
    assert_eq!(count(&store, "SELECT count(*) FROM raw_chunks"), 3);
    // The evening's three one-chunk segments gave way to the new one.
    assert_eq!(count(&store, "SELECT count(*) FROM raw_segments"), 1);
    let after = raws(&store);
    assert_eq!(after.len(), 300);
    for (id, raw) in &after {
        assert_eq!(raw, &before[id], "{id}");
    }
    // The same segment written again (a stale result) seals nothing and adds nothing.
    assert_eq!(store.lock().write_segment(&group, &packed).unwrap(), 0);
    assert_eq!(count(&store, "SELECT count(*) FROM raw_segments"), 1);
    assert_eq!(raws(&store), after);
}

#[test]
fn the_writer_seals_through_its_thread_between_commits() {
    let store = SqliteStore::open_in_memory().unwrap();
    commit(&store, ContentType::Exchange, &at_hours(0..300, 14, 0));
    commit(&store, ContentType::SharePoint, &at_hours(300..600, 14, 0));
    let before = raws(&store);
    // Stored two days ago, as far as sealing can tell, and last looked for long ago.
    store
        .with_connection(|c| {
            c.execute_batch("UPDATE raw_chunks SET stored_ms = stored_ms - 172800000")?;
            Ok(())
        })
        .unwrap();
    store.lock().sealed_at = std::time::Instant::now()
        .checked_sub(super::SEAL_EVERY)
        .unwrap();
    // As after commits: each call writes what the thread has finished and hands it more.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut calls = 0;
    while count(&store, UNSEALED) > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "not sealed in a minute"
        );
        store.lock().seal_if_due();
        calls += 1;
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    // Two groups, one segment each, written by later calls than the ones that read them.
    assert!(calls >= 3, "{calls}");
    assert_eq!(count(&store, "SELECT count(*) FROM raw_segments"), 2);
    assert!(!store.lock().sealer.busy());
    assert_eq!(raws(&store), before);
}

#[test]
fn a_chunk_given_a_freed_id_meanwhile_is_not_sealed_with_the_bytes_read_before() {
    let store = SqliteStore::open_in_memory().unwrap();
    // Chunks 1 and 2 in the afternoon of the 16th, chunk 3 in its morning.
    commit(&store, ContentType::SharePoint, &at_hours(0..200, 16, 12));
    commit(&store, ContentType::SharePoint, &at_hours(200..300, 16, 0));
    let (group, packed) = the_one_group_due(&store);
    // Meanwhile retention deletes chunk 3, and the next blob's chunk takes its id.
    let six = Utc.with_ymd_and_hms(2024, 5, 16, 6, 0, 0).unwrap();
    assert_eq!(store.delete_activities_before(six).unwrap(), 100);
    let newer = at_hours(300..350, 16, 12);
    commit(&store, ContentType::SharePoint, &newer);
    assert_eq!(
        count(&store, "SELECT count(*) FROM raw_chunks WHERE id = 3"),
        1
    );
    let before = raws(&store);

    assert_eq!(store.lock().write_segment(&group, &packed).unwrap(), 2);
    assert_eq!(count(&store, UNSEALED), 1);
    assert_eq!(raws(&store), before);
    for r in &newer {
        assert_eq!(before[&r.columns.id], r.raw.to_vec());
    }
}

#[test]
fn a_chunk_whose_bytes_changed_meanwhile_is_not_sealed_with_the_bytes_read_before() {
    let store = SqliteStore::open_in_memory().unwrap();
    commit(&store, ContentType::SharePoint, &at_hours(0..600, 16, 0));
    let before = raws(&store);
    let (mut group, _) = the_one_group_due(&store);
    assert_eq!(group.placed.len(), 6);
    // What was read of the second chunk differs from what the store holds (as it would if the
    // chunk had been replaced by another of the same id and length).
    let at = group.placed[1].offset + 40;
    group.plain[at] ^= 1;
    let packed = super::compress(&mut None, &group.plain).unwrap();
    assert_eq!(store.lock().write_segment(&group, &packed).unwrap(), 5);
    assert_eq!(count(&store, UNSEALED), 1);
    assert_eq!(
        count(&store, "SELECT id FROM raw_chunks WHERE sealed = 0"),
        group.placed[1].id
    );
    assert_eq!(raws(&store), before);
}

#[test]
fn groups_due_together_are_the_ones_found_one_at_a_time() {
    let store = SqliteStore::open_in_memory().unwrap();
    // Exchange's 14th: two segments' worth and a remainder; SharePoint's: a remainder.
    commit(&store, ContentType::Exchange, &at_hours(0..9000, 14, 0));
    commit(
        &store,
        ContentType::SharePoint,
        &at_hours(9000..9300, 14, 0),
    );
    let unsealed = count(&store, UNSEALED);
    let sizes: BTreeMap<i64, i64> = store
        .with_connection(|c| {
            let mut stmt = c.prepare("SELECT id, raw_len FROM raw_chunks")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .unwrap();
    let now = Utc::now();
    let inner = store.lock();
    let at = |t: chrono::DateTime<Utc>| t.timestamp_millis();
    assert!(inner.next_groups(at(now), 8).unwrap().is_empty());
    // A quarter of an hour later, only the full segments are due.
    let full = inner.next_groups(at(now + Days::minutes(16)), 8).unwrap();
    assert_eq!(full.len(), 2);
    for group in &full {
        let bytes: Vec<i64> = group.iter().map(|id| sizes[id]).collect();
        let total: i64 = bytes.iter().sum();
        assert!(total >= super::SEGMENT_BYTES, "{total}");
        assert!(
            total - bytes[bytes.len() - 1] < super::SEGMENT_BYTES,
            "{total}"
        );
    }
    // Two days later, the remainders too: four groups, disjoint, every unsealed chunk once.
    let later = at(now + Days::days(2));
    let all = inner.next_groups(later, 8).unwrap();
    assert_eq!(all.len(), 4);
    assert_eq!(all[..2], full[..]);
    for n in 1..=4 {
        assert_eq!(inner.next_groups(later, n).unwrap(), all[..n]);
    }
    let mut ids = all.concat();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), all.concat().len());
    assert_eq!(i64::try_from(ids.len()).unwrap(), unsealed);
}
