//! Canonical log lines land in the server log as JSON with the request's
//! correlation id.

use casino_loyalty_client_tests::{new_uuid, shared_db, unique, wait_for_log_line};

#[test]
fn increment_logs_the_argument_correlation_id() {
    let player = new_uuid();
    let corr = format!("corr-arg-{}", unique());
    shared_db()
        .query_one(
            "SELECT * FROM loyalty.increment_player_loyalty($1::text::uuid, 42, $2)",
            &[&player, &corr],
        )
        .unwrap();
    let v = wait_for_log_line(&[&corr, "loyalty_balance_incremented"]);
    assert_eq!(v["event"], "loyalty_balance_incremented");
    assert_eq!(v["correlation_id"], corr.as_str());
    assert_eq!(v["player_id"], player.as_str());
    assert_eq!(v["points_change"], 42);
    assert_eq!(v["balance_after"], 42);
    assert!(v["timestamp"].as_str().unwrap().ends_with('Z'));
}

#[test]
fn increment_logs_the_postgrest_header_correlation_id() {
    let player = new_uuid();
    let corr = format!("corr-hdr-{}", unique());
    let mut c = shared_db();
    let mut tx = c.transaction().unwrap();
    // What PostgREST does per request.
    tx.execute(
        "SELECT set_config('request.headers', json_build_object('x-correlation-id', $1::text)::text, true)",
        &[&corr],
    )
    .unwrap();
    let returned: String = tx
        .query_one(
            "SELECT correlation_id FROM loyalty.increment_player_loyalty($1::text::uuid, 10000)",
            &[&player],
        )
        .unwrap()
        .get(0);
    tx.commit().unwrap();
    assert_eq!(returned, corr);
    let v = wait_for_log_line(&[&corr, "loyalty_balance_incremented"]);
    assert_eq!(v["event"], "loyalty_balance_incremented");
    assert_eq!(v["correlation_id"], corr.as_str());
    // crossing SILVER also logs the tier change with the same id
    let t = wait_for_log_line(&[&corr, "loyalty_tier_changed"]);
    assert_eq!(t["event"], "loyalty_tier_changed");
    assert_eq!(
        (t["tier_before"].as_str(), t["tier_after"].as_str()),
        (Some("BRONZE"), Some("SILVER"))
    );
}

/// Lines of `event` carrying `corr` in the server log right now.
fn lines_of(event: &str, corr: &str) -> Vec<serde_json::Value> {
    let log = std::fs::read_to_string(std::env::var("PGLOG").expect("PGLOG")).unwrap();
    log.lines()
        .filter(|l| l.contains(&format!("\"event\":\"{event}\"")) && l.contains(corr))
        .map(|l| serde_json::from_str(&l[l.find('{').unwrap()..]).unwrap())
        .collect()
}

/// Each canonical event, once in a transaction that rolls back and once in
/// one that commits (or, for refusals and failures, once as it happens).
/// Success lines exist only for the committed work; failure lines at once.
#[test]
fn every_event_is_written_exactly_when_it_is_true() {
    use casino_loyalty_client_tests::{add_staff, connect, fresh_db, REWARD};
    let db = fresh_db("events");
    let mut owner = connect(&db);
    let staff = new_uuid();
    add_staff(&mut owner, &staff, &["loyalty:award"], true);
    let mut c = connect(&db);
    let tag = unique();
    // one reward crossing SILVER, one replay of it, one refusal
    let work = |c: &mut postgres::Client, corr: &str, commit: bool| {
        let player = new_uuid();
        let mut tx = c.transaction().unwrap();
        tx.execute(
            "SELECT set_config('loyalty.correlation_id', $1, true)",
            &[&corr],
        )
        .unwrap();
        let reward_id = Some(format!("evt-{corr}"));
        for _ in 0..2 {
            tx.query_one(
                REWARD,
                &[
                    &player,
                    &10_000i64,
                    &"tier-crossing comp",
                    &staff,
                    &reward_id,
                ],
            )
            .unwrap();
        }
        // a completion and its accrual (the owner rates)
        tx.query_one(
            "SELECT c.status FROM loyalty.open_rating_slip(gen_random_uuid(), 'BLACKJACK', 25, NULL, NULL,
                    now() - interval '1 hour', p_staff_id => coalesce(loyalty.caller_uid(), '00000000-0000-4000-8000-00000000f100')) o, LATERAL loyalty.complete_rating_slip(o.id, p_staff_id => coalesce(loyalty.caller_uid(), '00000000-0000-4000-8000-00000000f100')) c",
            &[],
        )
        .unwrap();
        if commit {
            tx.commit().unwrap();
        } else {
            tx.rollback().unwrap();
        }
    };
    let rolled = format!("evt-rolled-{tag}");
    let kept = format!("evt-kept-{tag}");
    work(&mut c, &rolled, false);
    work(&mut c, &kept, true);
    for event in [
        "manual_reward_issued",
        "loyalty_idempotency_hit",
        "loyalty_tier_changed",
        "loyalty_accrual_completed",
    ] {
        assert_eq!(
            lines_of(event, &rolled).len(),
            0,
            "{event} for rolled-back work"
        );
        assert_eq!(
            lines_of(event, &kept).len(),
            1,
            "{event} for committed work"
        );
    }
    // a savepoint rolled back inside a committed transaction drops its lines
    let saved = format!("evt-savepoint-{tag}");
    let mut tx = c.transaction().unwrap();
    tx.execute(
        "SELECT set_config('loyalty.correlation_id', $1, true)",
        &[&saved],
    )
    .unwrap();
    let mut sp = tx.savepoint("sp").unwrap();
    sp.query_one(
        REWARD,
        &[
            &new_uuid(),
            &5i64,
            &"undone by a savepoint",
            &staff,
            &None::<String>,
        ],
    )
    .unwrap();
    sp.rollback().unwrap();
    tx.query_one(
        REWARD,
        &[
            &new_uuid(),
            &6i64,
            &"kept after the savepoint",
            &staff,
            &None::<String>,
        ],
    )
    .unwrap();
    tx.commit().unwrap();
    let issued = lines_of("manual_reward_issued", &saved);
    assert_eq!(issued.len(), 1);
    assert_eq!(issued[0]["points"], 6);

    // refusals and failures are written at once, whatever happens next
    let refused = format!("evt-refused-{tag}");
    let mut tx = c.transaction().unwrap();
    tx.execute(
        "SELECT set_config('loyalty.correlation_id', $1, true)",
        &[&refused],
    )
    .unwrap();
    let e = tx
        .query_one(
            REWARD,
            &[
                &new_uuid(),
                &50_000i64,
                &"far too generous",
                &staff,
                &None::<String>,
            ],
        )
        .unwrap_err();
    assert_eq!(
        e.as_db_error().map(|d| d.message()),
        Some("REWARD_EXCEEDS_LIMIT")
    );
    drop(tx);
    let lines = lines_of("manual_reward_rejected", &refused);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["error_code"], "REWARD_EXCEEDS_LIMIT");

    // an accrual that fails (a held player row, lock timeout): written at
    // once, even though the transaction that saw it rolls back
    let failed = format!("evt-failed-{tag}");
    let player = new_uuid();
    owner
        .query_one(
            "SELECT * FROM loyalty.increment_player_loyalty($1::text::uuid, 1)",
            &[&player],
        )
        .unwrap();
    let slip: String = owner
        .query_one(
            "SELECT id::text FROM loyalty.open_rating_slip($1::text::uuid, 'BLACKJACK', 25, NULL, NULL,
                    now() - interval '1 hour', p_staff_id => coalesce(loyalty.caller_uid(), '00000000-0000-4000-8000-00000000f100'))",
            &[&player],
        )
        .unwrap()
        .get(0);
    let mut holder = connect(&db);
    let mut hold = holder.transaction().unwrap();
    hold.query_one(
        "SELECT 1 FROM loyalty.player_loyalty WHERE player_id = $1::text::uuid FOR UPDATE",
        &[&player],
    )
    .unwrap();
    let mut tx = c.transaction().unwrap();
    tx.batch_execute("SET LOCAL lock_timeout = '100ms'")
        .unwrap();
    let status: String = tx
        .query_one(
            "SELECT status FROM loyalty.complete_rating_slip($1::text::uuid, $2, p_staff_id => coalesce(loyalty.caller_uid(), '00000000-0000-4000-8000-00000000f100'))",
            &[&slip, &failed],
        )
        .unwrap()
        .get(0);
    assert_eq!(status, "PARTIAL_COMPLETION");
    tx.rollback().unwrap();
    hold.rollback().unwrap();
    let lines = lines_of("loyalty_accrual_failed", &failed);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["recovery_needed"], true);
    assert_eq!(lines_of("loyalty_accrual_completed", &failed).len(), 0);
}
