// manual_reward and its key, called as the owner (a trusted back end acting
// for p_staff_id). Role-based calls are client tests (tests/client/rewards.rs).

fn staff(id: &str, perms: &str, active: bool) {
    Spi::run(&format!(
        "INSERT INTO loyalty.staff (staff_id, permissions, active) VALUES ('{id}', '{perms}', {active})"
    ))
    .unwrap();
}

fn reward(
    player: &str,
    points: i64,
    reason: &str,
    staff_id: &str,
    reward_id: Option<&str>,
) -> String {
    let rid = reward_id.map_or("NULL".to_string(), |r| format!("'{r}'"));
    one::<String>(&format!(
        "SELECT format('%s %s %s->%s %s %s', transaction_type, points_change, balance_before, balance_after,
                idempotent_hit, row_locked)
           FROM loyalty.manual_reward('{player}', {points}, '{reason}', '{staff_id}', NULL, {rid})"
    ))
}

const S1: &str = "5a000000-0000-4000-8000-000000000001";

#[pg_test]
fn reward_bonus_and_adjustment_are_ledgered() {
    let p = "5b000000-0000-4000-8000-000000000001";
    staff(S1, "{loyalty:award}", true);
    assert_eq!(
        reward(p, 500, "welcome back bonus", S1, None),
        "MANUAL_BONUS 500 0->500 f t"
    );
    assert_eq!(
        reward(p, -200, "correction of a bad slip", S1, None),
        "ADJUSTMENT -200 500->300 f t"
    );
    assert_eq!(
        one::<String>(&format!(
            "SELECT string_agg(format('%s %s %s %s %s', transaction_type, event_type, staff_id, source, reason), '; ' ORDER BY id)
               FROM loyalty.loyalty_ledger WHERE player_id = '{p}'"
        )),
        format!(
            "MANUAL_BONUS POINTS_UPDATE_REQUESTED {S1} manual_reward welcome back bonus; \
             ADJUSTMENT POINTS_UPDATE_REQUESTED {S1} manual_reward correction of a bad slip"
        )
    );
    // an adjustment below zero
    assert_eq!(
        outcome(&format!(
            "SELECT loyalty.manual_reward('{p}', -301, 'too big a correction', '{S1}')"
        )),
        "PT409 INSUFFICIENT_BALANCE"
    );
    assert_eq!(
        one::<i64>("SELECT count(*) FROM loyalty.verify_all_balances()"),
        0
    );
}

#[pg_test]
fn reward_same_inputs_same_gaming_day_once_next_day_twice() {
    let p = "5b000000-0000-4000-8000-000000000002";
    staff(S1, "{loyalty:award}", true);
    // Make "now" fall in the gaming day before the current local date
    // (the owner moves the day start past the current local time)...
    Spi::run("UPDATE loyalty.config SET gaming_day_start = ((now() AT TIME ZONE 'UTC')::time + interval '1 hour')::time WHERE (now() AT TIME ZONE 'UTC')::time < '22:00'").unwrap();
    Spi::run("UPDATE loyalty.config SET gaming_day_start = '23:59:59' WHERE (now() AT TIME ZONE 'UTC')::time >= '22:00'").unwrap();
    assert_eq!(
        reward(p, 100, "birthday bonus!", S1, None),
        "MANUAL_BONUS 100 0->100 f t"
    );
    assert_eq!(
        reward(p, 100, "birthday bonus!", S1, None),
        "MANUAL_BONUS 100 0->100 t t"
    );
    assert_eq!(
        one::<i64>(&format!(
            "SELECT count(*) FROM loyalty.loyalty_ledger WHERE player_id = '{p}'"
        )),
        1
    );
    // ...then to midnight: the same instant now belongs to the next gaming day
    Spi::run("UPDATE loyalty.config SET gaming_day_start = '00:00'").unwrap();
    assert_eq!(
        reward(p, 100, "birthday bonus!", S1, None),
        "MANUAL_BONUS 100 100->200 f t"
    );
    assert_eq!(
        one::<i64>(&format!(
            "SELECT count(*) FROM loyalty.loyalty_ledger WHERE player_id = '{p}'"
        )),
        2
    );
}

#[pg_test]
fn reward_external_id_conflicts_on_other_points() {
    let p = "5b000000-0000-4000-8000-000000000003";
    staff(S1, "{loyalty:award}", true);
    assert_eq!(
        reward(p, 250, "promo redemption", S1, Some("R-77")),
        "MANUAL_BONUS 250 0->250 f t"
    );
    assert_eq!(
        reward(p, 250, "a different reason", S1, Some("R-77")),
        "MANUAL_BONUS 250 0->250 t t"
    );
    assert_eq!(
        outcome(&format!(
            "SELECT loyalty.manual_reward('{p}', 300, 'promo redemption', '{S1}', NULL, 'R-77')"
        )),
        "PT409 IDEMPOTENCY_CONFLICT"
    );
    assert_eq!(
        one::<i64>(&format!(
            "SELECT current_balance FROM loyalty.player_loyalty WHERE player_id = '{p}'"
        )),
        250
    );
}

#[pg_test]
fn reward_rejections_in_spec_order() {
    let p = "5b000000-0000-4000-8000-000000000004";
    staff(S1, "{loyalty:award}", true);
    staff(
        "5a000000-0000-4000-8000-000000000002",
        "{loyalty:view_all}",
        true,
    );
    staff(
        "5a000000-0000-4000-8000-000000000003",
        "{loyalty:award}",
        false,
    );
    for (sql, want) in [
        (format!("SELECT loyalty.manual_reward('{p}', 10, 'long enough reason', NULL)"), "PT403 INVALID_STAFF_ID"),
        (
            format!("SELECT loyalty.manual_reward('{p}', 10, 'long enough reason', '5a000000-0000-4000-8000-000000000002')"),
            "PT403 FORBIDDEN",
        ),
        (
            format!("SELECT loyalty.manual_reward('{p}', 10, 'long enough reason', '5a000000-0000-4000-8000-000000000003')"),
            "PT403 FORBIDDEN",
        ),
        (
            format!("SELECT loyalty.manual_reward('{p}', 10, 'long enough reason', '5a000000-0000-4000-8000-000000000009')"),
            "PT403 FORBIDDEN",
        ),
        // limit is checked before the reason
        (format!("SELECT loyalty.manual_reward('{p}', 10001, 'short', '{S1}')"), "PT422 REWARD_EXCEEDS_LIMIT"),
        (format!("SELECT loyalty.manual_reward('{p}', -10001, 'long enough reason', '{S1}')"), "PT422 REWARD_EXCEEDS_LIMIT"),
        (
            format!("SELECT loyalty.manual_reward('{p}', -9223372036854775808, 'long enough reason', '{S1}')"),
            "PT422 REWARD_EXCEEDS_LIMIT",
        ),
        (format!("SELECT loyalty.manual_reward('{p}', 10, '123456789', '{S1}')"), "PT422 VALIDATION_ERROR"),
        (format!("SELECT loyalty.manual_reward('{p}', 10, '   12345678   ', '{S1}')"), "PT422 VALIDATION_ERROR"),
        (format!("SELECT loyalty.manual_reward('{p}', 10, NULL, '{S1}')"), "PT422 VALIDATION_ERROR"),
        (format!("SELECT loyalty.manual_reward('{p}', 10, repeat('x', 100000), '{S1}')"), "PT422 VALIDATION_ERROR"),
        (format!("SELECT loyalty.manual_reward('{p}', 0, 'long enough reason', '{S1}')"), "PT422 VALIDATION_ERROR"),
        (format!("SELECT loyalty.manual_reward('{p}', NULL, 'long enough reason', '{S1}')"), "PT422 VALIDATION_ERROR"),
        (format!("SELECT loyalty.manual_reward(NULL, 10, 'long enough reason', '{S1}')"), "PT422 VALIDATION_ERROR"),
        (
            format!("SELECT loyalty.manual_reward('{p}', 10, 'long enough reason', '{S1}', NULL, repeat('r', 201))"),
            "PT422 VALIDATION_ERROR",
        ),
        (
            format!("SELECT loyalty.manual_reward('{p}', 10, 'long enough reason', '{S1}', '00000000-0000-4000-8000-000000000000')"),
            "PT404 SLIP_NOT_FOUND",
        ),
    ] {
        assert_eq!(outcome(&sql), want, "{sql}");
    }
    assert_eq!(one::<i64>("SELECT count(*) FROM loyalty.loyalty_ledger"), 0);
    assert_eq!(one::<i64>("SELECT count(*) FROM loyalty.player_loyalty"), 0);
}

#[pg_test]
fn reward_rate_limit_eleventh_in_a_minute() {
    staff(S1, "{loyalty:award}", true);
    for i in 0..10 {
        let p = format!("5b000000-0000-4000-8000-0000000001{i:02}");
        assert_eq!(
            reward(&p, 5, "table games comp", S1, None),
            "MANUAL_BONUS 5 0->5 f t"
        );
    }
    assert_eq!(
        outcome(&format!(
            "SELECT loyalty.manual_reward('5b000000-0000-4000-8000-000000000199', 5, 'table games comp', '{S1}')"
        )),
        "PT429 RATE_LIMIT_EXCEEDED"
    );
    // a retry of an issued reward is still answered (idempotent), not limited
    assert_eq!(
        reward(
            "5b000000-0000-4000-8000-000000000100",
            5,
            "table games comp",
            S1,
            None
        ),
        "MANUAL_BONUS 5 0->5 t t"
    );
    assert_eq!(
        one::<i64>("SELECT count(*) FROM loyalty.loyalty_ledger"),
        10
    );
}

#[pg_test]
fn reward_alert_on_the_twenty_first_in_an_hour() {
    staff(S1, "{loyalty:award}", true);
    // 20 rewards earlier this hour (outside the 60 s rate-limit window)
    Spi::run(&format!(
        "INSERT INTO loyalty.loyalty_ledger (player_id, idempotency_key, transaction_type, event_type, points_change,
                balance_before, balance_after, tier_before, tier_after, correlation_id, staff_id, created_at,
                seq, prev_hash, row_hash)
         SELECT gen_random_uuid(), 'manual:old' || g, 'MANUAL_BONUS', 'POINTS_UPDATE_REQUESTED', 1, 0, 1,
                'BRONZE', 'BRONZE', 'old', '{S1}', now() - interval '30 minutes', 1, repeat('0', 64), repeat('0', 64)
           FROM generate_series(1, 20) g"
    ))
    .unwrap();
    reward(
        "5b000000-0000-4000-8000-000000000201",
        5,
        "table games comp",
        S1,
        None,
    );
    assert_eq!(
        one::<String>("SELECT format('%s %s %s', kind, staff_id, details->>'rewards_in_window') FROM loyalty.alert"),
        format!("MANUAL_REWARD_FREQUENCY {S1} 21")
    );
    reward(
        "5b000000-0000-4000-8000-000000000202",
        5,
        "table games comp",
        S1,
        None,
    );
    assert_eq!(one::<i64>("SELECT count(*) FROM loyalty.alert"), 1);
    assert_eq!(
        one::<String>(&format!(
            "SELECT string_agg(format('%s %s', rewards, points_total), ',')
               FROM loyalty.manual_reward_frequency(now() - interval '2 hours', now() + interval '1 minute', '1 day')
              WHERE staff_id = '{S1}'"
        )),
        "22 30"
    );
}

#[pg_test]
fn reward_key_buckets_by_gaming_day() {
    let k = |at: &str| {
        one::<String>(&format!(
            "SELECT loyalty.manual_reward_key('5b000000-0000-4000-8000-000000000001', '{S1}', 100, 'birthday bonus!',
                    NULL, '{at}')"
        ))
    };
    // gaming day starts 06:00 UTC by default: 03:00 on the 25th is the 24th
    assert_eq!(k("2026-11-25 03:00+00"), k("2026-11-24 10:00+00"));
    assert_ne!(k("2026-11-25 06:00+00"), k("2026-11-25 05:59:59+00"));
    assert!(k("2026-11-25 06:00+00").starts_with("manual:"));
    // with a reward id the key ignores everything else
    assert_eq!(
        one::<String>("SELECT loyalty.manual_reward_key(gen_random_uuid(), gen_random_uuid(), 1, 'x', 'R-1')"),
        one::<String>("SELECT loyalty.manual_reward_key(gen_random_uuid(), gen_random_uuid(), 2, 'y', 'R-1', now() + interval '9 days')")
    );
    // in the casino's time zone
    Spi::run("UPDATE loyalty.config SET casino_timezone = 'America/Los_Angeles'").unwrap();
    assert_eq!(k("2026-11-25 13:00+00"), k("2026-11-24 15:00+00")); // 05:00 on the 25th and 07:00 on the 24th PST: both the 24th
}

#[pg_test]
fn reward_replayed_adjustment_is_a_hit_after_the_balance_is_spent() {
    let p = "5b000000-0000-4000-8000-0000000000a1";
    staff(S1, "{loyalty:award}", true);
    assert_eq!(
        reward(p, 300, "welcome back bonus", S1, None),
        "MANUAL_BONUS 300 0->300 f t"
    );
    assert_eq!(
        reward(p, -300, "correction of a bad slip", S1, Some("ADJ-1")),
        "ADJUSTMENT -300 300->0 f t"
    );
    // the balance no longer covers -300, but this is the same request again
    assert_eq!(
        reward(p, -300, "correction of a bad slip", S1, Some("ADJ-1")),
        "ADJUSTMENT -300 300->0 t t"
    );
    assert_eq!(
        one::<i64>(&format!(
            "SELECT count(*) FROM loyalty.loyalty_ledger WHERE player_id = '{p}'"
        )),
        2
    );
    assert_eq!(
        one::<i64>(&format!(
            "SELECT current_balance FROM loyalty.player_loyalty WHERE player_id = '{p}'"
        )),
        0
    );
}
