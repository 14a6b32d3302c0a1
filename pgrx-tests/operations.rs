// Operations: the write path's gaming day, the admin API's refusals.

/// The write path's cached gaming day (src/ledger/casino.rs) agrees with
/// loyalty.gaming_day() in SQL across time zones, odd offsets, DST changes
/// and day starts, and follows every config change at once (the cache is
/// invalidated by the config trigger within the same transaction).
#[pg_test]
fn operations_gaming_day_matches_sql_everywhere() {
    let zones = [
        "UTC",
        "America/Los_Angeles",
        "Australia/Lord_Howe",
        "Asia/Kathmandu",
        "Pacific/Kiritimati",
        "America/St_Johns",
    ];
    let starts = ["00:00", "06:00", "23:30"];
    let mut checked = 0;
    for zone in zones {
        for start in starts {
            Spi::run_with_args(
                "UPDATE loyalty.config SET casino_timezone = $1, gaming_day_start = $2::time",
                &[zone.into(), start.into()],
            )
            .unwrap();
            let instants: Vec<(pgrx::datum::TimestampWithTimeZone, String)> = Spi::connect(|c| {
                c.select(
                    "SELECT t, to_char(loyalty.gaming_day(t), 'YYYY-MM-DD')
                       FROM generate_series(timestamptz '2026-03-07 00:00+00', '2026-03-10 00:00+00',
                                            interval '17 minutes') t
                     UNION ALL
                     SELECT t, to_char(loyalty.gaming_day(t), 'YYYY-MM-DD')
                       FROM generate_series(timestamptz '2026-10-31 00:00+00', '2026-11-03 00:00+00',
                                            interval '17 minutes') t
                     UNION ALL
                     SELECT t, to_char(loyalty.gaming_day(t), 'YYYY-MM-DD')
                       FROM (VALUES (timestamptz '1999-12-31 23:59:59.999999+00'),
                                    ('2000-01-01 00:00+00'), ('2400-02-29 12:00+00'),
                                    ('1900-03-01 05:00+00')) v(t)",
                    None,
                    &[],
                )
                .unwrap()
                .map(|r| (r.get(1).unwrap().unwrap(), r.get(2).unwrap().unwrap()))
                .collect()
            });
            for (t, want) in instants {
                let got = Spi::connect(|c| {
                    crate::ledger::casino::gaming_day(c, pgrx::pg_sys::TimestampTz::from(t))
                })
                .unwrap();
                assert_eq!(got, want, "{zone} {start} {t:?}");
                checked += 1;
            }
        }
    }
    assert!(checked > 18 * 500, "{checked}");
}

/// The admin API refuses what the tables' constraints refuse, as
/// VALIDATION_ERROR, and writes no audit row for it.
#[pg_test]
fn operations_admin_refusals_leave_no_audit() {
    for sql in [
        "SELECT loyalty.upsert_staff('00000000-0000-4000-8000-000000000001', '{loyalty:everything}')",
        "SELECT loyalty.upsert_game_settings('NEWGAME', p_house_edge => 1)",
        "SELECT loyalty.upsert_game_settings('BLACKJACK', p_house_edge => 150)",
        "SELECT loyalty.upsert_game_settings('BLACKJACK', p_max_average_bet => 999999999999)",
        "SELECT loyalty.upsert_tier('lower case', 5)",
        "SELECT loyalty.upsert_tier('DIAMOND', 10000)",
        "SELECT loyalty.configure(p_casino_timezone => 'Mars/Olympus_Mons')",
        "SELECT loyalty.configure(p_rate_limit_count => 0)",
        "SELECT loyalty.delete_tier('NOSUCH')",
    ] {
        assert_eq!(outcome(sql), "PT422 VALIDATION_ERROR", "{sql}");
    }
    Spi::run("DELETE FROM loyalty.tier WHERE tier <> 'BRONZE'").unwrap();
    assert_eq!(
        outcome("SELECT loyalty.delete_tier('BRONZE')"),
        "PT422 VALIDATION_ERROR"
    );
    assert_eq!(one::<i64>("SELECT count(*) FROM loyalty.admin_audit"), 0);
    // and what it accepts is audited with before and after
    Spi::run("SELECT loyalty.upsert_tier('SILVER', 5000, 'ticket-1')").unwrap();
    assert_eq!(
        one::<String>(
            "SELECT format('%s %s %s %s', action, target, before IS NULL, after->>'threshold_points')
               FROM loyalty.admin_audit WHERE correlation_id = 'ticket-1'"
        ),
        "upsert_tier tier:SILVER t 5000"
    );
}
