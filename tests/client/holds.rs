//! Comps over real connections (SPEC §15): who may hold, capture, void,
//! approve and reverse, what a refusal leaves (nothing, committed), what a
//! player reads, and sixteen sessions racing every way points move.

use casino_loyalty_client_tests::*;
use postgres::Client;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::thread;
use std::time::{Duration, Instant};

const HOLD: &str =
    "SELECT hold_id::text, status FROM loyalty.hold_points($1::text::uuid, $2::bigint, $3::text,
                    'comp for the test', p_staff_id => $4::text::uuid, p_request_id => $5::text,
                    p_ttl => $6::text::interval)";

/// Everything a hold, a capture or a reward can write, committed.
fn footprint(c: &mut Client) -> Vec<String> {
    let r = c
        .query_one(
            "SELECT (SELECT count(*) FROM loyalty.loyalty_ledger)::text,
                    (SELECT count(*) FROM loyalty.hold)::text,
                    (SELECT coalesce(string_agg(status, ',' ORDER BY created_at, hold_id), '') FROM loyalty.hold),
                    (SELECT coalesce(sum(current_balance), 0)::text || '/' || coalesce(sum(held_points), 0)::text
                       FROM loyalty.player_loyalty),
                    (SELECT count(*) FROM loyalty.notification)::text,
                    (SELECT count(*) FROM loyalty.alert)::text",
            &[],
        )
        .unwrap();
    (0..6).map(|i| r.get(i)).collect()
}

fn code(r: Result<impl Sized, postgres::Error>) -> String {
    match r {
        Ok(_) => "ok".into(),
        Err(e) => sqlstate(&e).1,
    }
}

/// `points` (a multiple of 5,000) in rewards of 5,000 each.
fn give(c: &mut Client, player: &str, points: i64, awarder: &str) {
    for n in 0..points / 5000 {
        let reason = format!("starting balance, part {n}");
        c.query_one(
            REWARD,
            &[&player, &5000i64, &reason, &awarder, &None::<String>],
        )
        .unwrap();
    }
}

/// Each caller that may not hold, capture, void, approve or reverse is
/// refused with its code, whoever they claim to be, and nothing commits;
/// a player reads their own holds and HOLD notifications and nobody else's.
#[test]
fn only_the_right_person_moves_held_points_and_refusals_commit_nothing() {
    let db = fresh_db("holds_callers");
    let mut c = connect(&db);
    c.batch_execute("GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA loyalty TO anon, authenticated")
        .unwrap();
    let (player, other, cashier, rater, approver) =
        (new_uuid(), new_uuid(), new_uuid(), new_uuid(), new_uuid());
    add_staff(&mut c, &cashier, &["loyalty:redeem", "loyalty:award"], true);
    add_staff(&mut c, &rater, &["loyalty:rate"], true);
    add_staff(&mut c, &approver, &["loyalty:approve"], true);
    give(&mut c, &player, 5000, &cashier);
    give(&mut c, &other, 5000, &cashier);
    let (hold, _): (String, String) = {
        let r = c
            .query_one(
                HOLD,
                &[
                    &player,
                    &700i64,
                    &"bar",
                    &cashier,
                    &None::<String>,
                    &"10 minutes",
                ],
            )
            .unwrap();
        (r.get(0), r.get(1))
    };
    let before = footprint(&mut c);
    let hold_as =
        |c: &mut Client, role: &str, sub: Option<&str>, who: &str, staff: Option<&str>| {
            code(as_role(c, role, sub, |tx| {
                tx.query_one(
                "SELECT * FROM loyalty.hold_points($1::text::uuid, 100, 'bar', 'a round of drinks',
                        p_staff_id => $2::text::uuid)",
                &[&who, &staff],
            )
            }))
        };
    let settle_as = |c: &mut Client, role: &str, sub: Option<&str>, sql: &str| {
        code(as_role(c, role, sub, |tx| tx.query_one(sql, &[&hold])))
    };
    let capture = "SELECT * FROM loyalty.capture_hold($1::text::uuid)";
    let void = "SELECT * FROM loyalty.void_hold($1::text::uuid, 'guest changed plans')";
    let approve = "SELECT * FROM loyalty.approve_hold($1::text::uuid)";
    assert_eq!(hold_as(&mut c, "anon", None, &player, None), "UNAUTHORIZED");
    assert_eq!(settle_as(&mut c, "anon", None, capture), "UNAUTHORIZED");
    assert_eq!(settle_as(&mut c, "anon", None, void), "UNAUTHORIZED");
    // the player themselves, a rater, an approver (not a redeemer)
    assert_eq!(
        hold_as(&mut c, "authenticated", Some(&player), &player, None),
        "FORBIDDEN"
    );
    assert_eq!(
        settle_as(&mut c, "authenticated", Some(&player), capture),
        "FORBIDDEN"
    );
    assert_eq!(
        hold_as(&mut c, "authenticated", Some(&rater), &player, None),
        "FORBIDDEN"
    );
    assert_eq!(
        settle_as(&mut c, "authenticated", Some(&approver), void),
        "FORBIDDEN"
    );
    // a redeemer naming someone else, or redeeming for themselves
    assert_eq!(
        hold_as(
            &mut c,
            "authenticated",
            Some(&cashier),
            &player,
            Some(&approver)
        ),
        "INVALID_STAFF_ID"
    );
    assert_eq!(
        hold_as(&mut c, "authenticated", Some(&cashier), &cashier, None),
        "FORBIDDEN"
    );
    // approving a hold that waits for nobody, as someone without loyalty:approve
    assert_eq!(
        settle_as(&mut c, "authenticated", Some(&cashier), approve),
        "FORBIDDEN"
    );
    assert_eq!(
        settle_as(&mut c, "authenticated", Some(&approver), approve),
        "HOLD_NOT_ACTIVE"
    );
    // a trusted back end names the person, who must hold the permission
    assert_eq!(
        hold_as(&mut c, "service_role", None, &player, None),
        "VALIDATION_ERROR"
    );
    assert_eq!(
        hold_as(&mut c, "service_role", None, &player, Some(&rater)),
        "FORBIDDEN"
    );
    // reversal: staff with loyalty:approve only
    let rev = |c: &mut Client, role: &str, sub: Option<&str>| {
        code(as_role(c, role, sub, |tx| {
            tx.query_one(
                "SELECT * FROM loyalty.reverse_redemption(1, 'moved to a cash charge')",
                &[],
            )
        }))
    };
    assert_eq!(rev(&mut c, "anon", None), "UNAUTHORIZED");
    assert_eq!(rev(&mut c, "authenticated", Some(&cashier)), "FORBIDDEN");
    assert_eq!(rev(&mut c, "authenticated", Some(&player)), "FORBIDDEN");
    // the sweep: trusted back ends only
    let sweep = |c: &mut Client, role: &str, sub: Option<&str>| {
        code(as_role(c, role, sub, |tx| {
            tx.query("SELECT * FROM loyalty.expire_holds()", &[])
        }))
    };
    assert_eq!(sweep(&mut c, "anon", None), "UNAUTHORIZED");
    assert_eq!(sweep(&mut c, "authenticated", Some(&cashier)), "FORBIDDEN");
    // and the cashier signed in, asking for what may not be: over the cap,
    // more than is available, a lifetime out of range, an unknown hold
    let ask = |c: &mut Client, points: i64, ttl: &str| {
        code(as_role(c, "authenticated", Some(&cashier), |tx| {
            tx.query_one(
                "SELECT * FROM loyalty.hold_points($1::text::uuid, $2, 'bar', 'a round of drinks',
                        p_ttl => $3::text::interval)",
                &[&player, &points, &ttl],
            )
        }))
    };
    assert_eq!(ask(&mut c, 50_001, "1 minute"), "REDEMPTION_EXCEEDS_LIMIT");
    assert_eq!(ask(&mut c, 4301, "1 minute"), "INSUFFICIENT_BALANCE");
    assert_eq!(ask(&mut c, 10, "7 days 00:00:01"), "VALIDATION_ERROR");
    let adjust = as_role(&mut c, "service_role", None, |tx| {
        tx.query_one(
            REWARD,
            &[
                &player,
                &-4301i64,
                &"clawback of a duplicate",
                &cashier,
                &None::<String>,
            ],
        )
    });
    assert_eq!(code(adjust), "INSUFFICIENT_BALANCE");
    let unknown = as_role(&mut c, "authenticated", Some(&cashier), |tx| {
        tx.query_one(
            "SELECT * FROM loyalty.void_hold(gen_random_uuid(), 'no such hold here')",
            &[],
        )
    });
    assert_eq!(code(unknown), "HOLD_NOT_FOUND");
    assert_eq!(footprint(&mut c), before, "a refusal committed something");

    // the cashier signed in: hold, capture; the player reads theirs only
    let captured = as_role(&mut c, "authenticated", Some(&cashier), |tx| {
        tx.query_one(
            "SELECT status, captured_points, available_after FROM loyalty.capture_hold($1::text::uuid, 500)",
            &[&hold],
        )
        .map(|r| (r.get::<_, String>(0), r.get::<_, Option<i64>>(1), r.get::<_, i64>(2)))
    })
    .unwrap();
    assert_eq!(captured, ("CAPTURED".to_string(), Some(500), 4500));
    as_role(&mut c, "authenticated", Some(&cashier), |tx| {
        tx.query_one(
            "SELECT * FROM loyalty.hold_points($1::text::uuid, 300, 'buffet', 'lunch for the other')",
            &[&other],
        )
    })
    .unwrap();
    let seen = as_role(&mut c, "authenticated", Some(&player), |tx| {
        let holds: Vec<String> = tx
            .query("SELECT player_id::text FROM loyalty.hold", &[])?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let events: Vec<String> = tx
            .query(
                "SELECT payload->>'event' FROM loyalty.notification WHERE kind = 'HOLD' ORDER BY id",
                &[],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect();
        Ok((holds, events))
    })
    .unwrap();
    assert_eq!(seen.0, vec![player.clone()]);
    assert_eq!(seen.1, vec!["points_held", "hold_captured"]);
    // anon may not read holds at all
    let anon = as_role(&mut c, "anon", None, |tx| {
        tx.query("SELECT 1 FROM loyalty.hold", &[]).map(|r| r.len())
    });
    assert_eq!(code(anon), "permission denied for table hold");
    drop(c);
    connect("postgres")
        .batch_execute(&format!("DROP DATABASE {db} WITH (FORCE)"))
        .unwrap();
}

/// A tiny deterministic generator (no dependency for one test).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The SQLSTATE and spec code of a refusal the race may meet: another
/// session got there first or spent the points. Anything else (a deadlock
/// among them) fails the test.
fn expected_refusal(e: &postgres::Error) -> bool {
    let (state, message) = sqlstate(e);
    matches!(
        (state.as_str(), message.as_str()),
        ("PT409", "INSUFFICIENT_BALANCE")
            // two captures of one hold asking for different amounts
            | ("PT409", "IDEMPOTENCY_CONFLICT")
            | ("PT409", "HOLD_NOT_ACTIVE")
            | ("PT409", "SLIP_OVERLAP")
            | ("PT409", "SLIP_ALREADY_OPEN")
    )
}

/// 16 sessions, 30 seconds, four players: holds (with retried request ids
/// and lifetimes of one to three seconds), captures in full and in part,
/// voids, expiry sweeps, one-call redemptions, reversals, rewards and
/// adjustments both ways, and slip completions. Afterwards, from the rows:
/// available points never went below 0 at any commit, each captured hold
/// posted exactly one entry and no other hold any, reversals at most once,
/// held points are the live holds, balances the ledger, chains valid.
#[test]
fn sixteen_sessions_race_every_way_points_move_and_the_books_balance() {
    let mut c = shared_db();
    let players: Vec<String> = (0..4).map(|_| new_uuid()).collect();
    let (cashier, approver) = (new_uuid(), new_uuid());
    add_staff(&mut c, &cashier, &["loyalty:redeem"], true);
    add_staff(&mut c, &approver, &["loyalty:approve"], true);
    // rewards are rate-limited per staff member (10 a minute): this race is
    // not about that, so each session takes its awarders in turn from its
    // own 128 (a few rewards each in 30 s)
    let awarders: Vec<String> = c
        .query(
            "INSERT INTO loyalty.staff (staff_id, permissions)
             SELECT gen_random_uuid(), '{loyalty:award}' FROM generate_series(1, 2048) RETURNING staff_id::text",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    for (n, p) in players.iter().enumerate() {
        give(&mut c, p, 20_000, &awarders[n]);
    }
    let seconds: u64 = std::env::var("LOYALTY_RACE_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    let slot = Arc::new(AtomicU64::new(0));
    let barrier = Arc::new(Barrier::new(16));
    let tally = Arc::new(Mutex::new(HashMap::<String, u64>::new()));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let threads: Vec<_> = (0..16u64)
        .map(|t| {
            let (players, cashier, approver) = (players.clone(), cashier.clone(), approver.clone());
            let awarders = awarders[(t as usize) * 128..(t as usize + 1) * 128].to_vec();
            let mut turn = 0usize;
            let (slot, barrier, tally, failures) =
                (slot.clone(), barrier.clone(), tally.clone(), failures.clone());
            thread::spawn(move || {
                let mut c = shared_db();
                let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ ((t + 1) * 0x1000_0001));
                barrier.wait();
                let end = Instant::now() + Duration::from_secs(seconds);
                while Instant::now() < end {
                    let player = &players[rng.below(4) as usize];
                    let op = rng.below(9);
                    let r: Result<(), postgres::Error> = match op {
                        0 | 1 => {
                            // a hold; a request id from a small pool, so
                            // retries race their first call (same payload)
                            let k = rng.below(40);
                            let request = format!("{player}:{k}");
                            let points = 100 + (k as i64 * 97) % 2400;
                            let ttl = format!("{} seconds", 1 + rng.below(3));
                            c.query_one(HOLD, &[player, &points, &"bar", &cashier, &Some(request), &ttl])
                                .map(|_| ())
                        }
                        2 | 3 => {
                            // capture a live hold, in full or in part
                            let partial = rng.below(2) == 0;
                            c.query(
                                "SELECT loyalty.capture_hold(h.hold_id,
                                        CASE WHEN $3 THEN greatest(1, h.points / 2) END, $2::text::uuid)
                                   FROM (SELECT hold_id, points FROM loyalty.hold
                                          WHERE player_id = $1::text::uuid AND status = 'ACTIVE'
                                          ORDER BY random() LIMIT 1) h",
                                &[player, &cashier, &partial],
                            )
                            .map(|_| ())
                        }
                        4 => c
                            .query(
                                "SELECT loyalty.void_hold(h.hold_id, 'guest changed plans', $2::text::uuid)
                                   FROM (SELECT hold_id FROM loyalty.hold
                                          WHERE player_id = $1::text::uuid AND status = 'ACTIVE'
                                          ORDER BY random() LIMIT 1) h",
                                &[player, &cashier],
                            )
                            .map(|_| ()),
                        5 => c.query("SELECT * FROM loyalty.expire_holds(50)", &[]).map(|_| ()),
                        6 => {
                            // a reward, or an adjustment that must respect held points
                            let points = rng.below(3000) as i64 - 1500;
                            let points = if points == 0 { 1 } else { points };
                            let reason = format!("race adjustment {}", rng.below(1_000_000));
                            turn += 1;
                            let awarder = &awarders[turn % awarders.len()];
                            c.query_one(REWARD, &[player, &points, &reason, awarder, &None::<String>])
                                .map(|_| ())
                        }
                        7 => {
                            // free play in one call, or a reversal of a redemption
                            if rng.below(2) == 0 {
                                c.query_one(
                                    "SELECT * FROM loyalty.redeem_points($1::text::uuid, $2::bigint, 'free play',
                                            'kiosk free play', $3::text::uuid)",
                                    &[player, &(1 + rng.below(800) as i64), &cashier],
                                )
                                .map(|_| ())
                            } else {
                                c.query(
                                    "SELECT loyalty.reverse_redemption(h.ledger_entry_id, 'moved to a cash charge',
                                            $2::text::uuid)
                                       FROM (SELECT ledger_entry_id FROM loyalty.hold
                                              WHERE player_id = $1::text::uuid AND status = 'CAPTURED'
                                              ORDER BY random() LIMIT 1) h",
                                    &[player, &approver],
                                )
                                .map(|_| ())
                            }
                        }
                        _ => {
                            // two seconds of play in its own three-second
                            // window of the last day (a later window closed
                            // first makes this one SLIP_OVERLAP: play is
                            // rated once); 27,600 windows, more than a run
                            // of 30 s opens
                            let n = slot.fetch_add(1, Ordering::Relaxed) as i64;
                            c.query_one(
                                "SELECT id::text FROM loyalty.open_rating_slip($1::text::uuid, 'BLACKJACK', 5000,
                                        p_start_time => now() - interval '23 hours' + $2::bigint * interval '3 seconds',
                                        p_staff_id => $3::text::uuid)",
                                &[player, &n, &FLOOR],
                            )
                            .and_then(|r| {
                                let slip: String = r.get(0);
                                c.query_one(
                                    "SELECT status FROM loyalty.complete_rating_slip($1::text::uuid,
                                            p_end_time => now() - interval '23 hours' + $2::bigint * interval '3 seconds'
                                                          + interval '2 seconds',
                                            p_staff_id => $3::text::uuid)",
                                    &[&slip, &n, &FLOOR],
                                )
                                .map(|_| ())
                            })
                        }
                    };
                    let outcome = match &r {
                        Ok(()) => format!("op{op}:ok"),
                        Err(e) if expected_refusal(e) => format!("op{op}:{}", sqlstate(e).1),
                        Err(e) => {
                            let detail = e.as_db_error().and_then(|d| d.detail()).unwrap_or("");
                            failures.lock().unwrap().push(format!("op {op}: {:?} {detail}", sqlstate(e)));
                            format!("op{op}:unexpected")
                        }
                    };
                    *tally.lock().unwrap().entry(outcome).or_default() += 1;
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let failures = failures.lock().unwrap().clone();
    let tally = tally.lock().unwrap().clone();
    eprintln!("race outcomes: {tally:?}");
    let mut kinds = failures.clone();
    kinds.sort();
    kinds.dedup();
    assert!(
        failures.is_empty(),
        "{} unexpected errors: {kinds:?}",
        failures.len()
    );
    for needed in [
        "op0:ok", "op2:ok", "op4:ok", "op5:ok", "op6:ok", "op7:ok", "op8:ok",
    ] {
        assert!(
            tally.get(needed).copied().unwrap_or(0) > 0,
            "the race never did {needed}: {tally:?}"
        );
    }
    // let every hold still live reach its deadline and be swept
    thread::sleep(Duration::from_secs(4));
    c.query("SELECT * FROM loyalty.expire_holds(100000)", &[])
        .unwrap();

    let ids: Vec<&str> = players.iter().map(String::as_str).collect();
    // Replay each player's history in lock order (every time below is taken
    // under the player's row lock): holds reserve at created_at and release
    // at decided_at (a capture: at its entry, which releases the hold in the
    // same statement). Available points never below 0 after any step.
    let below_zero: i64 = c
        .query_one(
            "WITH ev AS (
                 SELECT l.player_id, l.created_at AS at, l.id AS tiebreak, l.points_change AS dbal,
                        -coalesce(h.points, 0) AS dheld
                   FROM loyalty.loyalty_ledger l
                   LEFT JOIN loyalty.hold h ON h.ledger_entry_id = l.id
                  WHERE l.player_id::text = ANY ($1)
                 UNION ALL
                 SELECT player_id, created_at, 0, 0, points FROM loyalty.hold WHERE player_id::text = ANY ($1)
                 UNION ALL
                 SELECT player_id, decided_at, 0, 0, -points FROM loyalty.hold
                  WHERE player_id::text = ANY ($1) AND status IN ('VOIDED', 'EXPIRED')),
             run AS (
                 SELECT sum(dbal) OVER w AS balance, sum(dheld) OVER w AS held
                   FROM ev WINDOW w AS (PARTITION BY player_id ORDER BY at, tiebreak
                                        ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW))
             SELECT count(*) FILTER (WHERE balance - held < 0 OR held < 0) FROM run",
            &[&ids],
        )
        .unwrap()
        .get(0);
    assert_eq!(
        below_zero, 0,
        "available points went below 0 at some commit"
    );
    // each captured hold posted exactly one entry, no other hold any
    let r = c
        .query_one(
            "SELECT (SELECT count(*) FROM loyalty.loyalty_ledger l
                      WHERE l.player_id::text = ANY ($1) AND l.transaction_type = 'REDEMPTION'),
                    (SELECT count(*) FROM loyalty.hold h WHERE h.player_id::text = ANY ($1) AND h.status = 'CAPTURED'),
                    (SELECT count(*) FROM loyalty.hold h
                       JOIN loyalty.loyalty_ledger l ON l.player_id = h.player_id AND l.id = h.ledger_entry_id
                      WHERE h.player_id::text = ANY ($1) AND h.status = 'CAPTURED'
                        AND l.transaction_type = 'REDEMPTION' AND l.points_change = -h.captured_points
                        AND l.idempotency_key = 'redemption:' || h.hold_id),
                    (SELECT count(*) FROM loyalty.loyalty_ledger l
                       JOIN loyalty.hold h ON l.idempotency_key = 'redemption:' || h.hold_id
                      WHERE h.status <> 'CAPTURED'),
                    (SELECT count(*) FROM (SELECT reverses_entry_id FROM loyalty.loyalty_ledger
                                            WHERE reverses_entry_id IS NOT NULL AND player_id::text = ANY ($1)
                                            GROUP BY 1 HAVING count(*) > 1) twice),
                    (SELECT count(*) FROM loyalty.hold WHERE player_id::text = ANY ($1)
                                                         AND status IN ('ACTIVE', 'PENDING_APPROVAL'))",
            &[&ids],
        )
        .unwrap();
    let (redemptions, captured, matched, stray, twice, live): (i64, i64, i64, i64, i64, i64) =
        (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5));
    assert!(captured > 0);
    assert_eq!(
        (redemptions, matched),
        (captured, captured),
        "a hold posted twice or not at all"
    );
    assert_eq!(stray, 0, "a voided or expired hold posted");
    assert_eq!(twice, 0, "a redemption was reversed twice");
    assert_eq!(live, 0, "the sweep left a past-due hold live");
    for p in &players {
        let r = c
            .query_one(
                "SELECT v.ok, v.held_points, v.live_hold_points, ch.ok
                   FROM loyalty.verify_player_balance($1::text::uuid) v,
                        loyalty.verify_ledger_chain($1::text::uuid) ch",
                &[p],
            )
            .unwrap();
        let (ok, held, live, chain): (bool, i64, i64, bool) =
            (r.get(0), r.get(1), r.get(2), r.get(3));
        assert!(ok && chain, "player {p}: balance ok {ok}, chain ok {chain}");
        assert_eq!((held, live), (0, 0));
    }
    let mismatches = c
        .query("SELECT * FROM loyalty.verify_all_balances()", &[])
        .unwrap();
    assert!(
        mismatches.is_empty(),
        "{} balances differ from the ledger",
        mismatches.len()
    );
}

/// The health check (SPEC §15): held points that are not the sum of the
/// player's live holds are HOLD_MISMATCH (CRITICAL); a live hold past its
/// deadline that two sweeps should have released is HOLD_EXPIRY_LATE. Each
/// resolves once the condition is gone.
#[test]
fn health_check_finds_held_points_that_are_not_the_holds_and_a_sweep_that_stopped() {
    let db = fresh_db("holds_health");
    let mut c = connect(&db);
    let (player, cashier) = (new_uuid(), new_uuid());
    add_staff(&mut c, &cashier, &["loyalty:redeem", "loyalty:award"], true);
    give(&mut c, &player, 5000, &cashier);
    let hold: String = c
        .query_one(
            HOLD,
            &[
                &player,
                &700i64,
                &"bar",
                &cashier,
                &None::<String>,
                &"10 minutes",
            ],
        )
        .unwrap()
        .get(0);
    let findings = |c: &mut Client| -> Vec<(String, String)> {
        c.query(
            "SELECT kind, severity FROM loyalty.health_check() ORDER BY kind",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
    };
    assert_eq!(findings(&mut c), vec![]);
    // behind the write path's back: held points no hold accounts for, and
    // a hold whose deadline passed three minutes ago without a sweep
    c.batch_execute(&format!(
        "UPDATE loyalty.player_loyalty SET held_points = 900 WHERE player_id = '{player}';
         UPDATE loyalty.hold SET expires_at = now() - interval '3 minutes' WHERE hold_id = '{hold}';"
    ))
    .unwrap();
    assert_eq!(
        findings(&mut c),
        vec![
            ("HOLD_EXPIRY_LATE".to_string(), "WARNING".to_string()),
            ("HOLD_MISMATCH".to_string(), "CRITICAL".to_string()),
        ]
    );
    let details: String = c
        .query_one(
            "SELECT details::text FROM loyalty.alert WHERE kind = 'HOLD_MISMATCH' AND resolved_at IS NULL",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&details).unwrap(),
        serde_json::json!({"held_points": 900, "live_hold_points": 700})
    );
    // the operator puts the held points back; the sweep releases the hold
    c.batch_execute(&format!(
        "UPDATE loyalty.player_loyalty SET held_points = 700 WHERE player_id = '{player}';"
    ))
    .unwrap();
    let swept: i64 = c
        .query_one("SELECT count(*) FROM loyalty.expire_holds()", &[])
        .unwrap()
        .get(0);
    assert_eq!(swept, 1);
    assert_eq!(findings(&mut c), vec![]);
    let open: i64 = c
        .query_one(
            "SELECT count(*) FROM loyalty.alert WHERE kind LIKE 'HOLD_%' AND resolved_at IS NULL",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(open, 0);
    drop(c);
    connect("postgres")
        .batch_execute(&format!("DROP DATABASE {db} WITH (FORCE)"))
        .unwrap();
}
