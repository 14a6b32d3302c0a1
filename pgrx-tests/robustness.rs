// Robustness: what a client sees when the extension fails inside.

/// Test build only: a Rust panic inside a SQL function (the installed
/// extension has no such function).
#[pg_extern]
fn panic_probe() -> i32 {
    let empty: Vec<i32> = Vec::new();
    empty[std::hint::black_box(3)]
}

/// scripts/test.sh starts every server with RUST_BACKTRACE=1, the hostile
/// case: pgrx would append the captured backtrace to the panic's DETAIL.
#[pg_test]
fn robustness_no_backtrace_reaches_the_client() {
    floor_staff();
    assert_eq!(
        std::env::var("RUST_BACKTRACE").as_deref(),
        Ok("1"),
        "the test server must run with RUST_BACKTRACE=1 (scripts/test.sh exports it)"
    );
    Spi::run(
        "CREATE OR REPLACE FUNCTION pg_temp.error_of(q text) RETURNS text LANGUAGE plpgsql AS $f$
         DECLARE d text; m text; s text;
         BEGIN
             EXECUTE q;
             RETURN 'OK';
         EXCEPTION WHEN OTHERS THEN
             GET STACKED DIAGNOSTICS s = RETURNED_SQLSTATE, m = MESSAGE_TEXT, d = PG_EXCEPTION_DETAIL;
             RETURN s || ' ' || m || ' | ' || coalesce(d, '');
         END $f$",
    )
    .unwrap();
    let seen = one::<String>("SELECT pg_temp.error_of('SELECT tests.panic_probe()')");
    assert!(seen.starts_with("XX000 "), "{seen}");
    for trace in ["backtrace", "rust_begin_unwind", "panicking.rs", "  at "] {
        assert!(
            !seen.contains(trace),
            "a backtrace reached the client: {seen}"
        );
    }
}

#[pg_test]
fn robustness_infinite_times_are_refused_everywhere() {
    floor_staff();
    assert_eq!(
        outcome(
            "SELECT loyalty.manual_reward_key(gen_random_uuid(), gen_random_uuid(), 5, 'a long enough reason',
                    p_at => '-infinity')"
        ),
        "PT422 VALIDATION_ERROR"
    );
    assert_eq!(
        outcome(
            "SELECT loyalty.open_rating_slip(gen_random_uuid(), 'BLACKJACK', 25, p_start_time => '-infinity', p_staff_id => '00000000-0000-4000-8000-00000000f100')"
        ),
        "PT422 VALIDATION_ERROR"
    );
    // and no write can store one: every timestamp column is a finite_timestamptz
    assert_eq!(
        outcome("UPDATE loyalty.config SET updated_at = 'infinity'"),
        "23514 value for domain loyalty.finite_timestamptz violates check constraint \"finite_timestamptz_check\""
    );
    assert!(
        outcome("INSERT INTO loyalty.alert (kind, created_at) VALUES ('TEST', '-infinity')")
            .starts_with("23514 ")
    );
    assert_eq!(
        one::<String>(
            "SELECT coalesce(string_agg(c.relname || '.' || a.attname, ', '), 'none')
               FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
               JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname = 'loyalty' AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
                AND a.atttypid IN ('timestamptz'::regtype, 'timestamp'::regtype)"
        ),
        "none",
        "a timestamp column that is not a loyalty.finite_timestamptz"
    );
}
