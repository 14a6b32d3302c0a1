//! Integrity, round 2 (SPEC §14): each way an insider got through 0.2.0,
//! tried again over real connections, with the footprint of every refusal.

use casino_loyalty_client_tests::*;
use postgres::Client;
use std::sync::{Arc, Barrier};
use std::thread;

/// What a refused call must leave as it was.
fn footprint(c: &mut Client) -> Vec<i64> {
    let r = c
        .query_one(
            "SELECT (SELECT count(*) FROM loyalty.loyalty_ledger), (SELECT count(*) FROM loyalty.rating_slip),
                    (SELECT count(*) FROM loyalty.voucher), (SELECT count(*) FROM loyalty.pending_accrual),
                    (SELECT coalesce(sum(current_balance), 0)::bigint FROM loyalty.player_loyalty),
                    (SELECT count(*) FROM loyalty.alert),
                    (SELECT coalesce(sum(attempts), 0)::bigint FROM loyalty.pending_accrual)",
            &[],
        )
        .unwrap();
    (0..7).map(|i| r.get(i)).collect()
}

fn code(r: Result<impl Sized, postgres::Error>) -> String {
    match r {
        Ok(_) => "ok".into(),
        Err(e) => sqlstate(&e).1,
    }
}

/// A signed-in rater's slip for `player`, started `ago` before now.
fn open_as(
    c: &mut Client,
    rater: &str,
    player: &str,
    ago: &str,
) -> Result<String, postgres::Error> {
    as_role(c, "authenticated", Some(rater), |tx| {
        tx.query_one(
            "SELECT id::text FROM loyalty.open_rating_slip($1::text::uuid, 'BLACKJACK', 25,
                    p_start_time => now() - $2::text::interval)",
            &[&player, &ago],
        )
        .map(|r| r.get(0))
    })
}

fn complete_as(
    c: &mut Client,
    rater: &str,
    slip: &str,
) -> Result<(String, Option<i64>), postgres::Error> {
    as_role(c, "authenticated", Some(rater), |tx| {
        tx.query_one(
            "SELECT status, points_earned FROM loyalty.complete_rating_slip($1::text::uuid)",
            &[&slip],
        )
        .map(|r| (r.get(0), r.get(1)))
    })
}

/// 0.2.0: VOUCHER-42 paid player A and then player B. Now the id pays once
/// per casino: B is IDEMPOTENCY_CONFLICT and nothing is written; A again is
/// the same entry; two presentations racing for two players pay one.
#[test]
fn a_voucher_pays_once_whoever_presents_it() {
    let db = fresh_db("voucher");
    let mut c = connect(&db);
    let (a, b, staff) = (new_uuid(), new_uuid(), new_uuid());
    add_staff(&mut c, &staff, &["loyalty:award"], true);
    let reward = |c: &mut Client, player: &str, id: &str| {
        c.query_one(
            REWARD,
            &[
                &player,
                &500i64,
                &"birthday voucher",
                &staff,
                &Some(id.to_string()),
            ],
        )
        .map(|r| (r.get::<_, i64>(0), r.get::<_, bool>(2)))
    };
    let (entry, hit) = reward(&mut c, &a, "VOUCHER-42").unwrap();
    assert!(!hit);
    let before = footprint(&mut c);
    let e = reward(&mut c, &b, "VOUCHER-42").unwrap_err();
    assert_eq!(
        sqlstate(&e),
        ("PT409".into(), "IDEMPOTENCY_CONFLICT".into())
    );
    assert_eq!(footprint(&mut c), before, "the refusal wrote something");
    assert_eq!(reward(&mut c, &a, "VOUCHER-42").unwrap(), (entry, true));
    let owner: String = c
        .query_one(
            "SELECT player_id::text FROM loyalty.voucher WHERE reward_id = 'VOUCHER-42'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(owner, a);

    // two cashiers present one voucher for two players at the same moment
    let barrier = Arc::new(Barrier::new(2));
    let outcomes: Vec<String> = [new_uuid(), new_uuid()]
        .into_iter()
        .map(|player| {
            let (db, staff, barrier) = (db.clone(), staff.clone(), barrier.clone());
            thread::spawn(move || {
                let mut c = connect(&db);
                barrier.wait();
                code(c.query_one(
                    REWARD,
                    &[
                        &player,
                        &500i64,
                        &"birthday voucher",
                        &staff,
                        &Some("VOUCHER-43".to_string()),
                    ],
                ))
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap())
        .collect();
    let mut sorted = outcomes.clone();
    sorted.sort();
    assert_eq!(sorted, ["IDEMPOTENCY_CONFLICT", "ok"], "{outcomes:?}");
    let paid: i64 = c
        .query_one(
            "SELECT count(*) FROM loyalty.loyalty_ledger WHERE reward_id = 'VOUCHER-43'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(paid, 1);
}

/// 0.2.0: a slip from 3 hours ago, completed, then one from 2 hours ago
/// (inside the first), completed: the same minutes paid twice. Now the
/// second open is SLIP_OVERLAP and writes nothing; a slip after the first
/// one's end opens.
#[test]
fn the_same_play_is_rated_once() {
    let db = fresh_db("overlap");
    let mut c = connect(&db);
    let (rater, player) = (new_uuid(), new_uuid());
    add_staff(&mut c, &rater, &["loyalty:rate"], true);
    let first = open_as(&mut c, &rater, &player, "3 hours").unwrap();
    assert_eq!(
        complete_as(&mut c, &rater, &first).unwrap(),
        ("COMPLETED".into(), Some(1050))
    );
    let before = footprint(&mut c);
    let e = open_as(&mut c, &rater, &player, "2 hours").unwrap_err();
    assert_eq!(sqlstate(&e), ("PT409".into(), "SLIP_OVERLAP".into()));
    assert_eq!(footprint(&mut c), before, "the refusal wrote something");
    // the trusted back end, for the same rater: the same answer
    let e = c
        .query_one(
            "SELECT id FROM loyalty.open_rating_slip($1::text::uuid, 'BLACKJACK', 25,
                    p_start_time => now() - interval '1 hour', p_staff_id => $2::text::uuid)",
            &[&player, &rater],
        )
        .unwrap_err();
    assert_eq!(sqlstate(&e).1, "SLIP_OVERLAP");
    assert_eq!(footprint(&mut c), before);
    // play after the first slip ended is new play
    let next = open_as(&mut c, &rater, &player, "0 seconds").unwrap();
    assert_eq!(slip_status(&mut c, &next), "OPEN");
    // re-rating changes the bet and nothing else: it has no time to move
    let args: String = c
        .query_one(
            "SELECT pg_get_function_identity_arguments('loyalty.update_rating_slip_bet'::regproc)",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(
        args,
        "p_slip_id uuid, p_average_bet numeric, p_correlation_id text, p_staff_id uuid, p_property_id text"
    );
}

/// 0.2.0: slips just under the per-slip threshold, again and again, paid
/// with nobody's approval. Now the completion that takes the day's gameplay
/// above config.daily_approval_threshold_points is held like a large slip.
#[test]
fn many_small_slips_in_a_day_are_held_like_one_large_one() {
    let db = fresh_db("velocity");
    let mut c = connect(&db);
    c.batch_execute("SELECT loyalty.configure(p_daily_approval_threshold_points => 1000)")
        .unwrap();
    let (rater, player) = (new_uuid(), new_uuid());
    add_staff(&mut c, &rater, &["loyalty:rate"], true);
    // three one-hour slips of 350 back to back: 350, 700, then 1050 > 1000
    let mut statuses = Vec::new();
    for (from, to) in [
        ("6 hours", "5 hours"),
        ("5 hours", "4 hours"),
        ("4 hours", "3 hours"),
    ] {
        let slip = open_as(&mut c, &rater, &player, from).unwrap();
        let r: (String, Option<i64>) = as_role(&mut c, "authenticated", Some(&rater), |tx| {
            tx.query_one(
                "SELECT status, points_earned FROM loyalty.complete_rating_slip($1::text::uuid,
                        p_end_time => now() - $2::text::interval)",
                &[&slip, &to],
            )
            .map(|r| (r.get(0), r.get(1)))
        })
        .unwrap();
        statuses.push(r);
    }
    assert_eq!(
        statuses,
        [
            ("COMPLETED".to_string(), Some(350)),
            ("COMPLETED".to_string(), Some(350)),
            ("HELD_FOR_APPROVAL".to_string(), None),
        ]
    );
    let (balance, day_points): (i64, i64) = c
        .query_one(
            "SELECT current_balance, gameplay_day_points FROM loyalty.player_loyalty WHERE player_id = $1::text::uuid",
            &[&player],
        )
        .map(|r| (r.get(0), r.get(1)))
        .unwrap();
    assert_eq!((balance, day_points), (700, 700));
    let rule: String = c
        .query_one(
            "SELECT details->>'rule' FROM loyalty.alert WHERE kind = 'SLIP_NEEDS_APPROVAL' AND player_id = $1::text::uuid",
            &[&player],
        )
        .unwrap()
        .get(0);
    assert_eq!(rule, "daily");
}

/// 0.2.0: service_role opened, completed and approved one held slip and
/// recorded nobody. Now a trusted back end names a person for every floor
/// action, that person is recorded, and four-eyes compares people.
#[test]
fn a_trusted_back_end_acts_for_a_named_person() {
    let db = fresh_db("actingfor");
    let mut c = connect(&db);
    let (rater, approver, clerk, player) = (new_uuid(), new_uuid(), new_uuid(), new_uuid());
    add_staff(&mut c, &rater, &["loyalty:rate", "loyalty:approve"], true);
    add_staff(&mut c, &approver, &["loyalty:approve"], true);
    add_staff(&mut c, &clerk, &["loyalty:view_all"], true);
    let service =
        |c: &mut Client, sql: &str, staff: Option<&str>| -> Result<String, postgres::Error> {
            as_role(c, "service_role", None, |tx| {
                tx.query_one(sql, &[&staff]).map(|r| r.get::<_, String>(0))
            })
        };
    let open = format!(
        "SELECT id::text FROM loyalty.open_rating_slip('{player}', 'BLACKJACK', 5000,
                p_start_time => now() - interval '2 hours', p_staff_id => $1::text::uuid)"
    );
    let before = footprint(&mut c);
    for (staff, want) in [
        (None, "VALIDATION_ERROR"),
        (Some(clerk.as_str()), "FORBIDDEN"),
    ] {
        assert_eq!(code(service(&mut c, &open, staff)), want);
        assert_eq!(footprint(&mut c), before, "a refusal wrote something");
    }
    let slip = service(&mut c, &open, Some(&rater)).unwrap();
    let complete = format!(
        "SELECT status FROM loyalty.complete_rating_slip('{slip}', p_staff_id => $1::text::uuid)"
    );
    assert_eq!(
        service(&mut c, &complete, Some(&rater)).unwrap(),
        "HELD_FOR_APPROVAL"
    );
    let (opened, closed): (Option<String>, Option<String>) = c
        .query_one(
            "SELECT opened_by::text, closed_by::text FROM loyalty.rating_slip WHERE id = $1::text::uuid",
            &[&slip],
        )
        .map(|r| (r.get(0), r.get(1)))
        .unwrap();
    assert_eq!(
        (opened.as_deref(), closed.as_deref()),
        (Some(rater.as_str()), Some(rater.as_str()))
    );
    // the back end cannot approve as the rater, nor as nobody
    let approve = format!(
        "SELECT points_earned::text FROM loyalty.approve_slip('{slip}', p_staff_id => $1::text::uuid)"
    );
    let before = footprint(&mut c);
    assert_eq!(code(service(&mut c, &approve, Some(&rater))), "FORBIDDEN");
    assert_eq!(code(service(&mut c, &approve, None)), "VALIDATION_ERROR");
    assert_eq!(footprint(&mut c), before);
    // a signed-in approver may name only themselves
    let e = as_role(&mut c, "authenticated", Some(&approver), |tx| {
        tx.query_one(&approve, &[&Some(rater.as_str())])
    })
    .unwrap_err();
    assert_eq!(sqlstate(&e).1, "INVALID_STAFF_ID");
    assert_eq!(
        service(&mut c, &approve, Some(&approver)).unwrap(),
        "140000"
    );
    let decided: String = c
        .query_one(
            "SELECT decided_by::text FROM loyalty.rating_slip WHERE id = $1::text::uuid",
            &[&slip],
        )
        .unwrap()
        .get(0);
    assert_eq!(decided, approver);
}

/// A superuser's forgery: the player's last row (seq 2) replaced by one the
/// write path hashes for `points` on top of row 1 (a 100-point reward), and
/// the head stored on player_loyalty put back as it was.
fn forge_last_row(c: &mut Client, player: &str, staff: &str, points: i64) {
    c.batch_execute(&format!(
        "BEGIN;
         ALTER TABLE loyalty.loyalty_ledger DISABLE TRIGGER USER;
         CREATE TEMP TABLE head AS SELECT * FROM loyalty.player_loyalty WHERE player_id = '{player}';
         DELETE FROM loyalty.loyalty_ledger WHERE player_id = '{player}' AND seq = 2;
         UPDATE loyalty.player_loyalty p SET chain_seq = 1, current_balance = 100, lifetime_points = 100,
                tier_credits = 100,
                chain_head = (SELECT row_hash FROM loyalty.loyalty_ledger WHERE player_id = '{player}' AND seq = 1)
          WHERE p.player_id = '{player}';
         SELECT * FROM loyalty.manual_reward('{player}', {points}, 'a forged long reason', '{staff}');
         UPDATE loyalty.player_loyalty p SET chain_head = h.chain_head FROM head h WHERE p.player_id = h.player_id;
         DROP TABLE head;
         ALTER TABLE loyalty.loyalty_ledger ENABLE TRIGGER USER;
         COMMIT;"
    ))
    .unwrap();
}

/// 0.2.0: a superuser who edits the player's last ledger row and re-hashes
/// it passes verify_ledger_chain. Now the row is checked against the head
/// the write path stored on player_loyalty.
#[test]
fn a_rehashed_last_row_is_named() {
    let db = fresh_db("rehash");
    let mut c = connect(&db);
    let (player, staff) = (new_uuid(), new_uuid());
    add_staff(&mut c, &staff, &["loyalty:award"], true);
    for (points, id) in [(100i64, "R-1"), (200, "R-2")] {
        c.query_one(
            REWARD,
            &[
                &player,
                &points,
                &"a long enough reason",
                &staff,
                &Some(id.to_string()),
            ],
        )
        .unwrap();
    }
    forge_last_row(&mut c, &player, &staff, 9000);
    let r = c
        .query_one(
            "SELECT ok, break_seq, break_kind, detail FROM loyalty.verify_ledger_chain($1::text::uuid)",
            &[&player],
        )
        .unwrap();
    let found: (bool, Option<i64>, Option<String>) = (r.get(0), r.get(1), r.get(2));
    assert_eq!(found, (false, Some(2), Some("edited".into())));
    let detail: String = r.get(3);
    assert!(detail.contains("head stored on player_loyalty"), "{detail}");
}

/// 0.2.0: bulk recovery by the player themselves (a recoverer, after a
/// blanket GRANT EXECUTE) overwrote their slip's pending row and logged an
/// accrual failure. Now it reports the slip as FORBIDDEN and leaves the
/// pending row exactly as it was.
#[test]
fn bulk_recovery_leaves_a_slip_it_refuses_alone() {
    let db = fresh_db("bulkself");
    let mut c = connect(&db);
    c.batch_execute("GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA loyalty TO authenticated")
        .unwrap();
    let me = new_uuid();
    add_staff(&mut c, &me, &["loyalty:recover"], true);
    ledger_down(&mut c);
    let slip = open_slip(&mut c, &me);
    let status: String = c
        .query_one(
            "SELECT status FROM loyalty.complete_rating_slip($1::text::uuid, p_staff_id => $2::text::uuid)",
            &[&slip, &FLOOR],
        )
        .unwrap()
        .get(0);
    assert_eq!(status, "PARTIAL_COMPLETION");
    ledger_up(&mut c);
    let pending = |c: &mut Client| -> (String, i32, String) {
        c.query_one(
            "SELECT error_code, attempts, failed_at::text FROM loyalty.pending_accrual WHERE rating_slip_id = $1::text::uuid",
            &[&slip],
        )
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .unwrap()
    };
    let (row, before) = (pending(&mut c), footprint(&mut c));
    let (attempted, recovered, failures): (i32, i32, String) =
        as_role(&mut c, "authenticated", Some(&me), |tx| {
            tx.query_one(
                "SELECT attempted, recovered, failures::text FROM loyalty.recover_partial_completions()",
                &[],
            )
            .map(|r| (r.get(0), r.get(1), r.get(2)))
        })
        .unwrap();
    assert_eq!((attempted, recovered), (1, 0));
    assert!(failures.contains("\"FORBIDDEN\""), "{failures}");
    assert_eq!(pending(&mut c), row, "the pending row was rewritten");
    assert_eq!(footprint(&mut c), before);
}

/// The bound on game settings at its edge: the most it allows is accepted
/// and one step more is refused; a 24-hour slip at the largest bet of the
/// widest allowed settings (whose factors multiply past 128 bits) computes
/// exactly and is held for approval, not left a partial completion.
#[test]
fn the_settings_bound_holds_at_its_edge() {
    let db = fresh_db("edge");
    let mut c = connect(&db);
    let upsert = "SELECT game_type FROM loyalty.upsert_game_settings('EDGE', 99.9999, 10000, 9999.9999, $1::text::numeric,
                                                            1, 999999999.9999, 25000)";
    let e = c.query_one(upsert, &[&"3.8431"]).unwrap_err();
    assert_eq!(sqlstate(&e).1, "VALIDATION_ERROR");
    c.query_one(upsert, &[&"3.8430"]).unwrap();
    let player = new_uuid();
    let slip: String = c
        .query_one(
            "SELECT id::text FROM loyalty.open_rating_slip($1::text::uuid, 'EDGE', 999999999.9999,
                    p_start_time => now() - interval '24 hours', p_staff_id => $2::text::uuid)",
            &[&player, &FLOOR],
        )
        .unwrap()
        .get(0);
    let r = c
        .query_one(
            "SELECT status, recovery_needed FROM loyalty.complete_rating_slip($1::text::uuid,
                    p_end_time => (SELECT start_time + interval '24 hours' FROM loyalty.rating_slip WHERE id = $1::text::uuid),
                    p_staff_id => $2::text::uuid)",
            &[&slip, &FLOOR],
        )
        .unwrap();
    assert_eq!(
        (r.get::<_, String>(0), r.get::<_, bool>(1)),
        ("HELD_FOR_APPROVAL".into(), false)
    );
    let points: i64 = c
        .query_one("SELECT loyalty.slip_points($1::text::uuid)", &[&slip])
        .unwrap()
        .get(0);
    assert_eq!(points, 9_223_190_684_567_169_912);
}

/// 0.2.0 returned every head in one jsonb value (past 1 GB at about two
/// million players). Now heads come a page at a time, each with its own
/// digest, and each page verifies on its own.
#[test]
fn chain_heads_come_in_pages() {
    let db = fresh_db("heads");
    let mut c = connect(&db);
    let staff = new_uuid();
    add_staff(&mut c, &staff, &["loyalty:award"], true);
    for _ in 0..3 {
        c.query_one(
            REWARD,
            &[
                &new_uuid(),
                &10i64,
                &"a long enough reason",
                &staff,
                &None::<String>,
            ],
        )
        .unwrap();
    }
    let page = |c: &mut Client, after: Option<String>| -> serde_json::Value {
        let text: String = c
            .query_one(
                "SELECT loyalty.ledger_chain_heads($1::text::uuid, 2)::text",
                &[&after],
            )
            .unwrap()
            .get(0);
        serde_json::from_str(&text).unwrap()
    };
    let first = page(&mut c, None);
    assert_eq!(first["players"], 2);
    let next = first["next_after"].as_str().unwrap().to_string();
    let second = page(&mut c, Some(next.clone()));
    assert_eq!(
        (second["players"].clone(), second["after"].clone()),
        (1.into(), next.into())
    );
    assert!(second["next_after"].is_null());
    assert_ne!(first["digest"], second["digest"]);
    for p in [&first, &second] {
        let problems: i64 = c
            .query_one(
                "SELECT count(*) FROM loyalty.verify_chain_heads($1::text::jsonb)",
                &[&p.to_string()],
            )
            .unwrap()
            .get(0);
        assert_eq!(problems, 0);
    }
    // a page with a head dropped no longer matches its digest
    let mut cut = first.clone();
    cut["heads"].as_array_mut().unwrap().pop();
    let problems: Vec<String> = c
        .query(
            "SELECT problem FROM loyalty.verify_chain_heads($1::text::jsonb)",
            &[&cut.to_string()],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(problems.len(), 1);
    assert!(
        problems[0].starts_with("the digest does not match"),
        "{problems:?}"
    );
    let e = c
        .query_one("SELECT loyalty.ledger_chain_heads(p_limit => 0)", &[])
        .unwrap_err();
    assert_eq!(sqlstate(&e).1, "VALIDATION_ERROR");
}

/// The player the next health_check sweep slice covers (one per run here),
/// if any.
fn next_swept(c: &mut Client) -> Option<String> {
    c.query_opt(
        "SELECT p.player_id::text FROM loyalty.player_loyalty p, loyalty.health_state h
          WHERE h.sweep_after IS NULL OR p.player_id > h.sweep_after ORDER BY p.player_id LIMIT 1",
        &[],
    )
    .unwrap()
    .map(|r| r.get(0))
}

fn findings(c: &mut Client) -> Vec<(String, String)> {
    let mut f: Vec<(String, String)> = c
        .query("SELECT kind, subject FROM loyalty.health_check()", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    f.sort();
    f
}

/// 0.2.0 found a balance changed without a ledger row only when its rolling
/// sweep (1,000 players a run) reached the player, and verified chains only
/// there. Now one run finds it whoever the sweep is at, and the chains of
/// changed players are verified from the position the last run stored.
#[test]
fn one_health_run_finds_ledgerless_drift_and_checks_new_chain_rows() {
    let db = fresh_db("healthinc");
    let mut c = connect(&db);
    c.batch_execute("SELECT loyalty.configure(p_health_sweep_players => 1)")
        .unwrap();
    let staff = new_uuid();
    add_staff(&mut c, &staff, &["loyalty:award"], true);
    let players: Vec<String> = (0..4).map(|_| new_uuid()).collect();
    for p in &players {
        c.query_one(
            REWARD,
            &[p, &100i64, &"a long enough reason", &staff, &None::<String>],
        )
        .unwrap();
    }
    assert_eq!(findings(&mut c), []);
    let positions: i64 = c
        .query_one(
            "SELECT count(*) FROM loyalty.chain_verified WHERE seq = 1",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(
        positions, 4,
        "the first run stores every changed player's position"
    );

    // a balance edited behind the write path's back, not where the sweep is
    let swept = next_swept(&mut c);
    let victim = players
        .iter()
        .find(|p| Some(*p) != swept.as_ref())
        .unwrap()
        .clone();
    c.execute(
        "UPDATE loyalty.player_loyalty SET current_balance = current_balance + 5000 WHERE player_id = $1::text::uuid",
        &[&victim],
    )
    .unwrap();
    assert_eq!(
        findings(&mut c),
        [("BALANCE_MISMATCH".to_string(), victim.clone())]
    );
    c.execute(
        "UPDATE loyalty.player_loyalty SET current_balance = current_balance - 5000 WHERE player_id = $1::text::uuid",
        &[&victim],
    )
    .unwrap();
    assert_eq!(findings(&mut c), []);

    // a new row, then the same row replaced and re-hashed with the head put
    // back: found from the stored position, not by the sweep
    let swept = next_swept(&mut c);
    let forged = players
        .iter()
        .find(|p| Some(*p) != swept.as_ref())
        .unwrap()
        .clone();
    c.query_one(
        REWARD,
        &[
            &forged,
            &200i64,
            &"a long enough reason",
            &staff,
            &None::<String>,
        ],
    )
    .unwrap();
    assert_eq!(findings(&mut c), []);
    let seq: i64 = c
        .query_one(
            "SELECT seq FROM loyalty.chain_verified WHERE player_id = $1::text::uuid",
            &[&forged],
        )
        .unwrap()
        .get(0);
    assert_eq!(seq, 2, "the position moved to the new head");
    forge_last_row(&mut c, &forged, &staff, 200);
    assert_ne!(next_swept(&mut c), Some(forged.clone()));
    assert_eq!(
        findings(&mut c),
        [("CHAIN_BROKEN".to_string(), forged.clone())]
    );
}
