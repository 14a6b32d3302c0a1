-- The ledger's tables (src/ledger/): the tier ladder, each player's
-- balance row, the append-only ledger and its hash chain's checkpoints,
-- and the manual-reward rate-limit windows the write path keeps.

CREATE TABLE loyalty.tier (
    tier             text   NOT NULL CONSTRAINT tier_tier_check CHECK (tier ~ '^[A-Z][A-Z0-9_]{0,31}$'),
    threshold_points bigint NOT NULL CONSTRAINT tier_threshold_points_check CHECK (threshold_points >= 0),
    seeded           boolean NOT NULL DEFAULT false,
    updated_at       loyalty.finite_timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT tier_pkey PRIMARY KEY (tier),
    -- deferred: a restore (or an owner's reshuffle) moves thresholds one row
    -- at a time; the ladder must be consistent when the transaction commits
    CONSTRAINT tier_threshold_points_key UNIQUE (threshold_points) DEFERRABLE INITIALLY DEFERRED
);
COMMENT ON TABLE loyalty.tier IS 'Tier ladder: a player holds the highest tier whose threshold their lifetime points reach.';
COMMENT ON COLUMN loyalty.tier.updated_at IS 'Audit: when the tier was last added or moved (the admin API maintains it).';
COMMENT ON COLUMN loyalty.tier.tier IS 'Tier name (BRONZE, SILVER, GOLD, PLATINUM).';
COMMENT ON COLUMN loyalty.tier.threshold_points IS 'Lifetime points at which this tier starts; the lowest tier starts at 0.';
COMMENT ON COLUMN loyalty.tier.seeded IS 'True while the row is as the install seeded it; an owner edit clears it. Deleting a seeded row leaves a tombstone in seed_removed, so a restore does not bring it back.';

CREATE TABLE loyalty.player_loyalty (
    player_id       uuid     NOT NULL,
    current_balance loyalty.nonnegative_bigint NOT NULL DEFAULT 0,
    lifetime_points loyalty.nonnegative_bigint NOT NULL DEFAULT 0,
    tier            text     NOT NULL DEFAULT 'BRONZE',
    tier_progress   loyalty.tier_progress NOT NULL DEFAULT 0,
    created_at      loyalty.finite_timestamptz NOT NULL DEFAULT now(),
    updated_at      loyalty.finite_timestamptz NOT NULL DEFAULT now(),
    chain_seq       loyalty.nonnegative_bigint NOT NULL DEFAULT 0,
    chain_head      text     NOT NULL DEFAULT '0000000000000000000000000000000000000000000000000000000000000000',
    gameplay_day    date,
    gameplay_day_points loyalty.nonnegative_bigint NOT NULL DEFAULT 0,
    held_points     loyalty.nonnegative_bigint NOT NULL DEFAULT 0,
    last_earned_at  loyalty.finite_timestamptz,
    expiry_warned_for loyalty.finite_timestamptz,
    chain_head_at   loyalty.finite_timestamptz,
    tier_credits    loyalty.nonnegative_bigint NOT NULL DEFAULT 0,
    tier_period     date,
    retained_tier   text,
    expiry_warned_at loyalty.finite_timestamptz,
    gameplay_property text,
    CONSTRAINT player_loyalty_pkey PRIMARY KEY (player_id),
    -- available points (balance - held) never below 0: the write path
    -- refuses first (src/ledger/balance.rs); this is the guard behind it
    CONSTRAINT player_loyalty_available_check CHECK (held_points <= current_balance)
);
COMMENT ON TABLE loyalty.player_loyalty IS 'Balance per player. Invariant: current_balance = sum(ledger.points_change), lifetime_points = sum of loyalty.lifetime_credit over the entries, held_points = sum of the live holds.';
COMMENT ON COLUMN loyalty.player_loyalty.player_id IS 'The player (their auth user id).';
COMMENT ON COLUMN loyalty.player_loyalty.current_balance IS 'Points the player has, held ones included; never below held_points.';
COMMENT ON COLUMN loyalty.player_loyalty.lifetime_points IS 'All points ever earned (the entries whose kind earns, loyalty.ledger_kinds(), summed by loyalty.lifetime_credit); decides the tier. Spending and reversals never change it.';
COMMENT ON COLUMN loyalty.player_loyalty.tier IS 'Tier from the tier ladder and lifetime_points (config.tier_basis LIFETIME) or the higher of tier_credits'' tier and retained_tier (PERIOD).';
COMMENT ON COLUMN loyalty.player_loyalty.tier_progress IS 'Percent of the way from this tier''s threshold to the next (100 at the top tier).';
COMMENT ON COLUMN loyalty.player_loyalty.created_at IS 'Audit: when the player first received a balance row.';
COMMENT ON COLUMN loyalty.player_loyalty.updated_at IS 'Audit: when the balance last changed.';
COMMENT ON COLUMN loyalty.player_loyalty.chain_seq IS 'Tamper evidence: seq of the player''s last ledger entry, as the write path set it.';
COMMENT ON COLUMN loyalty.player_loyalty.chain_head IS 'Tamper evidence: row_hash of the player''s last ledger entry (64 zeros before the first).';
COMMENT ON COLUMN loyalty.player_loyalty.gameplay_day IS 'Gaming day of the player''s last GAMEPLAY entry, at gameplay_property (the daily approval threshold counts within it).';
COMMENT ON COLUMN loyalty.player_loyalty.gameplay_day_points IS 'GAMEPLAY points posted at gameplay_property on gameplay_day, kept by the write path under the player''s lock.';
COMMENT ON COLUMN loyalty.player_loyalty.gameplay_property IS 'Property of the player''s last GAMEPLAY entry: gameplay_day_points counts there (a payment at another property counts its day from the ledger).';
COMMENT ON COLUMN loyalty.player_loyalty.last_earned_at IS 'When the player last earned points (an entry whose kind earns, loyalty.ledger_kinds()), kept by the write path: inactivity expiry counts from it.';
COMMENT ON COLUMN loyalty.player_loyalty.expiry_warned_for IS 'The last_earned_at a POINTS_EXPIRING warning was sent for (one warning per stretch without play).';
COMMENT ON COLUMN loyalty.player_loyalty.chain_head_at IS 'Tamper evidence and statements: created_at of the player''s last ledger entry. The next entry is never dated before it, so a chain''s times are in order.';
COMMENT ON COLUMN loyalty.player_loyalty.tier_credits IS 'Tier credits earned in tier_period (what an entry adds or takes is its kind''s tier_credits in loyalty.ledger_kinds(); never below 0); the tier under config.tier_basis = PERIOD.';
COMMENT ON COLUMN loyalty.player_loyalty.tier_period IS 'First gaming day of the qualification period tier_credits count in (NULL before the player''s first entry of 0.3.0).';
COMMENT ON COLUMN loyalty.player_loyalty.retained_tier IS 'The tier the previous period''s credits reached, kept through tier_period (NULL: the lowest).';
COMMENT ON COLUMN loyalty.player_loyalty.expiry_warned_at IS 'When the POINTS_EXPIRING warning for expiry_warned_for was sent: points expire only config.expiry_warning after it.';
COMMENT ON COLUMN loyalty.player_loyalty.held_points IS 'Points reserved by the player''s PENDING_APPROVAL and ACTIVE holds; available = current_balance - held_points.';

CREATE TABLE loyalty.loyalty_ledger (
    id               bigserial NOT NULL,
    player_id        uuid   NOT NULL,
    rating_slip_id   uuid,
    visit_id         uuid,
    session_id       uuid,
    idempotency_key  loyalty.idempotency_key NOT NULL,
    transaction_type loyalty.ledger_kind  NOT NULL,
    event_type       loyalty.ledger_event NOT NULL,
    points_change    bigint NOT NULL,
    reason           text,
    source           text,
    staff_id         uuid,
    reward_id        text,
    balance_before   loyalty.nonnegative_bigint NOT NULL,
    balance_after    loyalty.nonnegative_bigint NOT NULL,
    tier_before      text   NOT NULL,
    tier_after       text   NOT NULL,
    correlation_id   text   NOT NULL,
    created_at       loyalty.finite_timestamptz NOT NULL DEFAULT clock_timestamp(),
    -- No format CHECK on the hashes: PostgreSQL re-reads every CHECK of a
    -- table on each insert, and two regex checks cost a fifth of a post
    -- (BENCHMARKS.md); verify_ledger_chain finds a malformed hash anyway.
    seq              loyalty.chain_position NOT NULL,
    prev_hash        text   NOT NULL,
    row_hash         text   NOT NULL,
    -- the write path passes it (src/ledger/casino.rs); the default serves rows
    -- an owner writes by hand
    gaming_day       date   NOT NULL DEFAULT loyalty.gaming_day(clock_timestamp()),
    reverses_entry_id bigint,
    -- set from a slip's, a hold's or a checked argument (no foreign key on
    -- the hot path); NULL for enterprise events and for entries from before
    -- properties existed (hashed only when set, so those keep their hashes)
    property_id      text,
    CONSTRAINT loyalty_ledger_pkey PRIMARY KEY (player_id, id),
    CONSTRAINT loyalty_ledger_player_id_seq_key UNIQUE (player_id, seq),
    CONSTRAINT loyalty_ledger_player_id_idempotency_key_key UNIQUE (player_id, idempotency_key),
    CONSTRAINT loyalty_ledger_balance_arithmetic_check CHECK (balance_after = balance_before + points_change)
);
COMMENT ON TABLE loyalty.loyalty_ledger IS 'Append-only journal of every balance change. UPDATE, DELETE and TRUNCATE raise LEDGER_APPEND_ONLY.';
COMMENT ON COLUMN loyalty.loyalty_ledger.id IS 'Entry id, increasing in insertion order (not commit order). Not gapless: a rolled-back post or an idempotent replay uses up a number; the per-player balance chain (balance_before = previous balance_after), not the ids, shows that no entry is missing.';
COMMENT ON COLUMN loyalty.loyalty_ledger.player_id IS 'The player whose balance changed.';
COMMENT ON COLUMN loyalty.loyalty_ledger.rating_slip_id IS 'The slip this entry pays out (GAMEPLAY) or refers to.';
COMMENT ON COLUMN loyalty.loyalty_ledger.visit_id IS 'Visit of the slip, copied for reporting.';
COMMENT ON COLUMN loyalty.loyalty_ledger.session_id IS 'Table session of the slip, copied for reporting.';
COMMENT ON COLUMN loyalty.loyalty_ledger.idempotency_key IS 'Deterministic key (gameplay:<slip>, manual:<hash>); unique per player, so a replay finds the first entry.';
COMMENT ON COLUMN loyalty.loyalty_ledger.transaction_type IS 'The entry''s kind: one of loyalty.ledger_kinds(), which says what each kind is, earns and counts (src/domain/kinds.rs).';
COMMENT ON COLUMN loyalty.loyalty_ledger.event_type IS 'The event the entry records: its kind''s event_type in loyalty.ledger_kinds().';
COMMENT ON COLUMN loyalty.loyalty_ledger.points_change IS 'Signed change of the balance.';
COMMENT ON COLUMN loyalty.loyalty_ledger.reason IS 'Audit: why (required for manual rewards).';
COMMENT ON COLUMN loyalty.loyalty_ledger.source IS 'Audit: which function wrote the entry.';
COMMENT ON COLUMN loyalty.loyalty_ledger.staff_id IS 'Audit: staff member who issued a manual reward.';
COMMENT ON COLUMN loyalty.loyalty_ledger.reward_id IS 'Audit: external reward id of a manual reward, if given.';
COMMENT ON COLUMN loyalty.loyalty_ledger.balance_before IS 'Audit: balance before this entry (row-locked).';
COMMENT ON COLUMN loyalty.loyalty_ledger.balance_after IS 'Audit: balance after this entry = balance_before + points_change.';
COMMENT ON COLUMN loyalty.loyalty_ledger.tier_before IS 'Audit: tier before this entry.';
COMMENT ON COLUMN loyalty.loyalty_ledger.tier_after IS 'Audit: tier after this entry.';
COMMENT ON COLUMN loyalty.loyalty_ledger.correlation_id IS 'Audit: correlation id of the request; joins log lines, pending_accrual and the caller''s logs.';
COMMENT ON COLUMN loyalty.loyalty_ledger.seq IS 'Position in the player''s hash chain: 1, 2, 3, ... with no gaps (an idempotent replay takes none).';
COMMENT ON COLUMN loyalty.loyalty_ledger.prev_hash IS 'Tamper evidence: the row_hash of the player''s previous entry (64 zeros for the first).';
COMMENT ON COLUMN loyalty.loyalty_ledger.row_hash IS 'Tamper evidence: SHA-256 of prev_hash followed by the RFC 8785 canonical JSON of this row''s immutable fields (docs/reference.md, "Tamper evidence").';
COMMENT ON COLUMN loyalty.loyalty_ledger.reverses_entry_id IS 'The REDEMPTION entry a REDEMPTION_REVERSAL gives back (its key, reversal:<id>, makes it at most once).';
COMMENT ON COLUMN loyalty.loyalty_ledger.gaming_day IS 'The gaming day when the entry was written: its property''s (time zone and day start), or the enterprise''s (loyalty.config) for an entry with no property.';
COMMENT ON COLUMN loyalty.loyalty_ledger.property_id IS 'Where it happened (loyalty.property); NULL for enterprise events (expiry, a tier roll, a reconciliation, a direct increment) and for entries written before 0.4.0, all at the one property the upgrade named MAIN.';
COMMENT ON COLUMN loyalty.loyalty_ledger.created_at IS 'Audit: when the entry was written (the clock at the write, not the start of its transaction, so the manual-reward rate limit counts what really happened in each window).';
CREATE INDEX loyalty_ledger_correlation_idx ON loyalty.loyalty_ledger (correlation_id) WHERE correlation_id IS NOT NULL;
CREATE INDEX loyalty_ledger_staff_idx ON loyalty.loyalty_ledger (staff_id, created_at) WHERE staff_id IS NOT NULL;
-- Entries of a slip (operators, reports). Partial: a manual reward has no
-- slip, and indexing its NULL cost every reward an index insert.
CREATE INDEX loyalty_ledger_slip_idx ON loyalty.loyalty_ledger (rating_slip_id) WHERE rating_slip_id IS NOT NULL;
CREATE INDEX loyalty_ledger_created_idx ON loyalty.loyalty_ledger (created_at);

-- Manual rewards per staff member in the two sliding windows (rate limit,
-- frequency alert), kept up to date under this row's lock so that a reward
-- costs the same whatever the configured limits: each reward is counted in
-- when posted and counted out once when it leaves a window, instead of
-- counting the whole window again on every call. Derived from the ledger:
-- a row whose windows differ from loyalty.config, or a missing row, is
-- recounted from the ledger.
CREATE TABLE loyalty.reward_window (
    staff_id      uuid        NOT NULL,
    rate_window   interval    NOT NULL,
    rate_since    loyalty.finite_timestamptz NOT NULL,
    rate_count    loyalty.nonnegative_bigint NOT NULL,
    alert_window  interval    NOT NULL,
    alert_since   loyalty.finite_timestamptz NOT NULL,
    alert_count   loyalty.nonnegative_bigint NOT NULL,
    CONSTRAINT reward_window_pkey PRIMARY KEY (staff_id)
);
COMMENT ON TABLE loyalty.reward_window IS 'Manual rewards per staff member in the rate-limit and alert windows, maintained under this row''s lock. Derived from the ledger; recounted from it when missing or when the windows change.';
COMMENT ON COLUMN loyalty.reward_window.staff_id IS 'The staff member issuing manual rewards.';
COMMENT ON COLUMN loyalty.reward_window.rate_window IS 'loyalty.config.rate_limit_window when rate_count was computed.';
COMMENT ON COLUMN loyalty.reward_window.rate_since IS 'rate_count counts this staff member''s manual rewards created after this time.';
COMMENT ON COLUMN loyalty.reward_window.rate_count IS 'Manual rewards created after rate_since.';
COMMENT ON COLUMN loyalty.reward_window.alert_window IS 'loyalty.config.alert_window when alert_count was computed.';
COMMENT ON COLUMN loyalty.reward_window.alert_since IS 'alert_count counts this staff member''s manual rewards created after this time.';
COMMENT ON COLUMN loyalty.reward_window.alert_count IS 'Manual rewards created after alert_since.';

-- Where health_check last verified each player's chain: the next run checks
-- that row still carries that hash and verifies only the rows after it.
CREATE TABLE loyalty.chain_verified (
    player_id   uuid   NOT NULL,
    seq         loyalty.nonnegative_bigint NOT NULL,
    row_hash    text   NOT NULL,
    verified_at loyalty.finite_timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT chain_verified_pkey PRIMARY KEY (player_id)
);
COMMENT ON TABLE loyalty.chain_verified IS 'health_check''s verified position in each player''s hash chain (incremental verification).';
COMMENT ON COLUMN loyalty.chain_verified.player_id IS 'The player.';
COMMENT ON COLUMN loyalty.chain_verified.seq IS 'The last seq verified.';
COMMENT ON COLUMN loyalty.chain_verified.row_hash IS 'The row_hash that row had when verified.';
COMMENT ON COLUMN loyalty.chain_verified.verified_at IS 'When.';

-- The ledger is append-only, for everyone including the owner: a statement
-- trigger also fires for UPDATE/DELETE that match no rows.
CREATE FUNCTION loyalty.ledger_append_only() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RAISE EXCEPTION USING
        MESSAGE = 'LEDGER_APPEND_ONLY',
        DETAIL = format('%s is append-only: %s is not allowed; correct a balance with a new entry.', TG_TABLE_NAME, TG_OP),
        ERRCODE = 'PT405';
END
$$;
CREATE TRIGGER loyalty_ledger_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON loyalty.loyalty_ledger
    FOR EACH STATEMENT EXECUTE FUNCTION loyalty.ledger_append_only();
