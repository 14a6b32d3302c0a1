//! increment_player_loyalty over real, concurrent connections.

use casino_loyalty_client_tests::{new_uuid, shared_db, sqlstate};
use std::sync::{Arc, Barrier};
use std::thread;

const INC: &str = "SELECT balance_before, balance_after, row_locked
                     FROM loyalty.increment_player_loyalty($1::text::uuid, $2::bigint)";

#[test]
fn ten_sessions_times_a_hundred_increments_chain_without_gaps() {
    let player = new_uuid();
    let barrier = Arc::new(Barrier::new(10));
    let handles: Vec<_> = (0..10)
        .map(|_| {
            let (player, barrier) = (player.clone(), barrier.clone());
            thread::spawn(move || {
                let mut c = shared_db();
                barrier.wait();
                (0..100)
                    .map(|_| {
                        let row = c.query_one(INC, &[&player, &7i64]).expect("increment");
                        assert!(row.get::<_, bool>(2), "row_locked");
                        (row.get::<_, i64>(0), row.get::<_, i64>(1))
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut pairs: Vec<(i64, i64)> = handles
        .into_iter()
        .flat_map(|h| h.join().expect("thread"))
        .collect();
    pairs.sort();
    pairs.dedup();
    assert_eq!(pairs.len(), 1000, "1,000 distinct before/after pairs");
    for (i, (before, after)) in pairs.iter().enumerate() {
        assert_eq!(*before, 7 * i as i64, "no gap before pair {i}");
        assert_eq!(*after, before + 7);
    }
    let mut c = shared_db();
    let row = c
        .query_one(
            "SELECT current_balance, lifetime_points FROM loyalty.player_loyalty WHERE player_id = $1::text::uuid",
            &[&player],
        )
        .unwrap();
    assert_eq!((row.get::<_, i64>(0), row.get::<_, i64>(1)), (7000, 7000));
}

#[test]
fn concurrent_debits_never_go_below_zero() {
    let player = new_uuid();
    shared_db().query_one(INC, &[&player, &1000i64]).unwrap();
    let barrier = Arc::new(Barrier::new(8));
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let (player, barrier) = (player.clone(), barrier.clone());
            thread::spawn(move || {
                let mut c = shared_db();
                barrier.wait();
                let (mut ok, mut refused) = (0, 0);
                for _ in 0..50 {
                    match c.query_one(INC, &[&player, &-7i64]) {
                        Ok(row) => {
                            assert!(row.get::<_, i64>(1) >= 0);
                            ok += 1;
                        }
                        Err(e) => {
                            assert_eq!(
                                sqlstate(&e),
                                ("PT409".into(), "INSUFFICIENT_BALANCE".into())
                            );
                            refused += 1;
                        }
                    }
                }
                (ok, refused)
            })
        })
        .collect();
    let (ok, refused) = handles
        .into_iter()
        .map(|h| h.join().unwrap())
        .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    // 1000 / 7 = 142 debits fit; the other 400 - 142 are refused
    assert_eq!((ok, refused), (142, 258));
    let balance: i64 = shared_db()
        .query_one(
            "SELECT current_balance FROM loyalty.player_loyalty WHERE player_id = $1::text::uuid",
            &[&player],
        )
        .unwrap()
        .get(0);
    assert_eq!(balance, 6);
}

#[test]
fn two_sessions_creating_the_same_player_both_succeed() {
    // Deterministic race: A creates the row and holds it uncommitted; B must
    // wait on the insert conflict, then lock and update A's row.
    let player = new_uuid();
    let mut a = shared_db();
    let mut tx = a.transaction().unwrap();
    let first = tx.query_one(INC, &[&player, &5i64]).unwrap();
    assert_eq!((first.get::<_, i64>(0), first.get::<_, i64>(1)), (0, 5));
    let p2 = player.clone();
    let b = thread::spawn(move || {
        shared_db()
            .query_one(INC, &[&p2, &3i64])
            .map(|r| (r.get::<_, i64>(0), r.get::<_, i64>(1)))
    });
    // B is now blocked behind A's uncommitted row (wait until it is).
    let mut watcher = shared_db();
    for _ in 0..200 {
        let waiting: i64 = watcher
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%increment_player_loyalty%'",
                &[],
            )
            .unwrap()
            .get(0);
        if waiting > 0 {
            break;
        }
        thread::sleep(std::time::Duration::from_millis(25));
    }
    tx.commit().unwrap();
    assert_eq!(b.join().unwrap().expect("second creator succeeds"), (5, 8));

    // And many simultaneous first calls for fresh players.
    for _ in 0..20 {
        let player = new_uuid();
        let barrier = Arc::new(Barrier::new(2));
        let hs: Vec<_> = (0..2)
            .map(|_| {
                let (player, barrier) = (player.clone(), barrier.clone());
                thread::spawn(move || {
                    let mut c = shared_db();
                    barrier.wait();
                    c.query_one(INC, &[&player, &1i64]).map(|_| ())
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap().expect("both creators succeed");
        }
        let balance: i64 = shared_db()
            .query_one(
                "SELECT current_balance FROM loyalty.player_loyalty WHERE player_id = $1::text::uuid",
                &[&player],
            )
            .unwrap()
            .get(0);
        assert_eq!(balance, 2);
    }
}

/// Two sessions on a database of their own (the tests change its tiers).
fn two_sessions(prefix: &str) -> (postgres::Client, postgres::Client) {
    let db = casino_loyalty_client_tests::fresh_db(prefix);
    (
        casino_loyalty_client_tests::connect(&db),
        casino_loyalty_client_tests::connect(&db),
    )
}

const LOWER_SILVER: &str = "UPDATE loyalty.tier SET threshold_points = 4000 WHERE tier = 'SILVER'";

/// Each backend caches the tier ladder; a committed change to
/// `loyalty.tier` in another session must reach it before its next change.
#[test]
fn a_tier_ladder_change_reaches_a_backend_that_cached_the_old_one() {
    let (mut a, mut b) = two_sessions("ladder");
    let player = new_uuid();
    let tier = "SELECT tier_before, tier_after, tier_progress
                  FROM loyalty.increment_player_loyalty($1::text::uuid, $2::bigint)";
    // a caches the seeded ladder: 5,000 lifetime points is BRONZE, 50% to SILVER
    let r = a.query_one(tier, &[&player, &5000i64]).unwrap();
    assert_eq!(
        (r.get::<_, String>(1), r.get::<_, i16>(2)),
        ("BRONZE".into(), 50)
    );
    // b lowers SILVER to 4,000 and commits
    let n = b.execute(LOWER_SILVER, &[]).unwrap();
    assert_eq!(n, 1);
    // a's next change uses the new ladder
    let r = a.query_one(tier, &[&player, &1i64]).unwrap();
    assert_eq!(
        (r.get::<_, String>(0), r.get::<_, String>(1)),
        ("BRONZE".into(), "SILVER".into())
    );
    // a rolled-back change is not seen: still SILVER at 4,000
    let mut tx = b.transaction().unwrap();
    tx.execute(
        "UPDATE loyalty.tier SET threshold_points = 9000 WHERE tier = 'SILVER'",
        &[],
    )
    .unwrap();
    tx.rollback().unwrap();
    let r = a.query_one(tier, &[&player, &1i64]).unwrap();
    assert_eq!(r.get::<_, String>(1), "SILVER");
    let balance: i64 = a
        .query_one(
            "SELECT current_balance FROM loyalty.player_loyalty WHERE player_id = $1::text::uuid",
            &[&player],
        )
        .unwrap()
        .get(0);
    assert_eq!(balance, 5002);
}

/// A backend that cached the ladder of a dropped and re-created extension
/// follows the new `loyalty.tier` table, not the old one.
#[test]
fn the_ladder_cache_follows_a_recreated_extension() {
    let (mut a, mut b) = two_sessions("ladder_recreate");
    let tier =
        "SELECT tier_after FROM loyalty.increment_player_loyalty($1::text::uuid, $2::bigint)";
    let first = new_uuid();
    let r = a.query_one(tier, &[&first, &5000i64]).unwrap();
    assert_eq!(r.get::<_, String>(0), "BRONZE");
    a.batch_execute("DROP EXTENSION casino_loyalty CASCADE; CREATE EXTENSION casino_loyalty")
        .unwrap();
    let second = new_uuid();
    let r = a.query_one(tier, &[&second, &5000i64]).unwrap();
    assert_eq!(r.get::<_, String>(0), "BRONZE");
    // another session lowers SILVER on the new table
    b.execute(LOWER_SILVER, &[]).unwrap();
    let r = a.query_one(tier, &[&second, &1i64]).unwrap();
    assert_eq!(r.get::<_, String>(0), "SILVER");
}
