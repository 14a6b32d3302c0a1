//! pg_dump of a database with the extension and data, restored into a fresh
//! database, gives the same balances, ledger and settings.

use casino_loyalty_client_tests::{config, connect, fresh_db, pg_bin, unique};
use postgres::Client;
use std::process::Command;

/// Every row of every table of the extension, every column (the tables and
/// their columns read from the catalog, so a table or a column added later
/// is compared without anyone listing it), and every sequence's position.
fn snapshot(c: &mut Client) -> String {
    let tables: Vec<String> = c
        .query(
            "SELECT tablename::text FROM pg_tables WHERE schemaname = 'loyalty' ORDER BY tablename",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(
        tables.len() >= 15,
        "the catalog lists the extension's tables"
    );
    let mut out = String::new();
    for t in tables {
        let rows: String = c
            .query_one(
                &format!(
                    "SELECT coalesce(json_agg(x ORDER BY x::text), '[]')::text FROM (SELECT * FROM loyalty.{t}) x"
                ),
                &[],
            )
            .unwrap()
            .get(0);
        out.push_str(&format!("{t}: {rows}\n"));
    }
    let seqs: String = c
        .query_one(
            "SELECT string_agg(sequencename || '=' || coalesce(last_value::text, '-'), ' ' ORDER BY sequencename)
               FROM pg_sequences WHERE schemaname = 'loyalty'",
            &[],
        )
        .unwrap()
        .get(0);
    out + &seqs
}

/// The columns of `table`'s row `key` that still hold what a fresh install
/// seeds: a test that means to change every setting fails when a setting
/// added later is left out of it.
fn left_as_seeded(c: &mut Client, table: &str, key: &str) -> Vec<String> {
    let fresh = fresh_db("seeded");
    let row = |c: &mut Client| -> serde_json::Value {
        let text: String = c
            .query_one(
                &format!("SELECT row_to_json(x)::text FROM loyalty.{table} x WHERE {key}"),
                &[],
            )
            .unwrap()
            .get(0);
        serde_json::from_str(&text).unwrap()
    };
    let seeded = row(&mut connect(&fresh));
    let now = row(c);
    let mut same: Vec<String> = seeded
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, v)| now.get(k.as_str()) == Some(v))
        .map(|(k, _)| k.clone())
        .collect();
    same.sort();
    connect("postgres")
        .batch_execute(&format!("DROP DATABASE {fresh} WITH (FORCE)"))
        .unwrap();
    same
}

/// pg_dump -Fc of `src`, pg_restore --exit-on-error into `dst`.
fn dump_and_restore(src: &str, dst: &str) {
    let file = std::env::temp_dir().join(format!("casino_loyalty_{src}.dump"));
    let c = config(src);
    let host = std::env::var("PGHOST").unwrap();
    let port = std::env::var("PGPORT").unwrap();
    let user = c.get_user().unwrap().to_string();
    run(Command::new(pg_bin("pg_dump"))
        .args(["-Fc", "-h", &host, "-p", &port, "-U", &user, "-f"])
        .arg(&file)
        .arg(src));
    run(Command::new(pg_bin("pg_restore"))
        .args([
            "--exit-on-error",
            "-h",
            &host,
            "-p",
            &port,
            "-U",
            &user,
            "-d",
            dst,
        ])
        .arg(&file));
    let _ = std::fs::remove_file(&file);
}

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("run tool");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn dump_and_restore_keep_balances_and_ledger() {
    let n = unique();
    let (src, dst) = (format!("dump_src_{n}"), format!("dump_dst_{n}"));
    let mut admin = connect("postgres");
    admin
        .batch_execute(&format!("CREATE DATABASE {src}"))
        .unwrap();
    admin
        .batch_execute(&format!("CREATE DATABASE {dst}"))
        .unwrap();

    let mut s = connect(&src);
    s.batch_execute(
        "CREATE EXTENSION casino_loyalty;
         INSERT INTO loyalty.staff (staff_id, permissions)
         VALUES ('cccccccc-0000-4000-8000-0000000000ff', '{loyalty:award}');
         SELECT loyalty.manual_reward('cccccccc-0000-4000-8000-000000000001', 10000, 'résumé 🎰 \"quoted\"',
                                      'cccccccc-0000-4000-8000-0000000000ff', p_reward_id => 'dump:1');
         SELECT loyalty.manual_reward('cccccccc-0000-4000-8000-000000000001', 2000, 'second part of the comp',
                                      'cccccccc-0000-4000-8000-0000000000ff', p_reward_id => 'dump:2');
         SELECT loyalty.manual_reward('cccccccc-0000-4000-8000-000000000001', -500, 'correction of the comp',
                                      'cccccccc-0000-4000-8000-0000000000ff', p_reward_id => 'dump:3');
         SELECT loyalty.manual_reward('cccccccc-0000-4000-8000-000000000002', 300, 'welcome at the cage',
                                      'cccccccc-0000-4000-8000-0000000000ff', p_reward_id => 'dump:4');
         -- owner edits to seeded rows must survive too: every setting
         SELECT loyalty.upsert_game_settings('CRAPS', 1.5, 50, 11, 1.5, 2, 90000, 20000);
         SELECT loyalty.configure(
             p_casino_timezone => 'America/Los_Angeles', p_gaming_day_start => '05:00',
             p_max_reward_points => 20000, p_rate_limit_count => 12, p_rate_limit_window => '90 seconds',
             p_alert_reward_count => 30, p_alert_window => '2 hours', p_accrual_lock_timeout => '3 seconds',
             p_partial_stale_after => '20 minutes', p_approval_overdue_after => '40 minutes',
             p_alert_ack_overdue_after => '2 hours', p_health_sweep_players => 2000,
             p_notification_claim_timeout => '6 minutes', p_daily_approval_threshold_points => 60000,
             p_cents_per_point => 1.25, p_max_redemption_points => 40000, p_redemption_approval_points => 9000,
             p_points_inactivity_expiry => '400 days', p_expiry_warning => '20 days', p_tier_basis => 'PERIOD',
             p_tier_period_start => '07-01');
         -- the seeded property, every setting edited; a second property, its
         -- staff, its own table limits, and a hold there
         SELECT loyalty.upsert_property('MAIN', 'Main floor', 'America/Chicago', '07:00', false, 45000, 2, 30000, 8000);
         SELECT loyalty.upsert_property('TOKYO', 'Tokyo Bay', 'Asia/Tokyo', '06:00',
                                        p_daily_approval_threshold_points => 1000);
         SELECT loyalty.upsert_staff('cccccccc-0000-4000-8000-0000000000fe', '{loyalty:redeem}', p_property_id => 'TOKYO');
         SELECT loyalty.upsert_property_game('TOKYO', 'BACCARAT', p_max_average_bet => 40);
         SELECT loyalty.hold_points('cccccccc-0000-4000-8000-000000000001', 100, 'sushi bar', 'dinner for two at the bar',
                                    'cccccccc-0000-4000-8000-0000000000fe', p_property_id => 'TOKYO');",
    )
    .unwrap();
    assert_eq!(
        left_as_seeded(&mut s, "property", "property_id = 'MAIN'"),
        vec!["property_id".to_string()]
    );
    // the test changes every setting there is
    assert_eq!(
        left_as_seeded(&mut s, "config", "singleton"),
        vec!["singleton".to_string()]
    );
    assert_eq!(
        left_as_seeded(&mut s, "game_settings", "game_type = 'CRAPS'"),
        vec!["game_type".to_string()]
    );
    let before = snapshot(&mut s);

    dump_and_restore(&src, &dst);

    let mut d = connect(&dst);
    let after = snapshot(&mut d);
    assert_eq!(after, before);
    let broken: i64 = d
        .query_one("SELECT count(*) FROM loyalty.verify_all_chains()", &[])
        .unwrap()
        .get(0);
    assert_eq!(broken, 0, "chains survive the restore");
    let counts: (i64, i64) = {
        let r = d
            .query_one(
                "SELECT (SELECT count(*) FROM loyalty.loyalty_ledger), (SELECT sum(current_balance)::bigint FROM loyalty.player_loyalty)",
                &[],
            )
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!(counts, (4, 11800));
    // the ledger id sequence and the chain continue after the restored rows
    let entry: i64 = d
        .query_one(
            "SELECT ledger_entry_id FROM loyalty.manual_reward('cccccccc-0000-4000-8000-000000000002', 1,
                    'after the restore', 'cccccccc-0000-4000-8000-0000000000ff', p_reward_id => 'dump:5')",
            &[],
        )
        .unwrap()
        .get(0);
    let seq: i64 = d
        .query_one(
            "SELECT seq FROM loyalty.loyalty_ledger WHERE id = $1",
            &[&entry],
        )
        .unwrap()
        .get(0);
    let next = (entry, seq);
    assert_eq!(next, (5, 2));
    let broken: i64 = d
        .query_one("SELECT count(*) FROM loyalty.verify_all_chains()", &[])
        .unwrap()
        .get(0);
    assert_eq!(broken, 0);
}

/// The owner re-orders the ladder (GOLD to 100,000 where PLATINUM was, then
/// PLATINUM to 150,000), adds DIAMOND, and deletes a seeded tier and a
/// seeded game: the restore gives exactly that, and the deleted seeds stay
/// deleted (CREATE EXTENSION re-seeds them during the restore).
#[test]
fn restore_keeps_an_edited_ladder_and_deleted_seeds() {
    let n = unique();
    let (src, dst) = (format!("ladder_src_{n}"), format!("ladder_dst_{n}"));
    let mut admin = connect("postgres");
    admin
        .batch_execute(&format!("CREATE DATABASE {src}"))
        .unwrap();
    admin
        .batch_execute(&format!("CREATE DATABASE {dst}"))
        .unwrap();
    let mut s = connect(&src);
    s.batch_execute(
        "CREATE EXTENSION casino_loyalty;
         UPDATE loyalty.tier SET threshold_points = 150000 WHERE tier = 'PLATINUM';
         UPDATE loyalty.tier SET threshold_points = 100000 WHERE tier = 'GOLD';
         INSERT INTO loyalty.tier (tier, threshold_points) VALUES ('DIAMOND', 200000);
         DELETE FROM loyalty.tier WHERE tier = 'SILVER';
         DELETE FROM loyalty.game_settings WHERE game_type = 'ROULETTE';
         UPDATE loyalty.game_settings SET max_average_bet = 5000 WHERE game_type = 'BACCARAT';",
    )
    .unwrap();
    let before = snapshot(&mut s);
    dump_and_restore(&src, &dst);
    let mut d = connect(&dst);
    let after = snapshot(&mut d);
    assert_eq!(after, before);
    let ladder: Vec<(String, i64)> = d
        .query(
            "SELECT tier, threshold_points FROM loyalty.tier ORDER BY threshold_points",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        ladder,
        [
            ("BRONZE", 0),
            ("GOLD", 100000),
            ("PLATINUM", 150000),
            ("DIAMOND", 200000)
        ]
        .map(|(t, p)| (t.to_string(), p))
    );
    let roulette: i64 = d
        .query_one(
            "SELECT count(*) FROM loyalty.game_settings WHERE game_type = 'ROULETTE'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(roulette, 0, "a deleted seed stays deleted");
    // and a second restore of the restored database gives the same again
    let again = format!("ladder_again_{n}");
    admin
        .batch_execute(&format!("CREATE DATABASE {again}"))
        .unwrap();
    dump_and_restore(&dst, &again);
    let third = snapshot(&mut connect(&again));
    assert_eq!(third, before);
}
