-- casino_loyalty demo (run by scripts/demo.sh against a throwaway cluster).
\pset border 2
\pset null '∅'
\set VERBOSITY default
\set SHOW_CONTEXT never

CREATE EXTENSION casino_loyalty;

\echo
\echo '## The tier ladder and game settings seeded by CREATE EXTENSION'
SELECT tier, threshold_points FROM loyalty.tier ORDER BY threshold_points;
SELECT * FROM loyalty.game_settings ORDER BY game_type;

\echo '## Points: BLACKJACK, average bet 25, two hours (SPEC example: 700)'
SELECT loyalty.calculate_points('BLACKJACK', 25, 7200) AS points;

\echo '## A deterministic idempotency key: key order does not matter'
SELECT loyalty.hash_idempotency_key('{"reason": "birthday 🎂", "player_id": "p-1", "amount": 500}') AS key_a,
       loyalty.hash_idempotency_key('{"amount": 500, "player_id": "p-1", "reason": "birthday 🎂"}') AS key_b;

\echo '## A new player earns points (row created at BRONZE/0, locked FOR UPDATE)'
SELECT balance_before, balance_after, tier_before, tier_after, tier_progress, lifetime_points, row_locked, correlation_id
  FROM loyalty.increment_player_loyalty('7d3f7a52-0000-4000-8000-000000000001', 700, 'demo-1');

\echo '## ... crosses into SILVER'
SELECT balance_before, balance_after, tier_before, tier_after, tier_progress, lifetime_points, row_locked, correlation_id
  FROM loyalty.increment_player_loyalty('7d3f7a52-0000-4000-8000-000000000001', 9300, 'demo-2');

\echo '## ... spends 4,000 points: the tier stays, lifetime points stay'
SELECT balance_before, balance_after, tier_before, tier_after, tier_progress, lifetime_points, row_locked, correlation_id
  FROM loyalty.increment_player_loyalty('7d3f7a52-0000-4000-8000-000000000001', -4000, 'demo-3');

\echo '## ... tries to spend more than the balance: INSUFFICIENT_BALANCE (SQLSTATE PT409), nothing changes'
\set ON_ERROR_STOP 0
SELECT * FROM loyalty.increment_player_loyalty('7d3f7a52-0000-4000-8000-000000000001', -999999, 'demo-4');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
\set ON_ERROR_STOP 1

\echo '## The balance row'
SELECT player_id, current_balance, lifetime_points, tier, tier_progress FROM loyalty.player_loyalty;
