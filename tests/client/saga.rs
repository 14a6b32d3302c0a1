//! The complete-slip saga over real connections: real lock contention, a
//! failing trigger, a killed backend, concurrency, and the runbooks.

use casino_loyalty_client_tests::*;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

const COMPLETE: &str = "SELECT status, error_code, recovery_needed, correlation_id, points_earned
                          FROM loyalty.complete_rating_slip($1::text::uuid, $2, p_staff_id => coalesce(loyalty.caller_uid(), '00000000-0000-4000-8000-00000000f100'))";

#[test]
fn saga_recovers_after_a_real_lock_timeout() {
    let player = new_uuid();
    let mut c = shared_db();
    c.query_one(
        "SELECT loyalty.increment_player_loyalty($1::text::uuid, 0)",
        &[&player],
    )
    .unwrap();
    let slip = open_slip(&mut c, &player);

    // Another session holds the player's balance row.
    let mut holder = shared_db();
    let mut tx = holder.transaction().unwrap();
    tx.query_one(
        "SELECT 1 FROM loyalty.player_loyalty WHERE player_id = $1::text::uuid FOR UPDATE",
        &[&player],
    )
    .unwrap();

    c.batch_execute("SET lock_timeout = '300ms'").unwrap();
    let corr = format!("lock-{}", unique());
    let r = c.query_one(COMPLETE, &[&slip, &corr]).unwrap();
    assert_eq!(r.get::<_, String>(0), "PARTIAL_COMPLETION");
    assert_eq!(r.get::<_, Option<String>>(1).as_deref(), Some("55P03"));
    assert!(r.get::<_, bool>(2));
    assert_eq!(r.get::<_, String>(3), corr);
    assert_eq!(slip_status(&mut c, &slip), "CLOSED");
    assert_eq!(gameplay_rows(&mut c, &slip), 0);
    let pending: (String, i32, String) = {
        let p = c
            .query_one(
                "SELECT error_code, attempts, correlation_id FROM loyalty.pending_accrual
                  WHERE rating_slip_id = $1::text::uuid AND resolved_at IS NULL",
                &[&slip],
            )
            .unwrap();
        (p.get(0), p.get(1), p.get(2))
    };
    assert_eq!(pending, ("55P03".to_string(), 1, corr.clone()));

    tx.rollback().unwrap();
    c.batch_execute("RESET lock_timeout").unwrap();
    let r = c
        .query_one("SELECT points_earned, idempotent_hit FROM loyalty.recover_slip_loyalty($1::text::uuid)", &[&slip])
        .unwrap();
    assert_eq!((r.get::<_, i64>(0), r.get::<_, bool>(1)), (350, false));
    let r = c
        .query_one("SELECT points_earned, idempotent_hit FROM loyalty.recover_slip_loyalty($1::text::uuid)", &[&slip])
        .unwrap();
    assert_eq!((r.get::<_, i64>(0), r.get::<_, bool>(1)), (350, true));
    assert_eq!(gameplay_rows(&mut c, &slip), 1);
    let resolved: bool = c
        .query_one("SELECT resolved_at IS NOT NULL FROM loyalty.pending_accrual WHERE rating_slip_id = $1::text::uuid", &[&slip])
        .unwrap()
        .get(0);
    assert!(resolved);
    let balance: i64 = c
        .query_one(
            "SELECT current_balance FROM loyalty.player_loyalty WHERE player_id = $1::text::uuid",
            &[&player],
        )
        .unwrap()
        .get(0);
    assert_eq!(balance, 350);
}

#[test]
fn saga_trigger_failure_partial_and_atomic() {
    let db = fresh_db("saga_trigger");
    let mut c = connect(&db);
    let player = new_uuid();
    ledger_down(&mut c);
    let slip = open_slip(&mut c, &player);
    let r = c.query_one(COMPLETE, &[&slip, &"trig"]).unwrap();
    assert_eq!(r.get::<_, String>(0), "PARTIAL_COMPLETION");
    assert_eq!(r.get::<_, Option<String>>(1).as_deref(), Some("XX001"));
    assert_eq!(slip_status(&mut c, &slip), "CLOSED");
    assert_eq!(gameplay_rows(&mut c, &slip), 0);
    let n: i64 = c
        .query_one("SELECT count(*) FROM loyalty.pending_accrual", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 1);

    // p_atomic: the whole call fails, the slip stays OPEN, nothing is written
    let slip2 = open_slip(&mut c, &player);
    let e = c
        .query_one(
            "SELECT * FROM loyalty.complete_rating_slip($1::text::uuid, NULL, true, p_staff_id => coalesce(loyalty.caller_uid(), '00000000-0000-4000-8000-00000000f100'))",
            &[&slip2],
        )
        .unwrap_err();
    assert_eq!(sqlstate(&e).1, "ledger is down");
    assert_eq!(slip_status(&mut c, &slip2), "OPEN");
    assert_eq!(gameplay_rows(&mut c, &slip2), 0);
    let n: i64 = c
        .query_one("SELECT count(*) FROM loyalty.pending_accrual", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 1);
    let players: i64 = c
        .query_one("SELECT count(*) FROM loyalty.player_loyalty", &[])
        .unwrap()
        .get(0);
    assert_eq!(players, 0);

    ledger_up(&mut c);
    let r = c
        .query_one("SELECT * FROM loyalty.recover_partial_completions()", &[])
        .unwrap();
    assert_eq!(
        (
            r.get::<_, i32>(0),
            r.get::<_, i32>(1),
            r.get::<_, i32>(2),
            r.get::<_, i64>(3)
        ),
        (1, 1, 0, 350)
    );
    assert_eq!(gameplay_rows(&mut c, &slip), 1);
}

#[test]
fn saga_completion_is_idempotent_sequentially_and_concurrently() {
    let player = new_uuid();
    let mut c = shared_db();
    let slip = open_slip(&mut c, &player);
    assert_eq!(
        c.query_one(COMPLETE, &[&slip, &"seq"])
            .unwrap()
            .get::<_, String>(0),
        "COMPLETED"
    );
    assert_eq!(
        c.query_one(COMPLETE, &[&slip, &"seq"])
            .unwrap()
            .get::<_, String>(0),
        "ALREADY_COMPLETED"
    );
    assert_eq!(gameplay_rows(&mut c, &slip), 1);

    for _ in 0..10 {
        let slip = open_slip(&mut c, &player);
        let barrier = Arc::new(Barrier::new(2));
        let hs: Vec<_> = (0..2)
            .map(|_| {
                let (slip, barrier) = (slip.clone(), barrier.clone());
                thread::spawn(move || {
                    let mut c = shared_db();
                    barrier.wait();
                    c.query_one(COMPLETE, &[&slip, &"race"])
                        .unwrap()
                        .get::<_, String>(0)
                })
            })
            .collect();
        let mut statuses: Vec<String> = hs.into_iter().map(|h| h.join().unwrap()).collect();
        statuses.sort();
        assert_eq!(statuses, ["ALREADY_COMPLETED", "COMPLETED"]);
        assert_eq!(gameplay_rows(&mut c, &slip), 1);
    }
}

#[test]
fn saga_killed_backend_leaves_nothing_then_completes() {
    let player = new_uuid();
    let mut c = shared_db();
    c.query_one(
        "SELECT loyalty.increment_player_loyalty($1::text::uuid, 0)",
        &[&player],
    )
    .unwrap();
    let slip = open_slip(&mut c, &player);
    let mut holder = shared_db();
    let mut tx = holder.transaction().unwrap();
    tx.query_one(
        "SELECT 1 FROM loyalty.player_loyalty WHERE player_id = $1::text::uuid FOR UPDATE",
        &[&player],
    )
    .unwrap();

    let s2 = slip.clone();
    let victim = thread::spawn(move || {
        shared_db()
            .query_one(COMPLETE, &[&s2, &"victim"])
            .map(|_| ())
    });
    let mut watcher = shared_db();
    let pid = wait_for_lock_waiter(&mut watcher, "complete_rating_slip");
    let killed: bool = watcher
        .query_one("SELECT pg_terminate_backend($1)", &[&pid])
        .unwrap()
        .get(0);
    assert!(killed);
    assert!(
        victim.join().unwrap().is_err(),
        "the killed session's call fails"
    );
    tx.rollback().unwrap();

    assert_eq!(slip_status(&mut c, &slip), "OPEN");
    assert_eq!(gameplay_rows(&mut c, &slip), 0);
    let pending: i64 = c
        .query_one(
            "SELECT count(*) FROM loyalty.pending_accrual WHERE rating_slip_id = $1::text::uuid",
            &[&slip],
        )
        .unwrap()
        .get(0);
    assert_eq!(pending, 0);
    assert_eq!(
        c.query_one(COMPLETE, &[&slip, &"after"])
            .unwrap()
            .get::<_, String>(0),
        "COMPLETED"
    );
    assert_eq!(gameplay_rows(&mut c, &slip), 1);
}

#[test]
fn saga_no_deadlocks_under_mixed_load() {
    let db = fresh_db("saga_stress");
    // Fewer players than threads: a seat taken (SLIP_ALREADY_OPEN, one OPEN
    // slip per player) sends the thread to the next player, and completions,
    // accruals and recoveries of different slips hit the same player rows.
    let players: Vec<String> = (0..3).map(|_| new_uuid()).collect();
    let deadline = Instant::now() + Duration::from_secs(4);
    let hs: Vec<_> = (0..6)
        .map(|t| {
            let (db, players) = (db.clone(), players.clone());
            thread::spawn(move || {
                let mut c = connect(&db);
                let mut errors = Vec::new();
                let (mut done, mut attempt) = (0, t);
                while Instant::now() < deadline {
                    attempt += 1;
                    let player = &players[attempt % players.len()];
                    let slip: String = match c.query_one(
                        // from the end of the player's last slip (no overlapping play)
                        "SELECT id::text FROM loyalty.open_rating_slip($1::text::uuid, 'BLACKJACK', 25, NULL, NULL,
                                greatest(now() - interval '1 hour',
                                         least(now(), (SELECT max(end_time) FROM loyalty.rating_slip
                                                        WHERE player_id = $1::text::uuid))),
                                p_staff_id => coalesce(loyalty.caller_uid(), '00000000-0000-4000-8000-00000000f100'))",
                        &[player],
                    ) {
                        Ok(r) => r.get(0),
                        // another thread's slip is open, or just closed after the start read
                        Err(e) if ["SLIP_ALREADY_OPEN", "SLIP_OVERLAP"].contains(&sqlstate(&e).1.as_str()) => continue,
                        Err(e) => {
                            errors.push(sqlstate(&e));
                            continue;
                        }
                    };
                    let r = if t % 2 == 0 {
                        c.query_one(COMPLETE, &[&slip, &"stress"]).map(|_| ())
                    } else {
                        // close without points, then accrue twice: more posts to the same player
                        c.query_one(COMPLETE, &[&slip, &"stress"])
                            .and_then(|_| {
                                c.query_one(
                                    "SELECT * FROM loyalty.accrue_points_from_slip($1::text::uuid)",
                                    &[&slip],
                                )
                            })
                            .and_then(|_| {
                                c.query_one(
                                    "SELECT * FROM loyalty.recover_slip_loyalty($1::text::uuid)",
                                    &[&slip],
                                )
                            })
                            .map(|_| ())
                    };
                    if let Err(e) = r {
                        errors.push(sqlstate(&e));
                    }
                    done += 1;
                }
                (done, errors)
            })
        })
        .collect();
    let mut total = 0;
    for h in hs {
        let (done, errors) = h.join().unwrap();
        assert!(errors.is_empty(), "errors under load: {errors:?}");
        total += done;
    }
    assert!(total > 0);
    let mut c = connect(&db);
    let mismatches: i64 = c
        .query_one("SELECT count(*) FROM loyalty.verify_all_balances()", &[])
        .unwrap()
        .get(0);
    assert_eq!(mismatches, 0);
    let row = c
        .query_one(
            "SELECT count(*), count(DISTINCT rating_slip_id), (SELECT count(*) FROM loyalty.rating_slip)
               FROM loyalty.loyalty_ledger",
            &[],
        )
        .unwrap();
    let (entries, slips, all): (i64, i64, i64) = (row.get(0), row.get(1), row.get(2));
    assert_eq!((entries, slips), (all, all), "one entry per slip");
    let pending: i64 = c
        .query_one(
            "SELECT count(*) FROM loyalty.list_partial_completions()",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(pending, 0);
}

#[test]
fn runbook_verify_rebuild_and_bulk_recovery_of_a_thousand() {
    let db = fresh_db("runbook");
    let mut c = connect(&db);
    let player = new_uuid();
    let slip = open_slip(&mut c, &player);
    c.query_one(COMPLETE, &[&slip, &"rb"]).unwrap();

    // corrupt as superuser, find it, repair it
    c.execute(
        "UPDATE loyalty.player_loyalty SET current_balance = current_balance + 1",
        &[],
    )
    .unwrap();
    let bad: Vec<(i64, i64)> = c
        .query(
            "SELECT current_balance, ledger_balance FROM loyalty.verify_all_balances()",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(bad, [(351, 350)]);
    c.query_one(
        "SELECT * FROM loyalty.rebuild_player_balance($1::text::uuid, p_reason => 'runbook test drift')",
        &[&player],
    )
    .unwrap();
    // the repair is an entry in the open: the balance it found, the one it
    // set, who did it and why
    let me: String = c
        .query_one("SELECT current_user::text", &[])
        .unwrap()
        .get(0);
    let rec = c
        .query_one(
            "SELECT points_change, balance_before, balance_after, source, reason FROM loyalty.loyalty_ledger
              WHERE player_id = $1::text::uuid AND transaction_type = 'RECONCILIATION'",
            &[&player],
        )
        .unwrap();
    assert_eq!(
        (
            rec.get::<_, i64>(0),
            rec.get::<_, i64>(1),
            rec.get::<_, i64>(2),
            rec.get::<_, String>(3),
            rec.get::<_, String>(4)
        ),
        (
            -1,
            351,
            350,
            format!("rebuild_player_balance by {me}"),
            "runbook test drift".to_string()
        )
    );
    let ok: bool = c
        .query_one(
            "SELECT ok FROM loyalty.verify_player_balance($1::text::uuid)",
            &[&player],
        )
        .unwrap()
        .get(0);
    assert!(ok, "verify after rebuild");
    let n: i64 = c
        .query_one("SELECT count(*) FROM loyalty.verify_all_balances()", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 0);

    // 1,000 partial completions, for 100 players
    ledger_down(&mut c);
    c.batch_execute(
        "CREATE TEMP TABLE s AS
           SELECT (loyalty.open_rating_slip(gen_random_uuid(), 'CRAPS', 10 + g % 7, NULL, NULL,
                                            now() - interval '30 minutes', p_staff_id => coalesce(loyalty.caller_uid(), '00000000-0000-4000-8000-00000000f100'))).id
             FROM generate_series(1, 1000) g;
         SELECT count(*) FROM s, LATERAL loyalty.complete_rating_slip(s.id, p_staff_id => coalesce(loyalty.caller_uid(), '00000000-0000-4000-8000-00000000f100')) x;",
    )
    .unwrap();
    ledger_up(&mut c);
    let listed: i64 = c
        .query_one(
            "SELECT count(*) FROM loyalty.list_partial_completions(5000)",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(listed, 1000);
    let owed: i64 = c
        .query_one(
            "SELECT sum(points_owed)::bigint FROM loyalty.list_partial_completions(5000)",
            &[],
        )
        .unwrap()
        .get(0);
    // batches are bounded: every player a call pays stays locked until commit
    let e = c
        .query_one(
            "SELECT * FROM loyalty.recover_partial_completions(5000, 'bulk')",
            &[],
        )
        .unwrap_err();
    assert_eq!(sqlstate(&e).0, "PT422");
    // A call starts no slip once half the accrual lock timeout has passed
    // (its players stay locked until it commits), so on a slow machine it
    // may take more than one call; every call recovers all it attempts.
    let (mut calls, mut attempted, mut recovered, mut points) = (0, 0, 0, 0i64);
    loop {
        let r = c
            .query_one(
                "SELECT * FROM loyalty.recover_partial_completions(1000, 'bulk')",
                &[],
            )
            .unwrap();
        let (a, rec, failed): (i32, i32, i32) = (r.get(0), r.get(1), r.get(2));
        assert_eq!((rec, failed), (a, 0));
        if a == 0 {
            break;
        }
        calls += 1;
        attempted += a;
        recovered += rec;
        points += r.get::<_, i64>(3);
        assert!(calls <= 1000, "bulk recovery made no progress");
    }
    assert_eq!((attempted, recovered), (1000, 1000));
    assert_eq!(points, owed);
    let r = c
        .query_one(
            "SELECT * FROM loyalty.recover_partial_completions(1000, 'bulk-again')",
            &[],
        )
        .unwrap();
    assert_eq!((r.get::<_, i32>(0), r.get::<_, i32>(1)), (0, 0));
    let row = c
        .query_one(
            "SELECT count(*), count(*) FILTER (WHERE correlation_id = 'bulk') FROM loyalty.loyalty_ledger",
            &[],
        )
        .unwrap();
    // the slip, the reconciliation, the thousand
    assert_eq!((row.get::<_, i64>(0), row.get::<_, i64>(1)), (1002, 1000));
    let unresolved: i64 = c
        .query_one(
            "SELECT count(*) FROM loyalty.pending_accrual WHERE resolved_at IS NULL",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(unresolved, 0);
    let n: i64 = c
        .query_one("SELECT count(*) FROM loyalty.verify_all_balances()", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 0);
}
