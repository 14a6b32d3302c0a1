//! Integrity against insiders, tried the way an insider would: over real
//! connections, as anon, as a player, as staff without the permission, as
//! staff acting for themselves, after a blanket GRANT EXECUTE, under
//! REPEATABLE READ and SERIALIZABLE, and from a transaction opened early.

use casino_loyalty_client_tests::*;
use postgres::{Client, IsolationLevel};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

/// Everything a refused call must leave untouched.
fn footprint(c: &mut Client) -> Vec<i64> {
    let r = c
        .query_one(
            "SELECT (SELECT count(*) FROM loyalty.loyalty_ledger), (SELECT count(*) FROM loyalty.player_loyalty),
                    (SELECT count(*) FROM loyalty.rating_slip), (SELECT count(*) FROM loyalty.alert),
                    (SELECT count(*) FROM loyalty.pending_accrual),
                    (SELECT coalesce(sum(current_balance), 0)::bigint FROM loyalty.player_loyalty),
                    (SELECT count(*) FROM loyalty.rating_slip WHERE approval_status IS NOT NULL),
                    (SELECT count(*) FROM loyalty.notification),
                    (SELECT count(*) FROM loyalty.notification WHERE claimed_at IS NOT NULL),
                    (SELECT count(*) FROM loyalty.admin_audit), (SELECT count(*) FROM loyalty.health_state),
                    (SELECT count(*) FROM loyalty.reward_replay), (SELECT count(*) FROM loyalty.staff),
                    (SELECT count(*) FROM loyalty.alert WHERE acknowledged_at IS NOT NULL)",
            &[],
        )
        .unwrap();
    (0..14).map(|i| r.get(i)).collect()
}

fn err(r: Result<impl Sized, postgres::Error>) -> (String, String) {
    match r {
        Ok(_) => ("ok".into(), String::new()),
        Err(e) => sqlstate(&e),
    }
}

const OPEN: &str = "SELECT id::text FROM loyalty.open_rating_slip($1::text::uuid, $2, $3::text::numeric, NULL, NULL,
                           now() - $4::text::interval, p_staff_id => coalesce(loyalty.caller_uid(), '00000000-0000-4000-8000-00000000f100'))";
const COMPLETE: &str = "SELECT status, points_earned, ledger_entry_id FROM loyalty.complete_rating_slip($1::text::uuid, p_staff_id => coalesce(loyalty.caller_uid(), '00000000-0000-4000-8000-00000000f100'))";

fn open_as(
    c: &mut Client,
    sub: &str,
    player: &str,
    bet: &str,
    ago: &str,
) -> Result<String, postgres::Error> {
    as_role(c, "authenticated", Some(sub), |tx| {
        tx.query_one(OPEN, &[&player, &"BLACKJACK", &bet, &ago])
            .map(|r| r.get(0))
    })
}

fn complete_as(
    c: &mut Client,
    sub: &str,
    slip: &str,
) -> Result<(String, Option<i64>, Option<i64>), postgres::Error> {
    as_role(c, "authenticated", Some(sub), |tx| {
        tx.query_one(COMPLETE, &[&slip])
            .map(|r| (r.get(0), r.get(1), r.get(2)))
    })
}

#[test]
fn minting_through_a_slip_is_refused() {
    let db = fresh_db("mint");
    let mut owner = connect(&db);
    let (bare, rater, other) = (new_uuid(), new_uuid(), new_uuid());
    add_staff(&mut owner, &bare, &[], true);
    add_staff(&mut owner, &rater, &["loyalty:rate"], true);
    let mut c = connect(&db);
    let before = footprint(&mut owner);
    // the reproduced attack: staff with no permissions, for themselves
    assert_eq!(
        err(open_as(&mut c, &bare, &bare, "999999999.9999", "24 hours")),
        ("PT403".into(), "FORBIDDEN".into())
    );
    // a rater, for themselves
    assert_eq!(
        err(open_as(&mut c, &rater, &rater, "25", "1 hour")),
        ("PT403".into(), "FORBIDDEN".into())
    );
    // a rater, for someone else, above the table's maximum bet
    assert_eq!(
        err(open_as(&mut c, &rater, &other, "999999999.9999", "1 hour")),
        ("PT422".into(), "VALIDATION_ERROR".into())
    );
    assert_eq!(
        err(open_as(&mut c, &rater, &other, "100000.0001", "1 hour")),
        ("PT422".into(), "VALIDATION_ERROR".into())
    );
    assert_eq!(
        err(open_as(&mut c, &rater, &other, "0.5", "1 hour")),
        ("PT422".into(), "VALIDATION_ERROR".into())
    );
    // non-finite start
    let inf = as_role(&mut c, "authenticated", Some(&rater), |tx| {
        tx.query_one(
            "SELECT id FROM loyalty.open_rating_slip($1::text::uuid, 'BLACKJACK', 25, NULL, NULL, '-infinity', p_staff_id => coalesce(loyalty.caller_uid(), '00000000-0000-4000-8000-00000000f100'))",
            &[&other],
        )
    });
    assert_eq!(err(inf), ("PT422".into(), "VALIDATION_ERROR".into()));
    assert_eq!(footprint(&mut owner), before, "refusals wrote nothing");

    // at the table maximum, for two hours: 2,800,000 points, far above the
    // 25,000 threshold, so the completion is held, not paid
    let slip = open_as(&mut c, &rater, &other, "100000", "2 hours").unwrap();
    let (status, points, entry) = complete_as(&mut c, &rater, &slip).unwrap();
    assert_eq!(
        (status.as_str(), points, entry),
        ("HELD_FOR_APPROVAL", None, None)
    );
    let ledger: i64 = owner
        .query_one(
            "SELECT count(*) FROM loyalty.loyalty_ledger WHERE player_id = $1::text::uuid",
            &[&other],
        )
        .unwrap()
        .get(0);
    assert_eq!(ledger, 0);
    let alerts: Vec<(String, String)> = owner
        .query(
            "SELECT kind, details->>'rating_slip_id' FROM loyalty.alert",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(alerts, vec![("SLIP_NEEDS_APPROVAL".to_string(), slip)]);
}

#[test]
fn one_open_slip_per_player_even_when_racing() {
    let db = fresh_db("seat");
    let mut owner = connect(&db);
    let (rater, player) = (new_uuid(), new_uuid());
    add_staff(&mut owner, &rater, &["loyalty:rate"], true);
    let mut c = connect(&db);
    open_as(&mut c, &rater, &player, "25", "1 hour").unwrap();
    assert_eq!(
        err(open_as(&mut c, &rater, &player, "25", "1 hour")),
        ("PT409".into(), "SLIP_ALREADY_OPEN".into())
    );
    // eight floor terminals seat one new player at once: one wins
    let racer = new_uuid();
    let barrier = Arc::new(Barrier::new(8));
    let outcomes: Vec<String> = (0..8)
        .map(|_| {
            let (db, rater, racer, barrier) =
                (db.clone(), rater.clone(), racer.clone(), barrier.clone());
            thread::spawn(move || {
                let mut c = connect(&db);
                let mut tx = c.transaction().unwrap();
                sign_in(&mut tx, "authenticated", Some(&rater)).unwrap();
                barrier.wait();
                let r = tx.query_one(OPEN, &[&racer, &"BLACKJACK", &"25", &"1 hour"]);
                let out = err(r).1;
                let _ = tx.commit();
                out
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap())
        .collect();
    let won = outcomes.iter().filter(|o| o.is_empty()).count();
    let refused = outcomes
        .iter()
        .filter(|o| o.as_str() == "SLIP_ALREADY_OPEN")
        .count();
    assert_eq!((won, refused), (1, 7), "{outcomes:?}");
    let open: i64 = owner
        .query_one(
            "SELECT count(*) FROM loyalty.rating_slip WHERE player_id = $1::text::uuid AND status = 'OPEN'",
            &[&racer],
        )
        .unwrap()
        .get(0);
    assert_eq!(open, 1);
}

#[test]
fn four_eyes_approval_and_rejection() {
    let db = fresh_db("foureyes");
    let mut owner = connect(&db);
    let (rater, approver, recoverer, player) = (new_uuid(), new_uuid(), new_uuid(), new_uuid());
    // the rater also holds loyalty:approve: still not for a slip they rated
    add_staff(
        &mut owner,
        &rater,
        &["loyalty:rate", "loyalty:approve"],
        true,
    );
    add_staff(&mut owner, &approver, &["loyalty:approve"], true);
    add_staff(&mut owner, &recoverer, &["loyalty:recover"], true);
    let mut c = connect(&db);
    // 5,000 bet for two hours of blackjack: 140,000 points, above 25,000
    let slip = open_as(&mut c, &rater, &player, "5000", "2 hours").unwrap();
    assert_eq!(
        complete_as(&mut c, &rater, &slip).unwrap().0,
        "HELD_FOR_APPROVAL"
    );
    // completing again writes nothing and still says held
    assert_eq!(
        complete_as(&mut c, &rater, &slip).unwrap().0,
        "HELD_FOR_APPROVAL"
    );
    let call = |c: &mut Client, sub: &str, sql: &str| {
        let slip = slip.clone();
        err(as_role(c, "authenticated", Some(sub), |tx| {
            tx.query_one(sql, &[&slip])
        }))
    };
    const RECOVER: &str = "SELECT * FROM loyalty.recover_slip_loyalty($1::text::uuid)";
    const ACCRUE: &str = "SELECT * FROM loyalty.accrue_points_from_slip($1::text::uuid)";
    const APPROVE: &str =
        "SELECT ledger_entry_id, points_earned, idempotent_hit FROM loyalty.approve_slip($1::text::uuid, p_staff_id => coalesce(loyalty.caller_uid(), '00000000-0000-4000-8000-00000000f200'))";
    // recovery never posts a held slip, and nothing lists it as owed
    for sql in [RECOVER, ACCRUE] {
        assert_eq!(
            call(&mut c, &recoverer, sql),
            ("PT409".into(), "SLIP_NOT_APPROVED".into())
        );
    }
    let owed: i64 = owner
        .query_one(
            "SELECT count(*) FROM loyalty.list_partial_completions()",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(owed, 0);
    let bulk: i32 = owner
        .query_one(
            "SELECT attempted FROM loyalty.recover_partial_completions()",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(bulk, 0);
    let held: Vec<(String, i64)> = as_role(&mut c, "authenticated", Some(&approver), |tx| {
        tx.query(
            "SELECT rating_slip_id::text, points FROM loyalty.list_held_slips()",
            &[],
        )
    })
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect();
    assert_eq!(held, vec![(slip.clone(), 140_000)]);
    // the rater may not approve what they rated; staff without the
    // permission may not approve at all
    assert_eq!(
        call(&mut c, &rater, APPROVE),
        ("PT403".into(), "FORBIDDEN".into())
    );
    assert_eq!(
        call(&mut c, &recoverer, APPROVE),
        ("PT403".into(), "FORBIDDEN".into())
    );
    // a second pair of eyes: posted once under the slip's gameplay key
    let approve = |c: &mut Client| {
        as_role(c, "authenticated", Some(&approver), |tx| {
            tx.query_one(APPROVE, &[&slip])
                .map(|r| (r.get::<_, i64>(0), r.get::<_, i64>(1), r.get::<_, bool>(2)))
        })
        .unwrap()
    };
    let (entry, points, hit) = approve(&mut c);
    assert_eq!((points, hit), (140_000, false));
    assert_eq!(approve(&mut c), (entry, 140_000, true), "second approval");
    let row = owner
        .query_one(
            "SELECT (SELECT count(*) FROM loyalty.loyalty_ledger WHERE player_id = $1::text::uuid),
                    (SELECT idempotency_key FROM loyalty.loyalty_ledger WHERE id = $2),
                    s.approval_status, s.decided_by::text, s.accrued_ledger_id
               FROM loyalty.rating_slip s WHERE s.id = $3::text::uuid",
            &[&player, &entry, &slip],
        )
        .unwrap();
    assert_eq!(
        (
            row.get::<_, i64>(0),
            row.get::<_, String>(1),
            row.get::<_, String>(2),
            row.get::<_, String>(3),
            row.get::<_, i64>(4)
        ),
        (
            1,
            format!("gameplay:{slip}"),
            "APPROVED".to_string(),
            approver.clone(),
            entry
        )
    );

    // another held slip, rejected: no points, ever
    let second = {
        let p2 = new_uuid();
        let s = open_as(&mut c, &rater, &p2, "5000", "2 hours").unwrap();
        complete_as(&mut c, &rater, &s).unwrap();
        s
    };
    let reject = |c: &mut Client, reason: &str| {
        err(as_role(c, "authenticated", Some(&approver), |tx| {
            tx.query_one(
                "SELECT approval_status FROM loyalty.reject_slip($1::text::uuid, $2, p_staff_id => coalesce(loyalty.caller_uid(), '00000000-0000-4000-8000-00000000f200'))",
                &[&second, &reason],
            )
        }))
    };
    assert_eq!(
        reject(&mut c, "too short"),
        ("PT422".into(), "VALIDATION_ERROR".into())
    );
    assert_eq!(
        reject(
            &mut c,
            "\u{200B}\u{200B}\u{200B}\u{200B}\u{200B}\u{200B}\u{200B}\u{200B}\u{200B}no"
        ),
        ("PT422".into(), "VALIDATION_ERROR".into()),
        "zero-width padding does not count"
    );
    assert_eq!(reject(&mut c, "bet not confirmed by camera review").0, "ok");
    for (sub, sql) in [(&approver, APPROVE), (&recoverer, RECOVER)] {
        let second = second.clone();
        assert_eq!(
            err(as_role(&mut c, "authenticated", Some(sub), |tx| {
                tx.query_one(sql, &[&second])
            })),
            ("PT409".into(), "SLIP_NOT_APPROVED".into())
        );
    }
    let (status, _, _) = complete_as(&mut c, &rater, &second).unwrap();
    assert_eq!(status, "ALREADY_COMPLETED");
    let paid: i64 = owner
        .query_one(
            "SELECT count(*) FROM loyalty.loyalty_ledger WHERE rating_slip_id = $1::text::uuid",
            &[&second],
        )
        .unwrap()
        .get(0);
    assert_eq!(paid, 0);
}

/// What Supabase's custom-schema guide tells users to run, on both schemas.
/// Afterwards every privileged function, and its loyalty_api wrapper,
/// still refuses anon (PT401) and a plain player (PT403), and writes
/// nothing.
#[test]
fn a_blanket_grant_opens_nothing() {
    let db = fresh_db("blanket");
    let mut owner = connect(&db);
    owner
        .batch_execute(
            "GRANT ALL ON ALL ROUTINES IN SCHEMA loyalty, loyalty_api TO anon, authenticated, service_role;
             GRANT ALL ON ALL TABLES IN SCHEMA loyalty_api TO anon, authenticated, service_role",
        )
        .unwrap();
    let (rater, victim, player) = (new_uuid(), new_uuid(), new_uuid());
    add_staff(&mut owner, &rater, &["loyalty:rate"], true);
    let mut c = connect(&db);
    let slip = open_as(&mut c, &rater, &victim, "25", "1 hour").unwrap();
    let before = footprint(&mut owner);
    // (test-made UUIDs, formatted in so each call takes its own arguments)
    let calls = [
        format!("SELECT * FROM loyalty.increment_player_loyalty('{victim}', 9999)"),
        format!("SELECT * FROM loyalty.open_rating_slip('{victim}', 'BLACKJACK', 25)"),
        format!("SELECT * FROM loyalty.update_rating_slip_bet('{slip}', 30)"),
        format!("SELECT * FROM loyalty.complete_rating_slip('{slip}')"),
        format!("SELECT * FROM loyalty.accrue_points_from_slip('{slip}')"),
        format!("SELECT * FROM loyalty.recover_slip_loyalty('{slip}')"),
        format!("SELECT * FROM loyalty.approve_slip('{slip}')"),
        format!("SELECT * FROM loyalty.reject_slip('{slip}', 'a long enough reason')"),
        "SELECT * FROM loyalty.list_held_slips()".to_string(),
        format!("SELECT * FROM loyalty.slip_points('{slip}')"),
        format!("SELECT * FROM loyalty.manual_reward('{victim}', 9999, 'a long enough reason', '{player}')"),
        "SELECT * FROM loyalty.recover_partial_completions()".to_string(),
        format!("SELECT * FROM loyalty.rebuild_player_balance('{victim}', p_reason => 'a long enough reason')"),
        "SELECT * FROM loyalty.list_partial_completions()".to_string(),
        format!("SELECT * FROM loyalty.verify_player_balance('{victim}')"),
        "SELECT * FROM loyalty.verify_all_balances()".to_string(),
        "SELECT * FROM loyalty.export_ledger('-infinity', 'infinity')".to_string(),
        "SELECT * FROM loyalty.lookup_correlation('x')".to_string(),
        "SELECT * FROM loyalty.manual_reward_frequency(now() - interval '1 day', now())".to_string(),
        "SELECT loyalty.require_caller()".to_string(),
        "SELECT * FROM loyalty.health_check()".to_string(),
        "SELECT * FROM loyalty.metrics()".to_string(),
        "SELECT * FROM loyalty.acknowledge_alert(1, 'a long enough note')".to_string(),
        "SELECT * FROM loyalty.claim_notifications(10)".to_string(),
        "SELECT loyalty.mark_notifications_delivered('{1}')".to_string(),
        format!("SELECT * FROM loyalty.reward_history('{victim}', now() - interval '1 day', now())"),
        format!("SELECT * FROM loyalty.staff_activity('{rater}', now() - interval '1 day', now())"),
        "SELECT * FROM loyalty.retier_players()".to_string(),
        format!("SELECT * FROM loyalty.upsert_staff('{player}', '{{loyalty:award}}')"),
        format!("SELECT * FROM loyalty.deactivate_staff('{rater}')"),
        "SELECT * FROM loyalty.upsert_game_settings('BLACKJACK', p_point_multiplier => 50)".to_string(),
        "SELECT * FROM loyalty.upsert_tier('BRONZE', 5)".to_string(),
        "SELECT * FROM loyalty.delete_tier('PLATINUM')".to_string(),
        "SELECT * FROM loyalty.configure(p_max_reward_points => 999999999)".to_string(),
        format!("SELECT * FROM loyalty.hold_points('{victim}', 10, 'bar', 'a long enough reason')"),
        format!("SELECT * FROM loyalty.redeem_points('{victim}', 10, 'kiosk', 'a long enough reason')"),
        format!("SELECT * FROM loyalty.approve_hold('{victim}')"),
        format!("SELECT * FROM loyalty.capture_hold('{victim}')"),
        format!("SELECT * FROM loyalty.void_hold('{victim}', 'a long enough reason')"),
        "SELECT * FROM loyalty.reverse_redemption(1, 'a long enough reason')".to_string(),
        format!("SELECT * FROM loyalty.player_statement('{victim}', now() - interval '1 day')"),
        format!("SELECT * FROM loyalty.player_balance_at('{victim}')"),
    ];
    // Each call again through its loyalty_api wrapper, where there is one.
    let wrapped: Vec<String> = owner
        .query(
            "SELECT proname::text FROM pg_proc WHERE pronamespace = 'loyalty_api'::regnamespace",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let through_api: Vec<String> = calls
        .iter()
        .filter(|sql| {
            wrapped
                .iter()
                .any(|w| sql.contains(&format!("loyalty.{w}(")))
        })
        .map(|sql| sql.replace("loyalty.", "loyalty_api."))
        .collect();
    assert_eq!(
        through_api.len(),
        19,
        "every client-facing call has its wrapper"
    );
    let calls: Vec<String> = calls.iter().cloned().chain(through_api).collect();
    for sql in &calls {
        for (role, sub, want) in [
            ("anon", None, ("PT401", "UNAUTHORIZED")),
            ("anon", Some(rater.as_str()), ("PT401", "UNAUTHORIZED")),
            (
                "authenticated",
                Some(player.as_str()),
                ("PT403", "FORBIDDEN"),
            ),
        ] {
            let got = err(as_role(&mut c, role, sub, |tx| tx.query(sql.as_str(), &[])));
            assert_eq!(
                (got.0.as_str(), got.1.as_str()),
                want,
                "{sql} as {role} {sub:?}"
            );
        }
    }
    assert_eq!(footprint(&mut owner), before, "nothing written");
}

#[test]
fn identity_and_trust_follow_the_current_role() {
    let db = fresh_db("roles");
    let mut owner = connect(&db);
    let (staff, player) = (new_uuid(), new_uuid());
    add_staff(&mut owner, &staff, &["loyalty:award"], true);
    let reward_as = |c: &mut Client, role: &str, claims: &str| {
        let mut tx = c.transaction().unwrap();
        tx.batch_execute(&format!("SET LOCAL ROLE {role}")).unwrap();
        tx.execute(
            "SELECT set_config('request.jwt.claims', $1, true)",
            &[&claims],
        )
        .unwrap();
        let r = tx.query_one(
            REWARD,
            &[
                &player,
                &100i64,
                &"a long enough reason",
                &staff,
                &None::<String>,
            ],
        );
        let out = err(r);
        let _ = tx.rollback();
        out
    };
    let mut c = connect(&db);
    let staff_claims = format!(r#"{{"role":"anon","sub":"{staff}"}}"#);
    // anon carrying a staff member's sub is nobody
    assert_eq!(
        reward_as(&mut c, "anon", &staff_claims),
        ("PT401".into(), "UNAUTHORIZED".into())
    );
    // a third-party (non-UUID) sub is nobody, not a cast error
    assert_eq!(
        reward_as(
            &mut c,
            "authenticated",
            r#"{"sub":"google-oauth2|1234567890"}"#
        ),
        ("PT401".into(), "UNAUTHORIZED".into())
    );
    // transaction pooling: one client's session-level claims stay on the
    // server connection; the next client's anon request must not use them
    c.batch_execute(&format!(
        "SET request.jwt.claims = '{{\"sub\":\"{staff}\"}}'"
    ))
    .unwrap();
    let mut tx = c.transaction().unwrap();
    tx.batch_execute("SET LOCAL ROLE anon").unwrap();
    let leaked = tx.query_one(
        REWARD,
        &[
            &player,
            &100i64,
            &"a long enough reason",
            &staff,
            &None::<String>,
        ],
    );
    assert_eq!(err(leaked), ("PT401".into(), "UNAUTHORIZED".into()));
    drop(tx);
    c.batch_execute("RESET request.jwt.claims").unwrap();

    // a login role that merely inherits service_role is not trusted until it
    // SET ROLE service_role
    let login = format!("authn_{}", unique());
    owner
        .batch_execute(&format!(
            "CREATE ROLE {login} LOGIN INHERIT; GRANT anon, authenticated, service_role TO {login}"
        ))
        .unwrap();
    let mut cfg = config(&db);
    cfg.user(&login);
    let mut authn = cfg.connect(postgres::NoTls).unwrap();
    let inc = "SELECT balance_after FROM loyalty.increment_player_loyalty($1::text::uuid, 5)";
    assert_eq!(
        err(authn.query_one(inc, &[&player])),
        ("PT401".into(), "UNAUTHORIZED".into())
    );
    let mut tx = authn.transaction().unwrap();
    tx.batch_execute("SET LOCAL ROLE service_role").unwrap();
    let bal: i64 = tx.query_one(inc, &[&player]).unwrap().get(0);
    tx.commit().unwrap();
    assert_eq!(bal, 5);
    drop(authn);
    owner
        .batch_execute(&format!(
            "REVOKE anon, authenticated, service_role FROM {login}; DROP ROLE {login}"
        ))
        .unwrap();
}

#[test]
fn no_self_rewards_no_recovery_without_permission_no_peeking() {
    let db = fresh_db("self");
    let mut owner = connect(&db);
    let (awarder, rater, floor, player, stranger) =
        (new_uuid(), new_uuid(), new_uuid(), new_uuid(), new_uuid());
    add_staff(&mut owner, &awarder, &["loyalty:award"], true);
    add_staff(&mut owner, &rater, &["loyalty:rate"], true);
    add_staff(&mut owner, &floor, &["loyalty:rate"], true);
    let mut c = connect(&db);
    let before = footprint(&mut owner);
    let own = as_role(&mut c, "authenticated", Some(&awarder), |tx| {
        tx.query_one(
            REWARD,
            &[
                &awarder,
                &500i64,
                &"a bonus for myself",
                &awarder,
                &None::<String>,
            ],
        )
    });
    assert_eq!(err(own), ("PT403".into(), "FORBIDDEN".into()));
    assert_eq!(footprint(&mut owner), before);

    let slip = open_as(&mut c, &rater, &player, "25", "1 hour").unwrap();
    complete_as(&mut c, &rater, &slip).unwrap();
    // accrual is recovery by another name: loyalty:recover only
    let accrue = as_role(&mut c, "authenticated", Some(&floor), |tx| {
        tx.query_one(
            "SELECT * FROM loyalty.accrue_points_from_slip($1::text::uuid)",
            &[&slip],
        )
    });
    assert_eq!(err(accrue), ("PT403".into(), "FORBIDDEN".into()));
    // slip_points: the slip's player and raters yes, another player no
    let points = |c: &mut Client, sub: &str| {
        let slip = slip.clone();
        as_role(c, "authenticated", Some(sub), |tx| {
            tx.query_one("SELECT loyalty.slip_points($1::text::uuid)", &[&slip])
                .map(|r| r.get::<_, Option<i64>>(0))
        })
        .map_err(|e| sqlstate(&e))
    };
    assert_eq!(points(&mut c, &player), Ok(Some(350)));
    assert_eq!(points(&mut c, &floor), Ok(Some(350)));
    assert_eq!(
        points(&mut c, &stranger),
        Err(("PT403".into(), "FORBIDDEN".into()))
    );
}

/// 16 rewards by one staff member at the same instant, each in its own
/// transaction at `level`: at most the limit (10) post; every other call is
/// refused with RATE_LIMIT_EXCEEDED or PostgreSQL's serialization error.
fn race_rewards(level: IsolationLevel, name: &str) {
    let db = fresh_db(name);
    let mut owner = connect(&db);
    let staff = new_uuid();
    add_staff(&mut owner, &staff, &["loyalty:award"], true);
    let barrier = Arc::new(Barrier::new(16));
    let outcomes: Vec<String> = (0..16)
        .map(|i| {
            let (db, staff, barrier) = (db.clone(), staff.clone(), barrier.clone());
            thread::spawn(move || {
                let mut c = connect(&db);
                let mut tx = c
                    .build_transaction()
                    .isolation_level(level)
                    .start()
                    .unwrap();
                sign_in(&mut tx, "authenticated", Some(&staff)).unwrap();
                // take the snapshot before the race, as an early transaction would
                tx.query_one("SELECT count(*) FROM loyalty.tier", &[])
                    .unwrap();
                barrier.wait();
                let r = tx.query_one(
                    REWARD,
                    &[
                        &new_uuid(),
                        &10i64,
                        &"racing comp at the table",
                        &staff,
                        &Some(format!("race-{i}")),
                    ],
                );
                match r {
                    Ok(_) => match tx.commit() {
                        Ok(()) => "posted".to_string(),
                        Err(e) => sqlstate(&e).0,
                    },
                    Err(e) => sqlstate(&e).0,
                }
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap())
        .collect();
    let posted = outcomes.iter().filter(|o| *o == "posted").count();
    assert!((1..=10).contains(&posted), "{outcomes:?}");
    assert!(
        outcomes
            .iter()
            .all(|o| o == "posted" || o == "PT429" || o == "40001"),
        "{outcomes:?}"
    );
    let rows: i64 = owner
        .query_one(
            "SELECT count(*) FROM loyalty.loyalty_ledger WHERE staff_id = $1::text::uuid",
            &[&staff],
        )
        .unwrap()
        .get(0);
    assert_eq!(rows as usize, posted);
}

#[test]
fn rate_limit_holds_under_repeatable_read() {
    race_rewards(IsolationLevel::RepeatableRead, "rate_rr");
}

#[test]
fn rate_limit_holds_under_serializable() {
    race_rewards(IsolationLevel::Serializable, "rate_ser");
}

#[test]
fn thirty_racing_rewards_raise_exactly_one_alert() {
    let db = fresh_db("alert_race");
    let mut owner = connect(&db);
    owner
        .batch_execute("UPDATE loyalty.config SET rate_limit_count = 100")
        .unwrap();
    let staff = new_uuid();
    add_staff(&mut owner, &staff, &["loyalty:award"], true);
    let barrier = Arc::new(Barrier::new(30));
    let hs: Vec<_> = (0..30)
        .map(|i| {
            let (db, staff, barrier) = (db.clone(), staff.clone(), barrier.clone());
            thread::spawn(move || {
                let mut c = connect(&db);
                barrier.wait();
                as_role(&mut c, "authenticated", Some(&staff), |tx| {
                    tx.query_one(
                        REWARD,
                        &[
                            &new_uuid(),
                            &10i64,
                            &"racing comp at the table",
                            &staff,
                            &Some(format!("alert-race-{i}")),
                        ],
                    )
                })
                .is_ok()
            })
        })
        .collect();
    let posted = hs.into_iter().map(|h| h.join().unwrap());
    assert_eq!(
        posted.filter(|ok| *ok).count(),
        30,
        "all under the raised limit"
    );
    let alerts: i64 = owner
        .query_one(
            "SELECT count(*) FROM loyalty.alert WHERE kind = 'MANUAL_REWARD_FREQUENCY' AND staff_id = $1::text::uuid",
            &[&staff],
        )
        .unwrap()
        .get(0);
    assert_eq!(alerts, 1);
}

/// A transaction opened before the window used to stamp its rewards with
/// its old now(), so they fell out of the next window's count: with 3 per
/// 2 s, 6 rewards posted within 0.01 s. Rewards now carry the clock.
#[test]
fn an_early_transaction_cannot_outpace_the_window() {
    let db = fresh_db("early");
    let mut owner = connect(&db);
    owner
        .batch_execute(
            "UPDATE loyalty.config SET rate_limit_count = 3, rate_limit_window = '2 seconds'",
        )
        .unwrap();
    let staff = new_uuid();
    add_staff(&mut owner, &staff, &["loyalty:award"], true);
    let reward_in = |tx: &mut postgres::Transaction<'_>, n: usize| {
        err(tx.query_one(
            REWARD,
            &[
                &new_uuid(),
                &10i64,
                &"comp from an early transaction",
                &staff,
                &Some(format!("early-{n}-{}", unique())),
            ],
        ))
        .0
    };
    let mut early = connect(&db);
    let mut tx = early.transaction().unwrap();
    sign_in(&mut tx, "authenticated", Some(&staff)).unwrap();
    tx.query_one("SELECT now()", &[]).unwrap();
    thread::sleep(Duration::from_millis(2500));
    let first: Vec<String> = (0..3).map(|n| reward_in(&mut tx, n)).collect();
    tx.commit().unwrap();
    assert_eq!(first, vec!["ok"; 3]);
    // at once, from another session: the window is full
    let mut c = connect(&db);
    let more = as_role(&mut c, "authenticated", Some(&staff), |tx| {
        Ok(reward_in(tx, 9))
    })
    .unwrap();
    assert_eq!(more, "PT429");
    let stamped: bool = owner
        .query_one(
            "SELECT min(created_at) > max(created_at) - interval '1 second'
               FROM loyalty.loyalty_ledger WHERE staff_id = $1::text::uuid",
            &[&staff],
        )
        .unwrap()
        .get(0);
    assert!(stamped, "the three rewards carry the clock of their calls");
}

/// One pooled backend, and a Supabase `auth` schema that appears and goes
/// away: identity follows it at once, and nothing fails with 3F000.
#[test]
fn identity_follows_an_auth_schema_as_it_comes_and_goes() {
    let db = fresh_db("authcache");
    let mut owner = connect(&db);
    let (sub, from_auth) = (new_uuid(), new_uuid());
    let mut pooled = connect(&db);
    let who = |c: &mut Client| {
        as_role(c, "authenticated", Some(&sub), |tx| {
            tx.query_one("SELECT loyalty.caller_uid()::text", &[])
                .map(|r| r.get::<_, Option<String>>(0))
        })
        .map_err(|e| sqlstate(&e))
    };
    // no auth schema: the JWT's sub
    assert_eq!(who(&mut pooled), Ok(Some(sub.clone())));
    // an auth.uid() appears (here one that answers a fixed id, to tell
    // which path answered): the same backend now asks it
    owner
        .batch_execute(&format!(
            "CREATE SCHEMA auth;
             CREATE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE AS $$ SELECT '{from_auth}'::uuid $$;
             GRANT USAGE ON SCHEMA auth TO authenticated;"
        ))
        .unwrap();
    assert_eq!(who(&mut pooled), Ok(Some(from_auth.clone())));
    // and goes away: back to the sub, no 3F000
    owner.batch_execute("DROP SCHEMA auth CASCADE").unwrap();
    assert_eq!(who(&mut pooled), Ok(Some(sub.clone())));
}
