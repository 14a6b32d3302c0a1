-- increment_player_loyalty at the SQL surface. Every case runs in a
-- transaction that is rolled back.
\set VERBOSITY default
\set SHOW_CONTEXT never
BEGIN;
-- a new player, created at BRONZE/0
SELECT balance_before, balance_after, tier_before, tier_after, tier_progress, lifetime_points, row_locked, correlation_id
  FROM loyalty.increment_player_loyalty('aaaaaaaa-0000-4000-8000-000000000001', 9999, 'r-1');
-- exactly at the SILVER threshold
SELECT balance_after, tier_before, tier_after, tier_progress
  FROM loyalty.increment_player_loyalty('aaaaaaaa-0000-4000-8000-000000000001', 1, 'r-2');
-- to the top tier: progress 100
SELECT balance_after, tier_after, tier_progress
  FROM loyalty.increment_player_loyalty('aaaaaaaa-0000-4000-8000-000000000001', 90000, 'r-3');
-- spending keeps the tier
SELECT balance_after, tier_after, lifetime_points
  FROM loyalty.increment_player_loyalty('aaaaaaaa-0000-4000-8000-000000000001', -100000, 'r-4');
-- below zero
SAVEPOINT s;
SELECT * FROM loyalty.increment_player_loyalty('aaaaaaaa-0000-4000-8000-000000000001', -1, 'r-5');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
-- overflow
SELECT * FROM loyalty.increment_player_loyalty('aaaaaaaa-0000-4000-8000-000000000001', 9223372036854775807, 'r-6');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
-- NULLs
SELECT * FROM loyalty.increment_player_loyalty(NULL, 1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT * FROM loyalty.increment_player_loyalty('aaaaaaaa-0000-4000-8000-000000000001', NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
-- wrong types never reach the function
SELECT * FROM loyalty.increment_player_loyalty('not-a-uuid', 1);
ROLLBACK TO s;
SELECT * FROM loyalty.increment_player_loyalty('aaaaaaaa-0000-4000-8000-000000000001', 1.5);
ROLLBACK TO s;
-- the refusals changed nothing: still the balance after "spending keeps the tier"
SELECT current_balance, lifetime_points, tier, tier_progress FROM loyalty.player_loyalty
 WHERE player_id = 'aaaaaaaa-0000-4000-8000-000000000001';
-- every increment is a ledger entry of its own (SPEC §20): the balance is its
-- ledger's at every commit, the caller recorded, and the refusals left none
SELECT seq, transaction_type, event_type, points_change, balance_before, balance_after, tier_before, tier_after,
       source, correlation_id, idempotency_key LIKE 'direct:%' AS own_key
  FROM loyalty.loyalty_ledger WHERE player_id = 'aaaaaaaa-0000-4000-8000-000000000001' ORDER BY seq;
SELECT ok, current_balance, ledger_balance, lifetime_points, ledger_lifetime, standing_ok
  FROM loyalty.verify_player_balance('aaaaaaaa-0000-4000-8000-000000000001');
ROLLBACK;
