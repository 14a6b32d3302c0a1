//! Robustness under hostile input: refused calls keep no memory.

use casino_loyalty_client_tests::*;

/// Resident memory of a backend, in kB, read from /proc.
fn rss_kb(pid: i32) -> i64 {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read backend status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/<pid>/status")
}

/// 2,000 refused calls with a 100,000-digit bet, each caught in PL/pgSQL
/// (one backend, one statement), then 300 as separate statements (what RPCs
/// over a pooled connection send): the backend grows by less than 5 MB.
/// Before the fix, each refusal kept its 100 kB DETAIL: about 200 MB.
#[test]
fn refused_calls_keep_no_memory() {
    let mut c = shared_db();
    let pid: i32 = c.query_one("SELECT pg_backend_pid()", &[]).unwrap().get(0);
    // n refused calls, each caught in PL/pgSQL; how many were refused
    let refuse_in_loop = |c: &mut postgres::Client, n: i32| -> i32 {
        c.batch_execute(&format!(
            "DO $$
             DECLARE refused int := 0;
             BEGIN
                 FOR i IN 1..{n} LOOP
                     BEGIN
                         PERFORM loyalty.calculate_points('BLACKJACK', repeat('9', 100000)::numeric, 60);
                     EXCEPTION WHEN SQLSTATE 'PT422' THEN
                         refused := refused + 1;
                     END;
                 END LOOP;
                 PERFORM set_config('loyalty_test.refused', refused::text, false);
             END $$"
        ))
        .unwrap();
        c.query_one("SELECT current_setting('loyalty_test.refused')::int", &[])
            .unwrap()
            .get(0)
    };
    assert_eq!(
        refuse_in_loop(&mut c, 50),
        50,
        "warm-up: every call refused"
    );
    let before = rss_kb(pid);
    assert_eq!(refuse_in_loop(&mut c, 2000), 2000);
    let grown = rss_kb(pid) - before;
    assert!(
        grown < 5 * 1024,
        "2,000 refusals in one statement: backend grew by {grown} kB"
    );
    for _ in 0..300 {
        let e = c
            .query_one(
                "SELECT loyalty.calculate_points('BLACKJACK', repeat('9', 100000)::numeric, 60)",
                &[],
            )
            .unwrap_err();
        let (state, _) = sqlstate(&e);
        assert_eq!(state, "PT422");
        // DETAIL repeats at most a 64-character prefix of the input
        let detail = e
            .as_db_error()
            .and_then(|d| d.detail())
            .unwrap_or_default()
            .to_string();
        assert!(detail.len() < 200, "{} bytes of DETAIL", detail.len());
    }
    let grown = rss_kb(pid) - before;
    assert!(
        grown < 5 * 1024,
        "and 300 statements: backend grew by {grown} kB"
    );
}
