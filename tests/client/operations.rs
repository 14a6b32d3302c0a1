//! Operations (docs/reference.md §10): health-check findings produced for
//! real and alerted once, a pg_cron-scheduled run, reconciliation, the
//! outbox (commit only, claimed once, RLS), acknowledgement, metrics, the
//! runbooks and the admin API's audit trail.

use casino_loyalty_client_tests::*;
use postgres::Client;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const COMPLETE: &str = "SELECT status FROM loyalty.complete_rating_slip($1::text::uuid, p_staff_id => coalesce(loyalty.caller_uid(), '00000000-0000-4000-8000-00000000f100'))";

/// (kind, subject) -> (alert id, new alert?) of one health_check run.
fn health(c: &mut Client) -> BTreeMap<(String, String), (Option<i64>, bool)> {
    c.query(
        "SELECT kind, subject, alert_id, new_alert FROM loyalty.health_check()",
        &[],
    )
    .unwrap()
    .iter()
    .map(|r| ((r.get(0), r.get(1)), (r.get(2), r.get(3))))
    .collect()
}

fn key(kind: &str, subject: &str) -> (String, String) {
    (kind.to_string(), subject.to_string())
}

fn open_alerts(c: &mut Client, kind: &str) -> i64 {
    c.query_one(
        "SELECT count(*) FROM loyalty.alert WHERE kind = $1 AND resolved_at IS NULL",
        &[&kind],
    )
    .unwrap()
    .get(0)
}

fn one_i64(c: &mut Client, sql: &str) -> i64 {
    c.query_one(sql, &[]).unwrap().get(0)
}

/// A partial completion for a new player: the accrual fails for real.
fn partial_completion(c: &mut Client) -> (String, String) {
    let player = new_uuid();
    let slip = open_slip(c, &player);
    ledger_down(c);
    let status: String = c.query_one(COMPLETE, &[&slip]).unwrap().get(0);
    ledger_up(c);
    assert_eq!(status, "PARTIAL_COMPLETION");
    (player, slip)
}

#[test]
fn every_finding_is_raised_once_while_open_and_resolved_when_gone() {
    let db = fresh_db("health");
    let mut c = connect(&db);
    // a clean database: nothing to report
    assert!(health(&mut c).is_empty());
    c.batch_execute(
        "SELECT loyalty.configure(p_partial_stale_after => '1 millisecond',
                                  p_approval_overdue_after => '1 millisecond')",
    )
    .unwrap();

    // 1. a partial completion aged past the threshold
    let (_, stale_slip) = partial_completion(&mut c);
    // 2. a paid slip still marked owed: recovered, then its pending row
    //    reopened the way a 0.1.0 recovery left it
    let (_, paid_slip) = partial_completion(&mut c);
    c.query_one(
        "SELECT * FROM loyalty.recover_slip_loyalty($1::text::uuid)",
        &[&paid_slip],
    )
    .unwrap();
    c.execute(
        "UPDATE loyalty.pending_accrual SET resolved_at = NULL WHERE rating_slip_id = $1::text::uuid",
        &[&paid_slip],
    )
    .unwrap();
    // 3. a balance drifted by the owner with triggers off
    let drifted = new_uuid();
    let s = open_slip(&mut c, &drifted);
    c.query_one(COMPLETE, &[&s]).unwrap();
    c.batch_execute(&format!(
        "SET session_replication_role = replica;
         UPDATE loyalty.player_loyalty SET current_balance = current_balance + 1000
          WHERE player_id = '{drifted}';
         RESET session_replication_role;"
    ))
    .unwrap();
    // 4. a slip held for approval too long
    c.batch_execute(
        "SELECT loyalty.upsert_game_settings('BACCARAT', p_approval_threshold_points => 10)",
    )
    .unwrap();
    let held_player = new_uuid();
    let held: String = c
        .query_one(
            "SELECT id::text FROM loyalty.open_rating_slip($1::text::uuid, 'BACCARAT', 25, NULL, NULL,
                    now() - interval '1 hour', p_staff_id => coalesce(loyalty.caller_uid(), '00000000-0000-4000-8000-00000000f100'))",
            &[&held_player],
        )
        .unwrap()
        .get(0);
    let status: String = c.query_one(COMPLETE, &[&held]).unwrap().get(0);
    assert_eq!(status, "HELD_FOR_APPROVAL");
    // 5. a ladder edit: 350 lifetime points (one slip) now make SILVER
    c.batch_execute("SELECT loyalty.upsert_tier('SILVER', 300)")
        .unwrap();
    std::thread::sleep(Duration::from_millis(5));

    let first = health(&mut c);
    let stale = key("PARTIAL_COMPLETION_STALE", &stale_slip);
    let wrong = key("PENDING_ROW_WRONG", &paid_slip);
    let mismatch = key("BALANCE_MISMATCH", &drifted);
    let overdue = key("APPROVAL_OVERDUE", &held);
    let drift = key("TIER_DRIFT", "ladder");
    for k in [&stale, &wrong, &mismatch, &overdue, &drift] {
        let (id, new) = first.get(k).unwrap_or_else(|| panic!("{k:?} in {first:?}"));
        assert!(id.is_some() && *new, "{k:?} raised");
    }
    // the drifted player and the recovered one hold 350 lifetime points
    // each, still BRONZE; the stale and the held slips' players have none
    let players: i64 = c
        .query_one(
            "SELECT (details->>'players')::bigint FROM loyalty.alert WHERE kind = 'TIER_DRIFT'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(players, 2);
    let severity: String = c
        .query_one(
            "SELECT severity FROM loyalty.alert WHERE fingerprint = $1",
            &[&format!("BALANCE_MISMATCH:{drifted}")],
        )
        .unwrap()
        .get(0);
    assert_eq!(severity, "CRITICAL");

    // a second run finds the same and raises nothing new
    let second = health(&mut c);
    assert_eq!(
        second.keys().collect::<Vec<_>>(),
        first.keys().collect::<Vec<_>>()
    );
    for (k, (id, new)) in &second {
        assert!(!new, "{k:?} raised twice");
        assert_eq!(*id, first[k].0);
    }
    for kind in [
        "PARTIAL_COMPLETION_STALE",
        "PENDING_ROW_WRONG",
        "BALANCE_MISMATCH",
        "APPROVAL_OVERDUE",
        "TIER_DRIFT",
    ] {
        assert_eq!(open_alerts(&mut c, kind), 1, "{kind}");
    }
    // each new alert went to the outbox once
    assert_eq!(
        one_i64(
            &mut c,
            "SELECT count(*) FROM loyalty.notification WHERE kind = 'ALERT'"
        ),
        one_i64(&mut c, "SELECT count(*) FROM loyalty.alert")
    );

    // repair everything; the next run resolves every alert
    c.query_one(
        "SELECT * FROM loyalty.recover_slip_loyalty($1::text::uuid)",
        &[&stale_slip],
    )
    .unwrap();
    c.execute(
        "UPDATE loyalty.pending_accrual SET resolved_at = now() WHERE rating_slip_id = $1::text::uuid",
        &[&paid_slip],
    )
    .unwrap();
    c.query_one(
        "SELECT * FROM loyalty.rebuild_player_balance($1::text::uuid, p_reason => 'owner drift, ticket 7')",
        &[&drifted],
    )
    .unwrap();
    c.query_one(
        "SELECT * FROM loyalty.reject_slip($1::text::uuid, 'not approved by the pit', p_staff_id => coalesce(loyalty.caller_uid(), '00000000-0000-4000-8000-00000000f200'))",
        &[&held],
    )
    .unwrap();
    // the reconciliation already gave the drifted player the ladder's tier
    let retiered: Vec<(String, String, String)> = c
        .query(
            "SELECT player_id::text, tier_before, tier_after FROM loyalty.retier_players()",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(retiered.len(), 1);
    assert_eq!(
        (retiered[0].1.as_str(), retiered[0].2.as_str()),
        ("BRONZE", "SILVER")
    );
    assert!(health(&mut c).is_empty());
    assert_eq!(
        one_i64(
            &mut c,
            "SELECT count(*) FROM loyalty.alert WHERE fingerprint IS NOT NULL AND resolved_at IS NULL"
        ),
        0
    );
    // a recurrence is a new alert
    c.batch_execute(&format!(
        "SET session_replication_role = replica;
         UPDATE loyalty.player_loyalty SET current_balance = current_balance + 1 WHERE player_id = '{drifted}';
         RESET session_replication_role;"
    ))
    .unwrap();
    let again = health(&mut c);
    assert!(again[&mismatch].1);
    assert_eq!(
        one_i64(
            &mut c,
            "SELECT count(*) FROM loyalty.alert WHERE kind = 'BALANCE_MISMATCH'"
        ),
        2
    );
}

#[test]
fn a_broken_chain_and_unacknowledged_alerts_are_reported() {
    let db = fresh_db("health_chain");
    let mut c = connect(&db);
    let player = new_uuid();
    let s = open_slip(&mut c, &player);
    c.query_one(COMPLETE, &[&s]).unwrap();
    // a superuser edits the entry's reason (not its points): only the chain
    // can tell
    c.batch_execute(&format!(
        "SET session_replication_role = replica;
         UPDATE loyalty.loyalty_ledger SET reason = 'forged' WHERE player_id = '{player}';
         RESET session_replication_role;"
    ))
    .unwrap();
    let found = health(&mut c);
    assert_eq!(
        found.keys().cloned().collect::<Vec<_>>(),
        vec![key("CHAIN_BROKEN", &player)]
    );
    let detail: String = c
        .query_one(
            "SELECT details->>'break_kind' FROM loyalty.alert WHERE kind = 'CHAIN_BROKEN'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(detail, "edited");
    // nobody has taken it on: reported as overdue, not alerted about again
    c.batch_execute("SELECT loyalty.configure(p_alert_ack_overdue_after => '1 millisecond')")
        .unwrap();
    std::thread::sleep(Duration::from_millis(5));
    let r = c
        .query_one(
            "SELECT severity, details->>'alerts' FROM loyalty.health_check() WHERE kind = 'ALERT_UNACKNOWLEDGED'",
            &[],
        )
        .unwrap();
    assert_eq!(
        (r.get::<_, String>(0), r.get::<_, String>(1)),
        ("CRITICAL".into(), "1".into())
    );
    let id = one_i64(&mut c, "SELECT id FROM loyalty.alert");
    c.query_one(
        "SELECT * FROM loyalty.acknowledge_alert($1, 'investigating, ticket 12')",
        &[&id],
    )
    .unwrap();
    let kinds: Vec<String> = c
        .query("SELECT kind FROM loyalty.health_check()", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(kinds, ["CHAIN_BROKEN"]);
}

/// The health check and the hold expiry on a schedule: real pg_cron
/// (loaded by the test cluster, as Supabase ships it) runs them every
/// minute in this database (Debian's pg_cron 1.4 schedules by the minute;
/// a job added just after a tick may first run two ticks later), so this
/// waits up to three.
#[test]
fn pg_cron_runs_the_health_check_and_the_hold_expiry() {
    let db = fresh_db("health_cron");
    let mut c = connect(&db);
    c.batch_execute("SELECT loyalty.configure(p_partial_stale_after => '1 millisecond')")
        .unwrap();
    let (_, slip) = partial_completion(&mut c);
    // a hold whose second of life is over long before the first tick
    let (player, cashier) = (new_uuid(), new_uuid());
    add_staff(&mut c, &cashier, &["loyalty:redeem", "loyalty:award"], true);
    c.query_one(
        REWARD,
        &[
            &player,
            &500i64,
            &"starting balance",
            &cashier,
            &None::<String>,
        ],
    )
    .unwrap();
    let hold: String = c
        .query_one(
            "SELECT hold_id::text FROM loyalty.hold_points($1::text::uuid, 200, 'bar', 'a round of drinks',
                    $2::text::uuid, p_ttl => '1 second')",
            &[&player, &cashier],
        )
        .unwrap()
        .get(0);
    let mut admin = connect("postgres");
    admin
        .batch_execute("CREATE EXTENSION IF NOT EXISTS pg_cron")
        .unwrap();
    let job: i64 = admin
        .query_one(
            "SELECT cron.schedule_in_database($1, '* * * * *', 'SELECT count(*) FROM loyalty.health_check()', $2)",
            &[&format!("loyalty-health-{db}"), &db],
        )
        .unwrap()
        .get(0);
    let expiry: i64 = admin
        .query_one(
            "SELECT cron.schedule_in_database($1, '* * * * *', 'SELECT count(*) FROM loyalty.expire_holds()', $2)",
            &[&format!("loyalty-expire-{db}"), &db],
        )
        .unwrap()
        .get(0);
    // Debian's pg_cron 1.4 can miss a job added while its scheduler lags
    // behind the shared invalidation queue (other tests' CREATE DATABASE
    // and CREATE EXTENSION overflow it, and a reset is not taken as "jobs
    // changed"): a configuration reload makes it re-read cron.job.
    admin.execute("SELECT pg_reload_conf()", &[]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(200);
    let alert = loop {
        let rows = c
            .query(
                "SELECT id FROM loyalty.alert WHERE fingerprint = $1",
                &[&format!("PARTIAL_COMPLETION_STALE:{slip}")],
            )
            .unwrap();
        if let Some(r) = rows.first() {
            break r.get::<_, i64>(0);
        }
        if Instant::now() >= deadline {
            let runs: Vec<String> = admin
                .query(
                    "SELECT status || ': ' || coalesce(return_message, '') FROM cron.job_run_details
                      WHERE jobid = $1 ORDER BY runid",
                    &[&job],
                )
                .unwrap()
                .iter()
                .map(|r| r.get(0))
                .collect();
            let jobs: Vec<String> = admin
                .query(
                    "SELECT jobid || ' ' || database || ' ' || active FROM cron.job",
                    &[],
                )
                .unwrap()
                .iter()
                .map(|r| r.get(0))
                .collect();
            panic!("pg_cron never raised the alert; runs of job {job}: {runs:?}; jobs: {jobs:?}");
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    // it ran as scheduled and succeeded
    let deadline = Instant::now() + Duration::from_secs(30);
    while one_i64(
        &mut admin,
        &format!("SELECT count(*) FROM cron.job_run_details WHERE jobid = {job} AND status = 'succeeded'"),
    ) < 1
    {
        assert!(Instant::now() < deadline, "pg_cron logged no successful run");
        std::thread::sleep(Duration::from_millis(200));
    }
    let deadline = Instant::now() + Duration::from_secs(200);
    let expired = |c: &mut Client| -> (String, i64) {
        let r = c
            .query_one(
                "SELECT h.status, p.held_points FROM loyalty.hold h JOIN loyalty.player_loyalty p USING (player_id)
                  WHERE h.hold_id = $1::text::uuid",
                &[&hold],
            )
            .unwrap();
        (r.get(0), r.get(1))
    };
    while expired(&mut c) != ("EXPIRED".to_string(), 0) {
        assert!(Instant::now() < deadline, "pg_cron never expired the hold");
        std::thread::sleep(Duration::from_millis(200));
    }
    for j in [job, expiry] {
        admin
            .execute("SELECT cron.unschedule($1::bigint)", &[&j])
            .unwrap();
    }
    assert_eq!(open_alerts(&mut c, "PARTIAL_COMPLETION_STALE"), 1);
    let last: bool = c
        .query_one(
            "SELECT last_health_check IS NOT NULL FROM loyalty.metrics()",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(last, "metrics show the scheduled run (alert {alert})");
}

#[test]
fn drift_then_play_then_rebuild_verifies() {
    let db = fresh_db("reconcile");
    let mut c = connect(&db);
    let player = new_uuid();
    let s = open_slip(&mut c, &player);
    c.query_one(COMPLETE, &[&s]).unwrap();
    // minted behind the write path's back, then the player plays on: the
    // next entry starts from the minted balance
    c.batch_execute(&format!(
        "SET session_replication_role = replica;
         UPDATE loyalty.player_loyalty SET current_balance = current_balance + 5000 WHERE player_id = '{player}';
         RESET session_replication_role;"
    ))
    .unwrap();
    let s2 = open_slip(&mut c, &player);
    c.query_one(COMPLETE, &[&s2]).unwrap();
    let verify = |c: &mut Client| -> (bool, i64, i64, i64) {
        let r = c
            .query_one(
                "SELECT ok, current_balance, ledger_balance, chain_breaks
                   FROM loyalty.verify_player_balance($1::text::uuid)",
                &[&player],
            )
            .unwrap();
        (r.get(0), r.get(1), r.get(2), r.get(3))
    };
    assert_eq!(verify(&mut c), (false, 5700, 700, 1));
    let r = c
        .query_one(
            "SELECT balance_before, balance_after, ledger_entry_id FROM loyalty.rebuild_player_balance(
                 $1::text::uuid, 'ticket-99', 'minted points found by the health check')",
            &[&player],
        )
        .unwrap();
    let entry: i64 = r.get(2);
    assert_eq!((r.get::<_, i64>(0), r.get::<_, i64>(1)), (5700, 700));
    assert_eq!(verify(&mut c), (true, 700, 700, 0));
    let e = c
        .query_one(
            "SELECT transaction_type, event_type, points_change, balance_before, balance_after, correlation_id,
                    reason, source = 'rebuild_player_balance by ' || current_user
               FROM loyalty.loyalty_ledger WHERE id = $1",
            &[&entry],
        )
        .unwrap();
    assert_eq!(
        (
            e.get::<_, String>(0),
            e.get::<_, String>(1),
            e.get::<_, i64>(2),
            e.get::<_, i64>(3),
            e.get::<_, i64>(4),
            e.get::<_, String>(5),
            e.get::<_, String>(6),
            e.get::<_, bool>(7)
        ),
        (
            "RECONCILIATION".into(),
            "BALANCE_RECONCILED".into(),
            -5000,
            5700,
            700,
            "ticket-99".into(),
            "minted points found by the health check".into(),
            true
        )
    );
    // play continues from the repaired balance; everything verifies
    let s3 = open_slip(&mut c, &player);
    c.query_one(COMPLETE, &[&s3]).unwrap();
    assert_eq!(verify(&mut c), (true, 1050, 1050, 0));
    assert_eq!(
        one_i64(&mut c, "SELECT count(*) FROM loyalty.verify_all_balances()"),
        0
    );
    assert_eq!(
        one_i64(&mut c, "SELECT count(*) FROM loyalty.verify_all_chains()"),
        0
    );
    // nothing left to repair: no second entry
    let none: Option<i64> = c
        .query_one(
            "SELECT ledger_entry_id FROM loyalty.rebuild_player_balance($1::text::uuid,
                 p_reason => 'checking again after the fix')",
            &[&player],
        )
        .unwrap()
        .get(0);
    assert_eq!(none, None);
}

/// A reward big enough to move a new player from BRONZE to SILVER.
const SILVER_REWARD: &str =
    "SELECT ledger_entry_id FROM loyalty.manual_reward($1::text::uuid, 10000,
    'welcome package for a new member', $2::text::uuid, p_reward_id => $3)";

#[test]
fn the_outbox_is_written_on_commit_claimed_once_and_read_per_rls() {
    let db = fresh_db("outbox");
    let mut c = connect(&db);
    c.batch_execute("SELECT loyalty.configure(p_max_reward_points => 20000)")
        .unwrap();
    let (staff, viewer, p1, p2) = (new_uuid(), new_uuid(), new_uuid(), new_uuid());
    add_staff(&mut c, &staff, &["loyalty:award"], true);
    add_staff(&mut c, &viewer, &["loyalty:view_all"], true);
    let outbox = |c: &mut Client| one_i64(c, "SELECT count(*) FROM loyalty.notification");

    // rolled back: no row
    let mut tx = c.transaction().unwrap();
    tx.query_one(SILVER_REWARD, &[&p1, &staff, &"rolled-back"])
        .unwrap();
    tx.rollback().unwrap();
    assert_eq!(outbox(&mut c), 0);
    // committed: one row per tier change, carrying the entry's id
    let e1: i64 = c
        .query_one(SILVER_REWARD, &[&p1, &staff, &"r1"])
        .unwrap()
        .get(0);
    c.query_one(SILVER_REWARD, &[&p2, &staff, &"r2"]).unwrap();
    assert_eq!(outbox(&mut c), 2);
    let row = c
        .query_one(
            "SELECT kind, ledger_entry_id, payload->>'tier_after' FROM loyalty.notification
              WHERE player_id = $1::text::uuid",
            &[&p1],
        )
        .unwrap();
    assert_eq!(
        (
            row.get::<_, String>(0),
            row.get::<_, i64>(1),
            row.get::<_, String>(2)
        ),
        ("TIER_CHANGED".into(), e1, "SILVER".into())
    );
    // an alert goes to the outbox too
    c.batch_execute(
        "INSERT INTO loyalty.alert (kind, severity, details) VALUES ('TEST', 'INFO', '{}');
         SELECT loyalty.announce_alert(currval('loyalty.alert_id_seq'))",
    )
    .unwrap();
    assert_eq!(outbox(&mut c), 3);

    // RLS: each player reads their own tier change, staff with view_all
    // read everything, anon nothing
    let read = |c: &mut Client, role: &str, sub: Option<&str>| -> Vec<String> {
        as_role(c, role, sub, |tx| {
            tx.query(
                "SELECT kind || coalesce(':' || player_id::text, '') FROM loyalty.notification ORDER BY id",
                &[],
            )
        })
        .map(|rows| rows.iter().map(|r| r.get(0)).collect())
        .unwrap_or_else(|e| vec![sqlstate(&e).0])
    };
    assert_eq!(
        read(&mut c, "authenticated", Some(&p1)),
        [format!("TIER_CHANGED:{p1}")]
    );
    assert_eq!(read(&mut c, "authenticated", Some(&viewer)).len(), 3);
    assert_eq!(read(&mut c, "authenticated", Some(&staff)).len(), 0);
    assert_eq!(read(&mut c, "anon", None), ["42501"]);

    // two workers claim at once: each row goes to exactly one of them
    let mut w1 = connect(&db);
    let mut w2 = connect(&db);
    let mut t1 = w1.transaction().unwrap();
    let mut t2 = w2.transaction().unwrap();
    let claim = |t: &mut postgres::Transaction<'_>| -> Vec<i64> {
        t.batch_execute("SET LOCAL ROLE service_role").unwrap();
        t.query("SELECT id FROM loyalty.claim_notifications(2)", &[])
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    };
    let a = claim(&mut t1);
    let b = claim(&mut t2);
    assert_eq!(a.len(), 2);
    assert_eq!(b.len(), 1);
    assert!(b.iter().all(|id| !a.contains(id)));
    let marked: i32 = t1
        .query_one("SELECT loyalty.mark_notifications_delivered($1)", &[&a])
        .unwrap()
        .get(0);
    assert_eq!(marked, 2);
    t1.commit().unwrap();
    // the second worker dies before marking: its row comes back after the
    // claim timeout, and only then
    t2.commit().unwrap();
    assert!(c
        .query("SELECT id FROM loyalty.claim_notifications(10)", &[])
        .unwrap()
        .is_empty());
    c.batch_execute("SELECT loyalty.configure(p_notification_claim_timeout => '1 millisecond')")
        .unwrap();
    std::thread::sleep(Duration::from_millis(5));
    let again: Vec<(i64, i32)> = c
        .query(
            "SELECT id, claims FROM loyalty.claim_notifications(10)",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(again, [(b[0], 2)]);
    // delivered rows are never claimed again; marking twice marks nothing
    let marked: i32 = c
        .query_one("SELECT loyalty.mark_notifications_delivered($1)", &[&a])
        .unwrap()
        .get(0);
    assert_eq!(marked, 0);
}

#[test]
fn acknowledgement_checks_who_and_records_it() {
    let db = fresh_db("ack");
    let mut c = connect(&db);
    let (about, viewer, player, plain) = (new_uuid(), new_uuid(), new_uuid(), new_uuid());
    add_staff(&mut c, &about, &["loyalty:view_all", "loyalty:award"], true);
    add_staff(&mut c, &viewer, &["loyalty:view_all"], true);
    add_staff(&mut c, &plain, &["loyalty:award"], true);
    let id: i64 = c
        .query_one(
            "INSERT INTO loyalty.alert (kind, staff_id, player_id) VALUES ('MANUAL_REWARD_FREQUENCY', $1::text::uuid,
                     $2::text::uuid) RETURNING id",
            &[&about, &player],
        )
        .unwrap()
        .get(0);
    let ack = |c: &mut Client, role: &str, sub: Option<&str>, note: &str| {
        as_role(c, role, sub, |tx| {
            tx.query_one(
                "SELECT acknowledged_by, already_acknowledged FROM loyalty.acknowledge_alert($1, $2)",
                &[&id, &note],
            )
        })
        .map(|r| (r.get::<_, String>(0), r.get::<_, bool>(1)))
        .map_err(|e| sqlstate(&e))
    };
    let note = "looked at it with the pit boss";
    // not granted to anon (a blanket grant meets the check inside: integrity.rs)
    assert_eq!(
        ack(&mut c, "anon", None, note),
        Err((
            "42501".into(),
            "permission denied for function acknowledge_alert".into()
        ))
    );
    assert_eq!(
        ack(&mut c, "authenticated", Some(&plain), note),
        Err(("PT403".into(), "FORBIDDEN".into()))
    );
    // nobody takes on an alert about themselves
    assert_eq!(
        ack(&mut c, "authenticated", Some(&about), note),
        Err(("PT403".into(), "FORBIDDEN".into()))
    );
    assert_eq!(
        ack(&mut c, "authenticated", Some(&viewer), "short"),
        Err(("PT422".into(), "VALIDATION_ERROR".into()))
    );
    assert_eq!(
        one_i64(
            &mut c,
            "SELECT count(*) FROM loyalty.alert WHERE acknowledged_at IS NOT NULL"
        ),
        0
    );
    assert_eq!(
        ack(&mut c, "authenticated", Some(&viewer), note),
        Ok((viewer.clone(), false))
    );
    // a second acknowledgement changes nothing
    assert_eq!(
        ack(&mut c, "service_role", None, "another note entirely"),
        Ok((viewer.clone(), true))
    );
    let stored: String = c
        .query_one("SELECT note FROM loyalty.alert WHERE id = $1", &[&id])
        .unwrap()
        .get(0);
    assert_eq!(stored, note);
    assert_eq!(
        as_role(&mut c, "service_role", None, |tx| tx.query_one(
            "SELECT * FROM loyalty.acknowledge_alert(424242, 'no such alert here')",
            &[]
        ))
        .map_err(|e| sqlstate(&e))
        .err(),
        Some(("PT404".into(), "ALERT_NOT_FOUND".into()))
    );
}

#[test]
fn metrics_count_the_gaming_day() {
    let db = fresh_db("metrics");
    let mut c = connect(&db);
    let staff = new_uuid();
    add_staff(&mut c, &staff, &["loyalty:award"], true);
    for _ in 0..3 {
        let p = new_uuid();
        let s = open_slip(&mut c, &p);
        c.query_one(COMPLETE, &[&s]).unwrap();
    }
    open_slip(&mut c, &new_uuid());
    partial_completion(&mut c);
    c.batch_execute(
        "SELECT loyalty.upsert_game_settings('BACCARAT', p_approval_threshold_points => 10)",
    )
    .unwrap();
    let held_player = new_uuid();
    let held: String = c
        .query_one(
            "SELECT id::text FROM loyalty.open_rating_slip($1::text::uuid, 'BACCARAT', 25, NULL, NULL,
                    now() - interval '1 hour', p_staff_id => coalesce(loyalty.caller_uid(), '00000000-0000-4000-8000-00000000f100'))",
            &[&held_player],
        )
        .unwrap()
        .get(0);
    c.query_one(COMPLETE, &[&held]).unwrap();
    for (i, pts) in [150i64, -20].iter().enumerate() {
        let p = new_uuid();
        if *pts < 0 {
            c.query_one(
                "SELECT * FROM loyalty.manual_reward($1::text::uuid, 100, 'goodwill before a correction',
                                                     $2::text::uuid, p_reward_id => 'm-seed')",
                &[&p, &staff],
            )
            .unwrap();
        }
        c.query_one(
            "SELECT * FROM loyalty.manual_reward($1::text::uuid, $2, 'a metrics test reward', $3::text::uuid,
                                                 p_reward_id => $4)",
            &[&p, pts, &staff, &format!("m-{i}")],
        )
        .unwrap();
    }
    let r = c
        .query_one(
            "SELECT gaming_day = loyalty.gaming_day(now()), slips_open, slips_completed_today, slips_held_today,
                    partial_completions, oldest_partial_seconds >= 0, rewards_today, reward_points_today,
                    alerts_open_warning, last_health_check
               FROM loyalty.metrics()",
            &[],
        )
        .unwrap();
    assert!(r.get::<_, bool>(0));
    assert_eq!(
        (1..=4)
            .map(|i| r.get::<_, i64>(i))
            .chain([r.get::<_, i64>(6), r.get::<_, i64>(7), r.get::<_, i64>(8)])
            .collect::<Vec<_>>(),
        // open 1; paid 3; held 1; one partial; rewards 100, 150, -20; the
        // held slip's alert
        vec![1, 3, 1, 1, 3, 230, 1]
    );
    assert!(r.get::<_, bool>(5));
    assert!(r.get::<_, Option<std::time::SystemTime>>(9).is_none());
}

#[test]
fn reward_history_and_staff_activity_answer_the_runbooks() {
    let db = fresh_db("runbooks");
    let mut c = connect(&db);
    let (staff, player) = (new_uuid(), new_uuid());
    add_staff(&mut c, &staff, &["loyalty:award"], true);
    let reward = "SELECT ledger_entry_id, idempotent_hit FROM loyalty.manual_reward($1::text::uuid, 40,
                  'a disputed comp at the bar', $2::text::uuid, p_reward_id => 'R-77', p_correlation_id => $3)";
    let first: i64 = c
        .query_one(reward, &[&player, &staff, &"first-send"])
        .unwrap()
        .get(0);
    // the client retried the same request twice
    for corr in ["retry-1", "retry-2"] {
        let r = c.query_one(reward, &[&player, &staff, &corr]).unwrap();
        assert_eq!((r.get::<_, i64>(0), r.get::<_, bool>(1)), (first, true));
    }
    let h = c
        .query_one(
            "SELECT ledger_entry_id, idempotency_key LIKE 'manual:%', staff_id::text, reward_id, retries,
                    retry_correlation_ids
               FROM loyalty.reward_history($1::text::uuid, now() - interval '1 hour', now() + interval '1 hour')",
            &[&player],
        )
        .unwrap();
    assert_eq!(
        (
            h.get::<_, i64>(0),
            h.get::<_, bool>(1),
            h.get::<_, String>(2),
            h.get::<_, String>(3),
            h.get::<_, i64>(4),
            h.get::<_, Vec<String>>(5)
        ),
        (
            first,
            true,
            staff.clone(),
            "R-77".into(),
            2,
            vec!["retry-1".to_string(), "retry-2".to_string()]
        )
    );
    let kinds: Vec<String> = c
        .query(
            "SELECT kind FROM loyalty.staff_activity($1::text::uuid, now() - interval '1 hour',
                                                     now() + interval '1 hour')",
            &[&staff],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut sorted = kinds.clone();
    sorted.sort();
    assert_eq!(sorted, ["retry", "retry", "reward", "window"]);
    // gaming-day bounds: today's export holds the entry, yesterday's not
    let today = one_i64(
        &mut c,
        "SELECT count(*) FROM loyalty.export_ledger(p_from_day => loyalty.gaming_day(now()),
                                                     p_to_day => loyalty.gaming_day(now()))",
    );
    let yesterday = one_i64(
        &mut c,
        "SELECT count(*) FROM loyalty.export_ledger(p_from_day => loyalty.gaming_day(now()) - 1,
                                                     p_to_day => loyalty.gaming_day(now()) - 1)",
    );
    assert_eq!((today, yesterday), (1, 0));
    let freq = one_i64(
        &mut c,
        "SELECT sum(rewards)::bigint FROM loyalty.manual_reward_frequency(
             p_from_day => loyalty.gaming_day(now()), p_to_day => loyalty.gaming_day(now()))",
    );
    assert_eq!(freq, 1);
}
