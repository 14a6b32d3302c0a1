-- Rating controls and four-eyes approval at the SQL surface, as the owner (a
-- trusted back end), in a rolled-back transaction. Who may call what is
-- proven over real connections in tests/client/integrity.rs.
-- Trusted callers name the person behind each floor action (SPEC §14):
-- a rater and an approver.
INSERT INTO loyalty.staff (staff_id, permissions) VALUES
    ('00000000-0000-4000-8000-00000000f100', '{loyalty:rate}'),
    ('00000000-0000-4000-8000-00000000f200', '{loyalty:approve}')
ON CONFLICT (staff_id) DO NOTHING;
\set VERBOSITY default
\set SHOW_CONTEXT never
BEGIN;
-- table limits: BLACKJACK takes bets from 1 to 100000
SELECT game_type, min_average_bet, max_average_bet, approval_threshold_points
  FROM loyalty.game_settings ORDER BY game_type;
SAVEPOINT s;
SELECT id FROM loyalty.open_rating_slip('eeeeeeee-0000-4000-8000-000000000001', 'BLACKJACK', 100000.01, p_staff_id => '00000000-0000-4000-8000-00000000f100');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT id FROM loyalty.open_rating_slip('eeeeeeee-0000-4000-8000-000000000001', 'BLACKJACK', 25,
       p_start_time => 'infinity', p_staff_id => '00000000-0000-4000-8000-00000000f100');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
-- one seat
SELECT id AS slip FROM loyalty.open_rating_slip('eeeeeeee-0000-4000-8000-000000000001', 'BLACKJACK', 5000,
       p_start_time => now() - interval '2 hours', p_staff_id => '00000000-0000-4000-8000-00000000f100') \gset
SAVEPOINT s;
SELECT id FROM loyalty.open_rating_slip('eeeeeeee-0000-4000-8000-000000000001', 'BACCARAT', 25, p_staff_id => '00000000-0000-4000-8000-00000000f100');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
-- 140,000 points: above the threshold, held with no ledger row and one alert
SELECT status, points_earned, ledger_entry_id, recovery_needed FROM loyalty.complete_rating_slip(:'slip', p_staff_id => '00000000-0000-4000-8000-00000000f100');
SELECT count(*) AS ledger_rows FROM loyalty.loyalty_ledger WHERE rating_slip_id = :'slip';
SELECT kind, details->>'points' AS points, details->>'threshold' AS threshold
  FROM loyalty.alert WHERE details->>'rating_slip_id' = :'slip';
SELECT points, approval_threshold_points FROM loyalty.list_held_slips() WHERE rating_slip_id = :'slip';
-- recovery never posts it
SAVEPOINT s;
SELECT * FROM loyalty.recover_slip_loyalty(:'slip');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT count(*) AS owed FROM loyalty.list_partial_completions() WHERE rating_slip_id = :'slip';
-- approval posts it once, under the slip's gameplay key
SELECT points_earned, balance_after, idempotent_hit FROM loyalty.approve_slip(:'slip', 'regress-approve', p_staff_id => '00000000-0000-4000-8000-00000000f200');
SELECT points_earned, idempotent_hit FROM loyalty.approve_slip(:'slip', p_staff_id => '00000000-0000-4000-8000-00000000f200');
SELECT transaction_type, points_change, source, idempotency_key = 'gameplay:' || :'slip' AS usual_key
  FROM loyalty.loyalty_ledger WHERE rating_slip_id = :'slip';
SELECT approval_status, decided_at IS NOT NULL AS decided FROM loyalty.rating_slip WHERE id = :'slip';
-- a second held slip, rejected: no points, ever
SELECT id AS slip2 FROM loyalty.open_rating_slip('eeeeeeee-0000-4000-8000-000000000002', 'BLACKJACK', 5000,
       p_start_time => now() - interval '2 hours', p_staff_id => '00000000-0000-4000-8000-00000000f100') \gset
SELECT status FROM loyalty.complete_rating_slip(:'slip2', p_staff_id => '00000000-0000-4000-8000-00000000f100');
SAVEPOINT s;
SELECT * FROM loyalty.reject_slip(:'slip2', 'short', p_staff_id => '00000000-0000-4000-8000-00000000f200');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT approval_status, decision_reason FROM loyalty.reject_slip(:'slip2', 'bet not confirmed by camera review', p_staff_id => '00000000-0000-4000-8000-00000000f200');
SAVEPOINT s;
SELECT * FROM loyalty.approve_slip(:'slip2', p_staff_id => '00000000-0000-4000-8000-00000000f200');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT status, recovery_needed FROM loyalty.complete_rating_slip(:'slip2', p_staff_id => '00000000-0000-4000-8000-00000000f100');
-- a slip that was never held cannot be approved
SELECT id AS small FROM loyalty.open_rating_slip('eeeeeeee-0000-4000-8000-000000000003', 'BLACKJACK', 25,
       p_start_time => now() - interval '1 hour', p_staff_id => '00000000-0000-4000-8000-00000000f100') \gset
SELECT status, points_earned FROM loyalty.complete_rating_slip(:'small', p_staff_id => '00000000-0000-4000-8000-00000000f100');
SAVEPOINT s;
SELECT * FROM loyalty.approve_slip(:'small', p_staff_id => '00000000-0000-4000-8000-00000000f200');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT count(*) AS mismatches FROM loyalty.verify_all_balances();
ROLLBACK;
