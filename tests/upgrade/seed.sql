-- Real data on an installed release (0.1.0 onwards), made the way a casino
-- makes it: owner edits at psql, then slips and rewards through the
-- functions (as the owner, a trusted back end). tests/upgrade/run.sh then
-- adds partial completions (which need a second session holding a lock),
-- snapshots every table, upgrades, and compares.
--
-- Two variables come from run.sh: from 0.3.0 on a trusted back end names the
-- staff member it acts for on the floor, so `named` is true there, and
-- `floor` is the argument that names them (empty before 0.3.0, where the
-- argument does not exist and 0.1.0's staff table refuses loyalty:rate).
\set ON_ERROR_STOP on
\set QUIET on

-- Owner edits to the settings, the tier ladder and the games: an upgrade must
-- keep them, rows added and rows deleted included.
UPDATE loyalty.config
   SET casino_timezone = 'America/Los_Angeles', alert_reward_count = 3,
       updated_at = '2026-01-01 12:00:00+00';
UPDATE loyalty.tier SET threshold_points = 12000 WHERE tier = 'SILVER';
INSERT INTO loyalty.tier (tier, threshold_points) VALUES ('DIAMOND', 500000);
UPDATE loyalty.game_settings SET point_multiplier = 1.5, updated_at = '2026-01-02 03:04:05+00'
 WHERE game_type = 'BACCARAT';
INSERT INTO loyalty.game_settings (game_type, house_edge, decisions_per_hour, points_conversion_rate,
                                   point_multiplier, updated_at)
VALUES ('PAI_GOW', 1.5, 30, 10, 2, '2026-01-03 00:00:00+00');
DELETE FROM loyalty.game_settings WHERE game_type = 'CRAPS';

-- Staff: a pit boss with every 0.1.0 permission, and a former employee.
INSERT INTO loyalty.staff (staff_id, permissions, active, created_at, updated_at) VALUES
    ('5afe0000-0000-4000-8000-000000000001', '{loyalty:award,loyalty:view_all,loyalty:recover}', true,
     '2026-01-01 00:00:00+00', '2026-01-01 00:00:00+00'),
    ('5afe0000-0000-4000-8000-000000000002', '{loyalty:award}', false,
     '2026-01-01 00:00:00+00', '2026-02-01 00:00:00+00');
\if :named
-- the floor supervisor the back end names when it rates play
INSERT INTO loyalty.staff (staff_id, permissions, active, created_at, updated_at) VALUES
    ('5afe0000-0000-4000-8000-000000000003', '{loyalty:rate}', true,
     '2026-01-01 00:00:00+00', '2026-01-01 00:00:00+00');
\endif

-- Completed slips, paid: players 1-3 (player 2 crosses into SILVER).
SELECT s.status, s.points_earned, s.tier_after
  FROM (VALUES ('00000000-0000-4000-8000-0000000000a1'::uuid, 'BLACKJACK', 25::numeric, 2),
               ('00000000-0000-4000-8000-0000000000a2'::uuid, 'BACCARAT', 500::numeric, 3),
               ('00000000-0000-4000-8000-0000000000a3'::uuid, 'PAI_GOW', 40::numeric, 1)) AS v(player, game, bet, hours),
       LATERAL loyalty.open_rating_slip(v.player, v.game, v.bet,
                                        p_visit_id => '00000000-0000-4000-8000-00000000f001',
                                        p_start_time => now() - make_interval(hours => v.hours),
                                        p_correlation_id => 'upgrade-seed-open' :floor) AS o,
       LATERAL loyalty.complete_rating_slip(o.id, 'upgrade-seed-complete' :floor) AS s
 ORDER BY v.player;

-- A slip still OPEN when the upgrade runs: player 4.
SELECT status FROM loyalty.open_rating_slip('00000000-0000-4000-8000-0000000000a4', 'ROULETTE', 10,
                                            p_start_time => now() - interval '30 minutes' :floor);

-- Manual rewards across players by the pit boss: bonuses and an adjustment.
-- The fourth within the hour passes the edited alert threshold (3): an alert.
SELECT r.transaction_type, r.points_change, r.balance_after
  FROM (VALUES (1, '00000000-0000-4000-8000-0000000000a1'::uuid, 500::bigint, 'birthday bonus for a regular'),
               (2, '00000000-0000-4000-8000-0000000000a2'::uuid, -200::bigint, 'correction of a mistyped slip'),
               (3, '00000000-0000-4000-8000-0000000000a5'::uuid, 300::bigint, 'welcome bonus at the cage'),
               (4, '00000000-0000-4000-8000-0000000000a6'::uuid, 250::bigint, 'service recovery gesture')) AS v(n, player, points, reason),
       LATERAL loyalty.manual_reward(v.player, v.points, v.reason, '5afe0000-0000-4000-8000-000000000001',
                                     p_reward_id => 'upgrade-reward-' || v.n,
                                     p_correlation_id => 'upgrade-seed-reward-' || v.n) AS r
 ORDER BY v.n;

SELECT count(*) AS alerts FROM loyalty.alert;
SELECT count(*) AS mismatches FROM loyalty.verify_all_balances();
