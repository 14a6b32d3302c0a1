//! Helpers for client tests: connections to the throwaway cluster started by
//! `scripts/test.sh`, fresh databases, and reading SQLSTATEs.

use postgres::{Client, Config, NoTls};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run the client tests through scripts/test.sh")
    })
}

/// Connection settings for a database of the test cluster.
pub fn config(dbname: &str) -> Config {
    let mut c = Config::new();
    c.host_path(env("PGHOST"))
        .port(env("PGPORT").parse().expect("PGPORT"))
        .user(&env("PGUSER"))
        .dbname(dbname)
        .application_name("casino_loyalty_client_tests");
    c
}

pub fn connect(dbname: &str) -> Client {
    config(dbname)
        .connect(NoTls)
        .expect("connect to the test cluster")
}

/// The database every client test shares (created once by test.sh, with the
/// extension installed); tests keep apart by using their own player ids.
pub fn shared_db() -> Client {
    let mut c = connect(&env("LOYALTY_TEST_DB"));
    add_floor_staff(&mut c);
    c
}

/// The staff member a trusted back end names when it rates play.
pub const FLOOR: &str = "00000000-0000-4000-8000-00000000f100";
/// The second person a trusted back end names when it approves or rejects.
pub const APPROVER: &str = "00000000-0000-4000-8000-00000000f200";

/// FLOOR (loyalty:rate) and APPROVER (loyalty:approve): trusted back ends
/// act for a person on the floor (SPEC §14). Test SQL passes
/// `p_staff_id => coalesce(loyalty.caller_uid(), FLOOR)`: a signed-in
/// caller as themselves, the owner as FLOOR.
pub fn add_floor_staff(c: &mut Client) {
    c.execute(
        "INSERT INTO loyalty.staff (staff_id, permissions, active)
         VALUES ($1::text::uuid, '{loyalty:rate}', true), ($2::text::uuid, '{loyalty:approve}', true)
         ON CONFLICT (staff_id) DO NOTHING",
        &[&FLOOR, &APPROVER],
    )
    .expect("add floor staff");
}

/// A new, empty database with the extension installed; dropped by the caller
/// if it wants to.
pub fn fresh_db(prefix: &str) -> String {
    let name = format!("{prefix}_{}", unique());
    let mut admin = connect("postgres");
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .expect("create database");
    let mut c = connect(&name);
    c.batch_execute("CREATE EXTENSION casino_loyalty")
        .expect("create extension");
    add_floor_staff(&mut c);
    name
}

/// A number unique within this test run.
pub fn unique() -> u64 {
    static N: AtomicU64 = AtomicU64::new(0);
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0);
    (t % 1_000_000_000_000) * 1000 + N.fetch_add(1, Ordering::Relaxed) % 1000
}

/// A UUID unique within this test run, as text.
pub fn new_uuid() -> String {
    let n = unique();
    format!("00000000-0000-4000-8000-{:012x}", n % 0xffff_ffff_ffff)
}

/// The SQLSTATE and message of a failed statement.
pub fn sqlstate(e: &postgres::Error) -> (String, String) {
    match e.as_db_error() {
        Some(db) => (db.code().code().to_string(), db.message().to_string()),
        None => ("client".into(), e.to_string()),
    }
}

pub fn pg_bin(tool: &str) -> String {
    format!(
        "{}/{tool}",
        std::env::var("PG_BIN").unwrap_or_else(|_| "/usr/lib/postgresql/15/bin".into())
    )
}

/// Open a BLACKJACK slip (bet 25, started an hour ago) for `player`; its id.
/// The player's earlier slips are first moved back a day (as the owner):
/// play is rated once (SLIP_OVERLAP), and tests that rate one player again
/// and again mean the earlier play to have been earlier.
pub fn open_slip(c: &mut Client, player: &str) -> String {
    c.execute(
        "UPDATE loyalty.rating_slip SET start_time = start_time - interval '1 day',
                end_time = end_time - interval '1 day'
          WHERE player_id = $1::text::uuid AND status = 'CLOSED'",
        &[&player],
    )
    .expect("move earlier play back");
    c.query_one(
        "SELECT id::text FROM loyalty.open_rating_slip($1::text::uuid, 'BLACKJACK', 25, NULL, NULL,
                now() - interval '1 hour', p_staff_id => coalesce(loyalty.caller_uid(), '00000000-0000-4000-8000-00000000f100'))",
        &[&player],
    )
    .expect("open slip")
    .get(0)
}

/// GAMEPLAY ledger rows of a slip.
pub fn gameplay_rows(c: &mut Client, slip: &str) -> i64 {
    c.query_one(
        "SELECT count(*) FROM loyalty.loyalty_ledger WHERE rating_slip_id = $1::text::uuid AND transaction_type = 'GAMEPLAY'",
        &[&slip],
    )
    .unwrap()
    .get(0)
}

pub fn slip_status(c: &mut Client, slip: &str) -> String {
    c.query_one(
        "SELECT status FROM loyalty.rating_slip WHERE id = $1::text::uuid",
        &[&slip],
    )
    .unwrap()
    .get(0)
}

/// Wait until some backend waits on a lock while running a query that
/// contains `needle`; its pid.
pub fn wait_for_lock_waiter(c: &mut Client, needle: &str) -> i32 {
    for _ in 0..400 {
        let rows = c
            .query(
                "SELECT pid FROM pg_stat_activity
                  WHERE wait_event_type = 'Lock' AND query LIKE '%' || $1 || '%' AND pid <> pg_backend_pid()",
                &[&needle],
            )
            .unwrap();
        if let Some(r) = rows.first() {
            return r.get(0);
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    panic!("no backend waited on a lock running {needle}");
}

/// Run `f` the way PostgREST runs an RPC: one transaction with
/// `SET LOCAL role` and `request.jwt.claims` (with `sub` when given).
/// Commits on success, rolls back on error.
pub fn as_role<T>(
    c: &mut Client,
    role: &str,
    sub: Option<&str>,
    f: impl FnOnce(&mut postgres::Transaction<'_>) -> Result<T, postgres::Error>,
) -> Result<T, postgres::Error> {
    let mut tx = c.transaction()?;
    sign_in(&mut tx, role, sub)?;
    match f(&mut tx) {
        Ok(v) => {
            tx.commit()?;
            Ok(v)
        }
        Err(e) => {
            let _ = tx.rollback();
            Err(e)
        }
    }
}

/// Inside `tx`, what PostgREST does at the start of a request: `SET LOCAL
/// role` and the JWT claims for this transaction (with `sub` when given).
pub fn sign_in(
    tx: &mut postgres::Transaction<'_>,
    role: &str,
    sub: Option<&str>,
) -> Result<(), postgres::Error> {
    tx.batch_execute(&format!("SET LOCAL ROLE {role}"))?;
    let claims = match sub {
        Some(s) => format!(r#"{{"role":"{role}","sub":"{s}"}}"#),
        None => format!(r#"{{"role":"{role}"}}"#),
    };
    tx.execute(
        "SELECT set_config('request.jwt.claims', $1, true)",
        &[&claims],
    )?;
    Ok(())
}

/// Make every ledger insert fail ("ledger is down", SQLSTATE XX001), so an
/// accrual fails for real and a completion becomes a partial completion.
/// [`ledger_up`] ends it. Owner only.
pub fn ledger_down(c: &mut Client) {
    c.batch_execute(
        "CREATE OR REPLACE FUNCTION public.boom() RETURNS trigger LANGUAGE plpgsql AS
             $$ BEGIN RAISE EXCEPTION USING MESSAGE = 'ledger is down', ERRCODE = 'XX001'; END $$;
         CREATE TRIGGER test_boom BEFORE INSERT ON loyalty.loyalty_ledger
             FOR EACH ROW EXECUTE FUNCTION public.boom();",
    )
    .expect("take the ledger down");
}

pub fn ledger_up(c: &mut Client) {
    c.batch_execute("DROP TRIGGER test_boom ON loyalty.loyalty_ledger")
        .expect("bring the ledger back");
}

/// Add a staff member (as the owner).
pub fn add_staff(c: &mut Client, staff: &str, permissions: &[&str], active: bool) {
    let perms: Vec<String> = permissions.iter().map(|p| p.to_string()).collect();
    c.execute(
        "INSERT INTO loyalty.staff (staff_id, permissions, active) VALUES ($1::text::uuid, $2, $3)",
        &[&staff, &perms, &active],
    )
    .expect("add staff");
}

pub const REWARD: &str = "SELECT ledger_entry_id, balance_after, idempotent_hit, row_locked, transaction_type
                            FROM loyalty.manual_reward($1::text::uuid, $2::bigint, $3::text, $4::text::uuid,
                                                       NULL, $5::text)";

/// The first canonical JSON log line in the server log containing every one
/// of `needles`, waiting up to 10 s for it to be written.
pub fn wait_for_log_line(needles: &[&str]) -> serde_json::Value {
    let path = std::env::var("PGLOG").expect("PGLOG");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let log = std::fs::read_to_string(&path).expect("read server log");
        if let Some(line) = log
            .lines()
            .find(|l| l.contains("\"event\"") && needles.iter().all(|n| l.contains(n)))
        {
            let json = &line[line.find('{').expect("JSON object on the line")..];
            return serde_json::from_str(json).expect("log line parses as JSON");
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no log line mentioning {needles:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Restart the test server (fast shutdown), as its OS user.
pub fn restart_server() {
    let pgdata = env("PGDATA");
    let log = env("PGLOG");
    let ctl = pg_bin("pg_ctl");
    let args = ["-D", &pgdata, "-l", &log, "-w", "-m", "fast", "restart"];
    let status = if is_root() {
        std::process::Command::new("runuser")
            .args(["-u", "postgres", "--", &ctl])
            .args(args)
            .status()
    } else {
        std::process::Command::new(&ctl).args(args).status()
    }
    .expect("run pg_ctl");
    assert!(status.success(), "pg_ctl restart failed");
}

fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}
