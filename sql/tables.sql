-- Every table exists once this file runs: each capability's tables
-- (sql/schema.sql, sql/<capability>/tables.sql and staff.sql, the restore's
-- triggers), then what pg_dump must keep. Everything after the tables
-- requires this file ("tables") rather than naming each capability's.

-- Everything that holds data survives pg_dump / pg_restore.
SELECT pg_catalog.pg_extension_config_dump('loyalty.config', '');
SELECT pg_catalog.pg_extension_config_dump('loyalty.tier', '');
SELECT pg_catalog.pg_extension_config_dump('loyalty.game_settings', '');
SELECT pg_catalog.pg_extension_config_dump('loyalty.staff', '');
SELECT pg_catalog.pg_extension_config_dump('loyalty.rating_slip', '');
SELECT pg_catalog.pg_extension_config_dump('loyalty.player_loyalty', '');
SELECT pg_catalog.pg_extension_config_dump('loyalty.loyalty_ledger', '');
SELECT pg_catalog.pg_extension_config_dump('loyalty.loyalty_ledger_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('loyalty.pending_accrual', '');
SELECT pg_catalog.pg_extension_config_dump('loyalty.alert', '');
SELECT pg_catalog.pg_extension_config_dump('loyalty.alert_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('loyalty.reward_window', '');
SELECT pg_catalog.pg_extension_config_dump('loyalty.seed_removed', '');
SELECT pg_catalog.pg_extension_config_dump('loyalty.notification', '');
SELECT pg_catalog.pg_extension_config_dump('loyalty.notification_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('loyalty.health_state', '');
SELECT pg_catalog.pg_extension_config_dump('loyalty.admin_audit', '');
SELECT pg_catalog.pg_extension_config_dump('loyalty.admin_audit_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('loyalty.reward_replay', '');
SELECT pg_catalog.pg_extension_config_dump('loyalty.voucher', '');
SELECT pg_catalog.pg_extension_config_dump('loyalty.chain_verified', '');
SELECT pg_catalog.pg_extension_config_dump('loyalty.property', '');
SELECT pg_catalog.pg_extension_config_dump('loyalty.staff_property', '');
SELECT pg_catalog.pg_extension_config_dump('loyalty.property_game', '');
