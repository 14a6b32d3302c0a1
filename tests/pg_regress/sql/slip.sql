-- The complete-slip saga at the SQL surface, in a rolled-back transaction.
-- Trusted callers name the person behind each floor action (SPEC §14):
-- a rater and an approver.
INSERT INTO loyalty.staff (staff_id, permissions) VALUES
    ('00000000-0000-4000-8000-00000000f100', '{loyalty:rate}'),
    ('00000000-0000-4000-8000-00000000f200', '{loyalty:approve}')
ON CONFLICT (staff_id) DO NOTHING;
\set VERBOSITY default
\set SHOW_CONTEXT never
BEGIN;
SELECT id AS slip FROM loyalty.open_rating_slip('dddddddd-0000-4000-8000-000000000001', 'BLACKJACK', 25,
       p_start_time => now() - interval '2 hours', p_staff_id => '00000000-0000-4000-8000-00000000f100') \gset
SELECT game_type, average_bet, status, end_time IS NULL AS open, points_owed
  FROM loyalty.rating_slip s, LATERAL (SELECT loyalty.slip_points(s.id) AS points_owed) p WHERE s.id = :'slip';
-- accruing an open slip is refused
SAVEPOINT s;
SELECT * FROM loyalty.accrue_points_from_slip(:'slip');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
-- complete: closed and accrued in one call
SELECT status, duration_seconds, points_earned, balance_before, balance_after, idempotent_hit, error_code,
       recovery_needed
  FROM loyalty.complete_rating_slip(:'slip', 'regress-1', p_staff_id => '00000000-0000-4000-8000-00000000f100');
-- again: nothing written
SELECT status, points_earned, idempotent_hit, recovery_needed FROM loyalty.complete_rating_slip(:'slip', p_staff_id => '00000000-0000-4000-8000-00000000f100');
SELECT points_earned, idempotent_hit FROM loyalty.recover_slip_loyalty(:'slip');
SELECT transaction_type, event_type, points_change, balance_before, balance_after, correlation_id, source
  FROM loyalty.loyalty_ledger WHERE rating_slip_id = :'slip';
-- unknown and NULL slips
SELECT * FROM loyalty.complete_rating_slip('00000000-0000-4000-8000-000000000000', p_staff_id => '00000000-0000-4000-8000-00000000f100');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT * FROM loyalty.complete_rating_slip(NULL, p_staff_id => '00000000-0000-4000-8000-00000000f100');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT count(*) AS mismatches FROM loyalty.verify_all_balances();
ROLLBACK;
