// increment_player_loyalty: creation, tiers, progress, refusals.

const P: &str = "'11111111-1111-1111-1111-111111111111'::uuid";

fn inc(delta: &str) -> String {
    one::<String>(&format!(
        "SELECT format('%s->%s %s->%s %s%% life=%s locked=%s', balance_before, balance_after, tier_before,
                tier_after, tier_progress, lifetime_points, row_locked)
           FROM loyalty.increment_player_loyalty({P}, {delta})"
    ))
}

fn balance() -> String {
    one::<String>(&format!(
        "SELECT format('%s %s %s %s', current_balance, lifetime_points, tier, tier_progress)
           FROM loyalty.player_loyalty WHERE player_id = {P}"
    ))
}

#[pg_test]
fn increment_creates_player_at_bronze() {
    assert_eq!(inc("0"), "0->0 BRONZE->BRONZE 0% life=0 locked=t");
    assert_eq!(balance(), "0 0 BRONZE 0");
    assert_eq!(inc("100"), "0->100 BRONZE->BRONZE 1% life=100 locked=t");
}

#[pg_test]
fn increment_tier_boundaries() {
    assert_eq!(
        inc("9999"),
        "0->9999 BRONZE->BRONZE 100% life=9999 locked=t"
    );
    assert_eq!(
        inc("1"),
        "9999->10000 BRONZE->SILVER 0% life=10000 locked=t"
    );
    assert_eq!(
        inc("39999"),
        "10000->49999 SILVER->SILVER 100% life=49999 locked=t"
    );
    assert_eq!(inc("1"), "49999->50000 SILVER->GOLD 0% life=50000 locked=t");
    assert_eq!(
        inc("25000"),
        "50000->75000 GOLD->GOLD 50% life=75000 locked=t"
    );
    assert_eq!(
        inc("24999"),
        "75000->99999 GOLD->GOLD 100% life=99999 locked=t"
    );
    assert_eq!(
        inc("1"),
        "99999->100000 GOLD->PLATINUM 100% life=100000 locked=t"
    );
    assert_eq!(
        inc("5000000"),
        "100000->5100000 PLATINUM->PLATINUM 100% life=5100000 locked=t"
    );
}

#[pg_test]
fn increment_negative_spends_without_dropping_tier() {
    assert_eq!(
        inc("12000"),
        "0->12000 BRONZE->SILVER 5% life=12000 locked=t"
    );
    assert_eq!(
        inc("-11000"),
        "12000->1000 SILVER->SILVER 5% life=12000 locked=t"
    );
    assert_eq!(balance(), "1000 12000 SILVER 5");
}

#[pg_test]
fn increment_refuses_going_below_zero() {
    inc("50");
    assert_eq!(
        outcome(&format!(
            "SELECT loyalty.increment_player_loyalty({P}, -51)"
        )),
        "PT409 INSUFFICIENT_BALANCE"
    );
    assert_eq!(balance(), "50 50 BRONZE 1");
    // a new player cannot start negative, and is not created by the refusal
    assert_eq!(
        outcome(
            "SELECT loyalty.increment_player_loyalty('22222222-2222-2222-2222-222222222222', -1)"
        ),
        "PT409 INSUFFICIENT_BALANCE"
    );
    assert_eq!(one::<i64>("SELECT count(*) FROM loyalty.player_loyalty"), 1);
}

#[pg_test]
fn increment_refuses_overflow() {
    inc("10");
    assert_eq!(
        outcome(&format!(
            "SELECT loyalty.increment_player_loyalty({P}, 9223372036854775807)"
        )),
        "PT422 VALIDATION_ERROR"
    );
    assert_eq!(
        outcome(&format!(
            "SELECT loyalty.increment_player_loyalty({P}, -9223372036854775808)"
        )),
        "PT409 INSUFFICIENT_BALANCE"
    );
    assert_eq!(balance(), "10 10 BRONZE 0");
}

#[pg_test]
fn increment_refuses_nulls_and_bad_correlation_ids() {
    assert_eq!(
        outcome("SELECT loyalty.increment_player_loyalty(NULL, 5)"),
        "PT422 VALIDATION_ERROR"
    );
    assert_eq!(
        outcome(&format!(
            "SELECT loyalty.increment_player_loyalty({P}, NULL)"
        )),
        "PT422 VALIDATION_ERROR"
    );
    assert_eq!(
        outcome(&format!(
            "SELECT loyalty.increment_player_loyalty({P}, 5, repeat('x', 129))"
        )),
        "PT422 VALIDATION_ERROR"
    );
    assert_eq!(
        outcome(&format!(
            "SELECT loyalty.increment_player_loyalty({P}, 5, E'a\\nb')"
        )),
        "PT422 VALIDATION_ERROR"
    );
    assert_eq!(one::<i64>("SELECT count(*) FROM loyalty.player_loyalty"), 0);
}

#[pg_test]
fn increment_returns_the_correlation_id() {
    assert_eq!(
        one::<String>(&format!(
            "SELECT correlation_id FROM loyalty.increment_player_loyalty({P}, 1, 'req-7')"
        )),
        "req-7"
    );
    Spi::run("SET LOCAL loyalty.correlation_id = 'from-setting'").unwrap();
    assert_eq!(
        one::<String>(&format!(
            "SELECT correlation_id FROM loyalty.increment_player_loyalty({P}, 1)"
        )),
        "from-setting"
    );
    Spi::run("SET LOCAL loyalty.correlation_id = ''").unwrap();
    Spi::run(r#"SET LOCAL request.headers = '{"x-correlation-id": "from-header"}'"#).unwrap();
    assert_eq!(
        one::<String>(&format!(
            "SELECT correlation_id FROM loyalty.increment_player_loyalty({P}, 1)"
        )),
        "from-header"
    );
    Spi::run("SET LOCAL request.headers = ''").unwrap();
    let generated = one::<String>(&format!(
        "SELECT correlation_id FROM loyalty.increment_player_loyalty({P}, 1)"
    ));
    assert_eq!(generated.len(), 36);
    assert_eq!(&generated[14..15], "4");
}

#[pg_test]
fn increment_sees_a_tier_ladder_change_in_its_own_transaction() {
    // the first call caches the ladder in this backend
    assert_eq!(inc("5000"), "0->5000 BRONZE->BRONZE 50% life=5000 locked=t");
    Spi::run("UPDATE loyalty.tier SET threshold_points = 4000 WHERE tier = 'SILVER'").unwrap();
    assert_eq!(inc("1"), "5000->5001 BRONZE->SILVER 2% life=5001 locked=t");
}
