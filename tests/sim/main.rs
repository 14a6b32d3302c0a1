//! The simulation test of the whole API (SPEC §21), in the spirit of
//! TigerBeetle's VOPR: a seeded generator drives several sessions (real
//! connections to a real cluster) through random sequences of every public
//! operation as every kind of caller, while a fault schedule changes
//! settings, the ladder and the games, terminates and SIGKILLs backends
//! mid-call, makes players busy, sets short lock and statement timeouts,
//! crashes the server and moves its clock (libfaketime). One session is a
//! floor back end that holds a REPEATABLE READ transaction open before each
//! payment, at tables (players) of its own, so that settings change under
//! its snapshots. At checkpoints (sessions paused) and at the end the
//! invariants are checked from the rows and from the model the harness
//! kept of every acknowledged and refused call.
//!
//! `SIM_SECONDS` (default 60), `SIM_SEED` (default: from the clock; printed
//! first), `SIM_SESSIONS` (6), `SIM_DB` (the database, with the extension),
//! `SIM_RESTART` (a command `OFFSET MODE` that restarts the server with its
//! clock OFFSET seconds ahead, after a crash or a clean stop, and `sigkill
//! PID`: clock jumps, crashes and SIGKILLs are off without it).
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
    let clock = std::env::var("SIM_RESTART").ok();
    println!("sim: seed {seed}");
    let world = world::World::new(seed);
    println!(
        "sim: {seconds} s, {sessions} sessions, tier basis {}, clock jumps and crashes {}",
        world.basis,
        if clock.is_some() { "on" } else { "off" }
    );
    world.setup(&mut connect(&db));
    let shared = Arc::new(Shared {
        world,
        model: Mutex::new(Model {
            thresholds: vec![world::DAILY_THRESHOLD],
            ..Model::default()
        }),
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
/// are terminated mid-call, the server crashes and restarts, the clock
/// jumps (a restart with the clock further ahead).
fn faults(sh: &Shared, seed: u64, restart: Option<String>) {
    let mut rng = Rng::new(seed ^ 0xFA17_FA17);
    let mut c = connect(&sh.db);
    let mut offset: i64 = 0;
    let mut last_restart = Instant::now();
    // busy players hold their locks in threads of their own
    std::thread::scope(|scope| {
        while !sh.stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(rng.between(200, 1200) as u64));
            let _acting = sh.gate.read().unwrap();
            let n = sh.calls.fetch_add(1, Ordering::Relaxed);
            // a restart at most every eight seconds (each takes a second or two)
            let may_restart = restart.is_some() && last_restart.elapsed() > Duration::from_secs(8);
            let mut threshold_set = None;
            let (kind, what, result) = match rng.below(13) {
                0 | 9 | 10 | 11 => {
                    // low and high in turn: a payment judged by the value
                    // before the change lands on the wrong side of it
                    let threshold = match sh.model.lock().unwrap().thresholds.last() {
                        Some(t) if *t < 20_000 => rng.between(40_000, 70_000),
                        _ => rng.between(1_000, 8_000),
                    };
                    threshold_set = Some(threshold);
                    let ms = rng.between(50, 500);
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
                6 | 8 | 12 => {
                    // players busy in a slow transaction: floor calls for
                    // them time out on the accrual lock (partial
                    // completions); players with a slip open, when there are
                    let players: Vec<String> = {
                        let m = sh.model.lock().unwrap();
                        (0..rng.between(1, 3))
                            .map(|_| match m.open_slips.is_empty() {
                                true => rng.below(sh.world.players.len() as u64) as usize,
                                false => m.slips[*rng.pick(&m.open_slips)].1,
                            })
                            .map(|i| sh.world.players[i].clone())
                            .collect()
                    };
                    let ms = rng.between(1_000, 3_000);
                    let player = players.join(",");
                    let sql = format!(
                        "BEGIN; SELECT 1 FROM loyalty.player_loyalty WHERE player_id = ANY('{{{player}}}'::uuid[])
                                  ORDER BY player_id FOR UPDATE;
                         SELECT pg_sleep({ms} / 1000.0); COMMIT;"
                    );
                    scope.spawn(move || {
                        let _acting = sh.gate.read().unwrap();
                        // a restart may end it early: that is a fault too
                        if let Ok(mut b) =
                            casino_loyalty_client_tests::config(&sh.db).connect(postgres::NoTls)
                        {
                            let _ = b.batch_execute(&sql);
                        }
                    });
                    (
                        "busy player",
                        format!("{player} locked for {ms} ms"),
                        Ok(()),
                    )
                }
                3 if may_restart && rng.chance(25) => {
                    // SIGKILL of a backend mid-call: the postmaster resets
                    // every backend and replays the WAL (a crash without a
                    // stop)
                    let pids = sh.pids.lock().unwrap().clone();
                    let pid = *rng.pick(&pids);
                    let cmd = restart.as_deref().unwrap_or_default();
                    let status = std::process::Command::new("bash")
                        .args([cmd, "sigkill", &pid.to_string()])
                        .status();
                    last_restart = Instant::now();
                    c = connect(&sh.db);
                    assert!(
                        status.is_ok_and(|s| s.success()),
                        "killing a backend failed"
                    );
                    ("sigkill", format!("kill -9 {pid}"), Ok(()))
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
                4 | 5 if may_restart => {
                    let crash = rng.chance(50);
                    if !crash || rng.chance(60) {
                        offset += rng.between(1, 40) * 86_400;
                    }
                    let mode = if crash { "immediate" } else { "fast" };
                    let cmd = restart.as_deref().unwrap_or_default();
                    let status = std::process::Command::new("bash")
                        .args([cmd, &offset.to_string(), mode])
                        .status();
                    last_restart = Instant::now();
                    c = connect(&sh.db);
                    assert!(
                        status.is_ok_and(|s| s.success()),
                        "restarting the server failed"
                    );
                    (
                        if crash {
                            "crash and restart"
                        } else {
                            "clock jump"
                        },
                        format!(
                            "restart ({mode}) with the clock {} days ahead",
                            offset / 86_400
                        ),
                        Ok(()),
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
            if let (Outcome::Ok(_), Some(t)) = (&outcome, threshold_set) {
                m.thresholds.push(t);
            }
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
    });
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
    verdicts.push(check::gaming_days(&mut c));
    verdicts.push(check::thresholds_followed(
        &mut c,
        &sh.model.lock().unwrap(),
    ));
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
