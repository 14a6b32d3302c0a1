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

-- The registries as SQL sees them (src/domain/kinds.rs, permissions.rs):
-- every kind and what it is, every permission and its place in the rule.
SELECT * FROM loyalty.ledger_kinds();
SELECT permission, grants_or_receives, reviews FROM loyalty.permissions();
-- the staff table's checks call them, and the admin API's refusal says
-- the rule from them
BEGIN;
SELECT loyalty.upsert_staff('cccccccc-0000-4000-8000-000000000001', '{loyalty:audit,loyalty:award}');
ROLLBACK;
BEGIN;
SELECT loyalty.upsert_staff('cccccccc-0000-4000-8000-000000000001', '{loyalty:everything}');
ROLLBACK;
BEGIN;
SELECT staff_id, permissions FROM loyalty.upsert_staff('cccccccc-0000-4000-8000-000000000001', '{loyalty:audit,loyalty:view_all}');
ROLLBACK;
-- a name that is no permission is a mistake in the calling SQL, said as one
SELECT loyalty.require_caller(ARRAY['loyalty:veiw_all']);
