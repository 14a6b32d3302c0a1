//! Balances as of a time and statements (SPEC §16), against the ledger they
//! are read from: random histories of real calls, checked at every entry's
//! exact timestamp and over chains of statements; a statement pair split at
//! a real gaming-day boundary; and who may read them.

use casino_loyalty_client_tests::*;
use postgres::Client;
use std::collections::BTreeMap;
use std::time::Duration;

/// A time as the server stores it: microseconds since the Unix epoch.
const AT: &str = "'epoch'::timestamptz + $2::bigint * interval '1 microsecond'";

struct Row {
    seq: i64,
    id: i64,
    at: i64,
    kind: String,
    points: i64,
    balance: i64,
    tier: String,
}

fn ledger(c: &mut Client, player: &str) -> Vec<Row> {
    c.query(
        "SELECT seq, id, (extract(epoch FROM created_at) * 1000000)::bigint, transaction_type::text,
                points_change, balance_after::bigint, tier_after
           FROM loyalty.loyalty_ledger WHERE player_id = $1::text::uuid ORDER BY seq",
        &[&player],
    )
    .unwrap()
    .iter()
    .map(|r| Row {
        seq: r.get(0),
        id: r.get(1),
        at: r.get(2),
        kind: r.get(3),
        points: r.get(4),
        balance: r.get(5),
        tier: r.get(6),
    })
    .collect()
}

fn earns(kind: &str) -> bool {
    kind == "GAMEPLAY" || kind == "MANUAL_BONUS"
}

struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// One random step of a player's history, through the real functions.
fn step(
    c: &mut Client,
    rng: &mut Rng,
    player: &str,
    awarder: &str,
    cashier: &str,
    approver: &str,
    n: usize,
) {
    let reason = format!("history step {n} for the test");
    let r = match rng.below(5) {
        0 | 1 => c
            .query_one(REWARD, &[&player, &(1 + rng.below(5000) as i64), &reason, &awarder, &None::<String>])
            .map(|_| ()),
        2 => c
            .query_one(REWARD, &[&player, &-(1 + rng.below(300) as i64), &reason, &awarder, &None::<String>])
            .map(|_| ()),
        3 => c
            .query_one(
                "SELECT * FROM loyalty.redeem_points($1::text::uuid, $2, 'free play', $3, $4::text::uuid)",
                &[&player, &(1 + rng.below(400) as i64), &reason, &cashier],
            )
            .map(|_| ()),
        _ => c
            .query(
                "SELECT loyalty.reverse_redemption(h.ledger_entry_id, 'moved to a cash charge', $2::text::uuid)
                   FROM (SELECT ledger_entry_id FROM loyalty.hold
                          WHERE player_id = $1::text::uuid AND status = 'CAPTURED'
                          ORDER BY random() LIMIT 1) h",
                &[&player, &approver],
            )
            .map(|_| ()),
    };
    if let Err(e) = r {
        // spending more than is there is the one refusal a random history meets
        assert_eq!(sqlstate(&e).1, "INSUFFICIENT_BALANCE", "{e:?}");
    }
}

/// 200 players, 3 to 25 random steps each, interleaved: at every entry's
/// exact timestamp `player_balance_at` is that entry's balance, tier and the
/// lifetime the ledger sums to; a microsecond before the first entry, 0. A
/// chain of statements cut at random entry times and between them: each
/// opening is the previous closing, the entries are exactly the ledger's in
/// the range, and the totals per kind and the net movement add up.
#[test]
fn balances_and_statements_are_exact_against_the_ledger_for_random_histories() {
    let mut c = shared_db();
    let (cashier, approver) = (new_uuid(), new_uuid());
    add_staff(&mut c, &cashier, &["loyalty:redeem"], true);
    add_staff(&mut c, &approver, &["loyalty:approve"], true);
    let awarders: Vec<String> = c
        .query(
            "INSERT INTO loyalty.staff (staff_id, permissions)
             SELECT gen_random_uuid(), '{loyalty:award}' FROM generate_series(1, 600) RETURNING staff_id::text",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let players: Vec<String> = (0..200).map(|_| new_uuid()).collect();
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    let mut left: Vec<usize> = players.iter().map(|_| 3 + rng.below(23) as usize).collect();
    let mut n = 0;
    while left.iter().any(|l| *l > 0) {
        let i = rng.below(players.len() as u64) as usize;
        if left[i] == 0 {
            continue;
        }
        left[i] -= 1;
        n += 1;
        let awarder = &awarders[n % awarders.len()];
        step(
            &mut c,
            &mut rng,
            &players[i],
            awarder,
            &cashier,
            &approver,
            n,
        );
    }
    let (mut points_checked, mut statements) = (0, 0);
    for p in &players {
        let rows = ledger(&mut c, p);
        // as of each entry's own instant
        let mut life = 0i64;
        for r in &rows {
            if earns(&r.kind) {
                life += r.points;
            }
            let got = c
                .query_one(
                    &format!(
                        "SELECT balance, lifetime_points, tier, ledger_entry_id, seq
                           FROM loyalty.player_balance_at($1::text::uuid, {AT})"
                    ),
                    &[p, &r.at],
                )
                .unwrap();
            let (balance, lifetime, tier, id, seq): (i64, i64, String, Option<i64>, Option<i64>) =
                (got.get(0), got.get(1), got.get(2), got.get(3), got.get(4));
            assert_eq!(
                (balance, lifetime, tier.as_str()),
                (r.balance, life, r.tier.as_str()),
                "player {p} seq {}",
                r.seq
            );
            assert_eq!((id, seq), (Some(r.id), Some(r.seq)));
            points_checked += 1;
        }
        if let Some(first) = rows.first() {
            let before: (i64, Option<i64>) = c
                .query_one(
                    &format!("SELECT balance, ledger_entry_id FROM loyalty.player_balance_at($1::text::uuid, {AT})"),
                    &[p, &(first.at - 1)],
                )
                .map(|r| (r.get(0), r.get(1)))
                .unwrap();
            assert_eq!(before, (0, None));
        }
        // a chain of statements: cuts at entry times and between them
        let (lo, hi) = (
            rows.first().map_or(0, |r| r.at) - 1_000,
            rows.last().map_or(0, |r| r.at) + 1_000,
        );
        let mut cuts = vec![lo, hi];
        for r in &rows {
            match rng.below(3) {
                0 => cuts.push(r.at),
                1 => cuts.push(r.at + 1),
                _ => {}
            }
        }
        cuts.sort();
        cuts.dedup();
        let mut previous_closing = 0i64;
        for w in cuts.windows(2) {
            let (from, to) = (w[0], w[1]);
            let lines = c
                .query(
                    "SELECT line, seq, points_change, balance_after, transaction_type, entries
                       FROM loyalty.player_statement($1::text::uuid,
                            'epoch'::timestamptz + $2::bigint * interval '1 microsecond',
                            'epoch'::timestamptz + $3::bigint * interval '1 microsecond')",
                    &[p, &from, &to],
                )
                .unwrap();
            let opening: i64 = lines[0].get(3);
            assert_eq!(lines[0].get::<_, String>(0), "OPENING");
            assert_eq!(
                opening, previous_closing,
                "an opening is the previous closing"
            );
            let expected: Vec<&Row> = rows.iter().filter(|r| r.at >= from && r.at < to).collect();
            let entries: Vec<i64> = lines
                .iter()
                .filter(|l| l.get::<_, String>(0) == "ENTRY")
                .map(|l| l.get::<_, i64>(1))
                .collect();
            assert_eq!(entries, expected.iter().map(|r| r.seq).collect::<Vec<_>>());
            let mut totals: BTreeMap<String, (i64, i64)> = BTreeMap::new();
            for r in &expected {
                let t = totals.entry(r.kind.clone()).or_default();
                t.0 += r.points;
                t.1 += 1;
            }
            let got: BTreeMap<String, (i64, i64)> = lines
                .iter()
                .filter(|l| l.get::<_, String>(0) == "TOTAL")
                .map(|l| (l.get(4), (l.get(2), l.get(5))))
                .collect();
            assert_eq!(got, totals);
            let last = lines.last().unwrap();
            assert_eq!(last.get::<_, String>(0), "CLOSING");
            let closing: i64 = last.get(3);
            let net: i64 = expected.iter().map(|r| r.points).sum();
            assert_eq!((closing - opening, last.get::<_, i64>(2)), (net, net));
            assert_eq!(closing, expected.last().map_or(opening, |r| r.balance));
            previous_closing = closing;
            statements += 1;
        }
        assert_eq!(previous_closing, rows.last().map_or(0, |r| r.balance));
    }
    eprintln!(
        "checked {points_checked} balances and {statements} statements of {} players",
        players.len()
    );
    assert!(points_checked > 1000 && statements > 1000);
}

/// Two statements split at a real gaming-day start (configured two seconds
/// ahead): the entries before it are the first day's, after it the next
/// day's, the first statement's closing is the second's opening, and the
/// balance at the boundary is the last one before it.
#[test]
fn statements_split_at_a_gaming_day_boundary_meet_exactly() {
    let db = fresh_db("statement_day");
    let mut c = connect(&db);
    let (player, awarder) = (new_uuid(), new_uuid());
    add_staff(&mut c, &awarder, &["loyalty:award"], true);
    // the next gaming day starts at a whole second two or three seconds from now (UTC)
    let boundary: i64 = c
        .query_one(
            "SELECT (extract(epoch FROM date_trunc('second', clock_timestamp()) + interval '3 seconds') * 1000000)::bigint",
            &[],
        )
        .unwrap()
        .get(0);
    c.execute(
        "SELECT loyalty.configure(p_casino_timezone => 'UTC',
                p_gaming_day_start => (('epoch'::timestamptz + $1::bigint * interval '1 microsecond') AT TIME ZONE 'UTC')::time)",
        &[&boundary],
    )
    .unwrap();
    let reward = |c: &mut Client, points: i64, reason: &str| {
        c.query_one(
            REWARD,
            &[&player, &points, &reason, &awarder, &None::<String>],
        )
        .unwrap();
    };
    reward(&mut c, 100, "before the boundary one");
    reward(&mut c, 200, "before the boundary two");
    loop {
        let now: i64 = c
            .query_one(
                "SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint",
                &[],
            )
            .unwrap()
            .get(0);
        if now > boundary {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    reward(&mut c, 400, "after the boundary one");
    reward(&mut c, -50, "after the boundary two");
    let rows = ledger(&mut c, &player);
    let days: Vec<String> = c
        .query(
            "SELECT gaming_day::text FROM loyalty.loyalty_ledger WHERE player_id = $1::text::uuid ORDER BY seq",
            &[&player],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(days[0], days[1]);
    assert_eq!(days[2], days[3]);
    assert_ne!(days[1], days[2], "the boundary fell between the entries");
    let day = 86_400_000_000i64;
    let statement = |c: &mut Client, from: i64, to: i64| -> (i64, Vec<i64>, i64) {
        let lines = c
            .query(
                "SELECT line, points_change, balance_after FROM loyalty.player_statement($1::text::uuid,
                        'epoch'::timestamptz + $2::bigint * interval '1 microsecond',
                        'epoch'::timestamptz + $3::bigint * interval '1 microsecond')",
                &[&player, &from, &to],
            )
            .unwrap();
        let entries = lines
            .iter()
            .filter(|l| l.get::<_, String>(0) == "ENTRY")
            .map(|l| l.get(1))
            .collect();
        (lines[0].get(2), entries, lines.last().unwrap().get(2))
    };
    let first = statement(&mut c, boundary - day, boundary);
    let second = statement(&mut c, boundary, boundary + day);
    assert_eq!(first, (0, vec![100, 200], 300));
    assert_eq!(second, (300, vec![400, -50], 650));
    let at: (i64, i64) = c
        .query_one(
            &format!("SELECT balance, seq FROM loyalty.player_balance_at($1::text::uuid, {AT})"),
            &[&player, &boundary],
        )
        .map(|r| (r.get(0), r.get(1)))
        .unwrap();
    assert_eq!(at, (300, rows[1].seq));
    drop(c);
    connect("postgres")
        .batch_execute(&format!("DROP DATABASE {db} WITH (FORCE)"))
        .unwrap();
}

/// A player reads their own balance history and statement; another player,
/// staff without loyalty:view_all and anon do not; view_all staff do.
#[test]
fn a_player_reads_their_own_statement_and_nobody_elses() {
    let mut c = shared_db();
    let (player, other, awarder, viewer) = (new_uuid(), new_uuid(), new_uuid(), new_uuid());
    add_staff(&mut c, &awarder, &["loyalty:award"], true);
    add_staff(&mut c, &viewer, &["loyalty:view_all"], true);
    c.query_one(
        REWARD,
        &[
            &player,
            &500i64,
            &"welcome to the club",
            &awarder,
            &None::<String>,
        ],
    )
    .unwrap();
    let read = |c: &mut Client, role: &str, sub: Option<&str>| -> String {
        match as_role(c, role, sub, |tx| {
            let b: i64 = tx
                .query_one(
                    "SELECT balance FROM loyalty.player_balance_at($1::text::uuid)",
                    &[&player],
                )?
                .get(0);
            let n = tx
                .query("SELECT 1 FROM loyalty.player_statement($1::text::uuid, now() - interval '1 day')", &[&player])?
                .len();
            Ok(format!("{b}/{n}"))
        }) {
            Ok(v) => v,
            Err(e) => sqlstate(&e).1,
        }
    };
    assert_eq!(read(&mut c, "authenticated", Some(&player)), "500/4");
    assert_eq!(read(&mut c, "authenticated", Some(&viewer)), "500/4");
    assert_eq!(read(&mut c, "authenticated", Some(&other)), "FORBIDDEN");
    assert_eq!(read(&mut c, "authenticated", Some(&awarder)), "FORBIDDEN");
    assert_eq!(
        read(&mut c, "anon", None),
        "permission denied for function player_balance_at"
    );
    assert_eq!(read(&mut c, "service_role", None), "500/4");
}

/// One line of the exception report: event, player, initiator, approver,
/// amount, reason.
type Line = (
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<String>,
);

/// The exception report of a seeded period (SPEC §16): every manual add and
/// adjustment, slip approval and rejection, approved comp above the
/// threshold, reversal, reconciliation and admin change, each with who
/// initiated and who approved it, and nothing else (gameplay paid at once, a
/// comp within the threshold). Only loyalty:audit staff (and trusted back
/// ends) read it, and the admin API refuses an auditor who could also grant
/// or receive points.
#[test]
fn the_exception_report_lists_every_exception_and_nothing_else() {
    let db = fresh_db("exceptions");
    let mut c = connect(&db);
    let (awarder, cashier, approver, auditor) = (new_uuid(), new_uuid(), new_uuid(), new_uuid());
    let (p1, p2, p3) = (new_uuid(), new_uuid(), new_uuid());
    add_staff(&mut c, &awarder, &["loyalty:award"], true);
    add_staff(&mut c, &cashier, &["loyalty:redeem"], true);
    add_staff(&mut c, &approver, &["loyalty:approve"], true);
    // the admin API: an auditor who could also award is refused; as an auditor alone, added
    let refused = c.query_one(
        "SELECT * FROM loyalty.upsert_staff($1::text::uuid, '{loyalty:audit,loyalty:award}', p_correlation_id => 'HR-2')",
        &[&auditor],
    );
    let e = refused.unwrap_err();
    assert_eq!(sqlstate(&e).1, "VALIDATION_ERROR");
    assert!(e
        .as_db_error()
        .and_then(|d| d.detail())
        .unwrap_or("")
        .contains("staff_audit_separation_check"));
    c.query_one(
        "SELECT * FROM loyalty.upsert_staff($1::text::uuid, '{loyalty:audit}', p_correlation_id => 'HR-3')",
        &[&auditor],
    )
    .unwrap();
    c.batch_execute("SELECT loyalty.configure(p_redemption_approval_points => 100, p_correlation_id => 'CFG-1')")
        .unwrap();
    // manual rewards both ways
    c.query_one(
        REWARD,
        &[
            &p1,
            &5000i64,
            &"welcome to the club",
            &awarder,
            &None::<String>,
        ],
    )
    .unwrap();
    c.query_one(
        REWARD,
        &[
            &p1,
            &-100i64,
            &"duplicate clawback",
            &awarder,
            &None::<String>,
        ],
    )
    .unwrap();
    // a held slip approved, another rejected, a small one paid at once (not listed)
    let slip = |c: &mut Client, player: &str, bet: i32, ago: &str| -> String {
        let id: String = c
            .query_one(
                "SELECT id::text FROM loyalty.open_rating_slip($1::text::uuid, 'BLACKJACK', $2::int::numeric,
                        p_start_time => now() - $3::text::interval, p_staff_id => $4::text::uuid)",
                &[&player, &bet, &ago, &FLOOR],
            )
            .unwrap()
            .get(0);
        c.query_one(
            "SELECT status FROM loyalty.complete_rating_slip($1::text::uuid, p_staff_id => $2::text::uuid)",
            &[&id, &FLOOR],
        )
        .unwrap();
        id
    };
    let approved = slip(&mut c, &p2, 5000, "2 hours");
    c.query_one(
        "SELECT * FROM loyalty.approve_slip($1::text::uuid, p_staff_id => $2::text::uuid)",
        &[&approved, &APPROVER],
    )
    .unwrap();
    let paid: i64 = c
        .query_one(
            "SELECT points_change FROM loyalty.loyalty_ledger WHERE rating_slip_id = $1::text::uuid",
            &[&approved],
        )
        .unwrap()
        .get(0);
    let rejected = slip(&mut c, &p3, 5000, "2 hours");
    c.query_one(
        "SELECT * FROM loyalty.reject_slip($1::text::uuid, 'bet not confirmed on camera', p_staff_id => $2::text::uuid)",
        &[&rejected, &APPROVER],
    )
    .unwrap();
    slip(&mut c, &p1, 25, "1 hour");
    // a comp within the threshold (not listed), reversed (listed); one above it, approved (listed)
    let small: i64 = c
        .query_one(
            "SELECT ledger_entry_id FROM loyalty.redeem_points($1::text::uuid, 50, 'bar', 'a round of drinks',
                    $2::text::uuid)",
            &[&p1, &cashier],
        )
        .unwrap()
        .get(0);
    c.query_one(
        "SELECT * FROM loyalty.reverse_redemption($1, 'moved to a cash charge', $2::text::uuid)",
        &[&small, &approver],
    )
    .unwrap();
    let big: String = c
        .query_one(
            "SELECT hold_id::text FROM loyalty.hold_points($1::text::uuid, 500, 'hotel', 'one night suite', $2::text::uuid)",
            &[&p1, &cashier],
        )
        .unwrap()
        .get(0);
    c.query_one(
        "SELECT * FROM loyalty.approve_hold($1::text::uuid, $2::text::uuid)",
        &[&big, &approver],
    )
    .unwrap();
    c.query_one(
        "SELECT * FROM loyalty.capture_hold($1::text::uuid, p_staff_id => $2::text::uuid)",
        &[&big, &cashier],
    )
    .unwrap();
    // one approved above the threshold, then voided: nothing moved (listed at 0)
    let voided: String = c
        .query_one(
            "SELECT hold_id::text FROM loyalty.hold_points($1::text::uuid, 400, 'spa', 'massage for two', $2::text::uuid)",
            &[&p1, &cashier],
        )
        .unwrap()
        .get(0);
    c.query_one(
        "SELECT * FROM loyalty.approve_hold($1::text::uuid, $2::text::uuid)",
        &[&voided, &approver],
    )
    .unwrap();
    c.query_one(
        "SELECT * FROM loyalty.void_hold($1::text::uuid, 'guest left early', $2::text::uuid)",
        &[&voided, &cashier],
    )
    .unwrap();
    // a trusted back end moves points directly: the primitive's own entry
    c.query_one(
        "SELECT * FROM loyalty.increment_player_loyalty($1::text::uuid, 7, 'direct')",
        &[&p3],
    )
    .unwrap();
    // drift behind the write path's back (a superuser), repaired in the open
    c.execute(
        "UPDATE loyalty.player_loyalty SET current_balance = current_balance + 7 WHERE player_id = $1::text::uuid",
        &[&p3],
    )
    .unwrap();
    c.query_one(
        "SELECT * FROM loyalty.rebuild_player_balance($1::text::uuid, 'TICKET-5', 'points moved by hand, found by health')",
        &[&p3],
    )
    .unwrap();

    let report = |c: &mut Client, role: &str, sub: Option<&str>, days: &str| {
        as_role(c, role, sub, |tx| {
            tx.query(
                &format!(
                    "SELECT event, player_id::text, initiator, approver, amount, reason
                       FROM loyalty.exception_report({days}) ORDER BY at, event"
                ),
                &[],
            )
            .map(|rows| {
                rows.iter()
                    .map(|r| {
                        let line: Line =
                            (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5));
                        line
                    })
                    .collect::<Vec<_>>()
            })
        })
    };
    // the days as the owner reads them (callers need no grant on gaming_day)
    let day: String = c
        .query_one("SELECT loyalty.gaming_day(now())::text", &[])
        .unwrap()
        .get(0);
    let today = format!("'{day}'::date, '{day}'::date");
    let today = today.as_str();
    let rows = report(&mut c, "authenticated", Some(&auditor), today).unwrap();
    let s = |v: &str| Some(v.to_string());
    let none: Option<String> = None;
    assert_eq!(
        rows,
        vec![
            (
                "ADMIN_UPSERT_STAFF".into(),
                none.clone(),
                s("postgres"),
                none.clone(),
                None,
                none.clone()
            ),
            (
                "ADMIN_CONFIGURE".into(),
                none.clone(),
                s("postgres"),
                none.clone(),
                None,
                none.clone()
            ),
            (
                "MANUAL_BONUS".into(),
                s(&p1),
                s(&awarder),
                none.clone(),
                Some(5000),
                s("welcome to the club")
            ),
            (
                "ADJUSTMENT".into(),
                s(&p1),
                s(&awarder),
                none.clone(),
                Some(-100),
                s("duplicate clawback")
            ),
            (
                "SLIP_APPROVED".into(),
                s(&p2),
                s(FLOOR),
                s(APPROVER),
                Some(paid),
                none.clone()
            ),
            (
                "SLIP_REJECTED".into(),
                s(&p3),
                s(FLOOR),
                s(APPROVER),
                None,
                s("bet not confirmed on camera")
            ),
            (
                "REDEMPTION_REVERSAL".into(),
                s(&p1),
                s(&approver),
                none.clone(),
                Some(50),
                s("moved to a cash charge")
            ),
            (
                "HOLD_APPROVED".into(),
                s(&p1),
                s(&cashier),
                s(&approver),
                Some(-500),
                s("one night suite")
            ),
            (
                "REDEMPTION".into(),
                s(&p1),
                s(&cashier),
                s(&approver),
                Some(-500),
                s("one night suite")
            ),
            (
                "HOLD_APPROVED".into(),
                s(&p1),
                s(&cashier),
                s(&approver),
                Some(0),
                s("massage for two")
            ),
            (
                "DIRECT_INCREMENT".into(),
                s(&p3),
                s("increment_player_loyalty by postgres"),
                none.clone(),
                Some(7),
                none.clone()
            ),
            (
                "RECONCILIATION".into(),
                s(&p3),
                s("rebuild_player_balance by postgres"),
                none.clone(),
                Some(-7),
                s("points moved by hand, found by health")
            ),
        ]
    );
    let yesterday = format!("'{day}'::date - 1, '{day}'::date - 1");
    let yesterday = yesterday.as_str();
    assert_eq!(
        report(&mut c, "authenticated", Some(&auditor), yesterday).unwrap(),
        vec![]
    );
    // only auditors and trusted back ends
    let code = |r: Result<Vec<_>, postgres::Error>| {
        r.map(|v| v.len().to_string())
            .unwrap_or_else(|e| sqlstate(&e).1)
    };
    assert_eq!(
        code(report(&mut c, "authenticated", Some(&awarder), today)),
        "FORBIDDEN"
    );
    assert_eq!(
        code(report(&mut c, "authenticated", Some(&approver), today)),
        "FORBIDDEN"
    );
    assert_eq!(
        code(report(&mut c, "authenticated", Some(&p1), today)),
        "FORBIDDEN"
    );
    assert_eq!(code(report(&mut c, "service_role", None, today)), "12");
    assert_eq!(
        code(report(
            &mut c,
            "authenticated",
            Some(&auditor),
            &format!("'{day}'::date, '{day}'::date - 1")
        )),
        "VALIDATION_ERROR"
    );
    drop(c);
    connect("postgres")
        .batch_execute(&format!("DROP DATABASE {db} WITH (FORCE)"))
        .unwrap();
}
