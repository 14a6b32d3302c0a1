// calculate_points: the docs/reference.md §4 formula against the seeded game settings.

#[pg_test]
fn points_spec_example_and_each_game() {
    assert_eq!(
        one::<i64>("SELECT loyalty.calculate_points('BLACKJACK', 25, 7200)"),
        700
    );
    // 100 × 1.2% × 72 × 1 h × 10 = 864
    assert_eq!(
        one::<i64>("SELECT loyalty.calculate_points('BACCARAT', 100, 3600)"),
        864
    );
    // 10 × 5.26% × 38 × 0.5 h × 10 = 99.94 → 99
    assert_eq!(
        one::<i64>("SELECT loyalty.calculate_points('ROULETTE', 10, 1800)"),
        99
    );
    // 50.50 × 1.4% × 48 × 1 h × 10 = 339.36 → 339
    assert_eq!(
        one::<i64>("SELECT loyalty.calculate_points('CRAPS', 50.50, 3600)"),
        339
    );
    assert_eq!(
        one::<i64>("SELECT loyalty.calculate_points('BLACKJACK', 25, 0)"),
        0
    );
}

#[pg_test]
fn points_follow_edited_settings() {
    Spi::run(
        "UPDATE loyalty.game_settings SET point_multiplier = 2.5 WHERE game_type = 'BLACKJACK'",
    )
    .unwrap();
    assert_eq!(
        one::<i64>("SELECT loyalty.calculate_points('BLACKJACK', 25, 7200)"),
        1750
    );
}

#[pg_test]
fn points_refuse_bad_input() {
    for sql in [
        "SELECT loyalty.calculate_points(NULL, 25, 60)",
        "SELECT loyalty.calculate_points('BLACKJACK', NULL, 60)",
        "SELECT loyalty.calculate_points('BLACKJACK', 25, NULL)",
        "SELECT loyalty.calculate_points('POKER', 25, 60)",
        "SELECT loyalty.calculate_points('', 25, 60)",
        "SELECT loyalty.calculate_points(repeat('🎲', 100000), 25, 60)",
        "SELECT loyalty.calculate_points('BLACKJACK', 0, 60)",
        "SELECT loyalty.calculate_points('BLACKJACK', -5, 60)",
        "SELECT loyalty.calculate_points('BLACKJACK', 'NaN', 60)",
        "SELECT loyalty.calculate_points('BLACKJACK', 'Infinity', 60)",
        "SELECT loyalty.calculate_points('BLACKJACK', 25, -1)",
        "SELECT loyalty.calculate_points('BLACKJACK', 25, 86401)",
        "SELECT loyalty.calculate_points('BLACKJACK', 1e30, 86400)",
    ] {
        assert_eq!(outcome(sql), "PT422 VALIDATION_ERROR", "{sql}");
    }
}
