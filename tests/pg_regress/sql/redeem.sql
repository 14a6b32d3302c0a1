-- Comps at the SQL surface (SPEC §15), as the owner (a trusted back end
-- naming the staff member), in a rolled-back transaction: every refusal
-- with its code, and each way a hold ends. Refusals that commit nothing
-- over real connections, callers, and races: tests/client/holds.rs and
-- tests/isolation/specs/hold_*.spec.
INSERT INTO loyalty.staff (staff_id, permissions) VALUES
    ('00000000-0000-4000-8000-00000000f100', '{loyalty:rate}'),
    ('00000000-0000-4000-8000-00000000f200', '{loyalty:approve}'),
    ('00000000-0000-4000-8000-00000000f300', '{loyalty:redeem,loyalty:award}'),
    ('00000000-0000-4000-8000-00000000f301', '{loyalty:redeem,loyalty:approve}')
ON CONFLICT (staff_id) DO NOTHING;
\set VERBOSITY default
\set SHOW_CONTEXT never
-- (terse where a DETAIL would name a random hold id or entry id)
\set p '''dddddddd-0000-4000-8000-000000000001'''
\set cashier '''00000000-0000-4000-8000-00000000f300'''
\set cashier2 '''00000000-0000-4000-8000-00000000f301'''
\set approver '''00000000-0000-4000-8000-00000000f200'''
BEGIN;
SELECT balance_after FROM loyalty.manual_reward(:p, 5000, 'welcome to the club', :cashier);
-- refusals: who
SAVEPOINT s;
SELECT * FROM loyalty.hold_points(:p, 100, 'steakhouse', 'dinner for two');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SAVEPOINT s;
SELECT * FROM loyalty.hold_points(:p, 100, 'steakhouse', 'dinner for two', '00000000-0000-4000-8000-00000000f100');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SAVEPOINT s;
SELECT * FROM loyalty.hold_points(:cashier, 100, 'steakhouse', 'dinner for two', :cashier);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
-- refusals: what
SAVEPOINT s;
SELECT * FROM loyalty.hold_points(:p, 0, 'steakhouse', 'dinner for two', :cashier);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SAVEPOINT s;
SELECT * FROM loyalty.hold_points(:p, 50001, 'steakhouse', 'dinner for two', :cashier);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SAVEPOINT s;
SELECT * FROM loyalty.hold_points(:p, 5001, 'steakhouse', 'dinner for two', :cashier);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SAVEPOINT s;
SELECT * FROM loyalty.hold_points('dddddddd-0000-4000-8000-0000000000ff', 1, 'steakhouse', 'dinner for two', :cashier);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SAVEPOINT s;
SELECT * FROM loyalty.hold_points(:p, 100, '  ', 'dinner for two', :cashier);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
-- an outlet of three zero-width spaces is no outlet (visible characters, as reasons)
SELECT * FROM loyalty.hold_points(:p, 100, E'\u200B\u200B\u200B', 'dinner for two', :cashier);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SAVEPOINT s;
SELECT * FROM loyalty.hold_points(:p, 100, 'steakhouse', 'x', :cashier);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SAVEPOINT s;
SELECT * FROM loyalty.hold_points(:p, 100, 'steakhouse', 'dinner for two', :cashier, p_ttl => '0.5 seconds');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SAVEPOINT s;
SELECT * FROM loyalty.hold_points(:p, 100, 'steakhouse', 'dinner for two', :cashier, p_ttl => '1 mon');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SAVEPOINT s;
SELECT * FROM loyalty.hold_points(:p, 100, 'steakhouse', 'dinner for two', :cashier, p_ttl => '7 days 1 second');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SAVEPOINT s;
SELECT * FROM loyalty.capture_hold('dddddddd-0000-4000-8000-0000000000ff', p_staff_id => :cashier);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SAVEPOINT s;
SELECT * FROM loyalty.reverse_redemption(1, 'moved to a cash charge', :approver);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK TO s;

-- a dinner: held, retried, captured in part, captured again
SELECT hold_id AS dinner, status, points, comp_value_cents, available_before, available_after, balance_after,
       idempotent_hit
  FROM loyalty.hold_points(:p, 1200, 'steakhouse', 'dinner for two', :cashier, 'table-12') \gset
\echo :status :points :comp_value_cents :available_before :available_after :balance_after :idempotent_hit
SELECT hold_id = :'dinner' AS same_hold, status, available_after, idempotent_hit
  FROM loyalty.hold_points(:p, 1200, 'steakhouse', 'dinner for two', :cashier, 'table-12');
\set VERBOSITY terse
SAVEPOINT s;
SELECT * FROM loyalty.hold_points(:p, 1300, 'steakhouse', 'dinner for two', :cashier, 'table-12');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
\set VERBOSITY default
-- held points are not available to an adjustment, a capture or another hold
SAVEPOINT s;
SELECT * FROM loyalty.manual_reward(:p, -3801, 'clawback of a duplicate', :cashier);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SAVEPOINT s;
SELECT * FROM loyalty.hold_points(:p, 3801, 'hotel', 'one night suite', :cashier);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SAVEPOINT s;
SELECT * FROM loyalty.capture_hold(:'dinner', 1201, :cashier);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SAVEPOINT s;
SELECT * FROM loyalty.capture_hold(:'dinner', p_staff_id => '00000000-0000-4000-8000-00000000f100');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT status, captured_points, ledger_entry_id AS dinner_entry, available_before, available_after, balance_after,
       idempotent_hit
  FROM loyalty.capture_hold(:'dinner', 1000, :cashier) \gset
\echo :status :captured_points :available_before :available_after :balance_after :idempotent_hit
SELECT status, captured_points, ledger_entry_id = :dinner_entry AS same_entry, idempotent_hit
  FROM loyalty.capture_hold(:'dinner', p_staff_id => :cashier);
\set VERBOSITY terse
SAVEPOINT s;
SELECT * FROM loyalty.capture_hold(:'dinner', 900, :cashier);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
\set VERBOSITY default
\set VERBOSITY terse
SAVEPOINT s;
SELECT * FROM loyalty.void_hold(:'dinner', 'guest left early', :cashier);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
\set VERBOSITY default
SELECT transaction_type, event_type, points_change, balance_after, staff_id = :cashier AS by_cashier,
       idempotency_key = 'redemption:' || :'dinner' AS keyed_by_hold
  FROM loyalty.loyalty_ledger WHERE id = :dinner_entry;

-- a void releases; a second void is a hit; a voided hold never posts
SELECT hold_id AS buffet FROM loyalty.hold_points(:p, 300, 'buffet', 'lunch buffet', :cashier) \gset
SELECT status, available_before, available_after, idempotent_hit FROM loyalty.void_hold(:'buffet', 'guest changed plans', :cashier);
SELECT status, idempotent_hit FROM loyalty.void_hold(:'buffet', 'guest changed plans', :cashier);
\set VERBOSITY terse
SAVEPOINT s;
SELECT * FROM loyalty.capture_hold(:'buffet', p_staff_id => :cashier);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
\set VERBOSITY default

-- above the approval threshold: reserved, pending, alerted; a second person approves
SELECT redemption_approval_points FROM loyalty.configure(p_redemption_approval_points => 1000);
SELECT hold_id AS suite, status, available_after FROM loyalty.hold_points(:p, 2000, 'hotel', 'two nights suite', :cashier2) \gset
\echo :status :available_after
SELECT kind, details->>'points' AS points, details->>'threshold' AS threshold
  FROM loyalty.alert WHERE details->>'hold_id' = :'suite';
\set VERBOSITY terse
SAVEPOINT s;
SELECT * FROM loyalty.capture_hold(:'suite', p_staff_id => :cashier);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
\set VERBOSITY default
-- not by whoever made it, nor by anyone without loyalty:approve
SAVEPOINT s;
SELECT * FROM loyalty.approve_hold(:'suite', :cashier);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SAVEPOINT s;
SELECT * FROM loyalty.approve_hold(:'suite', :cashier2);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT status, idempotent_hit FROM loyalty.approve_hold(:'suite', :approver);
SELECT status, idempotent_hit FROM loyalty.approve_hold(:'suite', :approver);
SELECT approved_by = :approver AS approved_by_approver FROM loyalty.hold WHERE hold_id = :'suite';
SELECT status, captured_points, available_after, balance_after FROM loyalty.capture_hold(:'suite', p_staff_id => :cashier);
SELECT ledger_entry_id AS suite_entry FROM loyalty.hold WHERE hold_id = :'suite' \gset

-- a reversal: once, by a second person with loyalty:approve, lifetime untouched
SELECT lifetime_points AS life, tier FROM loyalty.player_loyalty WHERE player_id = :p \gset
SAVEPOINT s;
SELECT * FROM loyalty.reverse_redemption(:suite_entry, 'moved to a cash charge', '00000000-0000-4000-8000-00000000f100');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SAVEPOINT s;
SELECT * FROM loyalty.reverse_redemption(:suite_entry, 'moved to a cash charge', :cashier2);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SAVEPOINT s;
SELECT * FROM loyalty.reverse_redemption(:suite_entry, 'short', :approver);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
\set VERBOSITY terse
SAVEPOINT s;
SELECT * FROM loyalty.reverse_redemption((SELECT min(id) FROM loyalty.loyalty_ledger WHERE player_id = :p), 'not a comp', :approver);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
\set VERBOSITY default
SELECT reverses_entry_id = :suite_entry AS links, points_change, balance_before, balance_after, idempotent_hit
  FROM loyalty.reverse_redemption(:suite_entry, 'moved to a cash charge', :approver);
SELECT points_change, idempotent_hit FROM loyalty.reverse_redemption(:suite_entry, 'moved to a cash charge', :approver);
SELECT transaction_type, event_type, reverses_entry_id = :suite_entry AS links
  FROM loyalty.loyalty_ledger WHERE player_id = :p ORDER BY seq DESC LIMIT 1;
SELECT lifetime_points = :life AS lifetime_unchanged, tier = :'tier' AS tier_unchanged
  FROM loyalty.player_loyalty WHERE player_id = :p;

-- free play in one call, and its retry
SELECT status, captured_points, available_before, available_after, idempotent_hit
  FROM loyalty.redeem_points(:p, 250, 'free play', 'kiosk free play', :cashier, 'kiosk-7:1');
SELECT status, captured_points, idempotent_hit
  FROM loyalty.redeem_points(:p, 250, 'free play', 'kiosk free play', :cashier, 'kiosk-7:1');

-- past its deadline a hold never posts, swept or not; the sweep releases it
SELECT hold_id AS late FROM loyalty.hold_points(:p, 100, 'bar', 'round of drinks', :cashier, p_ttl => '1 second') \gset
SELECT pg_sleep(1.2);
\set VERBOSITY terse
SAVEPOINT s;
SELECT * FROM loyalty.capture_hold(:'late', p_staff_id => :cashier);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
\set VERBOSITY default
SELECT hold_id = :'late' AS the_late_one, points FROM loyalty.expire_holds();
SELECT count(*) AS swept_again FROM loyalty.expire_holds();
SELECT status, decided_at IS NOT NULL AS decided FROM loyalty.hold WHERE hold_id = :'late';
\set VERBOSITY terse
SAVEPOINT s;
SELECT * FROM loyalty.void_hold(:'late', 'too late for this', :cashier);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
\set VERBOSITY default

-- the books: held points equal the live holds, balances the ledger, chains intact
SELECT current_balance, held_points, lifetime_points FROM loyalty.player_loyalty WHERE player_id = :p;
SELECT ok, held_points, live_hold_points FROM loyalty.verify_player_balance(:p);
SELECT ok, entries FROM loyalty.verify_ledger_chain(:p);
SELECT payload->>'event' AS event, payload->>'status' AS status
  FROM loyalty.notification WHERE kind = 'HOLD' AND player_id = :p ORDER BY id;
SELECT holds_live, points_held, holds_past_due, points_redeemed_today FROM loyalty.metrics();
ROLLBACK;
