-- The floor's tables (src/play/): the games and their table limits, the
-- rating slips, and the accruals a completion could not post.

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

-- A property's own table limits and slip threshold for a game (SPEC §22):
-- a setting left NULL is the game's. What a slip earns (house edge,
-- decisions, conversion, multiplier) is the program's, the same at every
-- property; a property narrows its tables within the game's limits (the
-- points of any slip stay within what the game's own limits allow).
CREATE TABLE loyalty.property_game (
    property_id     loyalty.property_code NOT NULL,
    game_type       text    NOT NULL,
    min_average_bet numeric(14,4),
    max_average_bet numeric(14,4),
    approval_threshold_points bigint CONSTRAINT property_game_approval_threshold_points_check
                    CHECK (approval_threshold_points >= 0),
    updated_at      loyalty.finite_timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT property_game_pkey PRIMARY KEY (property_id, game_type),
    CONSTRAINT property_game_property_id_fkey FOREIGN KEY (property_id) REFERENCES loyalty.property (property_id),
    CONSTRAINT property_game_game_type_fkey FOREIGN KEY (game_type) REFERENCES loyalty.game_settings (game_type)
        ON DELETE CASCADE,
    CONSTRAINT property_game_bet_range_check
        CHECK (min_average_bet > 0 AND max_average_bet > 0 AND min_average_bet <= max_average_bet)
);
COMMENT ON TABLE loyalty.property_game IS 'A property''s own table limits and slip approval threshold for a game; NULL is the game''s (game_settings). Limits narrow the game''s, never widen them.';
COMMENT ON COLUMN loyalty.property_game.property_id IS 'The property.';
COMMENT ON COLUMN loyalty.property_game.game_type IS 'The game (game_settings).';
COMMENT ON COLUMN loyalty.property_game.min_average_bet IS 'The smallest average bet at this property''s tables (at least the game''s).';
COMMENT ON COLUMN loyalty.property_game.max_average_bet IS 'The largest average bet at this property''s tables (at most the game''s).';
COMMENT ON COLUMN loyalty.property_game.approval_threshold_points IS 'Four-eyes rule at this property: a slip earning more is held; snapshotted onto each slip at open.';
COMMENT ON COLUMN loyalty.property_game.updated_at IS 'Audit: when the row last changed.';
CREATE INDEX property_game_game_type_idx ON loyalty.property_game (game_type);

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
    property_id            text    NOT NULL DEFAULT loyalty.sole_property(),
    CONSTRAINT rating_slip_pkey PRIMARY KEY (id),
    CONSTRAINT rating_slip_property_id_fkey FOREIGN KEY (property_id) REFERENCES loyalty.property (property_id),
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
COMMENT ON COLUMN loyalty.rating_slip.property_id IS 'The property the play happened at: its gaming day, thresholds and staff decide the slip.';
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
