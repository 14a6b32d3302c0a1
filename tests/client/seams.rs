//! Integrity, round 3 (SPEC §20): the seams where two features meet, each
//! as it was found from outside on 0.3.0's first build.

use casino_loyalty_client_tests::*;
use postgres::{Client, IsolationLevel};

/// A BLACKJACK slip of `bet` for `seconds`, ending `ends_ago` seconds ago;
/// points = bet × 14 × seconds / 3600.
fn slip(c: &mut Client, player: &str, bet: i64, seconds: i64, ends_ago: i64) -> String {
    c.query_one(
        "SELECT id::text FROM loyalty.open_rating_slip($1::text::uuid, 'BLACKJACK', $2::bigint::numeric,
                p_start_time => now() - make_interval(secs => $3::float8 + $4::float8), p_staff_id => $5::text::uuid)",
        &[&player, &bet, &(seconds as f64), &(ends_ago as f64), &FLOOR],
    )
    .unwrap()
    .get(0)
}

/// Complete `slip` as the floor, ending `ends_ago` seconds ago: (status, entry).
fn complete(c: &mut Client, slip: &str, ends_ago: i64) -> (String, Option<i64>) {
    let r = c
        .query_one(
            "SELECT status, ledger_entry_id FROM loyalty.complete_rating_slip($1::text::uuid,
                    p_end_time => now() - make_interval(secs => $2::float8), p_staff_id => $3::text::uuid)",
            &[&slip, &(ends_ago as f64), &FLOOR],
        )
        .unwrap();
    (r.get(0), r.get(1))
}

fn drop_db(c: Client, db: &str) {
    drop(c);
    connect("postgres")
        .batch_execute(&format!("DROP DATABASE {db} WITH (FORCE)"))
        .unwrap();
}

/// A backend's copies of the settings, the ladder, the games and the staff
/// rows follow what committed, whatever snapshot its transaction holds:
/// every call that starts after a change commits applies it.
#[test]
fn changes_committed_under_repeatable_read_apply_to_the_next_call() {
    let db = fresh_db("seam_rr");
    let mut a = connect(&db);
    let mut b = connect(&db);
    let (player, awarder, gone) = (new_uuid(), new_uuid(), new_uuid());
    add_staff(&mut a, &awarder, &["loyalty:award"], true);
    add_staff(&mut a, &gone, &["loyalty:rate"], true);
    // B has read every copy already (a pooled backend in use)
    b.query_one("SELECT loyalty.tier_period_of()", &[]).unwrap();
    b.query_one(
        REWARD,
        &[
            &player,
            &10i64,
            &"warming the copies",
            &awarder,
            &None::<String>,
        ],
    )
    .unwrap();
    let s = slip(&mut a, &player, 100, 7200, 0); // 2,800 points

    let mut tx = b
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .start()
        .unwrap();
    tx.query_one("SELECT 1", &[]).unwrap(); // the snapshot is taken
    a.batch_execute(&format!(
        "SELECT loyalty.configure(p_daily_approval_threshold_points => 1000);
         SELECT loyalty.upsert_tier('SILVER', 1000);
         SELECT loyalty.upsert_game_settings('BLACKJACK', p_point_multiplier => 2);
         SELECT loyalty.deactivate_staff('{gone}');"
    ))
    .unwrap();
    // the daily threshold lowered to 1,000: the 2,800-point slip is held
    let held: String = tx
        .query_one(
            "SELECT status FROM loyalty.complete_rating_slip($1::text::uuid, p_staff_id => $2::text::uuid)",
            &[&s, &FLOOR],
        )
        .unwrap()
        .get(0);
    assert_eq!(held, "HELD_FOR_APPROVAL");
    // SILVER moved down to 1,000: a 2,000-point reward reaches it
    let tier: String = tx
        .query_one(
            "SELECT tier_after FROM loyalty.manual_reward($1::text::uuid, 2000, 'after the ladder moved',
                    $2::text::uuid)",
            &[&player, &awarder],
        )
        .unwrap()
        .get(0);
    assert_eq!(tier, "SILVER");
    // the game's multiplier doubled: a slip opened now snapshots 2
    let other = new_uuid();
    let opened: String = tx
        .query_one(
            "SELECT id::text FROM loyalty.open_rating_slip($1::text::uuid, 'BLACKJACK', 25,
                    p_staff_id => $2::text::uuid)",
            &[&other, &FLOOR],
        )
        .unwrap()
        .get(0);
    let multiplier: String = tx
        .query_one(
            "SELECT point_multiplier::text FROM loyalty.rating_slip WHERE id = $1::text::uuid",
            &[&opened],
        )
        .unwrap()
        .get(0);
    assert_eq!(multiplier, "2.0000");
    // a staff member deactivated since holds no permission
    let refused = tx.query_one(
        "SELECT * FROM loyalty.open_rating_slip($1::text::uuid, 'BLACKJACK', 25, p_staff_id => $2::text::uuid)",
        &[&new_uuid(), &gone],
    );
    assert_eq!(sqlstate(&refused.unwrap_err()).1, "FORBIDDEN");
    tx.rollback().unwrap();
    drop(b);
    drop_db(a, &db);
}

/// A READ COMMITTED transaction in flight on a pooled backend: a time zone
/// changed by another backend reaches its next statement, so one reward
/// request retried on another backend gets the same gaming-day key (on
/// 0.3.0's first build it got another, and was paid twice).
#[test]
fn a_time_zone_change_reaches_a_transaction_in_flight() {
    let db = fresh_db("seam_rc");
    let mut a = connect(&db);
    let mut b = connect(&db);
    let key = "SELECT loyalty.manual_reward_key('00000000-0000-4000-8000-0000000000a1',
                      '00000000-0000-4000-8000-0000000000b1', 100, 'same request', NULL,
                      '2026-12-04 20:00:00+00')";
    let mut tx = b.transaction().unwrap();
    let before: String = tx.query_one(key, &[]).unwrap().get(0);
    // UTC: 20:00 is gaming day 2026-12-04; at UTC+14 it is 10:00 on the 5th
    a.batch_execute("SELECT loyalty.configure(p_casino_timezone => 'Pacific/Kiritimati')")
        .unwrap();
    let on_a: String = a.query_one(key, &[]).unwrap().get(0);
    assert_ne!(on_a, before, "the time zone moves the gaming day");
    let on_b: String = tx.query_one(key, &[]).unwrap().get(0);
    assert_eq!(
        on_b, on_a,
        "the same request, the same key, on every backend"
    );
    tx.commit().unwrap();
    let after: String = b.query_one(key, &[]).unwrap().get(0);
    assert_eq!(
        after, on_a,
        "and the backend does not go back to the old zone"
    );
    drop(b);
    drop_db(a, &db);
}

/// The daily four-eyes rule on every path that pays gameplay (SPEC §20):
/// an owed slip counts toward its player's day when later slips are judged,
/// and a recovery is judged like a completion: over the threshold it holds
/// the slip for a second person instead of paying it.
#[test]
fn recovery_applies_the_daily_threshold_and_owed_slips_count() {
    let db = fresh_db("seam_daily");
    let mut c = connect(&db);
    let player = new_uuid();
    // the gaming day started twelve hours ago, so the test never crosses it
    c.batch_execute(
        "SELECT loyalty.configure(p_gaming_day_start => (now() AT TIME ZONE 'UTC' - interval '12 hours')::time,
                                  p_daily_approval_threshold_points => 50000)",
    )
    .unwrap();
    // each slip: 85,000 a hand for 72 seconds = 23,800 points (under the
    // per-slip threshold of 25,000)
    let s1 = slip(&mut c, &player, 85_000, 72, 900);
    assert_eq!(complete(&mut c, &s1, 900).0, "COMPLETED");
    ledger_down(&mut c);
    let s2 = slip(&mut c, &player, 85_000, 72, 800);
    assert_eq!(complete(&mut c, &s2, 800).0, "PARTIAL_COMPLETION");
    ledger_up(&mut c);
    // 23,800 paid + 23,800 owed + 23,800: above 50,000, held
    let s3 = slip(&mut c, &player, 85_000, 72, 700);
    assert_eq!(complete(&mut c, &s3, 700).0, "HELD_FOR_APPROVAL");
    // the owed slip recovered: 23,800 + 23,800, within the day
    let r = c
        .query_one(
            "SELECT status, points_earned, ledger_entry_id IS NOT NULL FROM loyalty.recover_slip_loyalty($1::text::uuid)",
            &[&s2],
        )
        .unwrap();
    assert_eq!(
        (
            r.get::<_, String>(0),
            r.get::<_, i64>(1),
            r.get::<_, bool>(2)
        ),
        ("PAID".to_string(), 23_800, true)
    );
    // another owed slip (the threshold raised for its close), then the
    // threshold lowered: recovery holds it
    c.batch_execute("SELECT loyalty.configure(p_daily_approval_threshold_points => 100000)")
        .unwrap();
    ledger_down(&mut c);
    let s4 = slip(&mut c, &player, 85_000, 72, 600);
    assert_eq!(complete(&mut c, &s4, 600).0, "PARTIAL_COMPLETION");
    ledger_up(&mut c);
    c.batch_execute("SELECT loyalty.configure(p_daily_approval_threshold_points => 60000)")
        .unwrap();
    let r = c
        .query_one(
            "SELECT status, points_earned, ledger_entry_id FROM loyalty.recover_slip_loyalty($1::text::uuid)",
            &[&s4],
        )
        .unwrap();
    assert_eq!(
        (
            r.get::<_, String>(0),
            r.get::<_, i64>(1),
            r.get::<_, Option<i64>>(2)
        ),
        ("HELD_FOR_APPROVAL".to_string(), 23_800, None)
    );
    // and bulk recovery the same way
    c.batch_execute("SELECT loyalty.configure(p_daily_approval_threshold_points => 100000)")
        .unwrap();
    ledger_down(&mut c);
    let s5 = slip(&mut c, &player, 85_000, 72, 500);
    assert_eq!(complete(&mut c, &s5, 500).0, "PARTIAL_COMPLETION");
    ledger_up(&mut c);
    c.batch_execute("SELECT loyalty.configure(p_daily_approval_threshold_points => 60000)")
        .unwrap();
    let failures: String = c
        .query_one(
            "SELECT failures::text FROM loyalty.recover_partial_completions(10)",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(
        failures.contains("HELD_FOR_APPROVAL") && failures.contains(&s5),
        "{failures}"
    );
    // what waits for a second person: the three held slips, nothing owed
    let (held, owed, paid): (i64, i64, i64) = {
        let r = c
            .query_one(
                "SELECT count(*) FILTER (WHERE approval_status = 'HELD'),
                        (SELECT count(*) FROM loyalty.partial_completion),
                        (SELECT coalesce(sum(points_change), 0)::bigint FROM loyalty.loyalty_ledger
                          WHERE player_id = $1::text::uuid)
                   FROM loyalty.rating_slip WHERE player_id = $1::text::uuid",
                &[&player],
            )
            .unwrap();
        (r.get(0), r.get(1), r.get(2))
    };
    assert_eq!((held, owed, paid), (3, 0, 47_600));
    let alerts: i64 = c
        .query_one(
            "SELECT count(*) FROM loyalty.alert WHERE kind = 'SLIP_NEEDS_APPROVAL' AND details ->> 'rule' = 'daily'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(alerts, 3);
    drop_db(c, &db);
}

/// Tier state is evidence (SPEC §20): forged tier credits, retained tier or
/// tier are findings, and a rebuild restores what the ledger gives.
#[test]
fn forged_tier_state_is_found_and_rebuilt_from_the_ledger() {
    let db = fresh_db("seam_tier");
    let mut c = connect(&db);
    let (player, awarder) = (new_uuid(), new_uuid());
    add_staff(&mut c, &awarder, &["loyalty:award"], true);
    c.batch_execute(
        "SELECT loyalty.configure(p_tier_basis => 'PERIOD', p_max_reward_points => 100000)",
    )
    .unwrap();
    c.query_one(
        REWARD,
        &[
            &player,
            &60_000i64,
            &"a big night out",
            &awarder,
            &None::<String>,
        ],
    )
    .unwrap();
    let check = |c: &mut Client| -> (bool, Vec<String>) {
        let ok: bool = c
            .query_one(
                "SELECT ok FROM loyalty.standing_check($1::text::uuid)",
                &[&player],
            )
            .unwrap()
            .get(0);
        let found: Vec<String> = c
            .query(
                "SELECT kind FROM loyalty.health_check() WHERE subject = $1 ORDER BY kind",
                &[&player],
            )
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        (ok, found)
    };
    assert_eq!(check(&mut c), (true, vec![]));
    for forgery in [
        "tier_credits = 200000",
        "retained_tier = 'PLATINUM'",
        "tier = 'PLATINUM'",
    ] {
        c.execute(
            &format!(
                "UPDATE loyalty.player_loyalty SET {forgery} WHERE player_id = $1::text::uuid"
            ),
            &[&player],
        )
        .unwrap();
        assert_eq!(
            check(&mut c),
            (false, vec!["STANDING_MISMATCH".to_string()]),
            "{forgery}"
        );
        let ok: bool = c
            .query_one(
                "SELECT ok FROM loyalty.verify_player_balance($1::text::uuid)",
                &[&player],
            )
            .unwrap()
            .get(0);
        assert!(!ok, "{forgery}");
        let r = c
            .query_one(
                "SELECT tier_after, ledger_entry_id IS NOT NULL FROM loyalty.rebuild_player_balance($1::text::uuid,
                        p_reason => 'tier state forged, restored from the ledger')",
                &[&player],
            )
            .unwrap();
        assert_eq!(
            (r.get::<_, String>(0), r.get::<_, bool>(1)),
            ("GOLD".into(), true),
            "{forgery}"
        );
        let stored: (i64, Option<String>, String) = {
            let r = c
                .query_one(
                    "SELECT tier_credits, retained_tier, tier FROM loyalty.player_loyalty WHERE player_id = $1::text::uuid",
                    &[&player],
                )
                .unwrap();
            (r.get(0), r.get(1), r.get(2))
        };
        assert_eq!(stored, (60_000, None, "GOLD".to_string()), "{forgery}");
        assert_eq!(check(&mut c), (true, vec![]), "{forgery}");
    }
    // a direct increment of +150,000 then -150,000 leaves no tier credits:
    // only the roll may take the tier, and it will
    let other = new_uuid();
    for delta in [150_000i64, -150_000] {
        c.query_one(
            "SELECT * FROM loyalty.increment_player_loyalty($1::text::uuid, $2)",
            &[&other, &delta],
        )
        .unwrap();
    }
    let r = c
        .query_one(
            "SELECT p.tier_credits, p.current_balance, v.ok,
                    (SELECT string_agg(transaction_type || ' ' || points_change, ', ' ORDER BY seq)
                       FROM loyalty.loyalty_ledger WHERE player_id = p.player_id)
               FROM loyalty.player_loyalty p, loyalty.verify_player_balance(p.player_id) v
              WHERE p.player_id = $1::text::uuid",
            &[&other],
        )
        .unwrap();
    assert_eq!(
        (
            r.get::<_, i64>(0),
            r.get::<_, i64>(1),
            r.get::<_, bool>(2),
            r.get::<_, String>(3)
        ),
        (
            0,
            0,
            true,
            "DIRECT_INCREMENT 150000, DIRECT_INCREMENT -150000".to_string()
        )
    );
    drop_db(c, &db);
}

/// Sweeps never hold the floor (SPEC §20): a rollover due for many players
/// skips busy ones and stops at half the accrual lock timeout, so a floor
/// completion for a player it is rolling pays instead of timing out; and
/// turning the PERIOD basis on locks no player at all.
#[test]
fn sweeps_leave_the_floor_its_players() {
    let db = fresh_db("seam_sweep");
    let mut c = connect(&db);
    let player = "00000000-0000-4000-8000-ffffffffff01";
    // 40,000 players whose year ended long ago, under PERIOD
    c.batch_execute(
        "SELECT loyalty.configure(p_tier_basis => 'PERIOD');
         INSERT INTO loyalty.player_loyalty (player_id, tier_period)
         SELECT ('00000000-0000-4000-8000-' || lpad(to_hex(g), 12, '0'))::uuid, DATE '2020-01-01'
           FROM generate_series(1, 40000) g;",
    )
    .unwrap();
    let s = slip(&mut c, player, 25, 3600, 0);
    // the floor's player last in the rollover's order
    c.execute(
        "INSERT INTO loyalty.player_loyalty (player_id, tier_period) VALUES ($1::text::uuid, DATE '2020-01-01')",
        &[&player],
    )
    .unwrap();
    let roll = std::thread::spawn({
        let db = db.clone();
        move || {
            let mut r = connect(&db);
            r.query_one("SELECT count(*) FROM loyalty.roll_tier_period(100000)", &[])
                .unwrap()
                .get::<_, i64>(0)
        }
    });
    // while it runs (it has locked some players), the floor completes
    for _ in 0..200 {
        let running: i64 = c
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%roll_tier_period(100000)%'
                    AND state = 'active' AND pid <> pg_backend_pid()",
                &[],
            )
            .unwrap()
            .get(0);
        if running > 0 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(complete(&mut c, &s, 0).0, "COMPLETED");
    let rolled = roll.join().unwrap();
    assert!(rolled >= 1, "the rollover rolled players");
    // the PERIOD switch while a player's row is held elsewhere: it returns
    c.batch_execute("SELECT loyalty.configure(p_tier_basis => 'LIFETIME')")
        .unwrap();
    let mut holder = connect(&db);
    let mut tx = holder.transaction().unwrap();
    tx.execute(
        "SELECT 1 FROM loyalty.player_loyalty WHERE player_id = $1::text::uuid FOR UPDATE",
        &[&player],
    )
    .unwrap();
    c.batch_execute("SET statement_timeout = '5s'").unwrap();
    let basis: String = c
        .query_one(
            "SELECT tier_basis FROM loyalty.configure(p_tier_basis => 'PERIOD')",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(basis, "PERIOD");
    tx.rollback().unwrap();
    drop(holder);
    drop_db(c, &db);
}
