-- casino_loyalty: tables, constraints, indexes and comments.
-- Runs first (bootstrap); the Rust functions are created after it.

COMMENT ON SCHEMA loyalty IS 'casino_loyalty: player-loyalty balances, rating slips and the points ledger. Write only through the functions.';

-- Single-column rules are domains, not table CHECKs. PostgreSQL keeps a
-- table's CHECK constraints as text and parses and plans every one of them
-- again for each INSERT or UPDATE statement; a domain's constraints are
-- parsed once per backend and cached (BENCHMARKS.md, "Constraint cost").
-- Table CHECKs remain only for rules that relate two columns.
CREATE DOMAIN loyalty.finite_timestamptz AS timestamptz
    CONSTRAINT finite_timestamptz_check CHECK (isfinite(VALUE));
COMMENT ON DOMAIN loyalty.finite_timestamptz IS 'A timestamp that is not infinity or -infinity (every timestamp column of the extension).';
CREATE DOMAIN loyalty.nonnegative_bigint AS bigint
    CONSTRAINT nonnegative_bigint_check CHECK (VALUE >= 0);
COMMENT ON DOMAIN loyalty.nonnegative_bigint IS 'A balance, a total or a count: never below 0.';
CREATE DOMAIN loyalty.chain_position AS bigint
    CONSTRAINT chain_position_check CHECK (VALUE >= 1);
COMMENT ON DOMAIN loyalty.chain_position IS 'A ledger entry''s position in its player''s hash chain: 1, 2, 3, ...';
CREATE DOMAIN loyalty.idempotency_key AS text
    CONSTRAINT idempotency_key_check CHECK (length(VALUE) BETWEEN 1 AND 200);
COMMENT ON DOMAIN loyalty.idempotency_key IS 'A ledger entry''s idempotency key: 1 to 200 characters.';
CREATE DOMAIN loyalty.notification_kind AS text
    CONSTRAINT notification_kind_check CHECK (VALUE IN ('TIER_CHANGED', 'ALERT', 'HOLD', 'POINTS_EXPIRING'));
COMMENT ON DOMAIN loyalty.notification_kind IS 'An outbox row''s kind: TIER_CHANGED, ALERT, HOLD or POINTS_EXPIRING.';
CREATE DOMAIN loyalty.claim_count AS integer
    CONSTRAINT claim_count_check CHECK (VALUE >= 0);
COMMENT ON DOMAIN loyalty.claim_count IS 'How many times workers claimed an outbox row: never below 0.';
-- The kind lists live in src/domain/kinds.rs; their CHECKs are added once the
-- functions that ask it exist (src/domain/kinds.rs, "ledger_kind_checks").
CREATE DOMAIN loyalty.ledger_kind AS text;
COMMENT ON DOMAIN loyalty.ledger_kind IS 'A ledger transaction_type (src/domain/kinds.rs).';
CREATE DOMAIN loyalty.ledger_event AS text;
COMMENT ON DOMAIN loyalty.ledger_event IS 'A ledger event_type (src/domain/kinds.rs).';
CREATE DOMAIN loyalty.slip_status AS text
    CONSTRAINT slip_status_check CHECK (VALUE IN ('OPEN', 'CLOSED'));
COMMENT ON DOMAIN loyalty.slip_status IS 'A rating slip''s status: OPEN or CLOSED.';
CREATE DOMAIN loyalty.approval_status AS text
    CONSTRAINT approval_status_check CHECK (VALUE IN ('HELD', 'APPROVED', 'REJECTED'));
COMMENT ON DOMAIN loyalty.approval_status IS 'A held slip''s approval state: HELD, APPROVED or REJECTED.';
CREATE DOMAIN loyalty.slip_duration AS integer
    CONSTRAINT slip_duration_check CHECK (VALUE BETWEEN 0 AND 86400);
COMMENT ON DOMAIN loyalty.slip_duration IS 'A closed slip''s whole seconds of play: 0 to 86400.';
CREATE DOMAIN loyalty.average_bet AS numeric
    CONSTRAINT average_bet_check CHECK (VALUE > 0);
COMMENT ON DOMAIN loyalty.average_bet IS 'An average bet: above 0 (the game''s range is checked by the functions).';
CREATE DOMAIN loyalty.tier_progress AS smallint
    CONSTRAINT tier_progress_check CHECK (VALUE BETWEEN 0 AND 100);
COMMENT ON DOMAIN loyalty.tier_progress IS 'Percent of the way to the next tier: 0 to 100.';

-- Owner-only settings. One row; ordinary roles cannot read or write it, and a
-- SET of any session variable cannot override it.
CREATE TABLE loyalty.config (
    singleton            boolean  DEFAULT true CONSTRAINT config_singleton_check CHECK (singleton),
    casino_timezone      text     NOT NULL DEFAULT 'UTC'
                         CONSTRAINT config_casino_timezone_check CHECK (casino_timezone <> '' AND now() AT TIME ZONE casino_timezone IS NOT NULL),
    gaming_day_start     time     NOT NULL DEFAULT '06:00',
    max_reward_points    bigint   NOT NULL DEFAULT 10000 CONSTRAINT config_max_reward_points_check CHECK (max_reward_points > 0),
    rate_limit_count     integer  NOT NULL DEFAULT 10    CONSTRAINT config_rate_limit_count_check CHECK (rate_limit_count > 0),
    rate_limit_window    interval NOT NULL DEFAULT '60 seconds' CONSTRAINT config_rate_limit_window_check CHECK (rate_limit_window > '0'::interval),
    alert_reward_count   integer  NOT NULL DEFAULT 20    CONSTRAINT config_alert_reward_count_check CHECK (alert_reward_count > 0),
    alert_window         interval NOT NULL DEFAULT '1 hour' CONSTRAINT config_alert_window_check CHECK (alert_window > '0'::interval),
    updated_at           loyalty.finite_timestamptz NOT NULL DEFAULT now(),
    accrual_lock_timeout interval NOT NULL DEFAULT '2 seconds'
                         CONSTRAINT config_accrual_lock_timeout_check
                         CHECK (accrual_lock_timeout >= '1 millisecond' AND accrual_lock_timeout <= '1 minute'),
    seeded               boolean  NOT NULL DEFAULT false,
    partial_stale_after  interval NOT NULL DEFAULT '15 minutes'
                         CONSTRAINT config_partial_stale_after_check CHECK (partial_stale_after > '0'::interval),
    approval_overdue_after interval NOT NULL DEFAULT '30 minutes'
                         CONSTRAINT config_approval_overdue_after_check CHECK (approval_overdue_after > '0'::interval),
    alert_ack_overdue_after interval NOT NULL DEFAULT '1 hour'
                         CONSTRAINT config_alert_ack_overdue_after_check CHECK (alert_ack_overdue_after > '0'::interval),
    health_sweep_players integer  NOT NULL DEFAULT 1000
                         CONSTRAINT config_health_sweep_players_check CHECK (health_sweep_players BETWEEN 1 AND 1000000),
    notification_claim_timeout interval NOT NULL DEFAULT '5 minutes'
                         CONSTRAINT config_notification_claim_timeout_check CHECK (notification_claim_timeout > '0'::interval),
    daily_approval_threshold_points bigint NOT NULL DEFAULT 50000
                         CONSTRAINT config_daily_approval_threshold_points_check CHECK (daily_approval_threshold_points >= 0),
    cents_per_point      numeric(12,4) NOT NULL DEFAULT 1
                         CONSTRAINT config_cents_per_point_check CHECK (cents_per_point BETWEEN 0 AND 10000),
    max_redemption_points bigint NOT NULL DEFAULT 50000
                         CONSTRAINT config_max_redemption_points_check CHECK (max_redemption_points BETWEEN 1 AND 1000000000000),
    redemption_approval_points bigint NOT NULL DEFAULT 10000
                         CONSTRAINT config_redemption_approval_points_check CHECK (redemption_approval_points >= 0),
    points_inactivity_expiry interval
                         CONSTRAINT config_points_inactivity_expiry_check CHECK (points_inactivity_expiry > '0'::interval),
    expiry_warning       interval NOT NULL DEFAULT '30 days'
                         CONSTRAINT config_expiry_warning_check CHECK (expiry_warning >= '0'::interval),
    tier_basis           text     NOT NULL DEFAULT 'LIFETIME'
                         CONSTRAINT config_tier_basis_check CHECK (tier_basis IN ('LIFETIME', 'PERIOD')),
    tier_period_start    text     NOT NULL DEFAULT '01-01'
                         -- MM-DD of a day every year has (so not 02-29)
                         CONSTRAINT config_tier_period_start_check CHECK (
                             CASE WHEN tier_period_start ~ '^(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$'
                                  THEN substr(tier_period_start, 4, 2)::integer
                                       <= extract(day FROM make_date(2001, substr(tier_period_start, 1, 2)::integer, 1)
                                                           + interval '1 month - 1 day')
                                  ELSE false END),
    tier_basis_since     loyalty.finite_timestamptz,
    CONSTRAINT config_pkey PRIMARY KEY (singleton)
);
COMMENT ON TABLE loyalty.config IS 'Owner-only settings (one row): casino time zone, gaming-day start, security limits. Not writable by ordinary roles.';
COMMENT ON COLUMN loyalty.config.singleton IS 'Always true: the table holds exactly one row.';
COMMENT ON COLUMN loyalty.config.casino_timezone IS 'IANA time zone of the casino; gaming days are computed in it.';
COMMENT ON COLUMN loyalty.config.gaming_day_start IS 'Local time at which a gaming day starts (06:00: 03:00 belongs to the previous day).';
COMMENT ON COLUMN loyalty.config.max_reward_points IS 'Largest |points| one manual reward may carry (REWARD_EXCEEDS_LIMIT above it).';
COMMENT ON COLUMN loyalty.config.rate_limit_count IS 'Manual rewards one staff member may issue per rate_limit_window (RATE_LIMIT_EXCEEDED above it).';
COMMENT ON COLUMN loyalty.config.rate_limit_window IS 'Sliding window of the manual-reward rate limit.';
COMMENT ON COLUMN loyalty.config.alert_reward_count IS 'More manual rewards than this by one staff member within alert_window raise an alert.';
COMMENT ON COLUMN loyalty.config.alert_window IS 'Window of the manual-reward alert.';
COMMENT ON COLUMN loyalty.config.updated_at IS 'Audit: when the settings last changed.';
COMMENT ON COLUMN loyalty.config.seeded IS 'True while the row is as the install seeded it; an owner edit clears it. Deleting a seeded row leaves a tombstone in seed_removed, so a restore does not bring it back.';
COMMENT ON COLUMN loyalty.config.partial_stale_after IS 'health_check: a partial completion older than this is PARTIAL_COMPLETION_STALE.';
COMMENT ON COLUMN loyalty.config.approval_overdue_after IS 'health_check: a slip held for approval longer than this is APPROVAL_OVERDUE.';
COMMENT ON COLUMN loyalty.config.alert_ack_overdue_after IS 'health_check: an open alert nobody acknowledged for this long is reported (ALERT_UNACKNOWLEDGED).';
COMMENT ON COLUMN loyalty.config.health_sweep_players IS 'health_check: how many players'' balances and chains each run re-verifies besides the players changed since the last run (a rolling sweep over everyone).';
COMMENT ON COLUMN loyalty.config.notification_claim_timeout IS 'A claimed notification not marked delivered within this time may be claimed again (its worker is presumed dead).';
COMMENT ON COLUMN loyalty.config.daily_approval_threshold_points IS 'Four-eyes over a day: the completion that takes a player''s gameplay points for the gaming day above this is HELD_FOR_APPROVAL, like a single slip above its own threshold.';
COMMENT ON COLUMN loyalty.config.cents_per_point IS 'What one point is worth in a comp, in cents: a hold records points x this, rounded down, as comp_value_cents.';
COMMENT ON COLUMN loyalty.config.max_redemption_points IS 'Most points one hold or redemption may take (REDEMPTION_EXCEEDS_LIMIT above it).';
COMMENT ON COLUMN loyalty.config.points_inactivity_expiry IS 'Points expire after this long without an earning entry (NULL: never). expire_inactive_points posts the EXPIRY entries.';
COMMENT ON COLUMN loyalty.config.expiry_warning IS 'How long before their points expire a player is told (one POINTS_EXPIRING notification per stretch without play).';
COMMENT ON COLUMN loyalty.config.tier_basis IS 'What decides the tier: LIFETIME (lifetime points; a tier never falls) or PERIOD (tier credits of the qualification year, the tier reached kept through the next year; roll_tier_period starts each year).';
COMMENT ON COLUMN loyalty.config.tier_period_start IS 'MM-DD: the qualification year starts on this day each year, at the gaming-day start in the casino''s time zone (not 02-29).';
COMMENT ON COLUMN loyalty.config.tier_basis_since IS 'When tier_basis last became PERIOD (configure sets it; NULL: never). Through the qualification year it fell in every player keeps the tier they held then, so turning the basis on takes no tier away and locks no player.';
COMMENT ON COLUMN loyalty.config.redemption_approval_points IS 'A hold of more points than this starts PENDING_APPROVAL and needs a second staff member (approve_hold).';
COMMENT ON COLUMN loyalty.config.accrual_lock_timeout IS 'Longest an accrual waits for a busy player''s row before the completion becomes PARTIAL_COMPLETION (keep it below API statement timeouts).';

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

CREATE TABLE loyalty.game_settings (
    game_type              text    NOT NULL CONSTRAINT game_settings_game_type_check CHECK (game_type ~ '^[A-Z][A-Z0-9_]{0,31}$'),
    house_edge             numeric(7,4)  NOT NULL CONSTRAINT game_settings_house_edge_check CHECK (house_edge > 0 AND house_edge < 100),
    decisions_per_hour     integer       NOT NULL CONSTRAINT game_settings_decisions_per_hour_check CHECK (decisions_per_hour > 0 AND decisions_per_hour <= 10000),
    points_conversion_rate numeric(12,4) NOT NULL CONSTRAINT game_settings_points_conversion_rate_check CHECK (points_conversion_rate >= 0 AND points_conversion_rate <= 10000),
    point_multiplier       numeric(8,4)  NOT NULL CONSTRAINT game_settings_point_multiplier_check CHECK (point_multiplier >= 0 AND point_multiplier <= 100),
    updated_at             loyalty.finite_timestamptz   NOT NULL DEFAULT now(),
    min_average_bet        numeric(14,4) NOT NULL DEFAULT 1,
    max_average_bet        numeric(14,4) NOT NULL DEFAULT 100000,
    approval_threshold_points bigint     NOT NULL DEFAULT 25000
                           CONSTRAINT game_settings_approval_threshold_points_check CHECK (approval_threshold_points >= 0),
    seeded                 boolean       NOT NULL DEFAULT false,
    CONSTRAINT game_settings_pkey PRIMARY KEY (game_type),
    CONSTRAINT game_settings_bet_range_check
        CHECK (min_average_bet > 0 AND min_average_bet <= max_average_bet AND max_average_bet < 1000000000),
    -- the points of any slip this game allows (the largest bet for the
    -- longest slip, 24 hours) fit in a bigint
    CONSTRAINT game_settings_points_fit_check
        CHECK (max_average_bet * house_edge / 100 * decisions_per_hour * 24 * points_conversion_rate
               * point_multiplier < 9223372036854775807)
);
COMMENT ON TABLE loyalty.game_settings IS 'Per game type: the figures a slip''s theoretical win and points are computed from. Snapshotted onto each slip when it opens. Owner-only.';
COMMENT ON COLUMN loyalty.game_settings.game_type IS 'Game type code (BLACKJACK, BACCARAT, ROULETTE, CRAPS).';
COMMENT ON COLUMN loyalty.game_settings.house_edge IS 'House edge in percent (2.0 = 2%).';
COMMENT ON COLUMN loyalty.game_settings.decisions_per_hour IS 'Average decisions (hands, spins, rolls) per hour.';
COMMENT ON COLUMN loyalty.game_settings.points_conversion_rate IS 'Points per unit of theoretical win.';
COMMENT ON COLUMN loyalty.game_settings.point_multiplier IS 'Promotional multiplier applied on top of the conversion rate.';
COMMENT ON COLUMN loyalty.game_settings.updated_at IS 'Audit: when these settings last changed.';
COMMENT ON COLUMN loyalty.game_settings.seeded IS 'True while the row is as the install seeded it; an owner edit clears it. Deleting a seeded row leaves a tombstone in seed_removed, so a restore does not bring it back.';
COMMENT ON COLUMN loyalty.game_settings.min_average_bet IS 'Table limit: the smallest average bet a slip may be opened or re-rated with.';
COMMENT ON COLUMN loyalty.game_settings.max_average_bet IS 'Table limit: the largest average bet a slip may be opened or re-rated with.';
COMMENT ON COLUMN loyalty.game_settings.approval_threshold_points IS 'Four-eyes rule: a completed slip earning more points than this is HELD_FOR_APPROVAL until a second staff member approves it. Snapshotted onto each slip at open.';

CREATE TABLE loyalty.staff (
    staff_id    uuid    NOT NULL,
    permissions text[]  NOT NULL DEFAULT '{}'
                CONSTRAINT staff_permissions_check CHECK (permissions <@ ARRAY['loyalty:award', 'loyalty:rate', 'loyalty:approve',
                                                                               'loyalty:recover', 'loyalty:view_all',
                                                                               'loyalty:redeem', 'loyalty:audit']::text[])
                CONSTRAINT staff_audit_separation_check
                CHECK (NOT (permissions && ARRAY['loyalty:audit']::text[]
                            AND permissions && ARRAY['loyalty:award', 'loyalty:rate', 'loyalty:redeem',
                                                     'loyalty:approve']::text[])),
    active      boolean NOT NULL DEFAULT true,
    created_at  loyalty.finite_timestamptz NOT NULL DEFAULT now(),
    updated_at  loyalty.finite_timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT staff_pkey PRIMARY KEY (staff_id)
);
COMMENT ON TABLE loyalty.staff IS 'Staff members and what they may do. staff_id is the staff member''s auth user id.';
COMMENT ON COLUMN loyalty.staff.staff_id IS 'The staff member''s auth user id (auth.uid() / JWT sub).';
COMMENT ON COLUMN loyalty.staff.permissions IS 'Granted permissions: loyalty:award (manual rewards), loyalty:rate (open, re-rate, complete slips), loyalty:approve (approve or reject held slips), loyalty:recover (recovery of partial completions), loyalty:view_all (read everything), loyalty:redeem (hold, capture and void comps), loyalty:audit (the exception report; never together with award, rate, redeem or approve: whoever reviews neither grants nor receives).';
COMMENT ON COLUMN loyalty.staff.active IS 'Inactive staff may do nothing.';
COMMENT ON COLUMN loyalty.staff.created_at IS 'Audit: when the staff member was added.';
COMMENT ON COLUMN loyalty.staff.updated_at IS 'Audit: when the staff row last changed.';

CREATE TABLE loyalty.rating_slip (
    id                     uuid    NOT NULL DEFAULT gen_random_uuid(),
    player_id              uuid    NOT NULL,
    visit_id               uuid,
    session_id             uuid,
    game_type              text    NOT NULL,
    house_edge             numeric(7,4)  NOT NULL,
    decisions_per_hour     integer       NOT NULL,
    points_conversion_rate numeric(12,4) NOT NULL,
    point_multiplier       numeric(8,4)  NOT NULL,
    average_bet            loyalty.average_bet NOT NULL,
    start_time             loyalty.finite_timestamptz NOT NULL,
    end_time               loyalty.finite_timestamptz,
    status                 loyalty.slip_status NOT NULL DEFAULT 'OPEN',
    duration_seconds       loyalty.slip_duration,
    opened_by              uuid,
    closed_by              uuid,
    accrued_ledger_id      bigint,
    correlation_id         text,
    created_at             loyalty.finite_timestamptz NOT NULL DEFAULT now(),
    updated_at             loyalty.finite_timestamptz NOT NULL DEFAULT now(),
    approval_threshold_points bigint   NOT NULL,
    rerated_by             uuid[]  NOT NULL DEFAULT '{}',
    approval_status        loyalty.approval_status,
    decided_by             uuid,
    decided_at             loyalty.finite_timestamptz,
    decision_reason        text,
    points                 bigint,
    CONSTRAINT rating_slip_pkey PRIMARY KEY (id),
    -- One CHECK (each table CHECK is parsed again on every write): an OPEN
    -- slip has neither an end time nor a duration, a CLOSED one has both;
    -- only a closed slip waits for, or has had, an approval decision.
    CONSTRAINT rating_slip_state_check CHECK (
        (status = 'OPEN') = (end_time IS NULL)
        AND (status = 'OPEN') = (duration_seconds IS NULL)
        AND (approval_status IS NULL OR status = 'CLOSED'))
);
COMMENT ON TABLE loyalty.rating_slip IS 'One stint of one player''s play at one table. Game settings are snapshotted at open; points are computed from the snapshot only.';
COMMENT ON COLUMN loyalty.rating_slip.id IS 'Slip id; the gameplay idempotency key is gameplay:<id>.';
COMMENT ON COLUMN loyalty.rating_slip.player_id IS 'The player (their auth user id).';
COMMENT ON COLUMN loyalty.rating_slip.visit_id IS 'The casino visit this slip belongs to, if known.';
COMMENT ON COLUMN loyalty.rating_slip.session_id IS 'The table session this slip belongs to, if known.';
COMMENT ON COLUMN loyalty.rating_slip.game_type IS 'Game type at open (see game_settings).';
COMMENT ON COLUMN loyalty.rating_slip.house_edge IS 'Snapshot of game_settings.house_edge at open.';
COMMENT ON COLUMN loyalty.rating_slip.decisions_per_hour IS 'Snapshot of game_settings.decisions_per_hour at open.';
COMMENT ON COLUMN loyalty.rating_slip.points_conversion_rate IS 'Snapshot of game_settings.points_conversion_rate at open.';
COMMENT ON COLUMN loyalty.rating_slip.point_multiplier IS 'Snapshot of game_settings.point_multiplier at open.';
COMMENT ON COLUMN loyalty.rating_slip.average_bet IS 'Average bet observed by the floor supervisor.';
COMMENT ON COLUMN loyalty.rating_slip.start_time IS 'When play started.';
COMMENT ON COLUMN loyalty.rating_slip.end_time IS 'When play ended (set when the slip closes).';
COMMENT ON COLUMN loyalty.rating_slip.status IS 'OPEN while play goes on, CLOSED once completed.';
COMMENT ON COLUMN loyalty.rating_slip.duration_seconds IS 'Whole seconds from start_time to end_time (set when the slip closes).';
COMMENT ON COLUMN loyalty.rating_slip.opened_by IS 'Audit: caller who opened the slip (NULL for the owner/service role).';
COMMENT ON COLUMN loyalty.rating_slip.closed_by IS 'Audit: caller who closed the slip.';
COMMENT ON COLUMN loyalty.rating_slip.accrued_ledger_id IS 'Ledger entry that paid the slip''s points (NULL while owed); set in the same transaction as the entry.';
COMMENT ON COLUMN loyalty.rating_slip.correlation_id IS 'Audit: correlation id of the request that last changed the slip.';
COMMENT ON COLUMN loyalty.rating_slip.created_at IS 'Audit: when the slip row was created.';
COMMENT ON COLUMN loyalty.rating_slip.updated_at IS 'Audit: when the slip row last changed.';
COMMENT ON COLUMN loyalty.rating_slip.approval_threshold_points IS 'Snapshot of game_settings.approval_threshold_points at open: more points than this are held for approval.';
COMMENT ON COLUMN loyalty.rating_slip.rerated_by IS 'Audit: every staff member who re-rated the slip (none of them may approve it).';
COMMENT ON COLUMN loyalty.rating_slip.approval_status IS 'NULL: no approval needed. HELD: closed above the threshold, points not posted. APPROVED: a second staff member approved, points posted. REJECTED: no points, ever.';
COMMENT ON COLUMN loyalty.rating_slip.decided_by IS 'Audit: staff member who approved or rejected the held slip (NULL for a trusted back end).';
COMMENT ON COLUMN loyalty.rating_slip.decided_at IS 'Audit: when the held slip was approved or rejected.';
COMMENT ON COLUMN loyalty.rating_slip.decision_reason IS 'Audit: why the held slip was rejected.';
COMMENT ON COLUMN loyalty.rating_slip.points IS 'Points the slip earns, decided from its snapshot when it closed (NULL while open): what a payment posts, and what an owed slip counts toward its player''s gaming day.';
CREATE INDEX rating_slip_player_idx ON loyalty.rating_slip (player_id);
-- One seat: at most one OPEN slip per player (SLIP_ALREADY_OPEN).
CREATE UNIQUE INDEX rating_slip_one_open_per_player ON loyalty.rating_slip (player_id) WHERE status = 'OPEN';
-- Held slips, oldest first, for list_held_slips.
CREATE INDEX rating_slip_held_idx ON loyalty.rating_slip (end_time) WHERE approval_status = 'HELD';
CREATE INDEX rating_slip_correlation_idx ON loyalty.rating_slip (correlation_id) WHERE correlation_id IS NOT NULL;
-- Partial completions: closed slips still owed their points. Small by design,
-- so listing them stays an index scan however many slips are closed.
CREATE INDEX rating_slip_unaccrued_idx ON loyalty.rating_slip (end_time)
    WHERE status = 'CLOSED' AND accrued_ledger_id IS NULL;

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
    CONSTRAINT player_loyalty_pkey PRIMARY KEY (player_id),
    -- available points (balance - held) never below 0: the write path
    -- refuses first (src/ledger/balance.rs); this is the guard behind it
    CONSTRAINT player_loyalty_available_check CHECK (held_points <= current_balance)
);
COMMENT ON TABLE loyalty.player_loyalty IS 'Balance per player. Invariant: current_balance = sum(ledger.points_change), lifetime_points = sum of loyalty.lifetime_credit over the entries, held_points = sum of the live holds.';
COMMENT ON COLUMN loyalty.player_loyalty.player_id IS 'The player (their auth user id).';
COMMENT ON COLUMN loyalty.player_loyalty.current_balance IS 'Points the player has, held ones included; never below held_points.';
COMMENT ON COLUMN loyalty.player_loyalty.lifetime_points IS 'All points ever earned (GAMEPLAY, MANUAL_BONUS and positive DIRECT_INCREMENT entries; loyalty.lifetime_credit); decides the tier. Spending and reversals never change it.';
COMMENT ON COLUMN loyalty.player_loyalty.tier IS 'Tier from the tier ladder and lifetime_points (config.tier_basis LIFETIME) or the higher of tier_credits'' tier and retained_tier (PERIOD).';
COMMENT ON COLUMN loyalty.player_loyalty.tier_progress IS 'Percent of the way from this tier''s threshold to the next (100 at the top tier).';
COMMENT ON COLUMN loyalty.player_loyalty.created_at IS 'Audit: when the player first received a balance row.';
COMMENT ON COLUMN loyalty.player_loyalty.updated_at IS 'Audit: when the balance last changed.';
COMMENT ON COLUMN loyalty.player_loyalty.chain_seq IS 'Tamper evidence: seq of the player''s last ledger entry, as the write path set it.';
COMMENT ON COLUMN loyalty.player_loyalty.chain_head IS 'Tamper evidence: row_hash of the player''s last ledger entry (64 zeros before the first).';
COMMENT ON COLUMN loyalty.player_loyalty.gameplay_day IS 'Gaming day of the player''s last GAMEPLAY entry (the daily approval threshold counts within it).';
COMMENT ON COLUMN loyalty.player_loyalty.gameplay_day_points IS 'GAMEPLAY points posted on gameplay_day, kept by the write path under the player''s lock.';
COMMENT ON COLUMN loyalty.player_loyalty.last_earned_at IS 'When the player last earned points (a GAMEPLAY, MANUAL_BONUS or positive DIRECT_INCREMENT entry), kept by the write path: inactivity expiry counts from it.';
COMMENT ON COLUMN loyalty.player_loyalty.expiry_warned_for IS 'The last_earned_at a POINTS_EXPIRING warning was sent for (one warning per stretch without play).';
COMMENT ON COLUMN loyalty.player_loyalty.chain_head_at IS 'Tamper evidence and statements: created_at of the player''s last ledger entry. The next entry is never dated before it, so a chain''s times are in order.';
COMMENT ON COLUMN loyalty.player_loyalty.tier_credits IS 'Tier credits earned in tier_period (GAMEPLAY and MANUAL_BONUS add, a negative ADJUSTMENT takes away, never below 0); the tier under config.tier_basis = PERIOD.';
COMMENT ON COLUMN loyalty.player_loyalty.tier_period IS 'First gaming day of the qualification period tier_credits count in (NULL before the player''s first entry of 0.3.0).';
COMMENT ON COLUMN loyalty.player_loyalty.retained_tier IS 'The tier the previous period''s credits reached, kept through tier_period (NULL: the lowest).';
COMMENT ON COLUMN loyalty.player_loyalty.expiry_warned_at IS 'When the POINTS_EXPIRING warning for expiry_warned_for was sent: points expire only config.expiry_warning after it.';
COMMENT ON COLUMN loyalty.player_loyalty.held_points IS 'Points reserved by the player''s PENDING_APPROVAL and ACTIVE holds; available = current_balance - held_points.';

-- The casino's gaming day of an instant: its local date in
-- config.casino_timezone, where a day starts at config.gaming_day_start
-- (06:00: 03:00 belongs to the day before). src/ledger/casino.rs computes the
-- same for the write path without a query.
CREATE FUNCTION loyalty.gaming_day(p_at timestamptz) RETURNS date
LANGUAGE sql STABLE SET search_path = pg_catalog, loyalty, pg_temp
AS $$
    SELECT ((p_at AT TIME ZONE c.casino_timezone) - (c.gaming_day_start - time '00:00'))::date
      FROM loyalty.config c
$$;
COMMENT ON FUNCTION loyalty.gaming_day(timestamptz) IS
    'The casino''s gaming day of p_at (config time zone and day start).';

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
COMMENT ON COLUMN loyalty.loyalty_ledger.transaction_type IS 'GAMEPLAY, MANUAL_BONUS (positive manual), ADJUSTMENT (negative manual), REDEMPTION (a captured hold, negative), REDEMPTION_REVERSAL (a redemption given back, positive), EXPIRY (points that lapsed), DIRECT_INCREMENT (a trusted back end''s increment_player_loyalty) or RECONCILIATION (an operator''s repair of a drifted balance: moves the stored balance back to the ledger, so it is not counted in the ledger''s sum; src/domain/kinds.rs).';
COMMENT ON COLUMN loyalty.loyalty_ledger.event_type IS 'RATING_SLIP_COMPLETED, POINTS_UPDATE_REQUESTED, POINTS_REDEEMED, REDEMPTION_REVERSED, POINTS_EXPIRED, BALANCE_INCREMENTED or BALANCE_RECONCILED.';
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
COMMENT ON COLUMN loyalty.loyalty_ledger.gaming_day IS 'The casino''s gaming day (loyalty.config time zone and day start) when the entry was written.';
COMMENT ON COLUMN loyalty.loyalty_ledger.created_at IS 'Audit: when the entry was written (the clock at the write, not the start of its transaction, so the manual-reward rate limit counts what really happened in each window).';
CREATE INDEX loyalty_ledger_correlation_idx ON loyalty.loyalty_ledger (correlation_id) WHERE correlation_id IS NOT NULL;
CREATE INDEX loyalty_ledger_staff_idx ON loyalty.loyalty_ledger (staff_id, created_at) WHERE staff_id IS NOT NULL;
-- Entries of a slip (operators, reports). Partial: a manual reward has no
-- slip, and indexing its NULL cost every reward an index insert.
CREATE INDEX loyalty_ledger_slip_idx ON loyalty.loyalty_ledger (rating_slip_id) WHERE rating_slip_id IS NOT NULL;
CREATE INDEX loyalty_ledger_created_idx ON loyalty.loyalty_ledger (created_at);

CREATE TABLE loyalty.pending_accrual (
    rating_slip_id uuid NOT NULL,
    player_id      uuid NOT NULL,
    error_code     text NOT NULL,
    error_message  text,
    correlation_id text NOT NULL,
    attempts       integer NOT NULL DEFAULT 1 CONSTRAINT pending_accrual_attempts_check CHECK (attempts >= 1),
    failed_at      loyalty.finite_timestamptz NOT NULL DEFAULT now(),
    resolved_at    loyalty.finite_timestamptz,
    CONSTRAINT pending_accrual_pkey PRIMARY KEY (rating_slip_id)
);
COMMENT ON TABLE loyalty.pending_accrual IS 'Durable record of slips closed without their points posted (PARTIAL_COMPLETION), until recovery resolves them.';
COMMENT ON COLUMN loyalty.pending_accrual.rating_slip_id IS 'The closed slip whose points are still owed.';
COMMENT ON COLUMN loyalty.pending_accrual.player_id IS 'The player owed the points.';
COMMENT ON COLUMN loyalty.pending_accrual.error_code IS 'Spec or SQLSTATE code of the last failure.';
COMMENT ON COLUMN loyalty.pending_accrual.error_message IS 'Message of the last failure.';
COMMENT ON COLUMN loyalty.pending_accrual.correlation_id IS 'Correlation id of the failing request.';
COMMENT ON COLUMN loyalty.pending_accrual.attempts IS 'Failed attempts so far.';
COMMENT ON COLUMN loyalty.pending_accrual.failed_at IS 'Audit: when the last failure happened.';
COMMENT ON COLUMN loyalty.pending_accrual.resolved_at IS 'Audit: when recovery posted the points (NULL while owed).';
CREATE INDEX pending_accrual_open_idx ON loyalty.pending_accrual (failed_at) WHERE resolved_at IS NULL;
CREATE INDEX pending_accrual_correlation_idx ON loyalty.pending_accrual (correlation_id);

CREATE TABLE loyalty.alert (
    id         bigserial NOT NULL,
    kind       text  NOT NULL,
    staff_id   uuid,
    player_id  uuid,
    details    jsonb NOT NULL DEFAULT '{}',
    created_at loyalty.finite_timestamptz NOT NULL DEFAULT now(),
    severity   text  NOT NULL DEFAULT 'WARNING'
               CONSTRAINT alert_severity_check CHECK (severity IN ('INFO', 'WARNING', 'CRITICAL')),
    fingerprint text,
    acknowledged_at loyalty.finite_timestamptz,
    acknowledged_by text,
    note       text,
    resolved_at loyalty.finite_timestamptz,
    CONSTRAINT alert_pkey PRIMARY KEY (id),
    CONSTRAINT alert_acknowledged_check CHECK ((acknowledged_at IS NULL) = (acknowledged_by IS NULL))
);
COMMENT ON TABLE loyalty.alert IS 'Raised alerts (e.g. a staff member issuing more manual rewards than the alert threshold in an hour).';
COMMENT ON COLUMN loyalty.alert.id IS 'Alert id.';
COMMENT ON COLUMN loyalty.alert.kind IS 'What kind of alert (MANUAL_REWARD_FREQUENCY, ...).';
COMMENT ON COLUMN loyalty.alert.staff_id IS 'Staff member the alert is about, if any.';
COMMENT ON COLUMN loyalty.alert.player_id IS 'Player the alert is about, if any.';
COMMENT ON COLUMN loyalty.alert.details IS 'Alert specifics as JSON.';
COMMENT ON COLUMN loyalty.alert.created_at IS 'Audit: when the alert was raised.';
COMMENT ON COLUMN loyalty.alert.severity IS 'INFO, WARNING or CRITICAL.';
COMMENT ON COLUMN loyalty.alert.fingerprint IS 'What the alert is about, for health_check findings (kind and subject): one unresolved alert per fingerprint.';
COMMENT ON COLUMN loyalty.alert.acknowledged_at IS 'Audit: when someone took the alert on (acknowledge_alert).';
COMMENT ON COLUMN loyalty.alert.acknowledged_by IS 'Audit: who acknowledged it: a staff id, or the role of a trusted back end.';
COMMENT ON COLUMN loyalty.alert.note IS 'Audit: the acknowledger''s note.';
COMMENT ON COLUMN loyalty.alert.resolved_at IS 'When health_check last found the condition gone; a recurrence raises a new alert.';
CREATE INDEX alert_staff_idx ON loyalty.alert (staff_id, created_at);
-- One unresolved alert per finding (health_check inserts ON CONFLICT DO NOTHING).
CREATE UNIQUE INDEX alert_open_fingerprint_key ON loyalty.alert (fingerprint)
    WHERE resolved_at IS NULL AND fingerprint IS NOT NULL;
-- Open alerts (metrics, the unacknowledged-alert finding).
CREATE INDEX alert_open_idx ON loyalty.alert (created_at) WHERE acknowledged_at IS NULL AND resolved_at IS NULL;

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

-- The durable outbox: one row per event a consumer must not miss, written
-- in the event's own transaction (so a rolled-back event leaves none), read
-- through RLS (a player their own tier changes; loyalty:view_all staff the
-- alerts) or claimed by trusted workers (claim_notifications).
CREATE TABLE loyalty.notification (
    id              bigserial   NOT NULL,
    kind            loyalty.notification_kind NOT NULL,
    player_id       uuid,
    alert_id        bigint,
    ledger_entry_id bigint,
    payload         jsonb       NOT NULL DEFAULT '{}',
    created_at      loyalty.finite_timestamptz NOT NULL DEFAULT clock_timestamp(),
    claimed_at      loyalty.finite_timestamptz,
    claims          loyalty.claim_count NOT NULL DEFAULT 0,
    delivered_at    loyalty.finite_timestamptz,
    CONSTRAINT notification_pkey PRIMARY KEY (id)
);
COMMENT ON TABLE loyalty.notification IS 'Durable outbox of tier changes and alerts, written in the event''s transaction; pg_notify only wakes consumers up.';
COMMENT ON COLUMN loyalty.notification.id IS 'Notification id, increasing in insertion order.';
COMMENT ON COLUMN loyalty.notification.kind IS 'TIER_CHANGED, HOLD (a hold made, approved, captured, voided, expired, or a redemption reversed) and POINTS_EXPIRING (readable by that player), or ALERT (readable by staff with loyalty:view_all).';
COMMENT ON COLUMN loyalty.notification.player_id IS 'The player concerned, if any.';
COMMENT ON COLUMN loyalty.notification.alert_id IS 'The alert (kind ALERT).';
COMMENT ON COLUMN loyalty.notification.ledger_entry_id IS 'The ledger entry that changed the tier, if one did.';
COMMENT ON COLUMN loyalty.notification.payload IS 'What a consumer shows without another read (tiers, alert kind and severity).';
COMMENT ON COLUMN loyalty.notification.created_at IS 'Audit: when the event happened.';
COMMENT ON COLUMN loyalty.notification.claimed_at IS 'When a worker last claimed it (claim_notifications).';
COMMENT ON COLUMN loyalty.notification.claims IS 'How many times it was claimed (more than one: a worker died or failed before marking it delivered).';
COMMENT ON COLUMN loyalty.notification.delivered_at IS 'When a worker marked it delivered; delivered rows are never claimed again.';
CREATE INDEX notification_pending_idx ON loyalty.notification (id) WHERE delivered_at IS NULL;
CREATE INDEX notification_player_idx ON loyalty.notification (player_id, id) WHERE player_id IS NOT NULL;

-- What health_check remembers between runs (one row).
CREATE TABLE loyalty.health_state (
    singleton      boolean     NOT NULL DEFAULT true CONSTRAINT health_state_singleton_check CHECK (singleton),
    last_run_at    loyalty.finite_timestamptz,
    sweep_after    uuid,
    ladder_digest  text,
    last_findings  integer,
    changed_since_xid bigint,
    CONSTRAINT health_state_pkey PRIMARY KEY (singleton)
);
COMMENT ON TABLE loyalty.health_state IS 'health_check''s memory: when it last ran, where its rolling sweep over players stands, which ladder it last checked.';
COMMENT ON COLUMN loyalty.health_state.singleton IS 'Always true: the table holds exactly one row.';
COMMENT ON COLUMN loyalty.health_state.last_run_at IS 'When the last health_check run started: players with ledger entries written since then (less a margin) are re-verified next.';
COMMENT ON COLUMN loyalty.health_state.sweep_after IS 'The rolling sweep re-verifies players after this id next (NULL: from the start).';
COMMENT ON COLUMN loyalty.health_state.ladder_digest IS 'The tier ladder the last full tier check saw; a different ladder triggers a full check.';
COMMENT ON COLUMN loyalty.health_state.last_findings IS 'How many findings the last run returned.';
COMMENT ON COLUMN loyalty.health_state.changed_since_xid IS 'The oldest transaction still running when the last run started: a balance row written by it or any later one is re-verified next, ledger entry or not.';

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

-- Every change made through the admin API: who, when, what before and after.
CREATE TABLE loyalty.admin_audit (
    id             bigserial   NOT NULL,
    at             loyalty.finite_timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor          text        NOT NULL,
    action         text        NOT NULL,
    target         text        NOT NULL,
    before         jsonb,
    after          jsonb,
    correlation_id text        NOT NULL,
    CONSTRAINT admin_audit_pkey PRIMARY KEY (id)
);
COMMENT ON TABLE loyalty.admin_audit IS 'Append-only audit of admin API changes (staff, game settings, tiers, config) and of retier_players.';
COMMENT ON COLUMN loyalty.admin_audit.id IS 'Audit entry id.';
COMMENT ON COLUMN loyalty.admin_audit.at IS 'When the change was made.';
COMMENT ON COLUMN loyalty.admin_audit.actor IS 'Who made it: the current role (and the session user when they differ).';
COMMENT ON COLUMN loyalty.admin_audit.action IS 'upsert_staff, deactivate_staff, upsert_game_settings, upsert_tier, delete_tier, configure or retier_players.';
COMMENT ON COLUMN loyalty.admin_audit.target IS 'The row changed (staff id, game type, tier, config).';
COMMENT ON COLUMN loyalty.admin_audit.before IS 'The row before the change (NULL when created).';
COMMENT ON COLUMN loyalty.admin_audit.after IS 'The row after the change (NULL when deleted).';
COMMENT ON COLUMN loyalty.admin_audit.correlation_id IS 'Correlation id of the request.';
CREATE INDEX admin_audit_target_idx ON loyalty.admin_audit (target, at);

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

-- An external reward id (a voucher) pays once per casino, whoever presents
-- it: the ledger's keys all include the player, so this table is the one
-- place that spans players. A claim commits or rolls back with its entry.
CREATE TABLE loyalty.voucher (
    reward_id  text        NOT NULL,
    player_id  uuid        NOT NULL,
    claimed_at loyalty.finite_timestamptz NOT NULL DEFAULT clock_timestamp(),
    CONSTRAINT voucher_pkey PRIMARY KEY (reward_id)
);
COMMENT ON TABLE loyalty.voucher IS 'One row per external reward id ever paid: the player it paid. The same id for another player is IDEMPOTENCY_CONFLICT.';
COMMENT ON COLUMN loyalty.voucher.reward_id IS 'The external reward id (p_reward_id of manual_reward).';
COMMENT ON COLUMN loyalty.voucher.player_id IS 'The only player this id may pay.';
COMMENT ON COLUMN loyalty.voucher.claimed_at IS 'When the id was first paid.';

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
CREATE TRIGGER admin_audit_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON loyalty.admin_audit
    FOR EACH STATEMENT EXECUTE FUNCTION loyalty.ledger_append_only();

-- The owner's configuration survives pg_dump / pg_restore exactly. During
-- a restore CREATE EXTENSION seeds config, tier and game_settings again
-- before the dumped rows arrive, so:
--   * every row is dumped; a dumped row whose key exists replaces the
--     seeded row whole (edits kept, untouched seeds unchanged);
--   * seeded rows carry seeded = true until the owner changes them;
--   * a seeded row the owner deleted leaves a tombstone in seed_removed
--     (dumped), whose restore deletes the re-seeded row again;
--   * the tier threshold key is deferred, so merges may pass through a
--     moment where two tiers share a threshold.
-- (pg_dump writes table data in name order: seed_removed before tier.)
CREATE TABLE loyalty.seed_removed (
    table_name text        NOT NULL CONSTRAINT seed_removed_table_name_check
                           CHECK (table_name IN ('tier', 'game_settings')),
    key        text        NOT NULL,
    removed_at loyalty.finite_timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT seed_removed_pkey PRIMARY KEY (table_name, key)
);
COMMENT ON TABLE loyalty.seed_removed IS 'Seeded tiers and games the owner deleted, so a restore deletes them again after CREATE EXTENSION re-seeds them.';
COMMENT ON COLUMN loyalty.seed_removed.table_name IS 'tier or game_settings.';
COMMENT ON COLUMN loyalty.seed_removed.key IS 'The deleted row''s key (tier name or game type).';
COMMENT ON COLUMN loyalty.seed_removed.removed_at IS 'Audit: when the owner deleted the seeded row.';

CREATE FUNCTION loyalty.merge_seeded_row() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    -- The dumped row replaces the seeded one whole: every column, including
    -- those a later version adds, with nothing to list here.
    IF TG_TABLE_NAME = 'tier' THEN
        DELETE FROM loyalty.tier WHERE tier = NEW.tier;
    ELSIF TG_TABLE_NAME = 'game_settings' THEN
        DELETE FROM loyalty.game_settings WHERE game_type = NEW.game_type;
    ELSIF TG_TABLE_NAME = 'config' THEN
        DELETE FROM loyalty.config WHERE singleton = NEW.singleton;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER tier_merge_seeded BEFORE INSERT ON loyalty.tier
    FOR EACH ROW EXECUTE FUNCTION loyalty.merge_seeded_row();
CREATE TRIGGER game_settings_merge_seeded BEFORE INSERT ON loyalty.game_settings
    FOR EACH ROW EXECUTE FUNCTION loyalty.merge_seeded_row();
CREATE TRIGGER config_merge_seeded BEFORE INSERT ON loyalty.config
    FOR EACH ROW EXECUTE FUNCTION loyalty.merge_seeded_row();

-- An owner's edit makes a seeded row the owner's. A restore writes its
-- rows with INSERT (merge_seeded_row), which keeps the flag the dump
-- carried; an UPDATE from inside another trigger (depth 2) is not an edit.
CREATE FUNCTION loyalty.seeded_row_edited() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF pg_trigger_depth() = 1 AND NEW IS DISTINCT FROM OLD THEN
        NEW.seeded := false;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER tier_seeded_row_edited BEFORE UPDATE ON loyalty.tier
    FOR EACH ROW EXECUTE FUNCTION loyalty.seeded_row_edited();
CREATE TRIGGER game_settings_seeded_row_edited BEFORE UPDATE ON loyalty.game_settings
    FOR EACH ROW EXECUTE FUNCTION loyalty.seeded_row_edited();
CREATE TRIGGER config_seeded_row_edited BEFORE UPDATE ON loyalty.config
    FOR EACH ROW EXECUTE FUNCTION loyalty.seeded_row_edited();

-- Deleting a seeded row leaves a tombstone; adding the key back removes it.
-- A delete made by a restore's trigger (a merge, a restored tombstone)
-- leaves none: it is not the owner's.
CREATE FUNCTION loyalty.seeded_row_removed() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF TG_OP = 'DELETE' AND pg_trigger_depth() > 1 THEN
        RETURN OLD;
    END IF;
    IF TG_OP = 'DELETE' THEN
        IF OLD.seeded AND TG_TABLE_NAME = 'tier' THEN
            INSERT INTO loyalty.seed_removed (table_name, key) VALUES ('tier', OLD.tier) ON CONFLICT DO NOTHING;
        ELSIF OLD.seeded AND TG_TABLE_NAME = 'game_settings' THEN
            INSERT INTO loyalty.seed_removed (table_name, key) VALUES ('game_settings', OLD.game_type)
                ON CONFLICT DO NOTHING;
        END IF;
        RETURN OLD;
    END IF;
    IF TG_TABLE_NAME = 'tier' THEN
        DELETE FROM loyalty.seed_removed WHERE table_name = 'tier' AND key = NEW.tier;
    ELSE
        DELETE FROM loyalty.seed_removed WHERE table_name = 'game_settings' AND key = NEW.game_type;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER tier_seeded_row_removed AFTER INSERT OR DELETE ON loyalty.tier
    FOR EACH ROW EXECUTE FUNCTION loyalty.seeded_row_removed();
CREATE TRIGGER game_settings_seeded_row_removed AFTER INSERT OR DELETE ON loyalty.game_settings
    FOR EACH ROW EXECUTE FUNCTION loyalty.seeded_row_removed();

-- A restored tombstone deletes the seed CREATE EXTENSION just wrote back
-- (the deletion's own tombstone gives way to the restored one).
CREATE FUNCTION loyalty.apply_seed_removal() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NEW.table_name = 'tier' THEN
        DELETE FROM loyalty.tier WHERE tier = NEW.key AND seeded;
    ELSE
        DELETE FROM loyalty.game_settings WHERE game_type = NEW.key AND seeded;
    END IF;
    DELETE FROM loyalty.seed_removed WHERE table_name = NEW.table_name AND key = NEW.key;
    RETURN NEW;
END
$$;
CREATE TRIGGER seed_removed_apply BEFORE INSERT ON loyalty.seed_removed
    FOR EACH ROW EXECUTE FUNCTION loyalty.apply_seed_removal();

-- An update takes every table of the extension first, all at once: while it
-- waits for one table it holds the others for at most lock_timeout
-- (100 ms, below deadlock_timeout), then lets go and tries again, so a
-- writer that holds one table and wants another is never made its deadlock
-- victim, and once the update holds them all, writers wait for its commit
-- and nothing else (SPEC §20: an update stops writers, it fails none).
-- Upgrade scripts call it first; p_timeout bounds the whole attempt.
CREATE FUNCTION loyalty.lock_for_update(p_timeout interval DEFAULT '1 minute')
RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_deadline timestamptz := clock_timestamp() + p_timeout;
    v_tables   text;
BEGIN
    SELECT string_agg(format('%I.%I', t.schemaname, t.tablename), ', ' ORDER BY t.tablename)
      INTO v_tables FROM pg_catalog.pg_tables t WHERE t.schemaname = 'loyalty';
    LOOP
        BEGIN
            SET LOCAL lock_timeout = '100ms';
            EXECUTE 'LOCK TABLE ' || v_tables || ' IN ACCESS EXCLUSIVE MODE';
            RETURN;
        EXCEPTION WHEN lock_not_available THEN
            IF clock_timestamp() > v_deadline THEN
                RAISE EXCEPTION USING MESSAGE = 'VALIDATION_ERROR', ERRCODE = 'PT422',
                    DETAIL = format('the extension''s tables stayed busy for %s; update at a quieter moment', p_timeout);
            END IF;
        END;
    END LOOP;
END
$$;
COMMENT ON FUNCTION loyalty.lock_for_update(interval) IS
    'Internal, for upgrade scripts: every table of the extension locked at once, without holding any while a writer waits on it (no deadlock with writers).';

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
