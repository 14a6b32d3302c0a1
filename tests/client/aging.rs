//! Points that age (SPEC §16), on the server's real clock with short
//! configured intervals: a warning before, the expiry not a moment before
//! its time, then exactly the available points (held points stay held),
//! once; lifetime points and tier untouched; play starts the clock again.

use casino_loyalty_client_tests::*;
use postgres::Client;
use std::time::Duration;

fn micros(c: &mut Client, sql: &str, args: &[&(dyn postgres::types::ToSql + Sync)]) -> i64 {
    c.query_one(sql, args).unwrap().get(0)
}

fn now(c: &mut Client) -> i64 {
    micros(
        c,
        "SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint",
        &[],
    )
}

fn sleep_until(c: &mut Client, at: i64) {
    while now(c) < at {
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// (player, points expired, balance after, warned) of one sweep.
fn sweep(c: &mut Client) -> Vec<(String, i64, i64, i64)> {
    c.query(
        "SELECT player_id::text, points_expired, balance_after, warned FROM loyalty.expire_inactive_points()",
        &[],
    )
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
    .collect()
}

fn warnings(c: &mut Client, player: &str) -> i64 {
    micros(
        c,
        "SELECT count(*) FROM loyalty.notification WHERE kind = 'POINTS_EXPIRING' AND player_id = $1::text::uuid",
        &[&player],
    )
}

#[test]
fn available_points_expire_after_the_inactivity_and_not_a_moment_before() {
    let db = fresh_db("aging_expiry");
    let mut c = connect(&db);
    let (player, awarder, cashier) = (new_uuid(), new_uuid(), new_uuid());
    add_staff(&mut c, &awarder, &["loyalty:award"], true);
    add_staff(&mut c, &cashier, &["loyalty:redeem"], true);
    // off by default: nothing expires
    c.query_one(
        REWARD,
        &[
            &player,
            &1000i64,
            &"welcome to the club",
            &awarder,
            &None::<String>,
        ],
    )
    .unwrap();
    assert_eq!(sweep(&mut c), vec![]);
    c.batch_execute(
        "SELECT loyalty.configure(p_points_inactivity_expiry => '4 seconds', p_expiry_warning => '2 seconds')",
    )
    .unwrap();
    c.query_one(
        "SELECT * FROM loyalty.hold_points($1::text::uuid, 300, 'hotel', 'one night room', $2::text::uuid,
                p_ttl => '1 hour')",
        &[&player, &cashier],
    )
    .unwrap();
    let earned = micros(
        &mut c,
        "SELECT (extract(epoch FROM last_earned_at) * 1000000)::bigint FROM loyalty.player_loyalty
          WHERE player_id = $1::text::uuid",
        &[&player],
    );
    let (warn_at, expire_at) = (earned + 2_000_000, earned + 4_000_000);
    // before the warning: nothing
    let early = sweep(&mut c);
    if now(&mut c) < warn_at {
        assert_eq!((early, warnings(&mut c, &player)), (vec![], 0));
    }
    // within the warning: one notification, once, and no expiry
    sleep_until(&mut c, warn_at + 100_000);
    assert_eq!(sweep(&mut c), vec![]);
    let checked_before_expiry = now(&mut c) < expire_at;
    assert!(
        checked_before_expiry,
        "the machine was too slow to look inside the warning window"
    );
    assert_eq!(warnings(&mut c, &player), 1);
    assert_eq!(sweep(&mut c), vec![]);
    assert_eq!(warnings(&mut c, &player), 1);
    let payload: String = c
        .query_one(
            "SELECT payload::text FROM loyalty.notification WHERE kind = 'POINTS_EXPIRING' AND player_id = $1::text::uuid",
            &[&player],
        )
        .unwrap()
        .get(0);
    let payload: serde_json::Value = serde_json::from_str(&payload).unwrap();
    assert_eq!(payload["available"], 700);
    // the inactivity is over, but the warning went out less than
    // expiry_warning ago: nothing lapses before the player had that long
    let warned = micros(
        &mut c,
        "SELECT (extract(epoch FROM expiry_warned_at) * 1000000)::bigint FROM loyalty.player_loyalty
          WHERE player_id = $1::text::uuid",
        &[&player],
    );
    assert!(warned > warn_at, "the warning's time is stored");
    sleep_until(&mut c, expire_at + 50_000);
    if now(&mut c) < warned + 2_000_000 {
        assert_eq!(sweep(&mut c), vec![]);
    }
    // after both: the available 700 lapse, the 300 held stay held
    sleep_until(&mut c, (warned + 2_000_000).max(expire_at) + 100_000);
    assert_eq!(sweep(&mut c), vec![(player.clone(), 700, 300, 0)]);
    assert_eq!(sweep(&mut c), vec![], "a second sweep expires nothing");
    let r = c
        .query_one(
            "SELECT p.current_balance, p.held_points, p.lifetime_points, p.tier, v.ok, ch.ok, l.idempotency_key,
                    l.transaction_type::text, l.event_type::text
               FROM loyalty.player_loyalty p,
                    loyalty.verify_player_balance(p.player_id) v, loyalty.verify_ledger_chain(p.player_id) ch,
                    LATERAL (SELECT * FROM loyalty.loyalty_ledger WHERE player_id = p.player_id
                              ORDER BY seq DESC LIMIT 1) l
              WHERE p.player_id = $1::text::uuid",
            &[&player],
        )
        .unwrap();
    let key: String = r.get(6);
    assert_eq!(
        (
            r.get::<_, i64>(0),
            r.get::<_, i64>(1),
            r.get::<_, i64>(2),
            r.get::<_, String>(3)
        ),
        (300, 300, 1000, "BRONZE".to_string())
    );
    assert!(r.get::<_, bool>(4) && r.get::<_, bool>(5));
    assert!(key.starts_with(&format!("expiry:{player}:")));
    assert_eq!(
        (r.get::<_, String>(7), r.get::<_, String>(8)),
        ("EXPIRY".into(), "POINTS_EXPIRED".into())
    );
    // play starts the clock again; the hold is still there to capture
    c.query_one(
        REWARD,
        &[
            &player,
            &50i64,
            &"back at the tables",
            &awarder,
            &None::<String>,
        ],
    )
    .unwrap();
    assert_eq!(sweep(&mut c), vec![]);
    let held: String = c
        .query_one(
            "SELECT status FROM loyalty.hold WHERE player_id = $1::text::uuid",
            &[&player],
        )
        .unwrap()
        .get(0);
    assert_eq!(held, "ACTIVE");
    // trusted back ends only, whatever the grants say
    c.batch_execute("GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA loyalty TO authenticated")
        .unwrap();
    let staff = as_role(&mut c, "authenticated", Some(&awarder), |tx| {
        tx.query("SELECT * FROM loyalty.expire_inactive_points()", &[])
    });
    assert_eq!(sqlstate(&staff.unwrap_err()).1, "FORBIDDEN");
    drop(c);
    connect("postgres")
        .batch_execute(&format!("DROP DATABASE {db} WITH (FORCE)"))
        .unwrap();
}

/// SPEC §20: a casino turning expiry on for players quiet far longer than
/// the setting (or an upgrade) warns first; no call warns and expires at
/// once, and the expiry comes expiry_warning after the stored warning.
#[test]
fn turning_expiry_on_warns_long_quiet_players_before_anything_lapses() {
    let db = fresh_db("aging_turn_on");
    let mut c = connect(&db);
    let (player, awarder) = (new_uuid(), new_uuid());
    add_staff(&mut c, &awarder, &["loyalty:award"], true);
    c.query_one(
        REWARD,
        &[
            &player,
            &900i64,
            &"long ago at the tables",
            &awarder,
            &None::<String>,
        ],
    )
    .unwrap();
    // quiet for a year before expiry existed
    c.execute(
        "UPDATE loyalty.player_loyalty SET last_earned_at = now() - interval '1 year'
          WHERE player_id = $1::text::uuid",
        &[&player],
    )
    .unwrap();
    c.batch_execute(
        "SELECT loyalty.configure(p_points_inactivity_expiry => '30 days', p_expiry_warning => '2 seconds')",
    )
    .unwrap();
    assert_eq!(sweep(&mut c), vec![], "the first run only warns");
    assert_eq!(warnings(&mut c, &player), 1);
    assert_eq!(
        sweep(&mut c),
        vec![],
        "and a second at once expires nothing"
    );
    let balance: i64 = c
        .query_one(
            "SELECT current_balance FROM loyalty.player_loyalty WHERE player_id = $1::text::uuid",
            &[&player],
        )
        .unwrap()
        .get(0);
    assert_eq!(balance, 900);
    let warned = micros(
        &mut c,
        "SELECT (extract(epoch FROM expiry_warned_at) * 1000000)::bigint FROM loyalty.player_loyalty
          WHERE player_id = $1::text::uuid",
        &[&player],
    );
    sleep_until(&mut c, warned + 2_100_000);
    assert_eq!(sweep(&mut c), vec![(player.clone(), 900, 0, 0)]);
    assert_eq!(warnings(&mut c, &player), 1, "one warning for the stretch");
    drop(c);
    connect("postgres")
        .batch_execute(&format!("DROP DATABASE {db} WITH (FORCE)"))
        .unwrap();
}
