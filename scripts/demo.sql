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

\echo '## Points: BLACKJACK, average bet 25, two hours (docs/reference.md example: 700)'
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

\echo
\echo '################ Rating slips: open, complete, partial failure, recovery'
\echo '## The floor: a rater and a supervisor who approves. The operator acts for them by name'
\echo '## (p_staff_id): a trusted back end never rates or approves as nobody'
INSERT INTO loyalty.staff (staff_id, permissions) VALUES
    ('5eaf0000-0000-4000-8000-0000000000a1', '{loyalty:rate}'),
    ('5eaf0000-0000-4000-8000-0000000000a2', '{loyalty:approve}');
\echo '## Open a BLACKJACK slip at bet 25 that started two and a half hours ago (settings snapshotted now)'
SELECT id AS slip_id, game_type, average_bet, start_time, status
  FROM loyalty.open_rating_slip('7d3f7a52-0000-4000-8000-000000000002', 'BLACKJACK', 25,
       p_start_time => now() - interval '150 minutes', p_correlation_id => 'demo-slip-1', p_staff_id => '5eaf0000-0000-4000-8000-0000000000a1') \gset
SELECT id, player_id, game_type, house_edge, decisions_per_hour, average_bet, start_time, status
  FROM loyalty.rating_slip WHERE id = :'slip_id';

\echo '## Complete it as of half an hour ago (two hours of play): closed and 700 points posted in one call'
SELECT status, duration_seconds, points_earned, balance_before, balance_after, tier_after, ledger_entry_id, recovery_needed
  FROM loyalty.complete_rating_slip(:'slip_id', 'demo-slip-1', p_end_time => now() - interval '30 minutes',
                                    p_staff_id => '5eaf0000-0000-4000-8000-0000000000a1');

\echo '## Complete it again (a double click): ALREADY_COMPLETED, nothing written'
SELECT status, points_earned, idempotent_hit, recovery_needed FROM loyalty.complete_rating_slip(:'slip_id', p_staff_id => '5eaf0000-0000-4000-8000-0000000000a1');

\echo '## A second slip (from where the first ended: play is rated once) whose accrual fails for real:'
\echo '## another session holds the player''s balance row'
SELECT id AS slip2 FROM loyalty.open_rating_slip('7d3f7a52-0000-4000-8000-000000000002', 'ROULETTE', 10,
       p_start_time => now() - interval '30 minutes', p_staff_id => '5eaf0000-0000-4000-8000-0000000000a1') \gset
CREATE EXTENSION IF NOT EXISTS dblink;
SELECT dblink_connect('holder', format('host=%s port=%s dbname=%s', :'host', :'port', current_database())) AS holder;
SELECT dblink_exec('holder', 'BEGIN') AS holder;
SELECT * FROM dblink('holder', $$SELECT current_balance FROM loyalty.player_loyalty
                                WHERE player_id = '7d3f7a52-0000-4000-8000-000000000002' FOR UPDATE$$)
    AS held(current_balance bigint);
SET lock_timeout = '500ms';
SELECT status, error_code, error_message, recovery_needed, correlation_id
  FROM loyalty.complete_rating_slip(:'slip2', 'demo-slip-2', p_staff_id => '5eaf0000-0000-4000-8000-0000000000a1');
RESET lock_timeout;
\echo '## The slip is CLOSED, no gameplay entry exists, and the debt is recorded durably'
SELECT s.status AS slip_status,
       (SELECT count(*) FROM loyalty.loyalty_ledger l WHERE l.rating_slip_id = s.id) AS ledger_rows,
       p.error_code, p.attempts, p.correlation_id, p.resolved_at
  FROM loyalty.rating_slip s JOIN loyalty.pending_accrual p ON p.rating_slip_id = s.id
 WHERE s.id = :'slip2';

\echo '## The operator lists partial completions (closed slips with no gameplay entry)'
SELECT rating_slip_id, player_id, game_type, points_owed, pending, error_code, attempts, correlation_id
  FROM loyalty.list_partial_completions();

\echo '## The other session lets go; the operator recovers in bulk'
SELECT dblink_exec('holder', 'ROLLBACK') AS holder;
SELECT dblink_disconnect('holder') AS holder;
SELECT * FROM loyalty.recover_partial_completions(100, 'demo-recovery');
\echo '## Recovering that slip again changes nothing (idempotent replay)'
SELECT points_earned, idempotent_hit FROM loyalty.recover_slip_loyalty(:'slip2');

\echo
\echo '################ Manual rewards, called the way PostgREST calls them'
\echo '## A pit boss with loyalty:award (the owner adds staff rows)'
INSERT INTO loyalty.staff (staff_id, permissions) VALUES
    ('5eaf0000-0000-4000-8000-000000000001', '{loyalty:award,loyalty:view_all}');
SELECT staff_id, permissions, active FROM loyalty.staff;

\echo '## She awards 500 points: SET LOCAL role + request.jwt.claims, as PostgREST does per request'
BEGIN;
SET LOCAL ROLE authenticated;
SELECT set_config('request.jwt.claims', '{"role": "authenticated", "sub": "5eaf0000-0000-4000-8000-000000000001"}', true) AS jwt \gset
SELECT transaction_type, points_change, balance_before, balance_after, tier_after, idempotent_hit, row_locked
  FROM loyalty.manual_reward('7d3f7a52-0000-4000-8000-000000000002', 500, 'birthday bonus 🎂',
                             '5eaf0000-0000-4000-8000-000000000001', p_correlation_id => 'demo-reward-1');
COMMIT;

\echo '## She double-clicks: same inputs, same gaming day: the first entry comes back, nothing is written'
BEGIN;
SET LOCAL ROLE authenticated;
SELECT set_config('request.jwt.claims', '{"role": "authenticated", "sub": "5eaf0000-0000-4000-8000-000000000001"}', true) AS jwt \gset
SELECT transaction_type, points_change, balance_before, balance_after, idempotent_hit
  FROM loyalty.manual_reward('7d3f7a52-0000-4000-8000-000000000002', 500, 'birthday bonus 🎂',
                             '5eaf0000-0000-4000-8000-000000000001', p_correlation_id => 'demo-reward-2');
COMMIT;

\echo '## She tries 20,000 points: REWARD_EXCEEDS_LIMIT (PT422, HTTP 422 through PostgREST); nothing written'
\set ON_ERROR_STOP 0
BEGIN;
SET LOCAL ROLE authenticated;
SELECT set_config('request.jwt.claims', '{"role": "authenticated", "sub": "5eaf0000-0000-4000-8000-000000000001"}', true) AS jwt \gset
SELECT * FROM loyalty.manual_reward('7d3f7a52-0000-4000-8000-000000000002', 20000, 'because I can',
                                    '5eaf0000-0000-4000-8000-000000000001');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK;
\echo '## ...and signing as someone else: INVALID_STAFF_ID (PT403)'
BEGIN;
SET LOCAL ROLE authenticated;
SELECT set_config('request.jwt.claims', '{"role": "authenticated", "sub": "5eaf0000-0000-4000-8000-000000000001"}', true) AS jwt \gset
SELECT * FROM loyalty.manual_reward('7d3f7a52-0000-4000-8000-000000000002', 100, 'covering for a colleague',
                                    '5eaf0000-0000-4000-8000-000000000099');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK;
\set ON_ERROR_STOP 1

\echo '## The player reads their own rows through RLS (and nobody else''s)'
BEGIN;
SET LOCAL ROLE authenticated;
SELECT set_config('request.jwt.claims', '{"role": "authenticated", "sub": "7d3f7a52-0000-4000-8000-000000000002"}', true) AS jwt \gset
SELECT player_id, current_balance, lifetime_points, tier, tier_progress FROM loyalty.player_loyalty;
SELECT count(*) AS ledger_rows_visible_to_player FROM loyalty.loyalty_ledger;
COMMIT;

\echo '## Balances verified against the ledger (only mismatches are listed: none). Even the raw primitive'
\echo '## increment_player_loyalty above posted a DIRECT_INCREMENT entry per call, so no balance moves without one.'
SELECT * FROM loyalty.verify_all_balances();
SELECT player_id, current_balance, ledger_balance, entries, chain_breaks, ok
  FROM loyalty.verify_player_balance('7d3f7a52-0000-4000-8000-000000000002');

\echo '## The ledger (ids skip the numbers the idempotent replays above used up; the balance chain shows nothing is missing)'
SELECT id, player_id, transaction_type, points_change, balance_before, balance_after, tier_after,
       idempotency_key, correlation_id
  FROM loyalty.loyalty_ledger ORDER BY id;

\echo '## Four eyes: a big night at the tables (5,000 a hand for two hours = 140,000 points) is held, not paid'
SELECT id AS big_slip FROM loyalty.open_rating_slip('7d3f7a52-0000-4000-8000-000000000003', 'BLACKJACK', 5000,
       p_start_time => now() - interval '2 hours', p_correlation_id => 'demo-big', p_staff_id => '5eaf0000-0000-4000-8000-0000000000a1') \gset
SELECT status, points_earned, recovery_needed FROM loyalty.complete_rating_slip(:'big_slip', p_staff_id => '5eaf0000-0000-4000-8000-0000000000a1');
SELECT rating_slip_id, points, approval_threshold_points FROM loyalty.list_held_slips();
\echo '## A second person approves it: the supervisor, who did not rate it (the rater would be FORBIDDEN)'
SELECT points_earned, balance_after, idempotent_hit FROM loyalty.approve_slip(:'big_slip', 'demo-approve', p_staff_id => '5eaf0000-0000-4000-8000-0000000000a2');

\echo
\echo '################ Comps: spending points through holds'
\echo '## A cashier with loyalty:redeem holds 1,200 points for dinner (retried by the POS: the same hold)'
INSERT INTO loyalty.staff (staff_id, permissions) VALUES ('5eaf0000-0000-4000-8000-0000000000a3', '{loyalty:redeem}');
SELECT hold_id AS dinner, status, points, comp_value_cents, available_before, available_after
  FROM loyalty.hold_points('7d3f7a52-0000-4000-8000-000000000003', 1200, 'steakhouse', 'dinner for two',
                           p_staff_id => '5eaf0000-0000-4000-8000-0000000000a3', p_request_id => 'POS-4411') \gset
\echo :status :points points held, worth :comp_value_cents cents; available :available_before -> :available_after
SELECT status, available_after, idempotent_hit
  FROM loyalty.hold_points('7d3f7a52-0000-4000-8000-000000000003', 1200, 'steakhouse', 'dinner for two',
                           p_staff_id => '5eaf0000-0000-4000-8000-0000000000a3', p_request_id => 'POS-4411');
\echo '## The bill comes to 1,000 points: one REDEMPTION entry, the other 200 go back'
SELECT status, captured_points, ledger_entry_id AS dinner_entry, available_after, balance_after
  FROM loyalty.capture_hold(:'dinner', 1000, p_staff_id => '5eaf0000-0000-4000-8000-0000000000a3') \gset
\echo :status :captured_points points; balance :balance_after, available :available_after
\echo '## A buffet hold the guest never uses: voided, its points released'
SELECT hold_id AS buffet FROM loyalty.hold_points('7d3f7a52-0000-4000-8000-000000000003', 300, 'buffet', 'lunch buffet',
       p_staff_id => '5eaf0000-0000-4000-8000-0000000000a3') \gset
SELECT status, available_before, available_after
  FROM loyalty.void_hold(:'buffet', 'guest left before lunch', p_staff_id => '5eaf0000-0000-4000-8000-0000000000a3');
\echo '## A bar hold that lives one second: past its deadline it never posts, and the sweep (pg_cron) expires it'
SELECT hold_id AS bar FROM loyalty.hold_points('7d3f7a52-0000-4000-8000-000000000003', 100, 'bar', 'a round of drinks',
       p_staff_id => '5eaf0000-0000-4000-8000-0000000000a3', p_ttl => '1 second') \gset
SELECT pg_sleep(1.2);
\set ON_ERROR_STOP 0
SELECT * FROM loyalty.capture_hold(:'bar', p_staff_id => '5eaf0000-0000-4000-8000-0000000000a3');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
\set ON_ERROR_STOP 1
SELECT points, hold_id = :'bar' AS the_bar_hold FROM loyalty.expire_holds();
\echo '## The guest paid the dinner in cash after all: a supervisor (not the cashier) gives the points back, once'
SELECT points_change, balance_after, idempotent_hit
  FROM loyalty.reverse_redemption(:dinner_entry, 'moved to a cash charge, ticket 881',
                                  p_staff_id => '5eaf0000-0000-4000-8000-0000000000a2');
SELECT points_change, idempotent_hit
  FROM loyalty.reverse_redemption(:dinner_entry, 'moved to a cash charge, ticket 881',
                                  p_staff_id => '5eaf0000-0000-4000-8000-0000000000a2');
\echo '## Every hold, and the books: held points are the live holds, lifetime points and tier never moved'
SELECT outlet, status, points, captured_points FROM loyalty.hold ORDER BY created_at;
SELECT current_balance, held_points, lifetime_points, tier
  FROM loyalty.player_loyalty WHERE player_id = '7d3f7a52-0000-4000-8000-000000000003';
SELECT ok, held_points, live_hold_points FROM loyalty.verify_player_balance('7d3f7a52-0000-4000-8000-000000000003');

\echo '## Tamper evidence: every ledger row is a link in its player''s hash chain'
SELECT player_id, seq, left(prev_hash, 12) AS prev_hash, left(row_hash, 12) AS row_hash, points_change
  FROM loyalty.loyalty_ledger ORDER BY player_id, seq;
SELECT count(*) AS broken_chains FROM loyalty.verify_all_chains();
\echo '## An anchor to keep outside the database (a regulator''s inbox), checked later: no rows means nothing changed'
SELECT loyalty.ledger_chain_heads() AS heads \gset
SELECT (:'heads'::jsonb)->>'digest' AS digest, (:'heads'::jsonb)->>'players' AS players;
SELECT count(*) AS problems FROM loyalty.verify_chain_heads(:'heads'::jsonb);

\echo
\echo '################ Operations'
\echo '## The health check (pg_cron runs it every minute in production). Player ...0001 was moved with the'
\echo '## raw primitive, so its balance disagrees with the ledger: one CRITICAL alert, raised once'
SELECT kind, severity, subject, new_alert FROM loyalty.health_check();
SELECT kind, severity, subject, new_alert FROM loyalty.health_check();
\echo '## Balance drift, repaired in the open: verify, rebuild (a RECONCILIATION entry with operator and reason), verify'
SELECT ok, current_balance, ledger_balance FROM loyalty.verify_player_balance('7d3f7a52-0000-4000-8000-000000000001');
SELECT balance_before, balance_after, ledger_entry_id
  FROM loyalty.rebuild_player_balance('7d3f7a52-0000-4000-8000-000000000001', 'DEMO-7',
                                      'points moved with the raw primitive in the demo');
SELECT transaction_type, points_change, balance_before, balance_after, source, reason
  FROM loyalty.loyalty_ledger WHERE transaction_type = 'RECONCILIATION';
SELECT ok FROM loyalty.verify_player_balance('7d3f7a52-0000-4000-8000-000000000001');
\echo '## The next run resolves the alert'
SELECT count(*) AS findings FROM loyalty.health_check();
SELECT kind, severity, resolved_at IS NOT NULL AS resolved FROM loyalty.alert WHERE kind = 'BALANCE_MISMATCH';
\echo '## The outbox: tier changes and alerts, written in their own transactions, for workers and Realtime'
SELECT id, kind, player_id, payload FROM loyalty.notification ORDER BY id;
\echo '## The dashboard row'
SELECT slips_open, slips_completed_today, slips_held_today, partial_completions, rewards_today,
       reward_points_today, alerts_open_warning, alerts_open_critical, notifications_pending
  FROM loyalty.metrics();
\echo '## The admin API (trusted back ends): a new pit boss, audited'
SELECT staff_id, permissions FROM loyalty.upsert_staff('7d3f7a52-0000-4000-8000-0000000000b2',
       '{loyalty:rate}', p_correlation_id => 'HR-1');
SELECT action, target, actor, correlation_id FROM loyalty.admin_audit ORDER BY id;

\echo
\echo '################ Statements, expiry and the exception report'
\echo '## Player ...0003''s statement of the last day: opening, every entry, totals per kind, closing'
SELECT line, seq, transaction_type, points_change, balance_after, entries
  FROM loyalty.player_statement('7d3f7a52-0000-4000-8000-000000000003', now() - interval '1 day');
\echo '## ... and what they had just before the dinner was charged'
SELECT balance, lifetime_points, tier, seq
  FROM loyalty.player_balance_at('7d3f7a52-0000-4000-8000-000000000003',
       (SELECT created_at - interval '1 microsecond' FROM loyalty.loyalty_ledger
         WHERE player_id = '7d3f7a52-0000-4000-8000-000000000003' AND transaction_type = 'REDEMPTION'));
\echo '## The casino lets points lapse after inactivity (here two seconds, warned one second before; off by default)'
SELECT points_inactivity_expiry, expiry_warning
  FROM loyalty.configure(p_points_inactivity_expiry => '2 seconds', p_expiry_warning => '1 second',
                         p_correlation_id => 'POLICY-1');
SELECT pg_sleep(2.1);
SELECT player_id, points_expired, balance_after FROM loyalty.expire_inactive_points() ORDER BY player_id;
SELECT player_id, payload->>'available' AS warned_of FROM loyalty.notification WHERE kind = 'POINTS_EXPIRING' ORDER BY player_id;
SELECT points_inactivity_expiry IS NULL AS expiry_off
  FROM loyalty.configure(p_points_inactivity_expiry => '0', p_correlation_id => 'POLICY-2');
\echo '## The quarter''s exception review, for a compliance reviewer with loyalty:audit (who may hold nothing that grants or receives)'
SELECT staff_id, permissions FROM loyalty.upsert_staff('7d3f7a52-0000-4000-8000-0000000000c1', '{loyalty:audit}',
       p_correlation_id => 'COMPLIANCE-1');
SELECT event, initiator, approver, amount, reason
  FROM loyalty.exception_report(loyalty.gaming_day(now()) - 90, loyalty.gaming_day(now()));

\echo
\echo '################ Tiers by qualification year'
\echo '## The casino qualifies tiers per calendar year (PERIOD, from 1 January); nobody loses a tier at the switch'
SELECT tier_basis, tier_period_start
  FROM loyalty.configure(p_tier_basis => 'PERIOD', p_tier_period_start => '01-01', p_correlation_id => 'POLICY-3');
SELECT player_id, tier, tier_credits, tier_period, retained_tier FROM loyalty.player_loyalty ORDER BY player_id;
\echo '## A year passes: the server''s clock jumps to 06:30 on the next 1 January, casino time'
SELECT extract(epoch FROM ((loyalty.tier_period_of() + interval '1 year' + c.gaming_day_start + interval '30 minutes')
                           AT TIME ZONE c.casino_timezone) - now())::bigint AS jump
  FROM loyalty.config c \gset
\setenv DEMO_JUMP :jump
\! echo "+$DEMO_JUMP" > "$DEMO_CLOCK"
SELECT loyalty.tier_period_of() AS year_begins;
\echo '## The daily rollover (pg_cron): each player keeps through this year the tier last year''s credits reached'
SELECT player_id, tier_before, tier_after, period_credits, retained_tier FROM loyalty.roll_tier_period();
\echo '## Run again the same day, it finds nobody'
SELECT count(*) AS rolled_again FROM loyalty.roll_tier_period();
\echo '## Another year without play: the second rollover, where tiers fall, each with a tier-change notification'
SELECT extract(epoch FROM ((loyalty.tier_period_of() + interval '1 year' + c.gaming_day_start + interval '30 minutes')
                           AT TIME ZONE c.casino_timezone) - now())::bigint + :jump AS jump
  FROM loyalty.config c \gset
\setenv DEMO_JUMP :jump
\! echo "+$DEMO_JUMP" > "$DEMO_CLOCK"
SELECT player_id, tier_before, tier_after, period_credits, retained_tier FROM loyalty.roll_tier_period();
SELECT player_id, payload->>'tier_before' AS tier_before, payload->>'tier_after' AS tier_after
  FROM loyalty.notification WHERE kind = 'TIER_CHANGED' AND created_at > now() - interval '1 minute' ORDER BY id;
