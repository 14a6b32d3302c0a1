//! Manual rewards, identity, RLS and alerts, each call made the way
//! PostgREST makes it (transaction + SET LOCAL role + request.jwt.claims).

use casino_loyalty_client_tests::*;
use postgres::fallible_iterator::FallibleIterator;
use postgres::Client;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

fn reward(
    c: &mut Client,
    staff: &str,
    player: &str,
    points: i64,
    reason: &str,
    reward_id: Option<&str>,
) -> Result<(i64, i64, bool, bool, String), postgres::Error> {
    let rid = reward_id.map(str::to_string);
    as_role(c, "authenticated", Some(staff), |tx| {
        let r = tx.query_one(REWARD, &[&player, &points, &reason, &staff, &rid])?;
        Ok((r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
    })
}

fn ledger_count(c: &mut Client, player: &str) -> i64 {
    c.query_one(
        "SELECT count(*) FROM loyalty.loyalty_ledger WHERE player_id = $1::text::uuid",
        &[&player],
    )
    .unwrap()
    .get(0)
}

fn balance(c: &mut Client, player: &str) -> i64 {
    c.query_opt(
        "SELECT current_balance FROM loyalty.player_loyalty WHERE player_id = $1::text::uuid",
        &[&player],
    )
    .unwrap()
    .map_or(0, |r| r.get(0))
}

#[test]
fn rewards_same_day_once_next_gaming_day_twice() {
    let db = fresh_db("rw_day");
    let mut owner = connect(&db);
    let (staff, player) = (new_uuid(), new_uuid());
    add_staff(&mut owner, &staff, &["loyalty:award"], true);
    // "now" in the gaming day that started yesterday (day start just ahead)
    owner
        .batch_execute(
            "UPDATE loyalty.config SET gaming_day_start = CASE
                WHEN (now() AT TIME ZONE 'UTC')::time < '22:00'
                THEN ((now() AT TIME ZONE 'UTC')::time + interval '1 hour')::time ELSE '23:59:59' END",
        )
        .unwrap();
    let mut c = connect(&db);
    let a = reward(&mut c, &staff, &player, 150, "double click bonus", None).unwrap();
    let b = reward(&mut c, &staff, &player, 150, "double click bonus", None).unwrap();
    assert!(!a.2, "first click posts");
    assert!(b.2, "second click is an idempotent hit");
    assert_eq!(a.0, b.0, "and returns the first entry");
    assert_eq!(ledger_count(&mut owner, &player), 1);
    // the owner moves the day start to midnight: same instant, next gaming day
    owner
        .batch_execute("UPDATE loyalty.config SET gaming_day_start = '00:00'")
        .unwrap();
    let c2 = reward(&mut c, &staff, &player, 150, "double click bonus", None).unwrap();
    assert!(!c2.2);
    assert_eq!(ledger_count(&mut owner, &player), 2);
    assert_eq!(balance(&mut owner, &player), 300);

    // a completed slip's accrual is keyed by the slip and appears once
    let slip = open_slip(&mut owner, &player);
    for _ in 0..3 {
        owner
            .query_one(
                "SELECT * FROM loyalty.complete_rating_slip($1::text::uuid, p_staff_id => coalesce(loyalty.caller_uid(), '00000000-0000-4000-8000-00000000f100'))",
                &[&slip],
            )
            .unwrap();
        owner
            .query_one(
                "SELECT * FROM loyalty.accrue_points_from_slip($1::text::uuid)",
                &[&slip],
            )
            .unwrap();
    }
    let keys: Vec<String> = owner
        .query("SELECT idempotency_key FROM loyalty.loyalty_ledger WHERE rating_slip_id = $1::text::uuid", &[&slip])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(keys, [format!("gameplay:{slip}")]);
}

#[test]
fn rewards_and_completion_at_the_same_moment() {
    let (staff, player) = (new_uuid(), new_uuid());
    let mut owner = shared_db();
    add_staff(&mut owner, &staff, &["loyalty:award"], true);
    let slip = open_slip(&mut owner, &player);
    let barrier = Arc::new(Barrier::new(2));
    let (b1, s1, p1) = (barrier.clone(), staff.clone(), player.clone());
    let rw = thread::spawn(move || {
        let mut c = shared_db();
        b1.wait();
        reward(&mut c, &s1, &p1, 500, "comp for the wait", None).map(|r| r.3)
    });
    let (b2, sl) = (barrier.clone(), slip.clone());
    let done = thread::spawn(move || {
        let mut c = shared_db();
        b2.wait();
        c.query_one(
            "SELECT points_earned FROM loyalty.complete_rating_slip($1::text::uuid, p_staff_id => coalesce(loyalty.caller_uid(), '00000000-0000-4000-8000-00000000f100'))",
            &[&sl],
        )
        .map(|r| r.get::<_, i64>(0))
    });
    assert!(rw.join().unwrap().unwrap(), "row_locked");
    let earned = done.join().unwrap().unwrap();
    assert_eq!(earned, 350);
    assert_eq!(balance(&mut owner, &player), 500 + earned);
    assert_eq!(ledger_count(&mut owner, &player), 2);
}

#[test]
fn rewards_ten_concurrent_distinct_ids() {
    let (staff, player) = (new_uuid(), new_uuid());
    let mut owner = shared_db();
    add_staff(&mut owner, &staff, &["loyalty:award"], true);
    let barrier = Arc::new(Barrier::new(10));
    let hs: Vec<_> = (0..10)
        .map(|i| {
            let (b, s, p) = (barrier.clone(), staff.clone(), player.clone());
            thread::spawn(move || {
                let mut c = shared_db();
                b.wait();
                reward(
                    &mut c,
                    &s,
                    &p,
                    100,
                    "tournament prize",
                    Some(&format!("T-{i}")),
                )
            })
        })
        .collect();
    for h in hs {
        let r = h.join().unwrap().expect("reward");
        assert!(r.3, "row_locked");
        assert!(!r.2);
    }
    assert_eq!(balance(&mut owner, &player), 1000);
    assert_eq!(ledger_count(&mut owner, &player), 10);
}

#[test]
fn rewards_rate_limit_holds_under_concurrency() {
    let staff = new_uuid();
    let mut owner = shared_db();
    add_staff(&mut owner, &staff, &["loyalty:award"], true);
    let barrier = Arc::new(Barrier::new(11));
    let hs: Vec<_> = (0..11)
        .map(|_| {
            let (b, s) = (barrier.clone(), staff.clone());
            thread::spawn(move || {
                let mut c = shared_db();
                let player = new_uuid();
                b.wait();
                reward(&mut c, &s, &player, 20, "slot tournament", None).map_err(|e| sqlstate(&e))
            })
        })
        .collect();
    let results: Vec<_> = hs.into_iter().map(|h| h.join().unwrap()).collect();
    let ok = results.iter().filter(|r| r.is_ok()).count();
    let limited: Vec<_> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert_eq!(ok, 10);
    assert_eq!(
        limited,
        [&("PT429".to_string(), "RATE_LIMIT_EXCEEDED".to_string())]
    );
    let issued: i64 = owner
        .query_one(
            "SELECT count(*) FROM loyalty.loyalty_ledger WHERE staff_id = $1::text::uuid",
            &[&staff],
        )
        .unwrap()
        .get(0);
    assert_eq!(issued, 10);
}

#[test]
fn rewards_each_rejection_writes_nothing_and_is_logged() {
    let (staff, plain, player) = (new_uuid(), new_uuid(), new_uuid());
    let mut owner = shared_db();
    add_staff(&mut owner, &staff, &["loyalty:award"], true);
    add_staff(&mut owner, &plain, &["loyalty:view_all"], true);
    let mut c = shared_db();
    let corr = format!("rej-{}", unique());
    let call = |c: &mut Client,
                role: &str,
                sub: Option<&str>,
                staff_arg: &str,
                points: i64,
                reason: &str,
                tag: &str| {
        let corr = format!("{corr}-{tag}");
        as_role(c, role, sub, |tx| {
            tx.query_one(
                "SELECT * FROM loyalty.manual_reward($1::text::uuid, $2::bigint, $3::text, $4::text::uuid,
                                                     p_correlation_id => $5)",
                &[&player, &points, &reason, &staff_arg, &corr],
            )
            .map(|_| ())
        })
        .map_err(|e| sqlstate(&e))
    };
    let cases = [
        (
            call(
                &mut c,
                "anon",
                None,
                &staff,
                10,
                "long enough reason",
                "anon",
            ),
            "PT401",
            "UNAUTHORIZED",
            "anon",
        ),
        (
            call(
                &mut c,
                "authenticated",
                Some(&plain),
                &plain,
                10,
                "long enough reason",
                "forbidden",
            ),
            "PT403",
            "FORBIDDEN",
            "forbidden",
        ),
        (
            call(
                &mut c,
                "authenticated",
                Some(&staff),
                &plain,
                10,
                "long enough reason",
                "spoof",
            ),
            "PT403",
            "INVALID_STAFF_ID",
            "spoof",
        ),
        (
            call(
                &mut c,
                "authenticated",
                Some(&staff),
                &staff,
                10_001,
                "long enough reason",
                "limit",
            ),
            "PT422",
            "REWARD_EXCEEDS_LIMIT",
            "limit",
        ),
        (
            call(
                &mut c,
                "authenticated",
                Some(&staff),
                &staff,
                10,
                "123456789",
                "reason",
            ),
            "PT422",
            "VALIDATION_ERROR",
            "reason",
        ),
    ];
    for (got, state, code, tag) in cases {
        assert_eq!(got, Err((state.to_string(), code.to_string())), "{tag}");
        let line = wait_for_log_line(&[&format!("{corr}-{tag}\"")]);
        assert_eq!(line["event"], "manual_reward_rejected", "{tag}");
        assert_eq!(line["error_code"], code, "{tag}");
    }
    assert_eq!(ledger_count(&mut owner, &player), 0);
    assert_eq!(balance(&mut owner, &player), 0);
}

#[test]
fn rls_players_see_their_own_staff_with_view_all_see_all() {
    let db = fresh_db("rls");
    let mut owner = connect(&db);
    let (staff_all, staff_none, p1, p2) = (new_uuid(), new_uuid(), new_uuid(), new_uuid());
    add_staff(
        &mut owner,
        &staff_all,
        &["loyalty:award", "loyalty:view_all"],
        true,
    );
    add_staff(&mut owner, &staff_none, &["loyalty:award"], true);
    let mut c = connect(&db);
    reward(&mut c, &staff_all, &p1, 100, "seeding player one", None).unwrap();
    reward(
        &mut c,
        &staff_all,
        &p1,
        50,
        "seeding player one again",
        None,
    )
    .unwrap();
    reward(&mut c, &staff_all, &p2, 70, "seeding player two", None).unwrap();
    let count = |c: &mut Client, role: &str, sub: Option<&str>, table: &str| {
        as_role(c, role, sub, |tx| {
            tx.query_one(&format!("SELECT count(*) FROM loyalty.{table}"), &[])
                .map(|r| r.get::<_, i64>(0))
        })
        .map_err(|e| sqlstate(&e).0)
    };
    assert_eq!(
        count(&mut c, "authenticated", Some(&p1), "loyalty_ledger"),
        Ok(2)
    );
    assert_eq!(
        count(&mut c, "authenticated", Some(&p1), "player_loyalty"),
        Ok(1)
    );
    assert_eq!(
        count(&mut c, "authenticated", Some(&p2), "loyalty_ledger"),
        Ok(1)
    );
    assert_eq!(
        count(&mut c, "authenticated", Some(&p1), "rating_slip"),
        Ok(0)
    );
    assert_eq!(
        count(&mut c, "authenticated", Some(&staff_all), "loyalty_ledger"),
        Ok(3)
    );
    assert_eq!(
        count(&mut c, "authenticated", Some(&staff_all), "player_loyalty"),
        Ok(2)
    );
    assert_eq!(
        count(&mut c, "authenticated", Some(&staff_none), "loyalty_ledger"),
        Ok(0)
    );
    assert_eq!(
        count(&mut c, "authenticated", None, "loyalty_ledger"),
        Ok(0)
    );
    assert_eq!(
        count(&mut c, "anon", None, "loyalty_ledger"),
        Err("42501".to_string())
    );
    assert_eq!(
        count(&mut c, "anon", None, "player_loyalty"),
        Err("42501".to_string())
    );
    assert_eq!(
        count(&mut c, "authenticated", Some(&staff_all), "config"),
        Err("42501".to_string())
    );
    assert_eq!(count(&mut c, "service_role", None, "loyalty_ledger"), Ok(3));

    // no direct writes, not even by a view_all staff member or a player on their own rows
    for sql in [
        "INSERT INTO loyalty.loyalty_ledger (player_id, idempotency_key, transaction_type, event_type, points_change,
             balance_before, balance_after, tier_before, tier_after, correlation_id)
         VALUES (gen_random_uuid(), 'x', 'MANUAL_BONUS', 'POINTS_UPDATE_REQUESTED', 1, 0, 1, 'BRONZE', 'BRONZE', 'x')",
        "UPDATE loyalty.loyalty_ledger SET points_change = 1000000",
        "DELETE FROM loyalty.loyalty_ledger",
        "UPDATE loyalty.player_loyalty SET current_balance = 1000000",
        "INSERT INTO loyalty.staff (staff_id, permissions) VALUES (gen_random_uuid(), '{loyalty:award}')",
    ] {
        for sub in [&staff_all, &p1] {
            let r = as_role(&mut c, "authenticated", Some(sub), |tx| tx.execute(sql, &[]));
            assert_eq!(sqlstate(&r.unwrap_err()).0, "42501", "{sql}");
        }
    }
    let n: i64 = owner
        .query_one("SELECT count(*) FROM loyalty.loyalty_ledger", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 3);
    let n: i64 = owner
        .query_one("SELECT count(*) FROM loyalty.verify_all_balances()", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 0);
}

#[test]
fn rls_policies_evaluate_identity_once_per_statement() {
    let mut c = shared_db();
    let plan: String = as_role(&mut c, "authenticated", Some(&new_uuid()), |tx| {
        let rows = tx.query("EXPLAIN SELECT * FROM loyalty.loyalty_ledger", &[])?;
        Ok(rows
            .iter()
            .map(|r| r.get::<_, String>(0))
            .collect::<Vec<_>>()
            .join("\n"))
    })
    .unwrap();
    // caller_uid() and caller_has_permission() are InitPlans: run once, not per row
    assert!(plan.contains("InitPlan"), "{plan}");
    assert!(
        !plan.contains("Filter: ((player_id = loyalty.caller_uid())"),
        "{plan}"
    );
}

#[test]
fn hostile_input_changes_nothing_it_should_not() {
    let db = fresh_db("hostile");
    let mut owner = connect(&db);
    let (staff, player) = (new_uuid(), new_uuid());
    add_staff(&mut owner, &staff, &["loyalty:award"], true);
    let mut c = connect(&db);
    let nasty = "'); DELETE FROM loyalty.loyalty_ledger; -- \"quoted\" ünïcödé 🎰 \\ %s %n";
    reward(&mut c, &staff, &player, 10, nasty, None).unwrap();
    let stored: String = owner
        .query_one(
            "SELECT reason FROM loyalty.loyalty_ledger WHERE player_id = $1::text::uuid",
            &[&player],
        )
        .unwrap()
        .get(0);
    assert_eq!(stored, nasty.trim());
    let huge = "x".repeat(100 * 1024);
    assert_eq!(
        reward(&mut c, &staff, &player, 10, &huge, None).map_err(|e| sqlstate(&e).1),
        Err("VALIDATION_ERROR".to_string())
    );
    // a schema that shadows now() and = ahead of pg_catalog in search_path
    owner
        .batch_execute(
            "CREATE SCHEMA evil;
             CREATE FUNCTION evil.now() RETURNS timestamptz LANGUAGE sql AS $$ SELECT '2000-01-01'::timestamptz $$;
             CREATE FUNCTION evil.always(uuid, uuid) RETURNS boolean LANGUAGE sql AS $$ SELECT true $$;
             CREATE OPERATOR evil.= (LEFTARG = uuid, RIGHTARG = uuid, FUNCTION = evil.always);
             GRANT USAGE ON SCHEMA evil TO PUBLIC;",
        )
        .unwrap();
    let r = as_role(&mut c, "authenticated", Some(&staff), |tx| {
        tx.batch_execute("SET LOCAL search_path = evil, loyalty, public")?;
        tx.query_one(
            REWARD,
            &[
                &player,
                &25i64,
                &"search path bonus",
                &staff,
                &None::<String>,
            ],
        )
        .map(|r| (r.get::<_, i64>(1), r.get::<_, bool>(2)))
    })
    .unwrap();
    assert_eq!(r, (35, false));
    let rows: Vec<(i64, String)> = owner
        .query(
            "SELECT points_change, to_char(created_at, 'YYYY') FROM loyalty.loyalty_ledger
              WHERE player_id = $1::text::uuid ORDER BY id",
            &[&player],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(rows.len(), 2);
    assert_ne!(rows[1].1, "2000", "now() was not shadowed");

    // an ordinary role cannot raise the reward limit
    let by_table = as_role(&mut c, "authenticated", Some(&staff), |tx| {
        tx.execute("UPDATE loyalty.config SET max_reward_points = 1000000", &[])
    });
    assert_eq!(sqlstate(&by_table.unwrap_err()).0, "42501");
    let by_set = as_role(&mut c, "authenticated", Some(&staff), |tx| {
        tx.batch_execute("SET LOCAL loyalty.max_reward_points = '1000000'; SET LOCAL loyalty.max_reward = '1000000'")?;
        tx.query_one(
            REWARD,
            &[
                &player,
                &10_001i64,
                &"trying to get more",
                &staff,
                &None::<String>,
            ],
        )
        .map(|_| ())
    });
    assert_eq!(sqlstate(&by_set.unwrap_err()).1, "REWARD_EXCEEDS_LIMIT");
    let limit: i64 = owner
        .query_one("SELECT max_reward_points FROM loyalty.config", &[])
        .unwrap()
        .get(0);
    assert_eq!(limit, 10_000);
    assert_eq!(ledger_count(&mut owner, &player), 2);
}

#[test]
fn alerts_once_on_the_twenty_first_and_only_on_commit() {
    let db = fresh_db("alerts");
    let mut owner = connect(&db);
    let staff = new_uuid();
    add_staff(&mut owner, &staff, &["loyalty:award"], true);
    // 20 rewards earlier this hour, outside the 60 s rate-limit window
    owner
        .execute(
            "INSERT INTO loyalty.loyalty_ledger (player_id, idempotency_key, transaction_type, event_type,
                    points_change, balance_before, balance_after, tier_before, tier_after, correlation_id,
                    staff_id, created_at, seq, prev_hash, row_hash)
             SELECT gen_random_uuid(), 'manual:earlier' || g, 'MANUAL_BONUS', 'POINTS_UPDATE_REQUESTED', 1, 0, 1,
                    'BRONZE', 'BRONZE', 'earlier', $1::text::uuid, now() - interval '20 minutes',
                    1, repeat('0', 64), repeat('0', 64)
               FROM generate_series(1, 20) g",
            &[&staff],
        )
        .unwrap();
    let mut listener = connect(&db);
    listener.batch_execute("LISTEN loyalty_alert").unwrap();
    let mut c = connect(&db);

    // the 21st, rolled back: no alert, no notification
    let rolled_back = as_role(&mut c, "authenticated", Some(&staff), |tx| {
        tx.query_one(
            REWARD,
            &[
                &new_uuid(),
                &5i64,
                &"rolled back comp",
                &staff,
                &None::<String>,
            ],
        )?;
        tx.batch_execute("SELECT 1/0")
    });
    assert!(rolled_back.is_err());
    let none: Vec<_> = listener
        .notifications()
        .timeout_iter(Duration::from_millis(500))
        .iterator()
        .collect();
    assert!(none.is_empty(), "no notification from a rolled-back reward");

    // the 21st, committed: one alert row, one notification
    reward(&mut c, &staff, &new_uuid(), 5, "committed comp", None).unwrap();
    let got: Vec<_> = listener
        .notifications()
        .timeout_iter(Duration::from_secs(3))
        .iterator()
        .take(1)
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].channel(), "loyalty_alert");
    // the wake-up carries the alert's id and nothing else; the row says the rest
    let payload: serde_json::Value = serde_json::from_str(got[0].payload()).unwrap();
    let alert_id = payload["alert_id"].as_i64().expect("alert_id");
    assert_eq!(payload.as_object().map(|o| o.len()), Some(1), "{payload}");
    let row = owner
        .query_one(
            "SELECT kind, staff_id::text, (details->>'rewards_in_window')::int FROM loyalty.alert WHERE id = $1",
            &[&alert_id],
        )
        .unwrap();
    assert_eq!(
        (
            row.get::<_, String>(0),
            row.get::<_, String>(1),
            row.get::<_, i32>(2)
        ),
        ("MANUAL_REWARD_FREQUENCY".to_string(), staff.clone(), 21)
    );
    // the 22nd: still one alert
    reward(&mut c, &staff, &new_uuid(), 5, "another comp", None).unwrap();
    let more: Vec<_> = listener
        .notifications()
        .timeout_iter(Duration::from_millis(500))
        .iterator()
        .collect();
    assert!(more.is_empty());
    let alerts: i64 = owner
        .query_one("SELECT count(*) FROM loyalty.alert", &[])
        .unwrap()
        .get(0);
    assert_eq!(alerts, 1);
}

#[test]
fn tier_change_notifies_the_player_on_commit() {
    let db = fresh_db("tiernotify");
    let mut owner = connect(&db);
    let (staff, player) = (new_uuid(), new_uuid());
    add_staff(&mut owner, &staff, &["loyalty:award"], true);
    let mut listener = connect(&db);
    listener
        .batch_execute("LISTEN loyalty_tier_changed")
        .unwrap();
    let mut c = connect(&db);
    reward(&mut c, &staff, &player, 9_990, "high roller welcome", None).unwrap();
    reward(&mut c, &staff, &player, 10, "crossing into silver", None).unwrap();
    let got: Vec<_> = listener
        .notifications()
        .timeout_iter(Duration::from_secs(3))
        .iterator()
        .take(1)
        .collect::<Result<_, _>>()
        .unwrap();
    // ids only: whoever is woken reads the entry through RLS
    let payload: serde_json::Value = serde_json::from_str(got[0].payload()).unwrap();
    assert_eq!(payload.as_object().map(|o| o.len()), Some(1), "{payload}");
    let entry = payload["ledger_entry_id"]
        .as_i64()
        .expect("ledger_entry_id");
    let read_as = |c: &mut Client, who: &str| {
        as_role(c, "authenticated", Some(who), |tx| {
            tx.query(
                "SELECT tier_before, tier_after FROM loyalty.loyalty_ledger WHERE id = $1",
                &[&entry],
            )
        })
        .unwrap()
        .iter()
        .map(|r| (r.get::<_, String>(0), r.get::<_, String>(1)))
        .collect::<Vec<_>>()
    };
    assert_eq!(
        read_as(&mut c, &player),
        vec![("BRONZE".to_string(), "SILVER".to_string())]
    );
    assert!(
        read_as(&mut c, &new_uuid()).is_empty(),
        "another player reads nothing"
    );
}

#[test]
fn floor_operations_need_active_staff() {
    let db = fresh_db("floor");
    let mut owner = connect(&db);
    let (floor, retired, recoverer, player) = (new_uuid(), new_uuid(), new_uuid(), new_uuid());
    let unrated = new_uuid();
    add_staff(&mut owner, &floor, &["loyalty:rate"], true);
    add_staff(&mut owner, &unrated, &[], true);
    add_staff(
        &mut owner,
        &retired,
        &["loyalty:rate", "loyalty:recover"],
        false,
    );
    add_staff(&mut owner, &recoverer, &["loyalty:recover"], true);
    let mut c = connect(&db);
    let open = |c: &mut Client, role: &str, sub: Option<&str>| {
        as_role(c, role, sub, |tx| {
            tx.query_one(
                "SELECT id::text FROM loyalty.open_rating_slip($1::text::uuid, 'BACCARAT', 40, NULL, NULL,
                        now() - interval '1 hour', p_staff_id => coalesce(loyalty.caller_uid(), '00000000-0000-4000-8000-00000000f100'))",
                &[&player],
            )
            .map(|r| r.get::<_, String>(0))
        })
        .map_err(|e| sqlstate(&e))
    };
    assert_eq!(
        open(&mut c, "authenticated", None),
        Err(("PT401".into(), "UNAUTHORIZED".into()))
    );
    assert_eq!(
        open(&mut c, "authenticated", Some(&retired)),
        Err(("PT403".into(), "FORBIDDEN".into()))
    );
    assert_eq!(
        open(&mut c, "authenticated", Some(&player)),
        Err(("PT403".into(), "FORBIDDEN".into()))
    );
    // active staff, but rating needs loyalty:rate
    assert_eq!(
        open(&mut c, "authenticated", Some(&unrated)),
        Err(("PT403".into(), "FORBIDDEN".into()))
    );
    assert_eq!(
        open(&mut c, "anon", None).map_err(|e| e.0),
        Err("42501".into())
    );
    let slip = open(&mut c, "authenticated", Some(&floor)).unwrap();
    let status = as_role(&mut c, "authenticated", Some(&floor), |tx| {
        tx.query_one(
            "SELECT status FROM loyalty.complete_rating_slip($1::text::uuid, p_staff_id => coalesce(loyalty.caller_uid(), '00000000-0000-4000-8000-00000000f100'))",
            &[&slip],
        )
        .map(|r| r.get::<_, String>(0))
    })
    .unwrap();
    assert_eq!(status, "COMPLETED");
    let who: (String, String) = {
        let r = owner
            .query_one("SELECT opened_by::text, closed_by::text FROM loyalty.rating_slip WHERE id = $1::text::uuid", &[&slip])
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!(who, (floor.clone(), floor.clone()));
    // recovery needs loyalty:recover
    let recover = |c: &mut Client, sub: &str| {
        as_role(c, "authenticated", Some(sub), |tx| {
            tx.query_one(
                "SELECT idempotent_hit FROM loyalty.recover_slip_loyalty($1::text::uuid)",
                &[&slip],
            )
            .map(|r| r.get::<_, bool>(0))
        })
        .map_err(|e| sqlstate(&e).1)
    };
    assert_eq!(recover(&mut c, &floor), Err("FORBIDDEN".into()));
    assert_eq!(recover(&mut c, &retired), Err("FORBIDDEN".into()));
    assert_eq!(recover(&mut c, &recoverer), Ok(true));
    // runbooks are not for the authenticated role at all
    let e = as_role(&mut c, "authenticated", Some(&recoverer), |tx| {
        tx.query_one("SELECT count(*) FROM loyalty.verify_all_balances()", &[])
    })
    .unwrap_err();
    assert_eq!(sqlstate(&e).0, "42501");
    // and the balance primitive is service_role's
    let e = as_role(&mut c, "authenticated", Some(&recoverer), |tx| {
        tx.query_one(
            "SELECT * FROM loyalty.increment_player_loyalty(gen_random_uuid(), 5)",
            &[],
        )
    })
    .unwrap_err();
    assert_eq!(sqlstate(&e).0, "42501");
    let ok = as_role(&mut c, "service_role", None, |tx| {
        tx.query_one(
            "SELECT balance_after FROM loyalty.increment_player_loyalty(gen_random_uuid(), 5)",
            &[],
        )
        .map(|r| r.get::<_, i64>(0))
    });
    assert_eq!(ok.unwrap(), 5);
}
