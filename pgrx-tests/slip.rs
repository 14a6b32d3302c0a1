// Slips: open, complete, the saga's partial completion, recovery, runbooks.

// Each test uses its own player: tests run concurrently, and one that
// creates a trigger on the ledger would otherwise deadlock with another
// holding the same player's row.

/// Open a BLACKJACK slip at bet 25 that started two hours ago; its id.
fn open_two_hour_slip(player: &str) -> String {
    one::<String>(&format!(
        "SELECT id::text FROM loyalty.open_rating_slip({player}, 'BLACKJACK', 25,
             'aaaaaaaa-0000-4000-8000-00000000000a', 'bbbbbbbb-0000-4000-8000-00000000000b',
             now() - interval '2 hours', p_staff_id => '00000000-0000-4000-8000-00000000f100')"
    ))
}

/// The player's GAMEPLAY entries (a filled balance is a DIRECT_INCREMENT
/// entry of its own).
fn gameplay_rows(player: &str) -> i64 {
    one::<i64>(&format!(
        "SELECT count(*) FROM loyalty.loyalty_ledger WHERE player_id = {player} AND transaction_type = 'GAMEPLAY'"
    ))
}

/// Make the player's next accrual fail for real, without DDL (tests run
/// concurrently, and a trigger on the shared ledger would lock out the
/// others): a balance so large that any award overflows it.
fn fill_balance(player: &str) {
    Spi::run(&format!(
        "SELECT loyalty.increment_player_loyalty({player}, 9223372036854775500)"
    ))
    .unwrap();
}

/// The operator's repair of that (lifetime points never go down through
/// the functions).
fn repair_balance(player: &str) {
    Spi::run(&format!(
        "UPDATE loyalty.player_loyalty SET current_balance = 0, lifetime_points = 0 WHERE player_id = {player}"
    ))
    .unwrap();
}

#[pg_test]
fn slip_complete_posts_snapshot_points_once() {
    floor_staff();
    let player = "'33333333-3333-4333-8333-000000000001'::uuid";
    let id = open_two_hour_slip(player);
    // settings change after open must not change this slip's award
    Spi::run("UPDATE loyalty.game_settings SET point_multiplier = 3 WHERE game_type = 'BLACKJACK'")
        .unwrap();
    assert_eq!(
        one::<String>(&format!(
            "SELECT format('%s %s %s %s %s->%s %s %s %s', status, duration_seconds, points_earned, idempotent_hit,
                    balance_before, balance_after, tier_after, correlation_id, recovery_needed)
               FROM loyalty.complete_rating_slip('{id}', 'c-1', p_staff_id => '00000000-0000-4000-8000-00000000f100')"
        )),
        "COMPLETED 7200 700 f 0->700 BRONZE c-1 f"
    );
    assert_eq!(
        one::<String>(&format!(
            "SELECT format('%s %s %s %s %s %s %s %s', transaction_type, event_type, points_change, idempotency_key,
                    visit_id, session_id, correlation_id, source)
               FROM loyalty.loyalty_ledger WHERE rating_slip_id = '{id}'"
        )),
        format!(
            "GAMEPLAY RATING_SLIP_COMPLETED 700 gameplay:{id} aaaaaaaa-0000-4000-8000-00000000000a \
             bbbbbbbb-0000-4000-8000-00000000000b c-1 complete_rating_slip"
        )
    );
    // completing again writes nothing and reports the first entry
    assert_eq!(
        one::<String>(&format!(
            "SELECT format('%s %s %s %s', status, points_earned, idempotent_hit, recovery_needed)
               FROM loyalty.complete_rating_slip('{id}', p_staff_id => '00000000-0000-4000-8000-00000000f100')"
        )),
        "ALREADY_COMPLETED 700 t f"
    );
    assert_eq!(
        one::<String>(&format!(
            "SELECT format('%s %s', points_earned, idempotent_hit) FROM loyalty.accrue_points_from_slip('{id}')"
        )),
        "700 t"
    );
    assert_eq!(gameplay_rows(player), 1);
    assert_eq!(
        one::<i64>(&format!(
            "SELECT current_balance FROM loyalty.player_loyalty WHERE player_id = {player}"
        )),
        700
    );
}

#[pg_test]
fn slip_accrual_failure_is_a_partial_completion_then_recovers_once() {
    floor_staff();
    let player = "'33333333-3333-4333-8333-000000000002'::uuid";
    let id = open_two_hour_slip(player);
    fill_balance(player);
    assert_eq!(
        one::<String>(&format!(
            "SELECT format('%s %s %s %s %s', status, error_code, error_message, recovery_needed, points_earned IS NULL)
               FROM loyalty.complete_rating_slip('{id}', 'c-partial', p_staff_id => '00000000-0000-4000-8000-00000000f100')"
        )),
        "PARTIAL_COMPLETION VALIDATION_ERROR a change of 700 points would overflow the balance t t"
    );
    assert_eq!(
        one::<String>(&format!(
            "SELECT status FROM loyalty.rating_slip WHERE id = '{id}'"
        )),
        "CLOSED"
    );
    assert_eq!(gameplay_rows(player), 0);
    // the savepoint rolled back the accrual's work: the balance is untouched
    assert_eq!(
        one::<i64>(&format!(
            "SELECT current_balance FROM loyalty.player_loyalty WHERE player_id = {player}"
        )),
        9223372036854775500
    );
    assert_eq!(
        one::<String>(&format!(
            "SELECT format('%s %s %s %s', error_code, attempts, correlation_id, resolved_at IS NULL)
               FROM loyalty.pending_accrual WHERE rating_slip_id = '{id}'"
        )),
        "VALIDATION_ERROR 1 c-partial t"
    );
    assert_eq!(
        one::<String>("SELECT format('%s %s %s', rating_slip_id, points_owed, pending) FROM loyalty.list_partial_completions()"),
        format!("{id} 700 t")
    );
    // completing again is ALREADY_COMPLETED and still says recovery is needed
    assert_eq!(
        one::<String>(&format!("SELECT format('%s %s', status, recovery_needed) FROM loyalty.complete_rating_slip('{id}', p_staff_id => '00000000-0000-4000-8000-00000000f100')")),
        "ALREADY_COMPLETED t"
    );
    // recovery while the failure persists raises and leaves the record
    assert_eq!(
        outcome(&format!("SELECT loyalty.recover_slip_loyalty('{id}')")),
        "PT422 VALIDATION_ERROR"
    );
    repair_balance(player);
    assert_eq!(
        one::<String>(&format!(
            "SELECT format('%s %s', points_earned, idempotent_hit) FROM loyalty.recover_slip_loyalty('{id}', 'c-rec')"
        )),
        "700 f"
    );
    assert_eq!(
        one::<String>(&format!(
            "SELECT format('%s %s', points_earned, idempotent_hit) FROM loyalty.recover_slip_loyalty('{id}')"
        )),
        "700 t"
    );
    assert_eq!(gameplay_rows(player), 1);
    assert!(one::<bool>(&format!(
        "SELECT resolved_at IS NOT NULL FROM loyalty.pending_accrual WHERE rating_slip_id = '{id}'"
    )));
    assert_eq!(
        one::<i64>("SELECT count(*) FROM loyalty.list_partial_completions()"),
        0
    );
}

#[pg_test]
fn slip_atomic_failure_changes_nothing() {
    floor_staff();
    let player = "'33333333-3333-4333-8333-000000000003'::uuid";
    let id = open_two_hour_slip(player);
    fill_balance(player);
    assert_eq!(
        outcome(&format!(
            "SELECT loyalty.complete_rating_slip('{id}', NULL, true, p_staff_id => '00000000-0000-4000-8000-00000000f100')"
        )),
        "PT422 VALIDATION_ERROR"
    );
    assert_eq!(
        one::<String>(&format!(
            "SELECT status FROM loyalty.rating_slip WHERE id = '{id}'"
        )),
        "OPEN"
    );
    assert_eq!(
        one::<i64>("SELECT count(*) FROM loyalty.pending_accrual"),
        0
    );
    assert_eq!(gameplay_rows(player), 0);
}

#[pg_test]
fn slip_bad_input() {
    floor_staff();
    let player = "'33333333-3333-4333-8333-000000000004'::uuid";
    let id = open_two_hour_slip(player);
    for (sql, want) in [
        ("SELECT loyalty.complete_rating_slip(NULL, p_staff_id => '00000000-0000-4000-8000-00000000f100')".to_string(), "PT422 VALIDATION_ERROR"),
        (
            "SELECT loyalty.complete_rating_slip('00000000-0000-4000-8000-000000000000', p_staff_id => '00000000-0000-4000-8000-00000000f100')".to_string(),
            "PT404 SLIP_NOT_FOUND",
        ),
        (format!("SELECT loyalty.recover_slip_loyalty('{id}')"), "PT409 SLIP_NOT_CLOSED"),
        (format!("SELECT loyalty.accrue_points_from_slip('{id}')"), "PT409 SLIP_NOT_CLOSED"),
        (
            "SELECT loyalty.recover_slip_loyalty('00000000-0000-4000-8000-000000000000')".to_string(),
            "PT404 SLIP_NOT_FOUND",
        ),
        (format!("SELECT loyalty.open_rating_slip({player}, 'BLACKJACK', 0, p_staff_id => '00000000-0000-4000-8000-00000000f100')"), "PT422 VALIDATION_ERROR"),
        (format!("SELECT loyalty.open_rating_slip({player}, 'BLACKJACK', -25, p_staff_id => '00000000-0000-4000-8000-00000000f100')"), "PT422 VALIDATION_ERROR"),
        (format!("SELECT loyalty.open_rating_slip({player}, 'BLACKJACK', 'NaN', p_staff_id => '00000000-0000-4000-8000-00000000f100')"), "PT422 VALIDATION_ERROR"),
        (format!("SELECT loyalty.open_rating_slip({player}, 'BLACKJACK', 1e12, p_staff_id => '00000000-0000-4000-8000-00000000f100')"), "PT422 VALIDATION_ERROR"),
        (format!("SELECT loyalty.open_rating_slip({player}, 'BLACKJACK', 0.00001, p_staff_id => '00000000-0000-4000-8000-00000000f100')"), "PT422 VALIDATION_ERROR"),
        (format!("SELECT loyalty.open_rating_slip({player}, 'POKER', 25, p_staff_id => '00000000-0000-4000-8000-00000000f100')"), "PT422 VALIDATION_ERROR"),
        (format!("SELECT loyalty.open_rating_slip({player}, NULL, 25, p_staff_id => '00000000-0000-4000-8000-00000000f100')"), "PT422 VALIDATION_ERROR"),
        ("SELECT loyalty.open_rating_slip(NULL, 'BLACKJACK', 25, p_staff_id => '00000000-0000-4000-8000-00000000f100')".to_string(), "PT422 VALIDATION_ERROR"),
        (
            format!("SELECT loyalty.open_rating_slip({player}, 'BLACKJACK', 25, NULL, NULL, now() + interval '1 minute', p_staff_id => '00000000-0000-4000-8000-00000000f100')"),
            "PT422 VALIDATION_ERROR",
        ),
        (
            format!("SELECT loyalty.open_rating_slip({player}, 'BLACKJACK', 25, NULL, NULL, now() - interval '25 hours', p_staff_id => '00000000-0000-4000-8000-00000000f100')"),
            "PT422 VALIDATION_ERROR",
        ),
        (
            format!("SELECT loyalty.complete_rating_slip('{id}', NULL, false, now() - interval '3 hours', p_staff_id => '00000000-0000-4000-8000-00000000f100')"),
            "PT422 VALIDATION_ERROR",
        ),
        (
            format!("SELECT loyalty.complete_rating_slip('{id}', NULL, false, now() + interval '1 hour', p_staff_id => '00000000-0000-4000-8000-00000000f100')"),
            "PT422 VALIDATION_ERROR",
        ),
        (format!("SELECT loyalty.complete_rating_slip('{id}', repeat('x', 500), p_staff_id => '00000000-0000-4000-8000-00000000f100')"), "PT422 VALIDATION_ERROR"),
    ] {
        assert_eq!(outcome(&sql), want, "{sql}");
    }
    assert_eq!(
        one::<String>(&format!(
            "SELECT status FROM loyalty.rating_slip WHERE id = '{id}'"
        )),
        "OPEN"
    );
    assert_eq!(one::<i64>("SELECT count(*) FROM loyalty.rating_slip"), 1);
    assert_eq!(gameplay_rows(player), 0);
}

#[pg_test]
fn slip_bet_changes_only_while_open() {
    floor_staff();
    let player = "'33333333-3333-4333-8333-000000000005'::uuid";
    let id = open_two_hour_slip(player);
    assert_eq!(
        one::<String>(&format!(
            "SELECT average_bet::text FROM loyalty.update_rating_slip_bet('{id}', 50, p_staff_id => '00000000-0000-4000-8000-00000000f100')"
        )),
        "50"
    );
    assert_eq!(
        one::<i64>(&format!(
            "SELECT points_earned FROM loyalty.complete_rating_slip('{id}', p_staff_id => '00000000-0000-4000-8000-00000000f100')"
        )),
        1400
    );
    assert_eq!(
        outcome(&format!(
            "SELECT loyalty.update_rating_slip_bet('{id}', 75, p_staff_id => '00000000-0000-4000-8000-00000000f100')"
        )),
        "PT422 VALIDATION_ERROR"
    );
}

#[pg_test]
fn runbook_verify_finds_corruption_and_rebuild_repairs_it() {
    floor_staff();
    let player = "'33333333-3333-4333-8333-000000000006'::uuid";
    let id = open_two_hour_slip(player);
    Spi::run(&format!("SELECT loyalty.complete_rating_slip('{id}', p_staff_id => '00000000-0000-4000-8000-00000000f100')")).unwrap();
    assert_eq!(
        one::<i64>("SELECT count(*) FROM loyalty.verify_all_balances()"),
        0
    );
    assert!(one::<bool>(&format!(
        "SELECT ok FROM loyalty.verify_player_balance({player})"
    )));
    Spi::run(&format!(
        "UPDATE loyalty.player_loyalty SET current_balance = 5 WHERE player_id = {player}"
    ))
    .unwrap();
    assert_eq!(
        one::<String>("SELECT format('%s %s', current_balance, ledger_balance) FROM loyalty.verify_all_balances()"),
        "5 700"
    );
    assert!(!one::<bool>(&format!(
        "SELECT ok FROM loyalty.verify_player_balance({player})"
    )));
    assert_eq!(
        one::<String>(&format!(
            "SELECT format('%s->%s %s->%s', balance_before, balance_after, tier_before, tier_after)
               FROM loyalty.rebuild_player_balance({player}, p_reason => 'a pgrx test drift')"
        )),
        "5->700 BRONZE->BRONZE"
    );
    assert_eq!(
        one::<i64>("SELECT count(*) FROM loyalty.verify_all_balances()"),
        0
    );
    assert_eq!(
        outcome("SELECT loyalty.verify_player_balance('00000000-0000-4000-8000-000000000000')"),
        "PT404 PLAYER_NOT_FOUND"
    );
    assert_eq!(
        outcome(
            "SELECT loyalty.rebuild_player_balance('00000000-0000-4000-8000-000000000000',
                                                   p_reason => 'a pgrx test drift')"
        ),
        "PT404 PLAYER_NOT_FOUND"
    );
}

#[pg_test]
fn runbook_export_and_lookup() {
    floor_staff();
    let player = "'33333333-3333-4333-8333-000000000007'::uuid";
    let id = open_two_hour_slip(player);
    Spi::run(&format!(
        "SELECT loyalty.complete_rating_slip('{id}', 'c-look', p_staff_id => '00000000-0000-4000-8000-00000000f100')"
    ))
    .unwrap();
    assert_eq!(
        one::<i64>("SELECT count(*) FROM loyalty.export_ledger(now() - interval '1 minute', now() + interval '1 minute')"),
        1
    );
    assert_eq!(one::<i64>("SELECT count(*) FROM loyalty.export_ledger(now() + interval '1 minute', now() + interval '2 minutes')"), 0);
    assert_eq!(
        outcome("SELECT loyalty.export_ledger(NULL, now())"),
        "PT422 VALIDATION_ERROR"
    );
    assert_eq!(
        one::<String>(
            "SELECT string_agg(kind, ',' ORDER BY kind) FROM loyalty.lookup_correlation('c-look')"
        ),
        "ledger,rating_slip"
    );
}
