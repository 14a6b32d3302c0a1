//! pg_dump of a database with the extension and data, restored into a fresh
//! database, gives the same balances, ledger and settings.

use casino_loyalty_client_tests::{config, connect, pg_bin, unique};
use std::process::Command;

const SNAPSHOT: &str = "
    SELECT json_build_object(
      'balances', (SELECT json_agg(p ORDER BY player_id) FROM loyalty.player_loyalty p),
      'ledger',   (SELECT json_agg(l ORDER BY id) FROM loyalty.loyalty_ledger l),
      'games',    (SELECT json_agg(g ORDER BY game_type) FROM loyalty.game_settings g),
      'tiers',    (SELECT json_agg(t ORDER BY threshold_points) FROM loyalty.tier t),
      'config',   (SELECT json_agg(c) FROM loyalty.config c),
      'ledger_seq', (SELECT last_value FROM loyalty.loyalty_ledger_id_seq)
    )::text";

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
         -- owner edits to seeded rows must survive too
         UPDATE loyalty.game_settings SET point_multiplier = 1.5 WHERE game_type = 'CRAPS';
         UPDATE loyalty.config SET casino_timezone = 'America/Los_Angeles';",
    )
    .unwrap();
    let before: String = s.query_one(SNAPSHOT, &[]).unwrap().get(0);

    dump_and_restore(&src, &dst);

    let mut d = connect(&dst);
    let after: String = d.query_one(SNAPSHOT, &[]).unwrap().get(0);
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
    let before: String = s.query_one(SNAPSHOT, &[]).unwrap().get(0);
    dump_and_restore(&src, &dst);
    let mut d = connect(&dst);
    let after: String = d.query_one(SNAPSHOT, &[]).unwrap().get(0);
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
    let third: String = connect(&again).query_one(SNAPSHOT, &[]).unwrap().get(0);
    assert_eq!(third, before);
}
