// Schema: seeds, comments, RLS, dump registration, append-only ledger.

#[pg_test]
fn schema_seeds_tiers_and_game_settings() {
    assert_eq!(
        one::<String>("SELECT string_agg(tier || ' ' || threshold_points, ', ' ORDER BY threshold_points) FROM loyalty.tier"),
        "BRONZE 0, SILVER 10000, GOLD 50000, PLATINUM 100000"
    );
    assert_eq!(
        one::<String>(
            "SELECT string_agg(format('%s %s %s %s %s', game_type, house_edge::float8, decisions_per_hour,
                    points_conversion_rate::float8, point_multiplier::float8), ', ' ORDER BY game_type)
               FROM loyalty.game_settings"
        ),
        "BACCARAT 1.2 72 10 1, BLACKJACK 2 70 10 1, CRAPS 1.4 48 10 1, ROULETTE 5.26 38 10 1"
    );
    assert_eq!(
        one::<String>("SELECT format('%s %s %s %s', casino_timezone, gaming_day_start, max_reward_points, rate_limit_count) FROM loyalty.config"),
        "UTC 06:00:00 10000 10"
    );
}

#[pg_test]
fn schema_every_table_and_column_is_commented() {
    let missing = one::<i64>(
        "SELECT count(*) FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
           JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = 'loyalty' AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
            AND col_description(c.oid, a.attnum) IS NULL",
    );
    assert_eq!(missing, 0, "columns without COMMENT");
    let tables_missing = one::<i64>(
        "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = 'loyalty' AND c.relkind = 'r' AND obj_description(c.oid, 'pg_class') IS NULL",
    );
    assert_eq!(tables_missing, 0, "tables without COMMENT");
}

#[pg_test]
fn schema_rls_on_every_table_and_all_tables_dumped() {
    assert_eq!(
        one::<i64>(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname = 'loyalty' AND c.relkind = 'r' AND NOT c.relrowsecurity"
        ),
        0
    );
    // every table and both sequences are registered with pg_extension_config_dump
    assert_eq!(
        one::<i64>(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname = 'loyalty' AND c.relkind IN ('r', 'S')
                AND NOT c.oid = ANY ((SELECT extconfig FROM pg_extension WHERE extname = 'casino_loyalty')::oid[])"
        ),
        0
    );
}

#[pg_test]
fn schema_ledger_refuses_update_delete_truncate() {
    Spi::run(
        "INSERT INTO loyalty.loyalty_ledger (player_id, idempotency_key, transaction_type, event_type,
                points_change, balance_before, balance_after, tier_before, tier_after, correlation_id,
                seq, prev_hash, row_hash)
         VALUES ('00000000-0000-0000-0000-000000000001', 'test:1', 'ADJUSTMENT', 'POINTS_UPDATE_REQUESTED',
                 5, 0, 5, 'BRONZE', 'BRONZE', 'c', 1, repeat('0', 64), repeat('0', 64))",
    )
    .unwrap();
    assert_eq!(
        outcome("UPDATE loyalty.loyalty_ledger SET points_change = 6"),
        "PT405 LEDGER_APPEND_ONLY"
    );
    assert_eq!(
        outcome("UPDATE loyalty.loyalty_ledger SET reason = 'x' WHERE false"),
        "PT405 LEDGER_APPEND_ONLY"
    );
    assert_eq!(
        outcome("DELETE FROM loyalty.loyalty_ledger"),
        "PT405 LEDGER_APPEND_ONLY"
    );
    assert_eq!(
        outcome("TRUNCATE loyalty.loyalty_ledger"),
        "PT405 LEDGER_APPEND_ONLY"
    );
    assert_eq!(
        one::<i64>("SELECT sum(points_change)::bigint FROM loyalty.loyalty_ledger"),
        5
    );
}

#[pg_test]
fn schema_ledger_rows_must_chain() {
    // balance_after = balance_before + points_change is a constraint, not a hope
    assert!(outcome(
        "INSERT INTO loyalty.loyalty_ledger (player_id, idempotency_key, transaction_type, event_type,
                points_change, balance_before, balance_after, tier_before, tier_after, correlation_id,
                seq, prev_hash, row_hash)
         VALUES ('00000000-0000-0000-0000-000000000001', 'test:2', 'ADJUSTMENT', 'POINTS_UPDATE_REQUESTED',
                 5, 0, 6, 'BRONZE', 'BRONZE', 'c', 2, repeat('0', 64), repeat('0', 64))"
    )
    .starts_with("23514 "));
}

#[pg_test]
fn schema_definer_functions_pin_search_path_and_write_paths_keep_generic_plans() {
    assert_eq!(
        one::<i64>(
            "SELECT count(*) FROM pg_proc
              WHERE pronamespace = 'loyalty'::regnamespace AND prosecdef
                AND NOT EXISTS (SELECT FROM unnest(proconfig) c WHERE c LIKE 'search_path=%')"
        ),
        0
    );
    assert_eq!(
        one::<String>(
            "SELECT string_agg(proname, ',' ORDER BY proname) FROM pg_proc
              WHERE pronamespace = 'loyalty'::regnamespace
                AND 'plan_cache_mode=force_generic_plan' = ANY (proconfig)"
        ),
        "accrue_points_from_slip,capture_hold,complete_rating_slip,complete_rating_slips,hold_points,\
         increment_player_loyalty,manual_reward,open_rating_slip,recover_slip_loyalty,redeem_points,\
         update_rating_slip_bet,void_hold"
    );
}

#[pg_test]
fn schema_ledger_checks_call_the_one_list_of_kinds() {
    assert_eq!(
        one::<String>(
            "SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, NULL) || ' ' || pg_get_constraintdef(k.oid),
                               '; ' ORDER BY a.attname)
               FROM pg_attribute a JOIN pg_constraint k ON k.contypid = a.atttypid
              WHERE a.attrelid = 'loyalty.loyalty_ledger'::regclass
                AND a.attname IN ('transaction_type', 'event_type')"
        ),
        "event_type loyalty.ledger_event CHECK (loyalty.is_ledger_event(VALUE)); \
         transaction_type loyalty.ledger_kind CHECK (loyalty.is_ledger_kind(VALUE))"
    );
    for k in crate::domain::kinds::Kind::ALL {
        assert!(one::<bool>(&format!(
            "SELECT loyalty.is_ledger_kind('{}') AND loyalty.is_ledger_event('{}')",
            k.as_str(),
            k.event_type()
        )));
    }
    assert_eq!(
        outcome(
            "INSERT INTO loyalty.loyalty_ledger (player_id, idempotency_key, transaction_type, event_type,
                 points_change, balance_before, balance_after, tier_before, tier_after, correlation_id, seq,
                 prev_hash, row_hash)
             VALUES (gen_random_uuid(), 'k', 'FREE_MONEY', 'POINTS_UPDATE_REQUESTED', 1, 0, 1, 'BRONZE', 'BRONZE',
                     'c', 1, 'a', 'b')"
        ),
        "23514 value for domain loyalty.ledger_kind violates check constraint \"ledger_kind_check\""
    );
}

/// The exception report picks ledger rows by the registry's `exception`
/// (src/domain/kinds.rs), not by a list of its own: one row of every kind
/// for one player, and the report lists exactly the kinds the registry
/// calls exceptions, each once. A new kind is in the report, or out of it,
/// by the answer its variant gives, with no other file to remember.
#[pg_test]
fn schema_the_exception_report_takes_its_kinds_from_the_registry() {
    use crate::domain::kinds::Kind;
    for (seq, k) in Kind::ALL.into_iter().enumerate() {
        Spi::run_with_args(
            "INSERT INTO loyalty.loyalty_ledger (player_id, idempotency_key, transaction_type, event_type,
                 points_change, balance_before, balance_after, tier_before, tier_after, correlation_id, seq,
                 prev_hash, row_hash)
             VALUES ('00000000-0000-4000-8000-0000000e0001', $1, $2, $3, 0, 0, 0, 'BRONZE', 'BRONZE', 'c', $4,
                     'a', 'b')",
            &[
                format!("registry:{seq}").into(),
                k.as_str().into(),
                k.event_type().into(),
                (seq as i64 + 1).into(),
            ],
        )
        .expect("one entry of each kind");
    }
    let mut exceptions: Vec<&str> = Kind::ALL
        .into_iter()
        .filter(|k| k.is_exception())
        .map(Kind::as_str)
        .collect();
    exceptions.sort_unstable();
    assert_eq!(
        one::<String>(
            "SELECT string_agg(r.event, ',' ORDER BY r.event) FROM loyalty.exception_report(
                 loyalty.gaming_day(now()), loyalty.gaming_day(now())) r
              WHERE r.player_id = '00000000-0000-4000-8000-0000000e0001'"
        ),
        exceptions.join(",")
    );
    assert_eq!(
        one::<String>(
            "SELECT string_agg(k.kind, ',' ORDER BY k.kind) FROM loyalty.ledger_kinds() k WHERE k.exception"
        ),
        exceptions.join(",")
    );
    // not vacuous: the registry calls some kinds exceptions and not others
    assert!(exceptions.contains(&"MANUAL_BONUS") && !exceptions.contains(&"GAMEPLAY"));
}

/// Every permission and every kind the extension's SQL names (function
/// bodies, policies) is one the registries have: a misspelled
/// `'loyalty:veiw_all'` in a policy would let nobody read, and a kind
/// compared by name that the registry no longer has would count nothing,
/// with every other test green.
#[pg_test]
fn schema_sql_names_only_registered_permissions_and_kinds() {
    let texts = "WITH t AS (
            SELECT p.prosrc AS txt FROM pg_proc p
              JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
              JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'casino_loyalty'
            UNION ALL
            SELECT concat(pg_get_expr(pol.polqual, pol.polrelid), ' ', pg_get_expr(pol.polwithcheck, pol.polrelid))
              FROM pg_policy pol JOIN pg_class c ON c.oid = pol.polrelid
             WHERE c.relnamespace = 'loyalty'::regnamespace)";
    let named = |pattern: &str, registry: &str| -> (i64, String) {
        (
            one::<i64>(&format!(
                "{texts} SELECT count(DISTINCT m[1]) FROM t, regexp_matches(t.txt, '{pattern}', 'g') m"
            )),
            one::<String>(&format!(
                "{texts} SELECT coalesce(string_agg(DISTINCT m[1], ','), '')
                   FROM t, regexp_matches(t.txt, '{pattern}', 'g') m
                  WHERE m[1] NOT IN ({registry})"
            )),
        )
    };
    let (found, unknown) = named(
        "''(loyalty:[a-z_]+)''",
        "SELECT p.permission FROM loyalty.permissions() p",
    );
    assert_eq!(unknown, "", "permissions named in SQL that are none");
    assert!(
        found >= 2,
        "the SQL names loyalty:view_all and loyalty:audit ({found})"
    );
    let (found, unknown) = named(
        "transaction_type\\s*(?:=|<>)\\s*''([A-Z_]+)''",
        "SELECT k.kind FROM loyalty.ledger_kinds() k",
    );
    assert_eq!(unknown, "", "kinds named in SQL that are none");
    assert!(
        found >= 2,
        "the SQL names GAMEPLAY and REDEMPTION ({found})"
    );
    assert_eq!(
        outcome("SELECT loyalty.require_caller(ARRAY['loyalty:veiw_all'])"),
        "PT422 VALIDATION_ERROR"
    );
}

#[pg_test]
fn schema_hot_tables_check_only_what_relates_two_columns() {
    // PostgreSQL parses every table CHECK again on each INSERT and UPDATE;
    // single-column rules on the tables a post writes are domains, parsed
    // once per backend (BENCHMARKS.md, "Constraint cost").
    assert_eq!(
        one::<String>(
            "SELECT string_agg(conname, ', ' ORDER BY conname) FROM pg_constraint
              WHERE contype = 'c' AND conrelid IN ('loyalty.loyalty_ledger'::regclass,
                    'loyalty.player_loyalty'::regclass, 'loyalty.rating_slip'::regclass,
                    'loyalty.reward_window'::regclass, 'loyalty.hold'::regclass,
                    'loyalty.notification'::regclass)"
        ),
        "hold_state_check, loyalty_ledger_balance_arithmetic_check, player_loyalty_available_check, \
         rating_slip_state_check"
    );
    // the one CHECK per table still refuses each rule it holds
    let slip = "INSERT INTO loyalty.rating_slip (player_id, game_type, house_edge, decisions_per_hour,
                    points_conversion_rate, point_multiplier, average_bet, start_time, approval_threshold_points,
                    status, end_time, duration_seconds, approval_status)
                VALUES ('00000000-0000-4000-8000-00000000d0d1', 'BLACKJACK', 1, 60, 1, 1, 10, now(), 0";
    for tail in [
        "'OPEN', now(), NULL, NULL)",
        "'OPEN', NULL, 60, NULL)",
        "'CLOSED', NULL, 60, NULL)",
        "'OPEN', NULL, NULL, 'HELD')",
    ] {
        assert_eq!(
            outcome(&format!("{slip}, {tail}")),
            "23514 new row for relation \"rating_slip\" violates check constraint \"rating_slip_state_check\""
        );
    }
    assert_eq!(
        outcome(&format!("{slip}, 'CLOSED', now(), 60, 'HELD')")),
        "OK"
    );
    let hold = "INSERT INTO loyalty.hold (player_id, points, outlet, comp_value_cents, expires_at, staff_id,
                    reason, idempotency_key, correlation_id, status, ledger_entry_id, captured_points, approved_by,
                    approved_at)
                VALUES ('00000000-0000-4000-8000-00000000d0d1', 5, 'bar', 0, now(),
                        '00000000-0000-4000-8000-00000000d0d2', 'r', 'k' || random(), 'c'";
    for tail in [
        "'CAPTURED', NULL, 5, NULL, NULL)",
        "'CAPTURED', 1, NULL, NULL, NULL)",
        "'ACTIVE', 1, NULL, NULL, NULL)",
        "'CAPTURED', 1, 6, NULL, NULL)",
        "'ACTIVE', NULL, NULL, '00000000-0000-4000-8000-00000000d0d3', NULL)",
    ] {
        assert_eq!(
            outcome(&format!("{hold}, {tail}")),
            "23514 new row for relation \"hold\" violates check constraint \"hold_state_check\""
        );
    }
    assert_eq!(
        outcome(&format!(
            "{hold}, 'CAPTURED', 1, 5, '00000000-0000-4000-8000-00000000d0d3', now())"
        )),
        "OK"
    );
    // the domains still refuse what the CHECKs refused
    for (domain, value) in [
        ("nonnegative_bigint", "-1"),
        ("chain_position", "0"),
        ("idempotency_key", "''"),
        ("idempotency_key", "repeat('k', 201)"),
        ("slip_status", "'PAUSED'"),
        ("approval_status", "'MAYBE'"),
        ("slip_duration", "86401"),
        ("average_bet", "0"),
        ("tier_progress", "101"),
        ("ledger_event", "'POINTS_UPDATE'"),
        ("finite_timestamptz", "'infinity'"),
        ("hold_status", "'SPENT'"),
        ("positive_bigint", "0"),
        ("notification_kind", "'EMAIL'"),
        ("claim_count", "-1"),
    ] {
        assert_eq!(
            outcome(&format!("SELECT ({value})::loyalty.{domain}")),
            format!("23514 value for domain loyalty.{domain} violates check constraint \"{domain}_check\""),
        );
    }
    // and accept their bounds
    assert_eq!(
        outcome(
            "SELECT 0::loyalty.nonnegative_bigint, 1::loyalty.chain_position, 'k'::loyalty.idempotency_key,
                    repeat('k', 200)::loyalty.idempotency_key, 86400::loyalty.slip_duration,
                    0::loyalty.slip_duration, 0.01::loyalty.average_bet, 100::loyalty.tier_progress,
                    'HELD'::loyalty.approval_status, 'CLOSED'::loyalty.slip_status,
                    'EXPIRED'::loyalty.hold_status, 1::loyalty.positive_bigint,
                    'POINTS_EXPIRING'::loyalty.notification_kind, 0::loyalty.claim_count"
        ),
        "OK"
    );
    Spi::run("SELECT loyalty.increment_player_loyalty('00000000-0000-4000-8000-00000000d0d0', 5)")
        .unwrap();
    assert_eq!(
        outcome(
            "UPDATE loyalty.player_loyalty SET current_balance = -1
              WHERE player_id = '00000000-0000-4000-8000-00000000d0d0'"
        ),
        "23514 value for domain loyalty.nonnegative_bigint violates check constraint \"nonnegative_bigint_check\""
    );
}
