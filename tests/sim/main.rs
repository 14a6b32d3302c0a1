//! The simulation test of the whole API (SPEC §21), in the spirit of
//! TigerBeetle's VOPR: a seeded generator drives several sessions (real
//! connections to a real cluster) through random sequences of every public
//! operation as every kind of caller, while a fault schedule changes
//! settings, the ladder and the games, terminates backends mid-call, sets
//! short lock and statement timeouts, and moves the server's clock
//! (libfaketime). At checkpoints (sessions paused) and at the end the
//! invariants are checked from the rows and from the model the harness
//! kept of every acknowledged and refused call.
//!
//! `SIM_SECONDS` (default 60), `SIM_SEED` (default: from the clock; printed
//! first), `SIM_SESSIONS` (6), `SIM_DB` (the database, with the extension),
//! `SIM_CLOCK` (libfaketime's offset file, if the server reads one).
//! `bash tests/sim/run.sh` starts a cluster and runs it.

mod check;
mod model;
mod ops;
mod rng;
mod world;

use casino_loyalty_client_tests::connect;
use model::{Model, Outcome};
use rng::Rng;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Shared {
    world: world::World,
    model: Mutex<Model>,
    /// Sessions and faults hold it to act, a checkpoint to look.
    gate: RwLock<()>,
    stop: AtomicBool,
    calls: AtomicU64,
    /// Each session's backend pid (the fault schedule terminates them).
    pids: Mutex<Vec<i32>>,
    db: String,
}

fn main() {
    let seconds: u64 = env_or("SIM_SECONDS", 60);
    let seed: u64 = std::env::var("SIM_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64 % 1_000_000_000)
                .unwrap_or(1)
        });
    let sessions: usize = env_or("SIM_SESSIONS", 6);
    let db = std::env::var("SIM_DB").expect("SIM_DB: the database to run in");
    let clock = std::env::var("SIM_CLOCK").ok();
    println!("sim: seed {seed}");
    let world = world::World::new(seed);
    println!(
        "sim: {seconds} s, {sessions} sessions, tier basis {}, clock jumps {}",
        world.basis,
        if clock.is_some() { "on" } else { "off" }
    );
    world.setup(&mut connect(&db));
    let shared = Arc::new(Shared {
        world,
        model: Mutex::new(Model::default()),
        gate: RwLock::new(()),
        stop: AtomicBool::new(false),
        calls: AtomicU64::new(0),
        pids: Mutex::new(vec![0; sessions]),
        db,
    });
    let started = Instant::now();
    let mut threads = Vec::new();
    for s in 0..sessions {
        let sh = shared.clone();
        threads.push(std::thread::spawn(move || session(&sh, seed, s)));
    }
    {
        let sh = shared.clone();
        threads.push(std::thread::spawn(move || faults(&sh, seed, clock)));
    }
    let mut verdicts_seen = Vec::new();
    let mut next_checkpoint = started + Duration::from_secs(15);
    while started.elapsed() < Duration::from_secs(seconds) {
        std::thread::sleep(Duration::from_millis(200));
        if Instant::now() >= next_checkpoint {
            let _paused = shared.gate.write().unwrap();
            let verdicts = checkpoint(&shared, false);
            let broken = verdicts.iter().filter(|v| !v.broken.is_empty()).count();
            println!(
                "sim: checkpoint at {} s, {} calls: {}",
                started.elapsed().as_secs(),
                shared.calls.load(Ordering::Relaxed),
                if broken == 0 {
                    "every invariant holds".to_string()
                } else {
                    format!("{broken} invariants broken")
                }
            );
            verdicts_seen.extend(verdicts.into_iter().filter(|v| !v.broken.is_empty()));
            next_checkpoint = Instant::now() + Duration::from_secs(15);
        }
    }
    shared.stop.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    let mut verdicts = checkpoint(&shared, true);
    // a broken invariant at a checkpoint stays broken in the report
    for v in verdicts_seen {
        if let Some(same) = verdicts.iter_mut().find(|x| x.name == v.name) {
            if same.broken.is_empty() {
                same.broken = v
                    .broken
                    .into_iter()
                    .map(|b| format!("(at a checkpoint) {b}"))
                    .collect();
            }
        }
    }
    report(&shared, seed, started.elapsed(), verdicts);
}

/// One session: the next operation from its own generator, run, recorded.
fn session(sh: &Shared, seed: u64, s: usize) {
    let mut rng = Rng::new(seed ^ ((s as u64 + 1) * 0x0100_0000_01B3));
    let mut c = connect_session(sh, s);
    while !sh.stop.load(Ordering::Relaxed) {
        let _acting = sh.gate.read().unwrap();
        let n = sh.calls.fetch_add(1, Ordering::Relaxed);
        let op = {
            let m = sh.model.lock().unwrap();
            ops::next(&mut rng, &sh.world, &m, s, n)
        };
        if !ops::execute(&mut c, &sh.world, &sh.model, &op, &mut rng, s, n) {
            drop(_acting);
            c = connect_session(sh, s);
        }
    }
}

fn connect_session(sh: &Shared, s: usize) -> postgres::Client {
    for _ in 0..200 {
        if let Ok(mut c) = casino_loyalty_client_tests::config(&sh.db).connect(postgres::NoTls) {
            if let Ok(r) = c.query_one("SELECT pg_backend_pid()", &[]) {
                sh.pids.lock().unwrap()[s] = r.get(0);
                return c;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("session {s} could not reconnect");
}

/// The fault schedule: settings, the ladder and the games change, backends
/// are terminated mid-call, the clock jumps.
fn faults(sh: &Shared, seed: u64, clock: Option<String>) {
    let mut rng = Rng::new(seed ^ 0xFA17_FA17);
    let mut c = connect(&sh.db);
    let mut offset: i64 = 0;
    while !sh.stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(rng.between(200, 1200) as u64));
        let _acting = sh.gate.read().unwrap();
        let n = sh.calls.fetch_add(1, Ordering::Relaxed);
        let (kind, what, result) = match rng.below(6) {
            0 => {
                let threshold = rng.between(20_000, 120_000);
                let ms = rng.between(100, 2_000);
                let sql = format!(
                    "SELECT loyalty.configure(p_daily_approval_threshold_points => {threshold},
                            p_accrual_lock_timeout => '{ms} milliseconds', p_correlation_id => 'sim:fault')"
                );
                (
                    "configure",
                    format!("daily threshold {threshold}, lock timeout {ms} ms"),
                    c.batch_execute(&sql),
                )
            }
            1 if sh.world.basis == "LIFETIME" => {
                let silver = rng.between(5_000, 15_000);
                (
                    "ladder",
                    format!("SILVER at {silver}"),
                    c.batch_execute(&format!("SELECT loyalty.upsert_tier('SILVER', {silver})")),
                )
            }
            2 => {
                let m = *rng.pick(&["1", "1.5", "2"]);
                (
                    "game",
                    format!("BLACKJACK multiplier {m}"),
                    c.batch_execute(&format!("SELECT loyalty.upsert_game_settings('BLACKJACK', p_point_multiplier => {m})")),
                )
            }
            3 => {
                let pids = sh.pids.lock().unwrap().clone();
                let pid = *rng.pick(&pids);
                (
                    "terminate",
                    format!("pg_terminate_backend({pid})"),
                    c.execute("SELECT pg_terminate_backend($1)", &[&pid])
                        .map(|_| ()),
                )
            }
            4 if clock.is_some() => {
                offset += rng.between(1, 40) * 86_400;
                let path = clock.as_deref().unwrap_or_default();
                let r = std::fs::write(path, format!("+{offset}"));
                (
                    "clock",
                    format!("the server's clock {} days on", offset / 86_400),
                    { r.map_err(|e| panic!("write the clock file: {e}")) },
                )
            }
            _ => {
                let sweep =
                    *rng.pick(&["expire_holds", "roll_tier_period", "expire_inactive_points"]);
                (
                    "sweep",
                    sweep.to_string(),
                    c.batch_execute(&format!(
                        "SET ROLE service_role; SELECT count(*) FROM loyalty.{sweep}(); RESET ROLE"
                    )),
                )
            }
        };
        let outcome = match result {
            Ok(()) => Outcome::Ok(String::new()),
            Err(e) => match e.as_db_error() {
                Some(db) => {
                    Outcome::Refused(db.code().code().to_string(), db.message().to_string())
                }
                None => Outcome::Lost,
            },
        };
        let mut m = sh.model.lock().unwrap();
        m.fault(kind);
        if let Outcome::Refused(state, msg) = &outcome {
            if state == "40P01" || state == "XX000" {
                m.violation(n, format!("fault {what}: {state} {msg}"));
            }
        }
        m.record(
            n,
            usize::MAX,
            &format!("fault {kind}"),
            what,
            outcome.clone(),
        );
        if outcome == Outcome::Lost {
            c = connect(&sh.db);
        }
    }
}

/// With every session paused: the sweeps that settle what a change left
/// (a ladder edit's tiers; at the end also every owed slip), then every
/// invariant.
fn checkpoint(sh: &Shared, last: bool) -> Vec<check::Verdict> {
    let mut c = connect(&sh.db);
    let _ = c.batch_execute("SET ROLE service_role");
    for _ in 0..50 {
        let n: i64 = c
            .query_one("SELECT count(*) FROM loyalty.retier_players(1000)", &[])
            .map(|r| r.get(0))
            .unwrap_or(0);
        if n == 0 {
            break;
        }
    }
    let mut verdicts = check::from_rows(&mut c);
    if last {
        let mut owed = Vec::new();
        for _ in 0..200 {
            let attempted: i32 = c
                .query_one(
                    "SELECT attempted FROM loyalty.recover_partial_completions(1000)",
                    &[],
                )
                .map(|r| r.get(0))
                .unwrap_or(0);
            if attempted == 0 {
                break;
            }
        }
        if let Ok(rows) = c.query(
            "SELECT rating_slip_id::text FROM loyalty.partial_completion",
            &[],
        ) {
            owed = rows.iter().map(|r| r.get(0)).collect();
        }
        verdicts.push(check::Verdict {
            name: "every owed slip recoverable",
            broken: owed,
        });
        let m = sh.model.lock().unwrap();
        verdicts.push(check::from_model(&mut c, &m));
        verdicts.push(check::Verdict {
            name: "no deadlock, every refusal with its documented code, every caller's refusal as the contract says",
            broken: m.violations.clone(),
        });
    }
    verdicts
}

fn report(sh: &Shared, seed: u64, took: Duration, verdicts: Vec<check::Verdict>) {
    let m = sh.model.lock().unwrap();
    println!("sim: {} calls in {} s", m.trace.len(), took.as_secs());
    println!("sim: calls per kind and outcome:");
    for (k, n) in &m.tally {
        println!("  {n:>7}  {k}");
    }
    println!("sim: faults injected:");
    for (k, n) in &m.faults {
        println!("  {n:>7}  {k}");
    }
    println!("sim: invariants:");
    let mut failed = false;
    let mut named: Vec<String> = Vec::new();
    for v in &verdicts {
        if v.broken.is_empty() {
            println!("  ok      {}", v.name);
        } else {
            failed = true;
            println!("  FAILED  {} ({}):", v.name, v.broken.len());
            for b in v.broken.iter().take(10) {
                println!("            {b}");
                named.extend(ids_in(b));
            }
        }
    }
    if failed {
        // the shortest trace the harness can cut the run down to: the calls
        // that named what a broken invariant names (else the last ones)
        let cut: Vec<_> = m
            .trace
            .iter()
            .filter(|s| named.iter().any(|id| s.what.contains(id.as_str())))
            .collect();
        let cut: Vec<_> = if cut.is_empty() {
            m.trace.iter().rev().take(40).rev().collect()
        } else {
            cut
        };
        println!(
            "sim: the trace cut to the calls that touched what broke ({} of {}):",
            cut.len(),
            m.trace.len()
        );
        for s in cut.iter().rev().take(80).rev() {
            let who = if s.session == usize::MAX {
                "faults".to_string()
            } else {
                format!("session {}", s.session)
            };
            println!(
                "  #{:<7} {who:<10} {} -> {}",
                s.n,
                s.what,
                s.outcome.label()
            );
        }
        println!("sim: FAILED (seed {seed}; SIM_SEED={seed} runs it again)");
        std::process::exit(1);
    }
    println!("sim: every invariant holds (seed {seed})");
}

/// The uuids and entry ids a broken invariant names.
fn ids_in(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_ascii_hexdigit() || c == '-'))
        .filter(|w| w.len() == 36 && w.matches('-').count() == 4)
        .map(str::to_string)
        .collect()
}
