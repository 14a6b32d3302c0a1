-- Rating controls and four-eyes approval at the SQL surface, as the owner (a
-- trusted back end), in a rolled-back transaction. Who may call what is
-- proven over real connections in tests/client/integrity.rs.
\set VERBOSITY default
\set SHOW_CONTEXT never
BEGIN;
-- table limits: BLACKJACK takes bets from 1 to 100000
SELECT game_type, min_average_bet, max_average_bet, approval_threshold_points
  FROM loyalty.game_settings ORDER BY game_type;
SAVEPOINT s;
SELECT id FROM loyalty.open_rating_slip('eeeeeeee-0000-4000-8000-000000000001', 'BLACKJACK', 100000.01);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT id FROM loyalty.open_rating_slip('eeeeeeee-0000-4000-8000-000000000001', 'BLACKJACK', 25,
       p_start_time => 'infinity');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
-- one seat
SELECT id AS slip FROM loyalty.open_rating_slip('eeeeeeee-0000-4000-8000-000000000001', 'BLACKJACK', 5000,
       p_start_time => now() - interval '2 hours') \gset
SAVEPOINT s;
SELECT id FROM loyalty.open_rating_slip('eeeeeeee-0000-4000-8000-000000000001', 'BACCARAT', 25);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
-- 140,000 points: above the threshold, held with no ledger row and one alert
SELECT status, points_earned, ledger_entry_id, recovery_needed FROM loyalty.complete_rating_slip(:'slip');
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
SELECT points_earned, balance_after, idempotent_hit FROM loyalty.approve_slip(:'slip', 'regress-approve');
SELECT points_earned, idempotent_hit FROM loyalty.approve_slip(:'slip');
SELECT transaction_type, points_change, source, idempotency_key = 'gameplay:' || :'slip' AS usual_key
  FROM loyalty.loyalty_ledger WHERE rating_slip_id = :'slip';
SELECT approval_status, decided_at IS NOT NULL AS decided FROM loyalty.rating_slip WHERE id = :'slip';
-- a second held slip, rejected: no points, ever
SELECT id AS slip2 FROM loyalty.open_rating_slip('eeeeeeee-0000-4000-8000-000000000002', 'BLACKJACK', 5000,
       p_start_time => now() - interval '2 hours') \gset
SELECT status FROM loyalty.complete_rating_slip(:'slip2');
SAVEPOINT s;
SELECT * FROM loyalty.reject_slip(:'slip2', 'short');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT approval_status, decision_reason FROM loyalty.reject_slip(:'slip2', 'bet not confirmed by camera review');
SAVEPOINT s;
SELECT * FROM loyalty.approve_slip(:'slip2');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT status, recovery_needed FROM loyalty.complete_rating_slip(:'slip2');
-- a slip that was never held cannot be approved
SELECT id AS small FROM loyalty.open_rating_slip('eeeeeeee-0000-4000-8000-000000000003', 'BLACKJACK', 25,
       p_start_time => now() - interval '1 hour') \gset
SELECT status, points_earned FROM loyalty.complete_rating_slip(:'small');
SAVEPOINT s;
SELECT * FROM loyalty.approve_slip(:'small');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT count(*) AS mismatches FROM loyalty.verify_all_balances();
ROLLBACK;
