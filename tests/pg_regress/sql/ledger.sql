-- The ledger is append-only, even for its owner.
\set VERBOSITY default
\set SHOW_CONTEXT never
BEGIN;
-- (on an upgraded database the ledger already holds other players' rows)
SELECT count(*) AS rows_before FROM loyalty.loyalty_ledger \gset
INSERT INTO loyalty.loyalty_ledger (player_id, idempotency_key, transaction_type, event_type,
        points_change, balance_before, balance_after, tier_before, tier_after, correlation_id,
        seq, prev_hash, row_hash)
VALUES ('bbbbbbbb-0000-4000-8000-000000000001', 'regress:1', 'ADJUSTMENT', 'POINTS_UPDATE_REQUESTED',
        10, 0, 10, 'BRONZE', 'BRONZE', 'regress', 1, repeat('0', 64), repeat('0', 64));
SAVEPOINT s;
UPDATE loyalty.loyalty_ledger SET points_change = 11;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
DELETE FROM loyalty.loyalty_ledger;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
TRUNCATE loyalty.loyalty_ledger;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
-- every row is still there, this one included
SELECT count(*) - :rows_before AS rows_added FROM loyalty.loyalty_ledger;
SELECT count(*), sum(points_change) FROM loyalty.loyalty_ledger WHERE player_id = 'bbbbbbbb-0000-4000-8000-000000000001';
ROLLBACK;
