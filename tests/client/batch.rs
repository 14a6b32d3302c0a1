//! complete_rating_slips: a whole table in one call (docs/reference.md §3).
//! Per-element answers, per-slip isolation, atomic mode, the same rules as
//! single completions, and no deadlock between overlapping batches and
//! single calls.

use casino_loyalty_client_tests::*;
use postgres::Client;
use std::thread;

const BATCH: &str = "SELECT ordinal, slip_id::text, status, points_earned, error_code
                       FROM loyalty.complete_rating_slips($1::text[]::uuid[], p_atomic => $2, p_staff_id => coalesce(loyalty.caller_uid(), '00000000-0000-4000-8000-00000000f100'))";

type Row = (i32, Option<String>, String, Option<i64>, Option<String>);

fn batch(c: &mut Client, ids: &[&str], atomic: bool) -> Result<Vec<Row>, postgres::Error> {
    let ids: Vec<Option<String>> = ids
        .iter()
        .map(|s| (!s.is_empty()).then(|| s.to_string()))
        .collect();
    Ok(c.query(BATCH, &[&ids, &atomic])?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
        .collect())
}

fn row(n: i32, id: &str, status: &str, points: Option<i64>, code: Option<&str>) -> Row {
    (
        n,
        (!id.is_empty()).then(|| id.to_string()),
        status.into(),
        points,
        code.map(str::to_string),
    )
}

#[test]
fn a_table_closes_in_one_call_with_an_answer_per_element() {
    let db = fresh_db("batch");
    let mut c = connect(&db);
    let players: Vec<String> = (0..4).map(|_| new_uuid()).collect();
    let slips: Vec<String> = players.iter().map(|p| open_slip(&mut c, p)).collect();
    // one already closed, one held for approval, one unknown, one duplicate, one NULL
    c.query_one(
        "SELECT status FROM loyalty.complete_rating_slip($1::text::uuid, p_staff_id => coalesce(loyalty.caller_uid(), '00000000-0000-4000-8000-00000000f100'))",
        &[&slips[3]],
    )
    .unwrap();
    let held_player = new_uuid();
    c.batch_execute("UPDATE loyalty.game_settings SET approval_threshold_points = 10 WHERE game_type = 'BACCARAT'")
        .unwrap();
    let held: String = c
        .query_one(
            "SELECT id::text FROM loyalty.open_rating_slip($1::text::uuid, 'BACCARAT', 25, NULL, NULL,
                    now() - interval '1 hour', p_staff_id => coalesce(loyalty.caller_uid(), '00000000-0000-4000-8000-00000000f100'))",
            &[&held_player],
        )
        .unwrap()
        .get(0);
    let unknown = new_uuid();
    let got = batch(
        &mut c,
        &[
            &slips[0], &slips[1], &slips[0], &unknown, &slips[3], &held, "", &slips[2],
        ],
        false,
    )
    .unwrap();
    assert_eq!(
        got,
        vec![
            row(1, &slips[0], "COMPLETED", Some(350), None),
            row(2, &slips[1], "COMPLETED", Some(350), None),
            row(3, &slips[0], "DUPLICATE", None, None),
            row(4, &unknown, "REFUSED", None, Some("SLIP_NOT_FOUND")),
            row(5, &slips[3], "ALREADY_COMPLETED", Some(350), None),
            row(6, &held, "HELD_FOR_APPROVAL", None, None),
            row(7, "", "REFUSED", None, Some("VALIDATION_ERROR")),
            row(8, &slips[2], "COMPLETED", Some(350), None),
        ]
    );
    for s in &slips {
        assert_eq!(gameplay_rows(&mut c, s), 1);
    }
    // again: nothing new
    let again = batch(&mut c, &[&slips[0], &slips[1]], false).unwrap();
    assert!(again.iter().all(|r| r.2 == "ALREADY_COMPLETED"));
    let bad: i64 = c
        .query_one("SELECT count(*) FROM loyalty.verify_all_balances()", &[])
        .unwrap()
        .get(0);
    assert_eq!(bad, 0);
}

#[test]
fn one_slips_failure_is_that_slips_row_unless_atomic() {
    let db = fresh_db("batch_fail");
    let mut c = connect(&db);
    let (p1, p2) = (new_uuid(), new_uuid());
    let (s1, s2) = (open_slip(&mut c, &p1), open_slip(&mut c, &p2));
    // p2's ledger entries fail for real (a trigger raising for that player)
    c.batch_execute(&format!(
        "CREATE FUNCTION public.boom_one() RETURNS trigger LANGUAGE plpgsql AS
             $$ BEGIN IF NEW.player_id = '{p2}' THEN
                  RAISE EXCEPTION USING MESSAGE = 'ledger is down', ERRCODE = 'XX001'; END IF;
                RETURN NEW; END $$;
         CREATE TRIGGER test_boom_one BEFORE INSERT ON loyalty.loyalty_ledger
             FOR EACH ROW EXECUTE FUNCTION public.boom_one();"
    ))
    .unwrap();
    // atomic: the whole call fails, nothing changes
    let e = batch(&mut c, &[&s1, &s2], true).unwrap_err();
    assert_eq!(sqlstate(&e).0, "XX001");
    assert_eq!(slip_status(&mut c, &s1), "OPEN");
    assert_eq!(slip_status(&mut c, &s2), "OPEN");
    // not atomic: s1 is paid, s2 closes as a partial completion
    let got = batch(&mut c, &[&s1, &s2], false).unwrap();
    assert_eq!(
        got,
        vec![
            row(1, &s1, "COMPLETED", Some(350), None),
            row(2, &s2, "PARTIAL_COMPLETION", None, Some("XX001")),
        ]
    );
    assert_eq!(gameplay_rows(&mut c, &s1), 1);
    assert_eq!(gameplay_rows(&mut c, &s2), 0);
    let owed: i64 = c
        .query_one(
            "SELECT count(*) FROM loyalty.pending_accrual WHERE rating_slip_id = $1::text::uuid AND resolved_at IS NULL",
            &[&s2],
        )
        .unwrap()
        .get(0);
    assert_eq!(owed, 1);
    // an unknown id in an atomic batch fails it, naming the element
    let e = batch(&mut c, &[&new_uuid()], true).unwrap_err();
    assert_eq!(sqlstate(&e), ("PT404".into(), "SLIP_NOT_FOUND".into()));
}

#[test]
fn the_same_rules_apply_per_slip() {
    let db = fresh_db("batch_rules");
    let mut c = connect(&db);
    let (rater, award_only, other) = (new_uuid(), new_uuid(), new_uuid());
    add_staff(&mut c, &rater, &["loyalty:rate"], true);
    add_staff(&mut c, &award_only, &["loyalty:award"], true);
    let theirs = open_slip(&mut c, &other);
    // the rater's own play, opened by the owner
    let own = open_slip(&mut c, &rater);
    let as_staff = |c: &mut Client, who: &str, ids: Vec<String>| {
        as_role(c, "authenticated", Some(who), |tx| {
            tx.query(
                "SELECT status, error_code FROM loyalty.complete_rating_slips($1::text[]::uuid[], p_staff_id => coalesce(loyalty.caller_uid(), '00000000-0000-4000-8000-00000000f100'))",
                &[&ids],
            )
        })
        .map(|rows| {
            rows.iter()
                .map(|r| (r.get::<_, String>(0), r.get::<_, Option<String>>(1)))
                .collect::<Vec<_>>()
        })
        .map_err(|e| sqlstate(&e))
    };
    assert_eq!(
        as_staff(&mut c, &award_only, vec![theirs.clone()]),
        Err(("PT403".into(), "FORBIDDEN".into()))
    );
    assert_eq!(
        as_role(&mut c, "anon", None, |tx| tx
            .query("SELECT * FROM loyalty.complete_rating_slips('{}', p_staff_id => coalesce(loyalty.caller_uid(), '00000000-0000-4000-8000-00000000f100'))", &[]))
        .map_err(|e| sqlstate(&e).0)
        .err(),
        Some("42501".into())
    );
    assert_eq!(
        as_staff(&mut c, &rater, vec![own.clone(), theirs.clone()]),
        Ok(vec![
            ("REFUSED".into(), Some("FORBIDDEN".into())),
            ("COMPLETED".into(), None)
        ])
    );
    assert_eq!(slip_status(&mut c, &own), "OPEN");
    let too_many: Vec<String> = (0..1001).map(|_| new_uuid()).collect();
    assert_eq!(
        as_staff(&mut c, &rater, too_many),
        Err(("PT422".into(), "VALIDATION_ERROR".into()))
    );
}

/// Overlapping batches in opposite orders and single calls on the same
/// slips and players, at once: no deadlock, every slip paid exactly once.
#[test]
fn overlapping_batches_and_single_calls_never_deadlock() {
    let db = fresh_db("batch_race");
    let mut c = connect(&db);
    for round in 0..20 {
        // one open slip per player (one seat), so eight players
        let players: Vec<String> = (0..8).map(|_| new_uuid()).collect();
        let slips: Vec<String> = players.iter().map(|p| open_slip(&mut c, p)).collect();
        let forward: Vec<String> = slips.clone();
        let backward: Vec<String> = slips.iter().rev().cloned().collect();
        let middle: Vec<String> = slips[2..6].to_vec();
        let mut handles = Vec::new();
        for ids in [forward, backward, middle] {
            let db = db.clone();
            handles.push(thread::spawn(move || {
                let mut c = connect(&db);
                let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
                batch(&mut c, &refs, false).map_err(|e| sqlstate(&e))
            }));
        }
        for s in [slips[0].clone(), slips[7].clone(), slips[4].clone()] {
            let db = db.clone();
            handles.push(thread::spawn(move || {
                let mut c = connect(&db);
                c.query_one(
                    "SELECT status FROM loyalty.complete_rating_slip($1::text::uuid, p_staff_id => coalesce(loyalty.caller_uid(), '00000000-0000-4000-8000-00000000f100'))",
                    &[&s],
                )
                .map(|r| vec![(0, Some(s.clone()), r.get(0), None, None)])
                .map_err(|e| sqlstate(&e))
            }));
        }
        for h in handles {
            let r = h.join().unwrap();
            assert!(r.is_ok(), "round {round}: {r:?}");
            for (_, _, status, _, code) in r.unwrap() {
                assert!(
                    ["COMPLETED", "ALREADY_COMPLETED"].contains(&status.as_str()),
                    "round {round}: {status} {code:?}"
                );
            }
        }
        for s in &slips {
            assert_eq!(gameplay_rows(&mut c, s), 1, "round {round}: {s} paid once");
        }
    }
    let bad: i64 = c
        .query_one("SELECT count(*) FROM loyalty.verify_all_balances()", &[])
        .unwrap()
        .get(0);
    assert_eq!(bad, 0);
}
