-- Manual rewards' tables (src/rewards/): retries answered as idempotent
-- hits, and vouchers paid once per casino.

-- Manual rewards answered as idempotent hits: a retry leaves no ledger row,
-- so without this the duplicate-reward runbook could not tell a retried
-- request from one sent once.
CREATE TABLE loyalty.reward_replay (
    ledger_entry_id bigint      NOT NULL,
    player_id       uuid        NOT NULL,
    staff_id        uuid,
    at              loyalty.finite_timestamptz NOT NULL DEFAULT clock_timestamp(),
    correlation_id  text        NOT NULL
);
COMMENT ON TABLE loyalty.reward_replay IS 'One row per manual reward retry answered as an idempotent hit (reward_history).';
COMMENT ON COLUMN loyalty.reward_replay.ledger_entry_id IS 'The entry the retry was answered with.';
COMMENT ON COLUMN loyalty.reward_replay.player_id IS 'The player of that entry.';
COMMENT ON COLUMN loyalty.reward_replay.staff_id IS 'Who sent the retry.';
COMMENT ON COLUMN loyalty.reward_replay.at IS 'When the retry arrived.';
COMMENT ON COLUMN loyalty.reward_replay.correlation_id IS 'Correlation id of the retry.';
CREATE INDEX reward_replay_player_idx ON loyalty.reward_replay (player_id, at);

-- An external reward id (a voucher) pays once per enterprise, whoever presents
-- it: the ledger's keys all include the player, so this table is the one
-- place that spans players. A claim commits or rolls back with its entry.
CREATE TABLE loyalty.voucher (
    reward_id  text        NOT NULL,
    player_id  uuid        NOT NULL,
    claimed_at loyalty.finite_timestamptz NOT NULL DEFAULT clock_timestamp(),
    property_id text       NOT NULL DEFAULT loyalty.sole_property(),
    CONSTRAINT voucher_pkey PRIMARY KEY (reward_id)
);
COMMENT ON TABLE loyalty.voucher IS 'One row per external reward id ever paid: the player it paid. The same id for another player is IDEMPOTENCY_CONFLICT.';
COMMENT ON COLUMN loyalty.voucher.reward_id IS 'The external reward id (p_reward_id of manual_reward).';
COMMENT ON COLUMN loyalty.voucher.player_id IS 'The only player this id may pay.';
COMMENT ON COLUMN loyalty.voucher.claimed_at IS 'When the id was first paid.';
COMMENT ON COLUMN loyalty.voucher.property_id IS 'Where it was paid; an id pays once in the whole enterprise, wherever it is presented.';
