//! The tamper-evident ledger, attacked as a superuser would: with
//! session_replication_role = replica the append-only trigger is off, and
//! every change must still be found by the next verification.

use casino_loyalty_client_tests::*;
use postgres::Client;
use std::sync::{Arc, Barrier};
use std::thread;

/// A player with `n` rewards (the owner acting for a staff member).
fn player_with_rewards(c: &mut Client, n: usize) -> String {
    let (staff, player) = (new_uuid(), new_uuid());
    add_staff(c, &staff, &["loyalty:award"], true);
    for i in 0..n {
        c.query_one(
            REWARD,
            &[
                &player,
                &(100i64 + i as i64),
                &"chain test reward",
                &staff,
                &Some(format!("chain-{player}-{i}")),
            ],
        )
        .unwrap();
    }
    player
}

/// verify_ledger_chain in `tx`: (ok, break seq, break kind).
fn verdict(
    tx: &mut postgres::Transaction<'_>,
    player: &str,
) -> (bool, Option<i64>, Option<String>) {
    let r = tx
        .query_one(
            "SELECT ok, break_seq, break_kind FROM loyalty.verify_ledger_chain($1::text::uuid)",
            &[&player],
        )
        .unwrap();
    (r.get(0), r.get(1), r.get(2))
}

/// Tamper (statements separated by `;`, each given the player) inside a
/// transaction as a superuser with the triggers off, look, and roll the
/// tampering back.
fn tampered(c: &mut Client, player: &str, sql: &str) -> (bool, Option<i64>, Option<String>) {
    let mut tx = c.transaction().unwrap();
    tx.batch_execute("SET LOCAL session_replication_role = replica")
        .unwrap();
    for statement in sql.split(';').filter(|s| !s.trim().is_empty()) {
        tx.execute(statement, &[&player]).unwrap();
    }
    let v = verdict(&mut tx, player);
    tx.rollback().unwrap();
    v
}

#[test]
fn every_kind_of_tampering_is_found_where_it_happened() {
    let db = fresh_db("chain");
    let mut c = connect(&db);
    let player = player_with_rewards(&mut c, 5);
    let mut tx = c.transaction().unwrap();
    assert_eq!(verdict(&mut tx, &player), (true, None, None));
    tx.rollback().unwrap();

    // one row's points edited
    assert_eq!(
        tampered(
            &mut c,
            &player,
            "UPDATE loyalty.loyalty_ledger SET points_change = points_change + 1, balance_after = balance_after + 1
              WHERE player_id = $1::text::uuid AND seq = 3"
        ),
        (false, Some(3), Some("edited".into()))
    );
    // a row deleted, in the middle and at the end
    assert_eq!(
        tampered(
            &mut c,
            &player,
            "DELETE FROM loyalty.loyalty_ledger WHERE player_id = $1::text::uuid AND seq = 2"
        ),
        (false, Some(2), Some("missing".into()))
    );
    assert_eq!(
        tampered(
            &mut c,
            &player,
            "DELETE FROM loyalty.loyalty_ledger WHERE player_id = $1::text::uuid AND seq = 5"
        ),
        (false, Some(5), Some("missing".into()))
    );
    // a forged row "in the past" (an old id and time) after the last one
    assert_eq!(
        tampered(
            &mut c,
            &player,
            "INSERT INTO loyalty.loyalty_ledger (id, player_id, idempotency_key, transaction_type, event_type,
                    points_change, balance_before, balance_after, tier_before, tier_after, correlation_id,
                    created_at, seq, prev_hash, row_hash)
             SELECT 0, player_id, 'forged', 'MANUAL_BONUS', 'POINTS_UPDATE_REQUESTED', 5000, balance_after,
                    balance_after + 5000, tier_after, tier_after, 'forged', now() - interval '1 day', seq + 1,
                    row_hash, repeat('ab', 32)
               FROM loyalty.loyalty_ledger WHERE player_id = $1::text::uuid AND seq = 5"
        ),
        (false, Some(6), Some("inserted".into()))
    );
    // two rows swapped in the chain
    assert_eq!(
        tampered(
            &mut c,
            &player,
            "UPDATE loyalty.loyalty_ledger SET seq = 1000 WHERE player_id = $1::text::uuid AND seq = 2;
             UPDATE loyalty.loyalty_ledger SET seq = 2 WHERE player_id = $1::text::uuid AND seq = 3;
             UPDATE loyalty.loyalty_ledger SET seq = 3 WHERE player_id = $1::text::uuid AND seq = 1000"
        ),
        (false, Some(2), Some("reordered".into()))
    );
}

/// The canonical JSON the chain hashes, rebuilt here from the documented
/// rule (docs/reference.md, "Tamper evidence"), not from the extension.
fn canonical_row(r: &postgres::Row) -> String {
    let text = |i: usize| -> serde_json::Value {
        match r.get::<_, Option<String>>(i) {
            Some(s) => serde_json::Value::String(s),
            None => serde_json::Value::Null,
        }
    };
    // (the members written only when set: property_id, reverses_entry_id)
    let keys = [
        "balance_after",
        "balance_before",
        "correlation_id",
        "created_at_unix_micros",
        "event_type",
        "gaming_day",
        "id",
        "idempotency_key",
        "player_id",
        "points_change",
        "rating_slip_id",
        "reason",
        "reward_id",
        "seq",
        "session_id",
        "source",
        "staff_id",
        "tier_after",
        "tier_before",
        "transaction_type",
        "visit_id",
    ];
    let mut members: Vec<String> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| format!("\"{k}\":{}", text(i)))
        .collect();
    // property_id sorts between points_change and rating_slip_id
    if let Some(p) = r.get::<_, Option<String>>(23) {
        members.insert(
            10,
            format!("\"property_id\":{}", serde_json::Value::String(p)),
        );
    }
    format!("{{{}}}", members.join(","))
}

const ROW_AS_TEXT: &str = "SELECT balance_after::text, balance_before::text, correlation_id,
        (extract(epoch FROM created_at) * 1000000)::bigint::text, event_type, gaming_day::text, id::text,
        idempotency_key,
        player_id::text, points_change::text, rating_slip_id::text, reason, reward_id, seq::text,
        session_id::text, source, staff_id::text, tier_after, tier_before, transaction_type, visit_id::text,
        prev_hash, row_hash, property_id
   FROM loyalty.loyalty_ledger WHERE player_id = $1::text::uuid ORDER BY seq";

#[test]
fn a_consistent_rewrite_passes_the_chain_but_not_the_heads() {
    let db = fresh_db("rewrite");
    let mut c = connect(&db);
    let player = player_with_rewards(&mut c, 5);
    // an auditor can recompute every hash from the documented rule
    for r in c.query(ROW_AS_TEXT, &[&player]).unwrap() {
        let (prev, stored): (String, String) = (r.get(21), r.get(22));
        let h: String = c
            .query_one(
                "SELECT encode(sha256(convert_to($1 || $2, 'UTF8')), 'hex')",
                &[&prev, &canonical_row(&r)],
            )
            .unwrap()
            .get(0);
        assert_eq!(
            h,
            stored,
            "the documented hash of seq {}",
            r.get::<_, String>(13)
        );
    }
    let heads: String = c
        .query_one("SELECT loyalty.ledger_chain_heads()::text", &[])
        .unwrap()
        .get(0);
    let clean: i64 = c
        .query_one(
            "SELECT count(*) FROM loyalty.verify_chain_heads($1::text::jsonb)",
            &[&heads],
        )
        .unwrap()
        .get(0);
    assert_eq!(clean, 0);

    // the insider edits seq 3 and re-seals 3..5 and the head, consistently
    let mut tx = c.transaction().unwrap();
    tx.batch_execute("SET LOCAL session_replication_role = replica")
        .unwrap();
    tx.execute(
        "UPDATE loyalty.loyalty_ledger SET reason = 'nothing to see here'
          WHERE player_id = $1::text::uuid AND seq = 3",
        &[&player],
    )
    .unwrap();
    let rows = tx.query(ROW_AS_TEXT, &[&player]).unwrap();
    let mut prev: String = rows[2].get(21);
    for r in &rows[2..] {
        let h: String = tx
            .query_one(
                "SELECT encode(sha256(convert_to($1 || $2, 'UTF8')), 'hex')",
                &[&prev, &canonical_row(r)],
            )
            .unwrap()
            .get(0);
        let seq: String = r.get(13);
        tx.execute(
            "UPDATE loyalty.loyalty_ledger SET prev_hash = $3, row_hash = $4
              WHERE player_id = $1::text::uuid AND seq = $2::text::bigint",
            &[&player, &seq, &prev, &h],
        )
        .unwrap();
        prev = h;
    }
    tx.execute(
        "UPDATE loyalty.player_loyalty SET chain_head = $2 WHERE player_id = $1::text::uuid",
        &[&player, &prev],
    )
    .unwrap();
    tx.commit().unwrap();

    let mut tx = c.transaction().unwrap();
    assert_eq!(
        verdict(&mut tx, &player),
        (true, None, None),
        "the chain itself verifies"
    );
    tx.rollback().unwrap();
    let problems: Vec<(String, i64, String)> = c
        .query(
            "SELECT player_id::text, seq, problem FROM loyalty.verify_chain_heads($1::text::jsonb)",
            &[&heads],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(
        (problems[0].0.as_str(), problems[0].1),
        (player.as_str(), 5)
    );
    assert!(problems[0].2.starts_with("changed"), "{problems:?}");
    // and an anchor whose heads were edited does not match its digest
    let mut doc: serde_json::Value = serde_json::from_str(&heads).unwrap();
    doc["heads"][0]["row_hash"] = serde_json::Value::String("0".repeat(64));
    let forged: Vec<String> = c
        .query(
            "SELECT problem FROM loyalty.verify_chain_heads($1::text::jsonb) WHERE player_id IS NULL",
            &[&doc.to_string()],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(forged.len(), 1);
    assert!(forged[0].contains("digest"));
}

/// 16 sessions posting to one player at once, replays mixed in: the chain
/// verifies and seq runs 1..n with no gap (replays take none).
#[test]
fn sixteen_sessions_on_one_player_keep_one_gapless_chain() {
    let db = fresh_db("chain16");
    let mut owner = connect(&db);
    owner
        .batch_execute(
            "UPDATE loyalty.config SET rate_limit_count = 100000, alert_reward_count = 100000",
        )
        .unwrap();
    let (staff, player) = (new_uuid(), new_uuid());
    add_staff(&mut owner, &staff, &["loyalty:award"], true);
    let barrier = Arc::new(Barrier::new(16));
    let hs: Vec<_> = (0..16)
        .map(|t| {
            let (db, staff, player, barrier) =
                (db.clone(), staff.clone(), player.clone(), barrier.clone());
            thread::spawn(move || {
                let mut c = connect(&db);
                barrier.wait();
                let mut hits = 0;
                for i in 0..20 {
                    // every other call replays a reward another session posts too
                    let id = if i % 2 == 0 {
                        format!("shared-{i}")
                    } else {
                        format!("own-{t}-{i}")
                    };
                    let hit: bool = c
                        .query_one(
                            REWARD,
                            &[&player, &7i64, &"concurrent chain test", &staff, &Some(id)],
                        )
                        .unwrap()
                        .get(2);
                    hits += hit as i32;
                }
                hits
            })
        })
        .collect();
    let hits: i32 = hs.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(
        hits,
        15 * 10,
        "each shared reward posted once, replayed 15 times"
    );
    let r = owner
        .query_one(
            "SELECT count(*), min(seq), max(seq), (SELECT chain_seq FROM loyalty.player_loyalty WHERE player_id = $1::text::uuid)
               FROM loyalty.loyalty_ledger WHERE player_id = $1::text::uuid",
            &[&player],
        )
        .unwrap();
    let expected = 10 + 16 * 10;
    assert_eq!(
        (
            r.get::<_, i64>(0),
            r.get::<_, i64>(1),
            r.get::<_, i64>(2),
            r.get::<_, i64>(3)
        ),
        (expected, 1, expected, expected)
    );
    let broken: i64 = owner
        .query_one("SELECT count(*) FROM loyalty.verify_all_chains()", &[])
        .unwrap()
        .get(0);
    assert_eq!(broken, 0);
}
