-- casino_loyalty: what every capability shares. Runs first (bootstrap):
-- the schema's comment, the domains (single-column rules), the casino's
-- settings (loyalty.config) and its gaming day, and the update's lock.
-- Each capability's tables live beside its name (sql/<capability>/), added
-- after this file; sql/tables.sql closes the set (CONTRIBUTING.md, "The
-- house").

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

-- The enterprise's properties (SPEC §22): the casinos of one company, one
-- account per player across them. A setting a property leaves NULL is the
-- enterprise's (loyalty.config); src/ledger/casino.rs keeps both and
-- resolves the fallback in one place. A property is never deleted (its
-- slips, holds and entries name it); it is made inactive.
CREATE DOMAIN loyalty.property_code AS text
    CONSTRAINT property_code_check CHECK (VALUE ~ '^[A-Z0-9][A-Z0-9_-]{0,31}$');
COMMENT ON DOMAIN loyalty.property_code IS 'A property''s code: 1 to 32 of A-Z, 0-9, _ and -, starting with a letter or digit (LV-STRIP).';
CREATE TABLE loyalty.property (
    property_id     loyalty.property_code NOT NULL,
    name            text    NOT NULL CONSTRAINT property_name_check CHECK (name <> ''),
    time_zone       text    -- NULL (the enterprise's) passes; an unknown zone fails to convert
                    CONSTRAINT property_time_zone_check CHECK (time_zone <> '' AND (now() AT TIME ZONE time_zone) < 'infinity'),
    gaming_day_start time,
    active          boolean NOT NULL DEFAULT true,
    daily_approval_threshold_points bigint CONSTRAINT property_daily_approval_threshold_points_check
                    CHECK (daily_approval_threshold_points >= 0),
    cents_per_point numeric(12,4) CONSTRAINT property_cents_per_point_check CHECK (cents_per_point BETWEEN 0 AND 10000),
    max_redemption_points bigint CONSTRAINT property_max_redemption_points_check
                    CHECK (max_redemption_points BETWEEN 1 AND 1000000000000),
    redemption_approval_points bigint CONSTRAINT property_redemption_approval_points_check
                    CHECK (redemption_approval_points >= 0),
    seeded          boolean NOT NULL DEFAULT false,
    created_at      loyalty.finite_timestamptz NOT NULL DEFAULT now(),
    updated_at      loyalty.finite_timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT property_pkey PRIMARY KEY (property_id)
);
COMMENT ON TABLE loyalty.property IS 'The enterprise''s properties (casinos). Each setting left NULL falls back to loyalty.config; the tier ladder, tier basis and expiry are the enterprise''s. Never deleted: made inactive.';
COMMENT ON COLUMN loyalty.property.property_id IS 'The property''s code (LV-STRIP); slips, holds, vouchers and ledger entries name it.';
COMMENT ON COLUMN loyalty.property.name IS 'The property''s name, for people.';
COMMENT ON COLUMN loyalty.property.time_zone IS 'IANA time zone its gaming days are computed in (NULL: config.casino_timezone).';
COMMENT ON COLUMN loyalty.property.gaming_day_start IS 'Local time its gaming day starts (NULL: config.gaming_day_start).';
COMMENT ON COLUMN loyalty.property.active IS 'An inactive property takes no new slip, reward, hold or redemption; what it started can still be finished.';
COMMENT ON COLUMN loyalty.property.daily_approval_threshold_points IS 'Daily four-eyes threshold of a player''s gameplay at this property on its gaming day (NULL: config.daily_approval_threshold_points).';
COMMENT ON COLUMN loyalty.property.cents_per_point IS 'What a point is worth in a comp here, in cents (NULL: config.cents_per_point).';
COMMENT ON COLUMN loyalty.property.max_redemption_points IS 'Most points one hold or redemption here may take (NULL: config.max_redemption_points).';
COMMENT ON COLUMN loyalty.property.redemption_approval_points IS 'A hold here of more points than this waits for a second person (NULL: config.redemption_approval_points).';
COMMENT ON COLUMN loyalty.property.seeded IS 'True while the row is as the install seeded it (MAIN); an owner edit clears it.';
COMMENT ON COLUMN loyalty.property.created_at IS 'Audit: when the property was added.';
COMMENT ON COLUMN loyalty.property.updated_at IS 'Audit: when the property last changed.';

-- Where a row that names no property happened: the enterprise's only
-- active property. The default of the property columns of slips, holds and
-- vouchers, which the functions always set: it serves rows an owner writes
-- by hand, and calls of the previous version still in flight when an
-- update commits (a 0.3.0 database has one property).
CREATE FUNCTION loyalty.sole_property() RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_ids text[];
BEGIN
    SELECT array_agg(p.property_id::text ORDER BY p.property_id) INTO v_ids FROM loyalty.property p WHERE p.active;
    IF cardinality(v_ids) IS DISTINCT FROM 1 THEN
        RAISE EXCEPTION USING MESSAGE = 'VALIDATION_ERROR', ERRCODE = 'PT422',
            DETAIL = 'the enterprise has no single active property: name the property';
    END IF;
    RETURN v_ids[1];
END
$$;
COMMENT ON FUNCTION loyalty.sole_property() IS
    'Internal: the enterprise''s only active property (VALIDATION_ERROR when it has several or none); the default of the property columns.';

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

-- A property's gaming day of an instant: its own time zone and day start,
-- each falling back to the enterprise's (the day its ledger entries carry).
CREATE FUNCTION loyalty.property_gaming_day(p_property_id text, p_at timestamptz) RETURNS date
LANGUAGE sql STABLE SET search_path = pg_catalog, loyalty, pg_temp
AS $$
    SELECT ((p_at AT TIME ZONE coalesce(p.time_zone, c.casino_timezone))
            - (coalesce(p.gaming_day_start, c.gaming_day_start) - time '00:00'))::date
      FROM loyalty.config c JOIN loyalty.property p ON p.property_id = p_property_id
$$;
COMMENT ON FUNCTION loyalty.property_gaming_day(text, timestamptz) IS
    'A property''s gaming day of p_at (its time zone and day start, else the enterprise''s); NULL for no such property.';

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
