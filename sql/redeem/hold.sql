-- Comps (docs/reference.md §15): a hold reserves a player's points for a
-- comp until it is captured (one REDEMPTION entry), voided or expired. The
-- hold moves forward only: PENDING_APPROVAL -> ACTIVE -> CAPTURED, and
-- either of the first two -> VOIDED or EXPIRED. src/redeem/ is its one
-- door; the points it reserves are player_loyalty.held_points, kept by the
-- write path (src/ledger/held.rs) under the player's lock.
CREATE DOMAIN loyalty.hold_status AS text
    CONSTRAINT hold_status_check CHECK (VALUE IN ('PENDING_APPROVAL', 'ACTIVE', 'CAPTURED', 'VOIDED', 'EXPIRED'));
COMMENT ON DOMAIN loyalty.hold_status IS 'A hold''s status: PENDING_APPROVAL, ACTIVE, CAPTURED, VOIDED or EXPIRED.';
CREATE DOMAIN loyalty.positive_bigint AS bigint
    CONSTRAINT positive_bigint_check CHECK (VALUE > 0);
COMMENT ON DOMAIN loyalty.positive_bigint IS 'A count above 0 (a hold''s points).';
CREATE TABLE loyalty.hold (
    hold_id          uuid    NOT NULL DEFAULT gen_random_uuid(),
    player_id        uuid    NOT NULL,
    points           loyalty.positive_bigint NOT NULL,
    outlet           text    NOT NULL,
    comp_value_cents loyalty.nonnegative_bigint NOT NULL,
    status           loyalty.hold_status NOT NULL,
    expires_at       loyalty.finite_timestamptz NOT NULL,
    captured_points  bigint,
    ledger_entry_id  bigint,
    staff_id         uuid    NOT NULL,
    approved_by      uuid,
    approved_at      loyalty.finite_timestamptz,
    reason           text    NOT NULL,
    idempotency_key  text    NOT NULL,
    correlation_id   text    NOT NULL,
    created_at       loyalty.finite_timestamptz NOT NULL DEFAULT clock_timestamp(),
    decided_at       loyalty.finite_timestamptz,
    decided_by       uuid,
    void_reason      text,
    property_id      text    NOT NULL DEFAULT loyalty.sole_property(),
    CONSTRAINT hold_pkey PRIMARY KEY (player_id, hold_id),
    CONSTRAINT hold_property_id_fkey FOREIGN KEY (property_id) REFERENCES loyalty.property (property_id),
    CONSTRAINT hold_player_id_idempotency_key_key UNIQUE (player_id, idempotency_key),
    -- One CHECK for the rules that relate columns (PostgreSQL parses every
    -- table CHECK again on each write; a column's own rule is its domain's,
    -- cached per backend): an approval names who and when; a captured hold
    -- names its entry and what it took, and nothing else does.
    CONSTRAINT hold_state_check CHECK (
        (approved_by IS NULL) = (approved_at IS NULL)
        AND (status = 'CAPTURED') = (ledger_entry_id IS NOT NULL)
        AND (status = 'CAPTURED') = (captured_points IS NOT NULL)
        AND (captured_points IS NULL OR captured_points BETWEEN 1 AND points))
);
COMMENT ON TABLE loyalty.hold IS 'Points reserved for a comp: PENDING_APPROVAL or ACTIVE holds are in player_loyalty.held_points; CAPTURED posted one REDEMPTION entry; VOIDED and EXPIRED released their points.';
COMMENT ON COLUMN loyalty.hold.hold_id IS 'The hold.';
COMMENT ON COLUMN loyalty.hold.player_id IS 'Whose points are held.';
COMMENT ON COLUMN loyalty.hold.points IS 'Points reserved (> 0).';
COMMENT ON COLUMN loyalty.hold.outlet IS 'Where the comp is spent: a restaurant, the hotel, free play.';
COMMENT ON COLUMN loyalty.hold.comp_value_cents IS 'What the comp is worth: points x config.cents_per_point when the hold was made, rounded down.';
COMMENT ON COLUMN loyalty.hold.status IS 'PENDING_APPROVAL (above config.redemption_approval_points, waits for approve_hold), ACTIVE, CAPTURED, VOIDED or EXPIRED.';
COMMENT ON COLUMN loyalty.hold.expires_at IS 'After this instant the hold never posts; expire_holds releases it.';
COMMENT ON COLUMN loyalty.hold.captured_points IS 'Points the capture took (<= points; the rest went back).';
COMMENT ON COLUMN loyalty.hold.ledger_entry_id IS 'The REDEMPTION entry of the capture.';
COMMENT ON COLUMN loyalty.hold.staff_id IS 'Audit: who made the hold (the staff member a trusted back end named).';
COMMENT ON COLUMN loyalty.hold.approved_by IS 'Audit: who approved a hold above the approval threshold.';
COMMENT ON COLUMN loyalty.hold.approved_at IS 'Audit: when it was approved (the exception report lists it on that gaming day).';
COMMENT ON COLUMN loyalty.hold.reason IS 'Audit: why.';
COMMENT ON COLUMN loyalty.hold.idempotency_key IS 'hold:<p_request_id> (a retry returns this hold), or hold:<hold_id> without one.';
COMMENT ON COLUMN loyalty.hold.correlation_id IS 'Audit: correlation id of the request that made the hold.';
COMMENT ON COLUMN loyalty.hold.created_at IS 'Audit: when the hold was made.';
COMMENT ON COLUMN loyalty.hold.decided_at IS 'Audit: when it was captured, voided or expired.';
COMMENT ON COLUMN loyalty.hold.decided_by IS 'Audit: who captured or voided it (NULL for an expiry).';
COMMENT ON COLUMN loyalty.hold.void_reason IS 'Audit: why it was voided.';
COMMENT ON COLUMN loyalty.hold.property_id IS 'The property the comp is given at: its limits and staff decide the hold.';
-- capture_hold, void_hold and approve_hold find a hold by its id alone
CREATE INDEX hold_hold_id_idx ON loyalty.hold (hold_id);
-- expire_holds and the health check read the live holds by deadline
CREATE INDEX hold_live_expires_idx ON loyalty.hold (expires_at) WHERE status IN ('PENDING_APPROVAL', 'ACTIVE');
-- reverse_redemption finds the hold of a REDEMPTION entry by its id
CREATE UNIQUE INDEX hold_ledger_entry_key ON loyalty.hold (ledger_entry_id) WHERE ledger_entry_id IS NOT NULL;
SELECT pg_catalog.pg_extension_config_dump('loyalty.hold', '');
