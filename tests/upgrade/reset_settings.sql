-- After the upgrade suite has proven that the owner's edits survived, put the
-- settings, tiers and games back to the seeds (as an owner would, at psql),
-- so the pg_regress and client suites, which assume the seeded figures, run
-- unchanged on the upgraded database. Its players, slips, ledger, pending
-- accruals and alerts stay.
\set ON_ERROR_STOP on
UPDATE loyalty.config SET casino_timezone = 'UTC', alert_reward_count = 20;
DELETE FROM loyalty.tier WHERE tier = 'DIAMOND';
UPDATE loyalty.tier SET threshold_points = 10000 WHERE tier = 'SILVER';
DELETE FROM loyalty.game_settings WHERE game_type = 'PAI_GOW';
UPDATE loyalty.game_settings SET point_multiplier = 1.0 WHERE game_type = 'BACCARAT';
INSERT INTO loyalty.game_settings (game_type, house_edge, decisions_per_hour, points_conversion_rate, point_multiplier)
VALUES ('CRAPS', 1.4, 48, 10, 1.0);
