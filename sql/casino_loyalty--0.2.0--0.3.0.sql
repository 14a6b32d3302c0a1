-- casino_loyalty 0.2.0 -> 0.3.0.
--
-- `ALTER EXTENSION casino_loyalty UPDATE` runs this file in one transaction,
-- after the 0.3.0 shared library has been installed. It must carry a 0.2.0
-- database to exactly the schema a fresh 0.3.0 install creates: the upgrade
-- suite (tests/upgrade) compares the two and fails on any difference.
--
-- 0.3.0 is not released yet (sql/RELEASED), so every 0.3.0 change appends its
-- step here, in the order the changes were made; once 0.3.0 is released this
-- file never changes again (CONTRIBUTING.md, docs/releasing.md).
\echo Use "ALTER EXTENSION casino_loyalty UPDATE TO '0.3.0'" to load this file. \quit

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
REVOKE ALL ON FUNCTION loyalty.lock_for_update FROM PUBLIC;
SELECT loyalty.lock_for_update();

-- The standby guard for the writing functions written in SQL (SPEC §18,
-- src/pg/standby.rs); first, because functions redefined below call it.
CREATE FUNCTION loyalty.require_primary() RETURNS bool
STRICT VOLATILE PARALLEL SAFE
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'casino_loyalty-@CARGO_VERSION@', 'require_primary_wrapper';
REVOKE ALL ON FUNCTION loyalty.require_primary FROM PUBLIC;

-- The house for 0.3.0 (src/ grouped by capability). What a partial
-- completion is now has one home, the view below: the runbooks,
-- health_check and metrics read it (metrics counted a slip whose gameplay
-- entry exists but was not yet marked on the slip; it no longer does).
CREATE VIEW loyalty.partial_completion WITH (security_invoker = true) AS
SELECT s.id AS rating_slip_id, s.player_id, s.end_time
  FROM loyalty.rating_slip s
 WHERE s.status = 'CLOSED' AND s.accrued_ledger_id IS NULL AND s.approval_status IS NULL
   AND NOT EXISTS (SELECT 1 FROM loyalty.loyalty_ledger l
                    WHERE l.player_id = s.player_id AND l.idempotency_key = 'gameplay:' || s.id::text);
COMMENT ON VIEW loyalty.partial_completion IS
    'Closed slips still owed their points (no gameplay entry), except slips held for or refused approval.';
REVOKE ALL ON loyalty.partial_completion FROM PUBLIC;

-- Functions and comments whose text named source files that moved.

CREATE OR REPLACE FUNCTION loyalty.manual_reward_frequency(p_from timestamptz DEFAULT NULL, p_to timestamptz DEFAULT NULL,
                                                p_bucket interval DEFAULT '1 hour',
                                                p_from_day date DEFAULT NULL, p_to_day date DEFAULT NULL)
RETURNS TABLE (staff_id uuid, bucket_start timestamptz, rewards bigint, bonuses bigint,
               adjustments bigint, points_total bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, loyalty, pg_temp
AS $$
DECLARE
    v_origin timestamptz := p_from;
BEGIN
    PERFORM loyalty.require_caller();
    IF (p_from IS NULL) <> (p_to IS NULL) OR (p_from_day IS NULL) <> (p_to_day IS NULL)
       OR (p_from IS NULL) = (p_from_day IS NULL) OR p_from > p_to OR p_from_day > p_to_day OR p_bucket IS NULL
       OR p_bucket < interval '1 minute' OR extract(month FROM p_bucket) <> 0 OR extract(year FROM p_bucket) <> 0 THEN
        RAISE EXCEPTION USING MESSAGE = 'VALIDATION_ERROR',
            DETAIL = 'give p_from <= p_to or p_from_day <= p_to_day; p_bucket is at least 1 minute and given in days or less',
            ERRCODE = 'PT422';
    END IF;
    IF p_from_day IS NOT NULL THEN
        -- buckets start at the first gaming day's start, casino time
        SELECT (p_from_day + c.gaming_day_start) AT TIME ZONE c.casino_timezone INTO v_origin FROM loyalty.config c;
    END IF;
    RETURN QUERY
    SELECT l.staff_id, date_bin(p_bucket, l.created_at, v_origin), count(*),
           count(*) FILTER (WHERE l.transaction_type = 'MANUAL_BONUS'),
           count(*) FILTER (WHERE l.transaction_type = 'ADJUSTMENT'),
           sum(l.points_change)::bigint
      FROM loyalty.loyalty_ledger l
     -- manual rewards are these two kinds (src/domain/kinds.rs), whoever else
     -- appears in staff_id on other kinds
     WHERE l.transaction_type IN ('MANUAL_BONUS', 'ADJUSTMENT')
       AND CASE WHEN p_from IS NOT NULL THEN l.created_at >= p_from AND l.created_at < p_to
                ELSE l.gaming_day BETWEEN p_from_day AND p_to_day
                     AND l.created_at >= (p_from_day - 3)::timestamp AT TIME ZONE 'UTC'
                     AND l.created_at < (p_to_day + 4)::timestamp AT TIME ZONE 'UTC' END
     GROUP BY 1, 2 ORDER BY 2, 1;
END
$$;

COMMENT ON COLUMN loyalty.loyalty_ledger.transaction_type IS 'GAMEPLAY, MANUAL_BONUS (positive manual), ADJUSTMENT (negative manual) or RECONCILIATION (an operator''s repair of a drifted balance: moves the stored balance back to the ledger, so it is not counted in the ledger''s sum; src/domain/kinds.rs).';
COMMENT ON DOMAIN loyalty.ledger_kind IS 'A ledger transaction_type (src/domain/kinds.rs).';
COMMENT ON DOMAIN loyalty.ledger_event IS 'A ledger event_type (src/domain/kinds.rs).';

-- Integrity, round 2 (SPEC §14).
--
-- A voucher pays once per casino: the claims table, filled from the ledger
-- (a 0.2.0 database may already have paid one id to several players: the
-- earliest keeps it, the rest stay in the ledger for the audit).
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
INSERT INTO loyalty.voucher (reward_id, player_id, claimed_at)
SELECT DISTINCT ON (reward_id) reward_id, player_id, created_at
  FROM loyalty.loyalty_ledger WHERE reward_id IS NOT NULL
 ORDER BY reward_id, created_at, id;
SELECT pg_catalog.pg_extension_config_dump('loyalty.voucher', '');
ALTER TABLE loyalty.voucher ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON loyalty.voucher FROM PUBLIC;
GRANT SELECT ON loyalty.voucher TO authenticated, service_role;
CREATE POLICY voucher_read ON loyalty.voucher FOR SELECT TO authenticated
    USING ((SELECT loyalty.caller_has_permission('loyalty:view_all')));
CREATE POLICY voucher_service ON loyalty.voucher FOR SELECT TO service_role USING (true);

-- Velocity: the daily approval threshold, and each player's gameplay points
-- of their last gameplay day, kept by the write path. Existing players start
-- the count at 0 for today: at most one day counts less than it should.
ALTER TABLE loyalty.config ADD COLUMN daily_approval_threshold_points bigint NOT NULL DEFAULT 50000
    CONSTRAINT config_daily_approval_threshold_points_check CHECK (daily_approval_threshold_points >= 0);
COMMENT ON COLUMN loyalty.config.daily_approval_threshold_points IS 'Four-eyes over a day: the completion that takes a player''s gameplay points for the gaming day above this is HELD_FOR_APPROVAL, like a single slip above its own threshold.';
-- Every column 0.3.0 adds to the balances, in one statement: a column of a
-- domain with a CHECK makes PostgreSQL rewrite the table, and one rewrite
-- stops writers far shorter than one per column (the steps below that need
-- these columns explain each).
ALTER TABLE loyalty.player_loyalty ADD COLUMN gameplay_day date,
    ADD COLUMN gameplay_day_points loyalty.nonnegative_bigint NOT NULL DEFAULT 0,
    ADD COLUMN held_points loyalty.nonnegative_bigint NOT NULL DEFAULT 0,
    ADD COLUMN last_earned_at loyalty.finite_timestamptz,
    ADD COLUMN expiry_warned_for loyalty.finite_timestamptz,
    ADD COLUMN chain_head_at   loyalty.finite_timestamptz,
    ADD COLUMN tier_credits    loyalty.nonnegative_bigint NOT NULL DEFAULT 0,
    ADD COLUMN tier_period     date,
    ADD COLUMN retained_tier   text,
    ADD COLUMN expiry_warned_at loyalty.finite_timestamptz,
    ADD CONSTRAINT player_loyalty_available_check CHECK (held_points <= current_balance);
COMMENT ON COLUMN loyalty.player_loyalty.gameplay_day IS 'Gaming day of the player''s last GAMEPLAY entry (the daily approval threshold counts within it).';
COMMENT ON COLUMN loyalty.player_loyalty.gameplay_day_points IS 'GAMEPLAY points posted on gameplay_day, kept by the write path under the player''s lock.';

-- A person behind every floor action: the floor functions take p_staff_id
-- (last, so positional 0.2.0 calls keep their meaning).
DROP FUNCTION loyalty.open_rating_slip(uuid, text, numeric, uuid, uuid, timestamptz, text);
DROP FUNCTION loyalty.update_rating_slip_bet(uuid, numeric, text);
DROP FUNCTION loyalty.complete_rating_slip(uuid, text, boolean, timestamptz);
DROP FUNCTION loyalty.complete_rating_slips(uuid[], text, boolean);
DROP FUNCTION loyalty.approve_slip(uuid, text);
DROP FUNCTION loyalty.reject_slip(uuid, text, text);
CREATE FUNCTION loyalty.open_rating_slip(
	"p_player_id" uuid,
	"p_game_type" TEXT,
	"p_average_bet" NUMERIC,
	"p_visit_id" uuid DEFAULT NULL,
	"p_session_id" uuid DEFAULT NULL,
	"p_start_time" timestamp with time zone DEFAULT now(),
	"p_correlation_id" TEXT DEFAULT NULL,
	"p_staff_id" uuid DEFAULT NULL
) RETURNS TABLE (
	"id" uuid,
	"player_id" uuid,
	"visit_id" uuid,
	"session_id" uuid,
	"game_type" TEXT,
	"average_bet" NUMERIC,
	"start_time" timestamp with time zone,
	"end_time" timestamp with time zone,
	"status" TEXT,
	"duration_seconds" INT,
	"points_owed" bigint,
	"accrued_ledger_id" bigint,
	"correlation_id" TEXT
)
VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path TO pg_catalog, loyalty, pg_temp
LANGUAGE c
AS 'casino_loyalty-@CARGO_VERSION@', 'open_rating_slip_wrapper';
CREATE FUNCTION loyalty.update_rating_slip_bet(
	"p_slip_id" uuid,
	"p_average_bet" NUMERIC,
	"p_correlation_id" TEXT DEFAULT NULL,
	"p_staff_id" uuid DEFAULT NULL
) RETURNS TABLE (
	"id" uuid,
	"player_id" uuid,
	"visit_id" uuid,
	"session_id" uuid,
	"game_type" TEXT,
	"average_bet" NUMERIC,
	"start_time" timestamp with time zone,
	"end_time" timestamp with time zone,
	"status" TEXT,
	"duration_seconds" INT,
	"points_owed" bigint,
	"accrued_ledger_id" bigint,
	"correlation_id" TEXT
)
VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path TO pg_catalog, loyalty, pg_temp
LANGUAGE c
AS 'casino_loyalty-@CARGO_VERSION@', 'update_rating_slip_bet_wrapper';
CREATE FUNCTION loyalty.complete_rating_slip(
	"p_slip_id" uuid,
	"p_correlation_id" TEXT DEFAULT NULL,
	"p_atomic" bool DEFAULT false,
	"p_end_time" timestamp with time zone DEFAULT NULL,
	"p_staff_id" uuid DEFAULT NULL
) RETURNS TABLE (
	"status" TEXT,
	"slip_id" uuid,
	"player_id" uuid,
	"visit_id" uuid,
	"session_id" uuid,
	"game_type" TEXT,
	"average_bet" NUMERIC,
	"start_time" timestamp with time zone,
	"end_time" timestamp with time zone,
	"duration_seconds" INT,
	"ledger_entry_id" bigint,
	"points_earned" bigint,
	"balance_before" bigint,
	"balance_after" bigint,
	"tier_before" TEXT,
	"tier_after" TEXT,
	"idempotent_hit" bool,
	"error_code" TEXT,
	"error_message" TEXT,
	"correlation_id" TEXT,
	"recovery_needed" bool
)
VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path TO pg_catalog, loyalty, pg_temp
LANGUAGE c
AS 'casino_loyalty-@CARGO_VERSION@', 'complete_rating_slip_wrapper';
CREATE FUNCTION loyalty.complete_rating_slips(
	"p_slip_ids" uuid[],
	"p_correlation_id" TEXT DEFAULT NULL,
	"p_atomic" bool DEFAULT false,
	"p_staff_id" uuid DEFAULT NULL
) RETURNS TABLE (
	"ordinal" INT,
	"slip_id" uuid,
	"status" TEXT,
	"player_id" uuid,
	"ledger_entry_id" bigint,
	"points_earned" bigint,
	"balance_after" bigint,
	"tier_after" TEXT,
	"idempotent_hit" bool,
	"error_code" TEXT,
	"error_message" TEXT,
	"recovery_needed" bool,
	"correlation_id" TEXT
)
VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path TO pg_catalog, loyalty, pg_temp
LANGUAGE c
AS 'casino_loyalty-@CARGO_VERSION@', 'complete_rating_slips_wrapper';
CREATE FUNCTION loyalty.approve_slip(
	"p_slip_id" uuid,
	"p_correlation_id" TEXT DEFAULT NULL,
	"p_staff_id" uuid DEFAULT NULL
) RETURNS TABLE (
	"ledger_entry_id" bigint,
	"points_earned" bigint,
	"balance_before" bigint,
	"balance_after" bigint,
	"tier_before" TEXT,
	"tier_after" TEXT,
	"idempotent_hit" bool,
	"rating_slip_id" uuid,
	"correlation_id" TEXT,
	"status" TEXT
)
VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path TO pg_catalog, loyalty, pg_temp
LANGUAGE c
AS 'casino_loyalty-@CARGO_VERSION@', 'approve_slip_wrapper';
CREATE FUNCTION loyalty.reject_slip(
	"p_slip_id" uuid,
	"p_reason" TEXT,
	"p_correlation_id" TEXT DEFAULT NULL,
	"p_staff_id" uuid DEFAULT NULL
) RETURNS TABLE (
	"rating_slip_id" uuid,
	"approval_status" TEXT,
	"decided_by" uuid,
	"decided_at" timestamp with time zone,
	"decision_reason" TEXT,
	"correlation_id" TEXT
)
VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path TO pg_catalog, loyalty, pg_temp
LANGUAGE c
AS 'casino_loyalty-@CARGO_VERSION@', 'reject_slip_wrapper';
REVOKE ALL ON FUNCTION loyalty.open_rating_slip, loyalty.update_rating_slip_bet,
    loyalty.complete_rating_slip, loyalty.complete_rating_slips, loyalty.approve_slip, loyalty.reject_slip
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION loyalty.open_rating_slip, loyalty.update_rating_slip_bet,
    loyalty.complete_rating_slip, loyalty.complete_rating_slips, loyalty.approve_slip, loyalty.reject_slip
    TO authenticated, service_role;
ALTER FUNCTION loyalty.open_rating_slip SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION loyalty.update_rating_slip_bet SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION loyalty.complete_rating_slip SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION loyalty.complete_rating_slips SET plan_cache_mode = force_generic_plan;
-- A slip's payment says whether it was paid or, under the daily four-eyes
-- rule, held for a second person (status; the entry columns NULL then).
DROP FUNCTION loyalty.accrue_points_from_slip(uuid, text);
DROP FUNCTION loyalty.recover_slip_loyalty(uuid, text);
CREATE FUNCTION loyalty.accrue_points_from_slip(
	"p_slip_id" uuid,
	"p_correlation_id" TEXT DEFAULT NULL
) RETURNS TABLE (
	"ledger_entry_id" bigint,
	"points_earned" bigint,
	"balance_before" bigint,
	"balance_after" bigint,
	"tier_before" TEXT,
	"tier_after" TEXT,
	"idempotent_hit" bool,
	"rating_slip_id" uuid,
	"correlation_id" TEXT,
	"status" TEXT
)
VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path TO pg_catalog, loyalty, pg_temp
LANGUAGE c
AS 'casino_loyalty-@CARGO_VERSION@', 'accrue_points_from_slip_wrapper';
CREATE FUNCTION loyalty.recover_slip_loyalty(
	"p_slip_id" uuid,
	"p_correlation_id" TEXT DEFAULT NULL
) RETURNS TABLE (
	"ledger_entry_id" bigint,
	"points_earned" bigint,
	"balance_before" bigint,
	"balance_after" bigint,
	"tier_before" TEXT,
	"tier_after" TEXT,
	"idempotent_hit" bool,
	"rating_slip_id" uuid,
	"correlation_id" TEXT,
	"status" TEXT
)
VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path TO pg_catalog, loyalty, pg_temp
LANGUAGE c
AS 'casino_loyalty-@CARGO_VERSION@', 'recover_slip_loyalty_wrapper';
REVOKE ALL ON FUNCTION loyalty.accrue_points_from_slip, loyalty.recover_slip_loyalty FROM PUBLIC;
GRANT EXECUTE ON FUNCTION loyalty.accrue_points_from_slip, loyalty.recover_slip_loyalty
    TO authenticated, service_role;
ALTER FUNCTION loyalty.accrue_points_from_slip SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION loyalty.recover_slip_loyalty SET plan_cache_mode = force_generic_plan;

-- Chain heads come a page at a time, each page with its own digest (one
-- value for every player would pass 1 GB at about two million players).
DROP FUNCTION loyalty.ledger_chain_heads();
CREATE FUNCTION loyalty.ledger_chain_heads(
	"p_after" uuid DEFAULT NULL,
	"p_limit" INT DEFAULT 10000
) RETURNS jsonb
STABLE SECURITY DEFINER PARALLEL SAFE
SET search_path TO pg_catalog, loyalty, pg_temp
LANGUAGE c
AS 'casino_loyalty-@CARGO_VERSION@', 'ledger_chain_heads_wrapper';
REVOKE ALL ON FUNCTION loyalty.ledger_chain_heads FROM PUBLIC;
GRANT EXECUTE ON FUNCTION loyalty.ledger_chain_heads TO service_role;

-- The health check finds a balance changed without a ledger row within one
-- run (a written balance row is enough), and verifies the chains of changed
-- players from a stored position (chain_verified). health_check's new body
-- is above, with the house step's.
ALTER TABLE loyalty.health_state ADD COLUMN changed_since_xid bigint;
COMMENT ON COLUMN loyalty.health_state.changed_since_xid IS 'The oldest transaction still running when the last run started: a balance row written by it or any later one is re-verified next, ledger entry or not.';
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
SELECT pg_catalog.pg_extension_config_dump('loyalty.chain_verified', '');
ALTER TABLE loyalty.chain_verified ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON loyalty.chain_verified FROM PUBLIC;
GRANT SELECT ON loyalty.chain_verified TO service_role;
CREATE POLICY chain_verified_service ON loyalty.chain_verified FOR SELECT TO service_role USING (true);
CREATE FUNCTION loyalty.verify_ledger_chain_since(
	"p_player_id" uuid,
	"p_seq" bigint DEFAULT NULL,
	"p_row_hash" TEXT DEFAULT NULL
) RETURNS TABLE (
	"ok" bool,
	"break_seq" bigint,
	"break_kind" TEXT,
	"detail" TEXT,
	"head_seq" bigint,
	"head_hash" TEXT
)
STABLE SECURITY DEFINER PARALLEL SAFE
SET search_path TO pg_catalog, loyalty, pg_temp
LANGUAGE c
AS 'casino_loyalty-@CARGO_VERSION@', 'verify_ledger_chain_since_wrapper';
REVOKE ALL ON FUNCTION loyalty.verify_ledger_chain_since FROM PUBLIC;
GRANT EXECUTE ON FUNCTION loyalty.verify_ledger_chain_since TO service_role;

-- Comps (SPEC §15): holds, redemption and its reversal.
--
-- Settings, the held points (every existing player holds 0), the link from
-- a reversal to its redemption, the new permission and the outbox kind.
ALTER TABLE loyalty.config
    ADD COLUMN cents_per_point numeric(12,4) NOT NULL DEFAULT 1
        CONSTRAINT config_cents_per_point_check CHECK (cents_per_point BETWEEN 0 AND 10000),
    ADD COLUMN max_redemption_points bigint NOT NULL DEFAULT 50000
        CONSTRAINT config_max_redemption_points_check CHECK (max_redemption_points BETWEEN 1 AND 1000000000000),
    ADD COLUMN redemption_approval_points bigint NOT NULL DEFAULT 10000
        CONSTRAINT config_redemption_approval_points_check CHECK (redemption_approval_points >= 0);
COMMENT ON COLUMN loyalty.config.cents_per_point IS 'What one point is worth in a comp, in cents: a hold records points x this, rounded down, as comp_value_cents.';
COMMENT ON COLUMN loyalty.config.max_redemption_points IS 'Most points one hold or redemption may take (REDEMPTION_EXCEEDS_LIMIT above it).';
COMMENT ON COLUMN loyalty.config.redemption_approval_points IS 'A hold of more points than this starts PENDING_APPROVAL and needs a second staff member (approve_hold).';
COMMENT ON COLUMN loyalty.player_loyalty.held_points IS 'Points reserved by the player''s PENDING_APPROVAL and ACTIVE holds; available = current_balance - held_points.';
COMMENT ON COLUMN loyalty.player_loyalty.current_balance IS 'Points the player has, held ones included; never below held_points.';
COMMENT ON COLUMN loyalty.player_loyalty.lifetime_points IS 'All points ever earned (GAMEPLAY and MANUAL_BONUS entries; loyalty.kind_earns); decides the tier. Spending and reversals never change it.';
COMMENT ON TABLE loyalty.player_loyalty IS 'Balance per player. Invariant: current_balance = sum(ledger.points_change), lifetime_points = sum of the earned entries (loyalty.kind_earns), held_points = sum of the live holds.';
ALTER TABLE loyalty.loyalty_ledger ADD COLUMN reverses_entry_id bigint;
COMMENT ON COLUMN loyalty.loyalty_ledger.reverses_entry_id IS 'The REDEMPTION entry a REDEMPTION_REVERSAL gives back (its key, reversal:<id>, makes it at most once).';
COMMENT ON COLUMN loyalty.loyalty_ledger.transaction_type IS 'GAMEPLAY, MANUAL_BONUS (positive manual), ADJUSTMENT (negative manual), REDEMPTION (a captured hold, negative), REDEMPTION_REVERSAL (a redemption given back, positive) or RECONCILIATION (an operator''s repair of a drifted balance: moves the stored balance back to the ledger, so it is not counted in the ledger''s sum; src/domain/kinds.rs).';
COMMENT ON COLUMN loyalty.loyalty_ledger.event_type IS 'RATING_SLIP_COMPLETED, POINTS_UPDATE_REQUESTED, POINTS_REDEEMED, REDEMPTION_REVERSED or BALANCE_RECONCILED.';
ALTER TABLE loyalty.staff DROP CONSTRAINT staff_permissions_check,
    ADD CONSTRAINT staff_permissions_check CHECK (permissions <@ ARRAY['loyalty:award', 'loyalty:rate', 'loyalty:approve',
                                                                               'loyalty:recover', 'loyalty:view_all',
                                                                               'loyalty:redeem', 'loyalty:audit']::text[]),
    ADD CONSTRAINT staff_audit_separation_check
                CHECK (NOT (permissions && ARRAY['loyalty:audit']::text[]
                            AND permissions && ARRAY['loyalty:award', 'loyalty:rate', 'loyalty:redeem',
                                                     'loyalty:approve']::text[]));
COMMENT ON COLUMN loyalty.staff.permissions IS 'Granted permissions: loyalty:award (manual rewards), loyalty:rate (open, re-rate, complete slips), loyalty:approve (approve or reject held slips), loyalty:recover (recovery of partial completions), loyalty:view_all (read everything), loyalty:redeem (hold, capture and void comps), loyalty:audit (the exception report; never together with award, rate, redeem or approve: whoever reviews neither grants nor receives).';
-- The outbox's single-column rules become domains, as 0.2.0 made the other
-- tables' (a table CHECK is parsed again on every insert; a domain's rule is
-- cached per backend). Its read policy names kind, so the policy is dropped
-- around the type change and made again below, with the new kinds.
CREATE DOMAIN loyalty.notification_kind AS text
    CONSTRAINT notification_kind_check CHECK (VALUE IN ('TIER_CHANGED', 'ALERT', 'HOLD', 'POINTS_EXPIRING'));
COMMENT ON DOMAIN loyalty.notification_kind IS 'An outbox row''s kind: TIER_CHANGED, ALERT, HOLD or POINTS_EXPIRING.';
CREATE DOMAIN loyalty.claim_count AS integer
    CONSTRAINT claim_count_check CHECK (VALUE >= 0);
COMMENT ON DOMAIN loyalty.claim_count IS 'How many times workers claimed an outbox row: never below 0.';
DROP POLICY notification_read ON loyalty.notification;
ALTER TABLE loyalty.notification DROP CONSTRAINT notification_kind_check, DROP CONSTRAINT notification_claims_check,
    ALTER COLUMN kind TYPE loyalty.notification_kind, ALTER COLUMN claims TYPE loyalty.claim_count;
-- It returns the base types, as before.
CREATE OR REPLACE FUNCTION loyalty.claim_notifications(p_limit integer DEFAULT 100)
RETURNS TABLE (id bigint, kind text, player_id uuid, alert_id bigint, ledger_entry_id bigint,
               payload jsonb, created_at timestamptz, claims integer)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, loyalty, pg_temp
AS $$
DECLARE
    v_primary boolean := loyalty.require_primary();  -- first: a standby refuses before anything runs
    v_timeout interval;
BEGIN
    PERFORM loyalty.require_caller();
    IF p_limit IS NULL OR p_limit < 1 OR p_limit > 10000 THEN
        RAISE EXCEPTION USING MESSAGE = 'VALIDATION_ERROR', DETAIL = 'p_limit must be between 1 and 10000',
            ERRCODE = 'PT422';
    END IF;
    SELECT c.notification_claim_timeout INTO v_timeout FROM loyalty.config c;
    RETURN QUERY
    WITH picked AS (
        SELECT n.id FROM loyalty.notification n
         WHERE n.delivered_at IS NULL
           AND (n.claimed_at IS NULL OR n.claimed_at < clock_timestamp() - v_timeout)
         ORDER BY n.id
         LIMIT p_limit
         FOR UPDATE SKIP LOCKED
    )
    UPDATE loyalty.notification n
       SET claimed_at = clock_timestamp(), claims = n.claims + 1
      FROM picked
     WHERE n.id = picked.id
    RETURNING n.id, n.kind::text, n.player_id, n.alert_id, n.ledger_entry_id, n.payload, n.created_at::timestamptz,
              n.claims::integer;
END
$$;
COMMENT ON COLUMN loyalty.notification.kind IS 'TIER_CHANGED, HOLD (a hold made, approved, captured, voided, expired, or a redemption reversed) and POINTS_EXPIRING (readable by that player), or ALERT (readable by staff with loyalty:view_all).';

-- A slip's three state rules become one CHECK: PostgreSQL parses every
-- table CHECK again on each write, and closing a slip writes it (SPEC §19).
-- Adding it reads the slips once.
ALTER TABLE loyalty.rating_slip DROP CONSTRAINT rating_slip_approval_when_closed_check,
    DROP CONSTRAINT rating_slip_end_time_when_closed_check, DROP CONSTRAINT rating_slip_duration_when_closed_check,
    ADD CONSTRAINT rating_slip_state_check CHECK (
        (status = 'OPEN') = (end_time IS NULL)
        AND (status = 'OPEN') = (duration_seconds IS NULL)
        AND (approval_status IS NULL OR status = 'CLOSED'));

-- The holds (sql/redeem/hold.sql), readable by their player and view_all staff.
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
    CONSTRAINT hold_pkey PRIMARY KEY (player_id, hold_id),
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
-- capture_hold, void_hold and approve_hold find a hold by its id alone
CREATE INDEX hold_hold_id_idx ON loyalty.hold (hold_id);
-- expire_holds and the health check read the live holds by deadline
CREATE INDEX hold_live_expires_idx ON loyalty.hold (expires_at) WHERE status IN ('PENDING_APPROVAL', 'ACTIVE');
-- reverse_redemption finds the hold of a REDEMPTION entry by its id
CREATE UNIQUE INDEX hold_ledger_entry_key ON loyalty.hold (ledger_entry_id) WHERE ledger_entry_id IS NOT NULL;
SELECT pg_catalog.pg_extension_config_dump('loyalty.hold', '');
ALTER TABLE loyalty.hold ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON loyalty.hold FROM PUBLIC;
GRANT SELECT ON loyalty.hold TO authenticated, service_role;
CREATE POLICY hold_read ON loyalty.hold FOR SELECT TO authenticated
    USING (player_id = (SELECT loyalty.caller_uid())
           OR (SELECT loyalty.caller_has_permission('loyalty:view_all')));
CREATE POLICY hold_service ON loyalty.hold FOR SELECT TO service_role USING (true);
CREATE POLICY notification_read ON loyalty.notification FOR SELECT TO authenticated
    USING (kind IN ('TIER_CHANGED', 'HOLD', 'POINTS_EXPIRING') AND player_id = (SELECT loyalty.caller_uid())
           OR (SELECT loyalty.caller_has_permission('loyalty:view_all')));

-- What an entry adds to lifetime points (src/domain/kinds.rs): a reversal
-- is positive and earns nothing, so "the positive changes" no longer says it.
CREATE FUNCTION loyalty.lifetime_credit(
	"p_kind" TEXT,
	"p_points" bigint
) RETURNS bigint
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c
AS 'casino_loyalty-@CARGO_VERSION@', 'lifetime_credit_wrapper';
REVOKE ALL ON FUNCTION loyalty.lifetime_credit FROM PUBLIC;
GRANT EXECUTE ON FUNCTION loyalty.lifetime_credit TO authenticated, service_role;

-- The doors of src/redeem/.
CREATE FUNCTION loyalty.hold_points(
	"p_player_id" uuid,
	"p_points" bigint,
	"p_outlet" TEXT,
	"p_reason" TEXT,
	"p_staff_id" uuid DEFAULT NULL,
	"p_request_id" TEXT DEFAULT NULL,
	"p_ttl" interval DEFAULT '30 minutes',
	"p_correlation_id" TEXT DEFAULT NULL
) RETURNS TABLE (
	"hold_id" uuid,
	"player_id" uuid,
	"status" TEXT,
	"points" bigint,
	"captured_points" bigint,
	"outlet" TEXT,
	"comp_value_cents" bigint,
	"expires_at" timestamp with time zone,
	"ledger_entry_id" bigint,
	"available_before" bigint,
	"available_after" bigint,
	"balance_after" bigint,
	"idempotent_hit" bool,
	"correlation_id" TEXT
)
VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path TO pg_catalog, loyalty, pg_temp
LANGUAGE c
AS 'casino_loyalty-@CARGO_VERSION@', 'hold_points_wrapper';
CREATE FUNCTION loyalty.redeem_points(
	"p_player_id" uuid,
	"p_points" bigint,
	"p_outlet" TEXT,
	"p_reason" TEXT,
	"p_staff_id" uuid DEFAULT NULL,
	"p_request_id" TEXT DEFAULT NULL,
	"p_correlation_id" TEXT DEFAULT NULL
) RETURNS TABLE (
	"hold_id" uuid,
	"player_id" uuid,
	"status" TEXT,
	"points" bigint,
	"captured_points" bigint,
	"outlet" TEXT,
	"comp_value_cents" bigint,
	"expires_at" timestamp with time zone,
	"ledger_entry_id" bigint,
	"available_before" bigint,
	"available_after" bigint,
	"balance_after" bigint,
	"idempotent_hit" bool,
	"correlation_id" TEXT
)
VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path TO pg_catalog, loyalty, pg_temp
LANGUAGE c
AS 'casino_loyalty-@CARGO_VERSION@', 'redeem_points_wrapper';
CREATE FUNCTION loyalty.approve_hold(
	"p_hold_id" uuid,
	"p_staff_id" uuid DEFAULT NULL,
	"p_correlation_id" TEXT DEFAULT NULL
) RETURNS TABLE (
	"hold_id" uuid,
	"player_id" uuid,
	"status" TEXT,
	"points" bigint,
	"captured_points" bigint,
	"outlet" TEXT,
	"comp_value_cents" bigint,
	"expires_at" timestamp with time zone,
	"ledger_entry_id" bigint,
	"available_before" bigint,
	"available_after" bigint,
	"balance_after" bigint,
	"idempotent_hit" bool,
	"correlation_id" TEXT
)
VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path TO pg_catalog, loyalty, pg_temp
LANGUAGE c
AS 'casino_loyalty-@CARGO_VERSION@', 'approve_hold_wrapper';
CREATE FUNCTION loyalty.capture_hold(
	"p_hold_id" uuid,
	"p_points" bigint DEFAULT NULL,
	"p_staff_id" uuid DEFAULT NULL,
	"p_correlation_id" TEXT DEFAULT NULL
) RETURNS TABLE (
	"hold_id" uuid,
	"player_id" uuid,
	"status" TEXT,
	"points" bigint,
	"captured_points" bigint,
	"outlet" TEXT,
	"comp_value_cents" bigint,
	"expires_at" timestamp with time zone,
	"ledger_entry_id" bigint,
	"available_before" bigint,
	"available_after" bigint,
	"balance_after" bigint,
	"idempotent_hit" bool,
	"correlation_id" TEXT
)
VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path TO pg_catalog, loyalty, pg_temp
LANGUAGE c
AS 'casino_loyalty-@CARGO_VERSION@', 'capture_hold_wrapper';
CREATE FUNCTION loyalty.void_hold(
	"p_hold_id" uuid,
	"p_reason" TEXT,
	"p_staff_id" uuid DEFAULT NULL,
	"p_correlation_id" TEXT DEFAULT NULL
) RETURNS TABLE (
	"hold_id" uuid,
	"player_id" uuid,
	"status" TEXT,
	"points" bigint,
	"captured_points" bigint,
	"outlet" TEXT,
	"comp_value_cents" bigint,
	"expires_at" timestamp with time zone,
	"ledger_entry_id" bigint,
	"available_before" bigint,
	"available_after" bigint,
	"balance_after" bigint,
	"idempotent_hit" bool,
	"correlation_id" TEXT
)
VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path TO pg_catalog, loyalty, pg_temp
LANGUAGE c
AS 'casino_loyalty-@CARGO_VERSION@', 'void_hold_wrapper';
CREATE FUNCTION loyalty.reverse_redemption(
	"p_ledger_entry_id" bigint,
	"p_reason" TEXT,
	"p_staff_id" uuid DEFAULT NULL,
	"p_correlation_id" TEXT DEFAULT NULL
) RETURNS TABLE (
	"ledger_entry_id" bigint,
	"reverses_entry_id" bigint,
	"hold_id" uuid,
	"player_id" uuid,
	"points_change" bigint,
	"balance_before" bigint,
	"balance_after" bigint,
	"idempotent_hit" bool,
	"correlation_id" TEXT
)
VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path TO pg_catalog, loyalty, pg_temp
LANGUAGE c
AS 'casino_loyalty-@CARGO_VERSION@', 'reverse_redemption_wrapper';
CREATE FUNCTION loyalty.expire_holds(
	"p_limit" INT DEFAULT 1000
) RETURNS TABLE (
	"hold_id" uuid,
	"player_id" uuid,
	"points" bigint,
	"expires_at" timestamp with time zone
)
VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path TO pg_catalog, loyalty, pg_temp
LANGUAGE c
AS 'casino_loyalty-@CARGO_VERSION@', 'expire_holds_wrapper';
REVOKE ALL ON FUNCTION loyalty.hold_points, loyalty.redeem_points, loyalty.approve_hold, loyalty.capture_hold,
    loyalty.void_hold, loyalty.reverse_redemption, loyalty.expire_holds FROM PUBLIC;
GRANT EXECUTE ON FUNCTION loyalty.hold_points, loyalty.approve_hold, loyalty.capture_hold,
    loyalty.void_hold, loyalty.redeem_points, loyalty.reverse_redemption
    TO authenticated, service_role;
GRANT EXECUTE ON FUNCTION loyalty.expire_holds TO service_role;

-- The runbooks, the health check and the dashboard know holds, and sum
-- lifetime points with lifetime_credit (health_check's and configure's one body
-- each is at the end of this file, knowing every 0.3.0 finding and setting).
DROP FUNCTION loyalty.verify_player_balance(uuid);
CREATE FUNCTION loyalty.verify_player_balance(p_player_id uuid)
RETURNS TABLE (player_id uuid, current_balance bigint, ledger_balance bigint, lifetime_points bigint,
               ledger_lifetime bigint, entries bigint, chain_breaks bigint, ok boolean,
               held_points bigint, live_hold_points bigint, standing_ok boolean, standing jsonb,
               ledger_standing jsonb)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, loyalty, pg_temp
AS $$
BEGIN
    PERFORM loyalty.require_caller();
    IF p_player_id IS NULL THEN
        RAISE EXCEPTION USING MESSAGE = 'VALIDATION_ERROR', DETAIL = 'p_player_id is required', ERRCODE = 'PT422';
    END IF;
    RETURN QUERY
    -- RECONCILIATION entries (src/domain/kinds.rs) bring the stored balance back
    -- to the ledger's sum and are left out of it; before/after breaks count
    -- only after the last one (an operator reviewed and closed what came
    -- before, and the ledger still shows it).
    WITH l AS (
        SELECT coalesce(sum(e.points_change) FILTER (WHERE NOT e.reconciliation), 0)::bigint AS bal,
               coalesce(sum(loyalty.lifetime_credit(e.transaction_type, e.points_change)),
                        0)::bigint AS life,
               count(*) AS n,
               count(*) FILTER (WHERE e.seq > coalesce(e.last_reconciled, 0) AND e.prev_after IS NOT NULL
                                  AND e.prev_after <> e.balance_before) AS breaks
          FROM (SELECT x.points_change, x.balance_before, x.seq,
                       x.transaction_type, x.transaction_type = 'RECONCILIATION' AS reconciliation,
                       lag(x.balance_after) OVER (ORDER BY x.seq) AS prev_after,
                       max(x.seq) FILTER (WHERE x.transaction_type = 'RECONCILIATION') OVER () AS last_reconciled
                  FROM loyalty.loyalty_ledger x WHERE x.player_id = p_player_id) e
    )
    -- and the held points against the player's live holds (reference §15)
    , h AS (
        SELECT coalesce(sum(x.points), 0)::bigint AS live
          FROM loyalty.hold x
         WHERE x.player_id = p_player_id AND x.status IN ('PENDING_APPROVAL', 'ACTIVE')
    )
    -- and the tier state against the ledger's replay (SPEC §20)
    SELECT p_player_id, p.current_balance::bigint, l.bal, p.lifetime_points::bigint, l.life, l.n, l.breaks,
           p.current_balance IS NOT DISTINCT FROM l.bal AND p.lifetime_points IS NOT DISTINCT FROM l.life
           AND l.breaks = 0 AND coalesce(p.held_points, 0) = h.live AND coalesce(sc.ok, true),
           coalesce(p.held_points, 0)::bigint, h.live, coalesce(sc.ok, true), sc.standing, sc.ledger_standing
      FROM l CROSS JOIN h LEFT JOIN loyalty.player_loyalty p ON p.player_id = p_player_id
      LEFT JOIN LATERAL (SELECT c.* FROM loyalty.standing_check(p.player_id) c
                          WHERE p.player_id IS NOT NULL) sc ON true
     WHERE p.player_id IS NOT NULL OR l.n > 0;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING MESSAGE = 'PLAYER_NOT_FOUND',
            DETAIL = format('no balance and no ledger entries for player %s', p_player_id), ERRCODE = 'PT404';
    END IF;
END
$$;
COMMENT ON FUNCTION loyalty.verify_player_balance(uuid) IS
    'Runbook: one player''s balance and lifetime points against the ledger sums, the before/after chain, held points against live holds, and the tier state (tier, credits, period, retained tier) against the ledger''s replay.';
REVOKE ALL ON FUNCTION loyalty.verify_player_balance FROM PUBLIC;
GRANT EXECUTE ON FUNCTION loyalty.verify_player_balance TO service_role;
CREATE OR REPLACE FUNCTION loyalty.verify_all_balances()
RETURNS TABLE (player_id uuid, current_balance bigint, ledger_balance bigint,
               lifetime_points bigint, ledger_lifetime bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, loyalty, pg_temp
AS $$
    SELECT loyalty.require_caller();
    -- Only mismatches; an empty result is a clean bill of health.
    SELECT coalesce(p.player_id, l.player_id), p.current_balance, coalesce(l.bal, 0),
           p.lifetime_points, coalesce(l.life, 0)
      FROM loyalty.player_loyalty p
      FULL JOIN (SELECT e.player_id,
                        coalesce(sum(e.points_change) FILTER (WHERE e.transaction_type <> 'RECONCILIATION'),
                                 0)::bigint AS bal,
                        coalesce(sum(loyalty.lifetime_credit(e.transaction_type, e.points_change)),
                                 0)::bigint AS life
                   FROM loyalty.loyalty_ledger e GROUP BY e.player_id) l ON l.player_id = p.player_id
     WHERE p.player_id IS NULL OR l.player_id IS NULL AND (p.current_balance <> 0 OR p.lifetime_points <> 0)
        OR p.current_balance <> l.bal OR p.lifetime_points <> l.life
$$;
COMMENT ON FUNCTION loyalty.verify_all_balances() IS
    'Runbook: every player whose balance or lifetime points differ from the ledger (empty = all consistent).';
COMMENT ON FUNCTION loyalty.health_check() IS
    'Finds stale partial completions, paid slips marked owed, balance/ledger mismatches, held points that are not the live holds, holds past due and not expired, broken hash chains, tier drift, overdue approvals and unacknowledged alerts; one alert per finding while unresolved.';
DROP FUNCTION loyalty.metrics();
CREATE FUNCTION loyalty.metrics()
RETURNS TABLE (gaming_day date, slips_open bigint, slips_completed_today bigint, slips_held_today bigint,
               partial_completions bigint, oldest_partial_seconds bigint, rewards_today bigint,
               reward_points_today bigint, alerts_open_info bigint, alerts_open_warning bigint,
               alerts_open_critical bigint, notifications_pending bigint, last_health_check timestamptz,
               last_health_check_age_seconds bigint, holds_live bigint, points_held bigint,
               holds_past_due bigint, points_redeemed_today bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, loyalty, pg_temp
AS $$
DECLARE
    c     loyalty.config%ROWTYPE;
    v_day date;
    v_day_start timestamptz;
BEGIN
    PERFORM loyalty.require_caller(ARRAY['loyalty:view_all']);
    SELECT * INTO c FROM loyalty.config;
    v_day := loyalty.gaming_day(now());
    v_day_start := (v_day + c.gaming_day_start) AT TIME ZONE c.casino_timezone;
    RETURN QUERY
    SELECT v_day,
           (SELECT count(*) FROM loyalty.rating_slip s WHERE s.status = 'OPEN'),
           -- completed = paid: the day's gameplay entries (an index range, not a slip scan)
           (SELECT count(*) FROM loyalty.loyalty_ledger l
             WHERE l.transaction_type = 'GAMEPLAY' AND l.gaming_day = v_day
               AND l.created_at >= v_day_start - interval '1 day'),
           (SELECT count(*) FROM loyalty.rating_slip s
             WHERE s.approval_status = 'HELD' AND s.end_time >= v_day_start
               AND s.end_time < v_day_start + interval '1 day'),
           o.n, o.age,
           r.n, r.pts,
           (SELECT count(*) FROM loyalty.alert a WHERE a.acknowledged_at IS NULL AND a.resolved_at IS NULL
                                                   AND a.severity = 'INFO'),
           (SELECT count(*) FROM loyalty.alert a WHERE a.acknowledged_at IS NULL AND a.resolved_at IS NULL
                                                   AND a.severity = 'WARNING'),
           (SELECT count(*) FROM loyalty.alert a WHERE a.acknowledged_at IS NULL AND a.resolved_at IS NULL
                                                   AND a.severity = 'CRITICAL'),
           (SELECT count(*) FROM loyalty.notification n WHERE n.delivered_at IS NULL),
           h.last_run_at::timestamptz,
           floor(extract(epoch FROM clock_timestamp() - h.last_run_at))::bigint,
           hl.n, hl.pts, hl.late,
           (SELECT coalesce(-sum(l.points_change), 0)::bigint FROM loyalty.loyalty_ledger l
             WHERE l.transaction_type = 'REDEMPTION' AND l.gaming_day = v_day
               AND l.created_at >= v_day_start - interval '1 day')
      FROM (SELECT count(*) AS n, floor(extract(epoch FROM clock_timestamp() - min(s.end_time)))::bigint AS age
              FROM loyalty.partial_completion s) o,
           (SELECT count(*) AS n, coalesce(sum(l.points_change), 0)::bigint AS pts
              FROM loyalty.loyalty_ledger l
             WHERE l.transaction_type IN ('MANUAL_BONUS', 'ADJUSTMENT') AND l.gaming_day = v_day
               AND l.created_at >= v_day_start - interval '1 day') r,
           (SELECT count(*) AS n, coalesce(sum(x.points), 0)::bigint AS pts,
                   count(*) FILTER (WHERE x.expires_at <= clock_timestamp()) AS late
              FROM loyalty.hold x WHERE x.status IN ('PENDING_APPROVAL', 'ACTIVE')) hl
      LEFT JOIN loyalty.health_state h ON true;
END
$$;
COMMENT ON FUNCTION loyalty.metrics() IS
    'Dashboard: one row of the numbers an operator graphs (docs/monitoring.md).';
REVOKE ALL ON FUNCTION loyalty.metrics FROM PUBLIC;
GRANT EXECUTE ON FUNCTION loyalty.metrics TO authenticated, service_role;
CREATE OR REPLACE FUNCTION loyalty.upsert_staff(p_staff_id uuid, p_permissions text[] DEFAULT NULL,
                                     p_active boolean DEFAULT NULL, p_correlation_id text DEFAULT NULL)
RETURNS loyalty.staff
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, loyalty, pg_temp
AS $$
DECLARE
    v_primary boolean := loyalty.require_primary();  -- first: a standby refuses before anything runs
    v_actor  text := loyalty.require_caller();
    v_corr   text := loyalty.resolve_correlation_id(p_correlation_id);
    v_before loyalty.staff;
    v_after  loyalty.staff;
    v_con    text;
BEGIN
    IF p_staff_id IS NULL THEN
        RAISE EXCEPTION USING MESSAGE = 'VALIDATION_ERROR', DETAIL = 'p_staff_id is required', ERRCODE = 'PT422';
    END IF;
    SELECT * INTO v_before FROM loyalty.staff s WHERE s.staff_id = p_staff_id FOR UPDATE;
    BEGIN
        IF NOT FOUND THEN
            INSERT INTO loyalty.staff (staff_id, permissions, active)
            VALUES (p_staff_id, coalesce(p_permissions, '{}'), coalesce(p_active, true))
            RETURNING * INTO v_after;
        ELSE
            UPDATE loyalty.staff s
               SET permissions = coalesce(p_permissions, s.permissions), active = coalesce(p_active, s.active),
                   updated_at = now()
             WHERE s.staff_id = p_staff_id
            RETURNING * INTO v_after;
        END IF;
    EXCEPTION WHEN check_violation OR not_null_violation THEN
        GET STACKED DIAGNOSTICS v_con = CONSTRAINT_NAME;
        PERFORM loyalty.admin_refused(v_con,
            'permissions are loyalty:award, loyalty:rate, loyalty:approve, loyalty:recover, loyalty:view_all, loyalty:redeem, loyalty:audit; loyalty:audit never with award, rate, redeem or approve');
    END;
    PERFORM loyalty.admin_audit_write(v_actor, 'upsert_staff', 'staff:' || p_staff_id,
        CASE WHEN v_before.staff_id IS NOT NULL THEN to_jsonb(v_before) END, to_jsonb(v_after), v_corr);
    RETURN v_after;
END
$$;
COMMENT ON FUNCTION loyalty.upsert_staff(uuid, text[], boolean, text) IS
    'Admin (trusted back ends): add a staff member or change their permissions or active flag; audited.';
ALTER FUNCTION loyalty.hold_points SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION loyalty.redeem_points SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION loyalty.capture_hold SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION loyalty.void_hold SET plan_cache_mode = force_generic_plan;

-- Statements (SPEC §16): a balance as of any instant and a statement of a
-- range, read from the ledger rows' own balances (sql/aging/statement.sql).
-- Who may read a player's statement; the arguments it needs.
CREATE FUNCTION loyalty.statement_reader(p_player_id uuid) RETURNS void
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, loyalty, pg_temp
AS $$
BEGIN
    IF p_player_id IS NULL THEN
        RAISE EXCEPTION USING MESSAGE = 'VALIDATION_ERROR', DETAIL = 'p_player_id is required', ERRCODE = 'PT422';
    END IF;
    IF loyalty.caller_uid() IS DISTINCT FROM p_player_id THEN
        PERFORM loyalty.require_caller(ARRAY['loyalty:view_all']);
    END IF;
END
$$;
COMMENT ON FUNCTION loyalty.statement_reader(uuid) IS
    'Internal: the player themselves, staff with loyalty:view_all or a trusted back end may read p_player_id''s balances and statements; UNAUTHORIZED or FORBIDDEN otherwise.';

CREATE FUNCTION loyalty.player_balance_at(p_player_id uuid, p_at timestamptz DEFAULT now())
RETURNS TABLE (player_id uuid, at timestamptz, balance bigint, lifetime_points bigint, tier text,
               ledger_entry_id bigint, seq bigint, entry_at timestamptz)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, loyalty, pg_temp
AS $$
DECLARE
    e record;
    v_seq bigint;
BEGIN
    PERFORM loyalty.statement_reader(p_player_id);
    IF p_at IS NULL OR NOT isfinite(p_at) THEN
        RAISE EXCEPTION USING MESSAGE = 'VALIDATION_ERROR', DETAIL = 'p_at must be a finite time', ERRCODE = 'PT422';
    END IF;
    -- the last entry at or before p_at, in the player's chain order
    v_seq := loyalty.chain_seq_at(p_player_id, p_at, true);
    SELECT l.id, l.seq, l.created_at, l.balance_after, l.tier_after INTO e
      FROM loyalty.loyalty_ledger l
     WHERE l.player_id = p_player_id AND l.seq = v_seq;
    player_id := p_player_id; at := p_at;
    IF e.id IS NULL THEN
        balance := 0; lifetime_points := 0; tier := loyalty.player_tier(0);
    ELSE
        balance := e.balance_after; tier := e.tier_after;
        ledger_entry_id := e.id; seq := e.seq; entry_at := e.created_at;
        SELECT coalesce(sum(loyalty.lifetime_credit(l.transaction_type, l.points_change)), 0)::bigint
          INTO lifetime_points
          FROM loyalty.loyalty_ledger l WHERE l.player_id = p_player_id AND l.seq <= e.seq;
    END IF;
    RETURN NEXT;
END
$$;
COMMENT ON FUNCTION loyalty.player_balance_at(uuid, timestamptz) IS
    'A player''s balance, lifetime points and tier as of p_at: the last ledger entry at or before it (none: 0 and the lowest tier).';

CREATE FUNCTION loyalty.player_statement(p_player_id uuid, p_from timestamptz, p_to timestamptz DEFAULT now())
RETURNS TABLE (line text, seq bigint, ledger_entry_id bigint, created_at timestamptz, gaming_day date,
               transaction_type text, points_change bigint, balance_after bigint, entries bigint,
               reason text, correlation_id text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, loyalty, pg_temp
AS $$
DECLARE
    v_opening bigint;
    v_closing bigint;
    v_first   bigint;  -- the entries are seq v_first + 1 .. v_last
    v_last    bigint;
BEGIN
    PERFORM loyalty.statement_reader(p_player_id);
    IF p_from IS NULL OR p_to IS NULL OR NOT isfinite(p_from) OR NOT isfinite(p_to) OR p_from > p_to THEN
        RAISE EXCEPTION USING MESSAGE = 'VALIDATION_ERROR',
            DETAIL = 'give finite p_from <= p_to (the statement covers [p_from, p_to))', ERRCODE = 'PT422';
    END IF;
    v_first := loyalty.chain_seq_at(p_player_id, p_from, false);
    v_last := loyalty.chain_seq_at(p_player_id, p_to, false);
    SELECT coalesce((SELECT l.balance_after FROM loyalty.loyalty_ledger l
                      WHERE l.player_id = p_player_id AND l.seq = v_first), 0)
      INTO v_opening;
    line := 'OPENING'; created_at := p_from; balance_after := v_opening;
    RETURN NEXT;
    RETURN QUERY
    SELECT 'ENTRY', l.seq::bigint, l.id, l.created_at::timestamptz, l.gaming_day, l.transaction_type::text, l.points_change,
           l.balance_after::bigint, NULL::bigint, l.reason, l.correlation_id
      FROM loyalty.loyalty_ledger l
     WHERE l.player_id = p_player_id AND l.seq > v_first AND l.seq <= v_last
     ORDER BY l.seq;
    RETURN QUERY
    SELECT 'TOTAL', NULL::bigint, NULL::bigint, NULL::timestamptz, NULL::date, l.transaction_type::text,
           sum(l.points_change)::bigint, NULL::bigint, count(*), NULL::text, NULL::text
      FROM loyalty.loyalty_ledger l
     WHERE l.player_id = p_player_id AND l.seq > v_first AND l.seq <= v_last
     GROUP BY l.transaction_type ORDER BY l.transaction_type;
    SELECT coalesce((SELECT l.balance_after FROM loyalty.loyalty_ledger l
                      WHERE l.player_id = p_player_id AND l.seq = v_last), 0)
      INTO v_closing;
    line := 'CLOSING'; seq := NULL; ledger_entry_id := NULL; created_at := p_to; gaming_day := NULL;
    transaction_type := NULL; points_change := v_closing - v_opening; balance_after := v_closing;
    entries := NULL; reason := NULL; correlation_id := NULL;
    RETURN NEXT;
END
$$;
COMMENT ON FUNCTION loyalty.player_statement(uuid, timestamptz, timestamptz) IS
    'A player''s statement of [p_from, p_to): the OPENING balance, every ENTRY in chain order, a TOTAL per kind, and the CLOSING balance (the next statement''s opening); CLOSING.points_change is the net movement.';
REVOKE ALL ON FUNCTION loyalty.statement_reader, loyalty.player_balance_at, loyalty.player_statement FROM PUBLIC;
GRANT EXECUTE ON FUNCTION loyalty.player_balance_at, loyalty.player_statement TO authenticated, service_role;

-- The exception report (SPEC §16) and loyalty:audit, which the staff CHECKs
-- above keep apart from granting and receiving (sql/ops/exception_report.sql).
CREATE FUNCTION loyalty.exception_report(p_from_gaming_day date, p_to_gaming_day date)
RETURNS TABLE (event text, gaming_day date, at timestamptz, player_id uuid, initiator text, approver text,
               amount bigint, reason text, correlation_id text, reference text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, loyalty, pg_temp
AS $$
BEGIN
    PERFORM loyalty.require_caller(ARRAY['loyalty:audit']);
    IF p_from_gaming_day IS NULL OR p_to_gaming_day IS NULL OR p_from_gaming_day > p_to_gaming_day
       OR NOT isfinite(p_from_gaming_day) OR NOT isfinite(p_to_gaming_day) THEN
        RAISE EXCEPTION USING MESSAGE = 'VALIDATION_ERROR',
            DETAIL = 'give finite gaming days p_from_gaming_day <= p_to_gaming_day (both included)', ERRCODE = 'PT422';
    END IF;
    RETURN QUERY
    -- manual adds and adjustments, reconciliations, reversals, expiries:
    -- the ledger's own rows (a gaming day lies within three days of its
    -- rows' UTC dates, so the created_at index narrows the scan)
    SELECT l.transaction_type::text, l.gaming_day, l.created_at::timestamptz, l.player_id,
           coalesce(l.staff_id::text, l.source), NULL::text, l.points_change, l.reason, l.correlation_id,
           'ledger:' || l.id || coalesce(' reverses ledger:' || l.reverses_entry_id, '')
      FROM loyalty.loyalty_ledger l
     WHERE l.transaction_type IN ('MANUAL_BONUS', 'ADJUSTMENT', 'RECONCILIATION', 'REDEMPTION_REVERSAL', 'EXPIRY')
       AND l.gaming_day BETWEEN p_from_gaming_day AND p_to_gaming_day
       AND l.created_at >= (p_from_gaming_day - 3)::timestamp AT TIME ZONE 'UTC'
       AND l.created_at < (p_to_gaming_day + 4)::timestamp AT TIME ZONE 'UTC'
    UNION ALL
    -- held slips decided by a second person
    SELECT 'SLIP_' || s.approval_status::text, loyalty.gaming_day(s.decided_at), s.decided_at::timestamptz,
           s.player_id, s.closed_by::text, s.decided_by::text, l.points_change, s.decision_reason,
           s.correlation_id, 'slip:' || s.id
      FROM loyalty.rating_slip s
      LEFT JOIN loyalty.loyalty_ledger l ON l.player_id = s.player_id AND l.id = s.accrued_ledger_id
     WHERE s.approval_status IN ('APPROVED', 'REJECTED')
       AND loyalty.gaming_day(s.decided_at) BETWEEN p_from_gaming_day AND p_to_gaming_day
    UNION ALL
    -- comps above the approval threshold, approved by a second person
    SELECT 'HOLD_APPROVED', loyalty.gaming_day(h.approved_at), h.approved_at::timestamptz, h.player_id,
           h.staff_id::text, h.approved_by::text, -h.points, h.reason, h.correlation_id, 'hold:' || h.hold_id
      FROM loyalty.hold h
     WHERE h.approved_by IS NOT NULL
       AND loyalty.gaming_day(h.approved_at) BETWEEN p_from_gaming_day AND p_to_gaming_day
    UNION ALL
    -- every change made through the admin API
    SELECT 'ADMIN_' || upper(a.action), loyalty.gaming_day(a.at), a.at::timestamptz, NULL::uuid, a.actor,
           NULL::text, NULL::bigint, NULL::text, a.correlation_id, a.target
      FROM loyalty.admin_audit a
     WHERE loyalty.gaming_day(a.at) BETWEEN p_from_gaming_day AND p_to_gaming_day
     ORDER BY 3, 1, 10;
END
$$;
COMMENT ON FUNCTION loyalty.exception_report(date, date) IS
    'Exception report for the gaming days [p_from_gaming_day, p_to_gaming_day]: manual adds and adjustments, reconciliations, redemption reversals, expiries, slip approvals and rejections, approved comps above the threshold, admin API changes; each with initiator and approver. loyalty:audit staff and trusted back ends.';
REVOKE ALL ON FUNCTION loyalty.exception_report FROM PUBLIC;
GRANT EXECUTE ON FUNCTION loyalty.exception_report TO authenticated, service_role;

-- Inactivity expiry (SPEC §16): the settings (off until the casino sets
-- points_inactivity_expiry), each player's last earning time, kept by the
-- write path from now on (and derived from the ledger when the write path
-- or the rollover sweep first locks a row this upgrade brought: the
-- upgrade itself scans no large table), and the sweep.
ALTER TABLE loyalty.config
    ADD COLUMN points_inactivity_expiry interval
        CONSTRAINT config_points_inactivity_expiry_check CHECK (points_inactivity_expiry > '0'::interval),
    ADD COLUMN expiry_warning interval NOT NULL DEFAULT '30 days'
        CONSTRAINT config_expiry_warning_check CHECK (expiry_warning >= '0'::interval);
COMMENT ON COLUMN loyalty.config.points_inactivity_expiry IS 'Points expire after this long without an earning entry (NULL: never). expire_inactive_points posts the EXPIRY entries.';
COMMENT ON COLUMN loyalty.config.expiry_warning IS 'How long before their points expire a player is told (one POINTS_EXPIRING notification per stretch without play).';
COMMENT ON COLUMN loyalty.player_loyalty.last_earned_at IS 'When the player last earned points (GAMEPLAY or MANUAL_BONUS entry), kept by the write path: inactivity expiry counts from it.';
COMMENT ON COLUMN loyalty.player_loyalty.expiry_warned_for IS 'The last_earned_at a POINTS_EXPIRING warning was sent for (one warning per stretch without play).';
CREATE FUNCTION loyalty.expire_inactive_points(
	"p_limit" INT DEFAULT 1000
) RETURNS TABLE (
	"player_id" uuid,
	"points_expired" bigint,
	"ledger_entry_id" bigint,
	"balance_after" bigint,
	"warned" bigint
)
VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path TO pg_catalog, loyalty, pg_temp
LANGUAGE c
AS 'casino_loyalty-@CARGO_VERSION@', 'expire_inactive_points_wrapper';
REVOKE ALL ON FUNCTION loyalty.expire_inactive_points FROM PUBLIC;
GRANT EXECUTE ON FUNCTION loyalty.expire_inactive_points TO service_role;

-- Tiers that age (SPEC §16): the basis (LIFETIME, as before, unless the
-- casino opts in) and the start of the qualification year; each player's
-- standing (this period's credits, the tier kept from the last one), kept
-- by the write path from now on; the rule in one place (player_tier, the
-- write path's own), which replaces ladder_tier in the health check and a
-- statement's opening; the rollover; configure takes the two settings (and,
-- defined once here, every 0.3.0 setting before them).
ALTER TABLE loyalty.config
    ADD COLUMN tier_basis           text     NOT NULL DEFAULT 'LIFETIME'
                         CONSTRAINT config_tier_basis_check CHECK (tier_basis IN ('LIFETIME', 'PERIOD')),
    ADD COLUMN tier_period_start    text     NOT NULL DEFAULT '01-01'
                         -- MM-DD of a day every year has (so not 02-29)
                         CONSTRAINT config_tier_period_start_check CHECK (
                             CASE WHEN tier_period_start ~ '^(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$'
                                  THEN substr(tier_period_start, 4, 2)::integer
                                       <= extract(day FROM make_date(2001, substr(tier_period_start, 1, 2)::integer, 1)
                                                           + interval '1 month - 1 day')
                                  ELSE false END);
COMMENT ON COLUMN loyalty.config.tier_basis IS 'What decides the tier: LIFETIME (lifetime points; a tier never falls) or PERIOD (tier credits of the qualification year, the tier reached kept through the next year; roll_tier_period starts each year).';
COMMENT ON COLUMN loyalty.config.tier_period_start IS 'MM-DD: the qualification year starts on this day each year, at the gaming-day start in the casino''s time zone (not 02-29).';
COMMENT ON COLUMN loyalty.player_loyalty.tier IS 'Tier from the tier ladder and lifetime_points (config.tier_basis LIFETIME) or the higher of tier_credits'' tier and retained_tier (PERIOD).';
COMMENT ON COLUMN loyalty.player_loyalty.chain_head_at IS 'Tamper evidence and statements: created_at of the player''s last ledger entry. The next entry is never dated before it, so a chain''s times are in order.';
COMMENT ON COLUMN loyalty.player_loyalty.tier_credits IS 'Tier credits earned in tier_period (GAMEPLAY and MANUAL_BONUS add, a negative ADJUSTMENT takes away, never below 0); the tier under config.tier_basis = PERIOD.';
COMMENT ON COLUMN loyalty.player_loyalty.tier_period IS 'First gaming day of the qualification period tier_credits count in (NULL before the player''s first entry of 0.3.0).';
COMMENT ON COLUMN loyalty.player_loyalty.retained_tier IS 'The tier the previous period''s credits reached, kept through tier_period (NULL: the lowest).';
CREATE FUNCTION loyalty.player_tier(
	"p_lifetime_points" bigint,
	"p_tier_credits" bigint DEFAULT 0,
	"p_retained_tier" TEXT DEFAULT NULL,
	"p_tier" TEXT DEFAULT NULL
) RETURNS TEXT
STABLE
SET search_path TO pg_catalog, loyalty, pg_temp
LANGUAGE c
AS 'casino_loyalty-@CARGO_VERSION@', 'player_tier_wrapper';
CREATE FUNCTION loyalty.tier_period_of(
	"p_at" timestamp with time zone DEFAULT now()
) RETURNS date
STRICT STABLE
SET search_path TO pg_catalog, loyalty, pg_temp
LANGUAGE c
AS 'casino_loyalty-@CARGO_VERSION@', 'tier_period_of_wrapper';
CREATE FUNCTION loyalty.roll_tier_period(
	"p_limit" INT DEFAULT 1000
) RETURNS TABLE (
	"player_id" uuid,
	"tier_before" TEXT,
	"tier_after" TEXT,
	"period_credits" bigint,
	"retained_tier" TEXT,
	"period_start" date
)
VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path TO pg_catalog, loyalty, pg_temp
LANGUAGE c
AS 'casino_loyalty-@CARGO_VERSION@', 'roll_tier_period_wrapper';
REVOKE ALL ON FUNCTION loyalty.player_tier, loyalty.tier_period_of, loyalty.roll_tier_period FROM PUBLIC;
GRANT EXECUTE ON FUNCTION loyalty.roll_tier_period TO service_role;
GRANT EXECUTE ON FUNCTION loyalty.tier_period_of TO authenticated, service_role;
CREATE OR REPLACE FUNCTION loyalty.health_check()
RETURNS TABLE (kind text, severity text, subject text, alert_id bigint, new_alert boolean, details jsonb)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, loyalty, pg_temp
AS $$
DECLARE
    c          loyalty.config%ROWTYPE;
    st         loyalty.health_state%ROWTYPE;
    v_started  timestamptz := clock_timestamp();
    v_found    jsonb := '[]';
    v_sweep    uuid[];
    v_players  uuid[];
    v_chained  uuid[];
    v_changed  uuid[];
    v_xmin     bigint := txid_snapshot_xmin(txid_current_snapshot());
    v_digest   text;
    v_full_tiers boolean;
    v_unacked  jsonb;
    f          record;
    v_id       bigint;
    v_count    integer := 0;
    -- On a hot standby (SPEC §18) the check reports what it finds and
    -- writes nothing: no alert, no chain position, no state.
    v_standby  boolean := pg_is_in_recovery();
    v_chains   jsonb;
BEGIN
    PERFORM loyalty.require_caller();
    IF v_standby THEN
        SELECT * INTO st FROM loyalty.health_state;
    ELSE
        -- One run at a time: the state row is the lock (a second caller
        -- waits, then sees the first run's alerts and raises no duplicates).
        INSERT INTO loyalty.health_state (singleton) VALUES (true) ON CONFLICT DO NOTHING;
        SELECT * INTO st FROM loyalty.health_state FOR UPDATE;
    END IF;
    SELECT * INTO c FROM loyalty.config;

    -- Closed slips still owed their points, older than the threshold.
    v_found := v_found || coalesce((
        SELECT jsonb_agg(jsonb_build_object(
                   'kind', 'PARTIAL_COMPLETION_STALE', 'severity', 'WARNING',
                   'fingerprint', 'PARTIAL_COMPLETION_STALE:' || s.rating_slip_id, 'subject', s.rating_slip_id::text,
                   'player_id', s.player_id,
                   'details', jsonb_build_object('rating_slip_id', s.rating_slip_id, 'end_time', s.end_time,
                                                 'age_seconds', floor(extract(epoch FROM v_started - s.end_time)),
                                                 'last_error', p.error_code)))
          FROM loyalty.partial_completion s
          LEFT JOIN loyalty.pending_accrual p ON p.rating_slip_id = s.rating_slip_id
         WHERE s.end_time < v_started - c.partial_stale_after),
        '[]');

    -- A slip that was paid but is still marked owed.
    v_found := v_found || coalesce((
        SELECT jsonb_agg(jsonb_build_object(
                   'kind', 'PENDING_ROW_WRONG', 'severity', 'WARNING',
                   'fingerprint', 'PENDING_ROW_WRONG:' || p.rating_slip_id, 'subject', p.rating_slip_id::text,
                   'player_id', p.player_id,
                   'details', jsonb_build_object('rating_slip_id', p.rating_slip_id, 'ledger_entry_id', l.id,
                                                 'failed_at', p.failed_at)))
          FROM loyalty.pending_accrual p
          JOIN loyalty.loyalty_ledger l
            ON l.player_id = p.player_id AND l.idempotency_key = 'gameplay:' || p.rating_slip_id::text
         WHERE p.resolved_at IS NULL),
        '[]');

    -- Slips held for a second person's approval for too long.
    v_found := v_found || coalesce((
        SELECT jsonb_agg(jsonb_build_object(
                   'kind', 'APPROVAL_OVERDUE', 'severity', 'WARNING',
                   'fingerprint', 'APPROVAL_OVERDUE:' || s.id, 'subject', s.id::text,
                   'player_id', s.player_id,
                   'details', jsonb_build_object('rating_slip_id', s.id, 'held_since', s.end_time,
                                                 'closed_by', s.closed_by)))
          FROM loyalty.rating_slip s
         WHERE s.approval_status = 'HELD' AND s.end_time < v_started - c.approval_overdue_after),
        '[]');

    -- Players to verify: every player with a ledger entry written since the
    -- last run started (less a margin for transactions that commit late),
    -- every player whose balance row was written since (by a transaction
    -- that had not finished when the last run started: a change made behind
    -- the write path's back writes no ledger entry, but it writes the row),
    -- every player with an unresolved balance or chain alert, and the next
    -- slice of the rolling sweep, which reaches everyone.
    v_sweep := ARRAY(SELECT p.player_id FROM loyalty.player_loyalty p
                      WHERE st.sweep_after IS NULL OR p.player_id > st.sweep_after
                      ORDER BY p.player_id LIMIT c.health_sweep_players);
    v_chained := v_sweep || ARRAY(SELECT a.player_id FROM loyalty.alert a
                                   WHERE a.kind = 'CHAIN_BROKEN' AND a.resolved_at IS NULL
                                     AND a.player_id IS NOT NULL);
    v_changed := ARRAY(SELECT DISTINCT l.player_id FROM loyalty.loyalty_ledger l
                        WHERE st.last_run_at IS NULL OR l.created_at >= st.last_run_at - interval '10 minutes')
        || ARRAY(SELECT p.player_id FROM loyalty.player_loyalty p
                  WHERE st.changed_since_xid IS NOT NULL
                    AND age(p.xmin) <= CASE WHEN v_standby THEN txid_snapshot_xmax(txid_current_snapshot())
                                            ELSE txid_current() END - st.changed_since_xid);
    v_players := v_chained || v_changed
        || ARRAY(SELECT a.player_id FROM loyalty.alert a
                  WHERE a.kind IN ('BALANCE_MISMATCH', 'HOLD_MISMATCH') AND a.resolved_at IS NULL
                    AND a.player_id IS NOT NULL);
    v_players := ARRAY(SELECT DISTINCT u FROM unnest(v_players) u);
    v_chained := ARRAY(SELECT DISTINCT u FROM unnest(v_chained) u);
    v_changed := ARRAY(SELECT DISTINCT u FROM unnest(v_changed) u WHERE u <> ALL (v_chained));

    -- Stored balance or lifetime points that differ from the ledger
    -- (RECONCILIATION entries left out of the sum, as in verify_player_balance).
    v_found := v_found || coalesce((
        SELECT jsonb_agg(jsonb_build_object(
                   'kind', 'BALANCE_MISMATCH', 'severity', 'CRITICAL',
                   'fingerprint', 'BALANCE_MISMATCH:' || p.player_id, 'subject', p.player_id::text,
                   'player_id', p.player_id,
                   'details', jsonb_build_object('current_balance', p.current_balance, 'ledger_balance', l.bal,
                                                 'lifetime_points', p.lifetime_points, 'ledger_lifetime', l.life)))
          FROM unnest(v_players) u(player_id)
          JOIN loyalty.player_loyalty p ON p.player_id = u.player_id
          CROSS JOIN LATERAL (
              SELECT coalesce(sum(e.points_change) FILTER (WHERE e.transaction_type <> 'RECONCILIATION'), 0) AS bal,
                     coalesce(sum(loyalty.lifetime_credit(e.transaction_type, e.points_change)), 0) AS life
                FROM loyalty.loyalty_ledger e WHERE e.player_id = u.player_id) l
         WHERE p.current_balance <> l.bal OR p.lifetime_points <> l.life),
        '[]');

    -- Held points that are not the sum of the player's live holds
    -- (reference §15): for the players verified above.
    v_found := v_found || coalesce((
        SELECT jsonb_agg(jsonb_build_object(
                   'kind', 'HOLD_MISMATCH', 'severity', 'CRITICAL',
                   'fingerprint', 'HOLD_MISMATCH:' || p.player_id, 'subject', p.player_id::text,
                   'player_id', p.player_id,
                   'details', jsonb_build_object('held_points', p.held_points, 'live_hold_points', h.live)))
          FROM unnest(v_players) u(player_id)
          JOIN loyalty.player_loyalty p ON p.player_id = u.player_id
          CROSS JOIN LATERAL (
              SELECT coalesce(sum(x.points), 0) AS live FROM loyalty.hold x
               WHERE x.player_id = u.player_id AND x.status IN ('PENDING_APPROVAL', 'ACTIVE')) h
         WHERE p.held_points <> h.live),
        '[]');

    -- Live holds past their deadline that two expiry sweeps (one a minute)
    -- should have released: expire_holds is not running.
    v_found := v_found || coalesce((
        SELECT jsonb_build_array(jsonb_build_object(
                   'kind', 'HOLD_EXPIRY_LATE', 'severity', 'WARNING', 'fingerprint', 'HOLD_EXPIRY_LATE',
                   'subject', 'holds', 'player_id', NULL,
                   'details', jsonb_build_object('holds', count(*), 'oldest_expires_at', min(x.expires_at),
                                                 'sample', (array_agg(x.hold_id ORDER BY x.expires_at))[1:20])))
          FROM loyalty.hold x
         WHERE x.status IN ('PENDING_APPROVAL', 'ACTIVE') AND x.expires_at < v_started - interval '2 minutes'
        HAVING count(*) > 0),
        '[]');

    -- Hash chains (src/ledger/chain/): whole for the sweep slice and for
    -- players already alerted (so an alert resolves once the chain verifies
    -- again); for the other changed players, incrementally from where the
    -- last run verified each one. Every chain that verifies stores its head
    -- as the next run's position (chain_verified).
    SELECT coalesce(jsonb_agg(to_jsonb(r)), '[]') INTO v_chains FROM (
        SELECT u.player_id, v.*
          FROM unnest(v_chained) u(player_id)
          CROSS JOIN LATERAL loyalty.verify_ledger_chain_since(u.player_id) v
        UNION ALL
        SELECT u.player_id, v.*
          FROM unnest(v_changed) u(player_id)
          LEFT JOIN loyalty.chain_verified cv ON cv.player_id = u.player_id
          CROSS JOIN LATERAL loyalty.verify_ledger_chain_since(u.player_id, cv.seq, cv.row_hash) v) r;
    IF NOT v_standby THEN
        INSERT INTO loyalty.chain_verified AS cv (player_id, seq, row_hash)
        SELECT r.player_id, r.head_seq, r.head_hash
          FROM jsonb_to_recordset(v_chains) AS r(player_id uuid, ok boolean, head_seq bigint, head_hash text)
         WHERE r.ok
        ON CONFLICT (player_id) DO UPDATE
           SET seq = EXCLUDED.seq, row_hash = EXCLUDED.row_hash, verified_at = now();
    END IF;
    SELECT v_found || coalesce(jsonb_agg(jsonb_build_object(
               'kind', 'CHAIN_BROKEN', 'severity', 'CRITICAL',
               'fingerprint', 'CHAIN_BROKEN:' || r.player_id, 'subject', r.player_id::text,
               'player_id', r.player_id,
               'details', jsonb_build_object('break_seq', r.break_seq, 'break_kind', r.break_kind,
                                             'detail', r.detail))) FILTER (WHERE NOT r.ok),
           '[]')
      INTO v_found
      FROM jsonb_to_recordset(v_chains)
           AS r(player_id uuid, ok boolean, break_seq bigint, break_kind text, detail text);

    -- Stored tiers that disagree with the ladder: everyone when the ladder
    -- changed since the last full check or a drift alert is unresolved,
    -- else the players verified above. One finding for the whole ladder.
    SELECT md5(string_agg(t.tier || ':' || t.threshold_points, ',' ORDER BY t.threshold_points)
               || (SELECT cf.tier_basis FROM loyalty.config cf))
      INTO v_digest FROM loyalty.tier t;
    v_full_tiers := v_digest IS DISTINCT FROM st.ladder_digest
        OR EXISTS (SELECT 1 FROM loyalty.alert a WHERE a.kind = 'TIER_DRIFT' AND a.resolved_at IS NULL);
    v_found := v_found || coalesce((
        SELECT jsonb_build_array(jsonb_build_object(
                   'kind', 'TIER_DRIFT', 'severity', 'WARNING', 'fingerprint', 'TIER_DRIFT', 'subject', 'ladder',
                   'player_id', NULL,
                   'details', jsonb_build_object('players', count(*),
                                                 'sample', (array_agg(jsonb_build_object(
                                                     'player_id', d.player_id, 'tier', d.tier,
                                                     'ladder_tier', d.ladder_tier) ORDER BY d.player_id))[1:20])))
          FROM (SELECT p.player_id, p.tier,
                       loyalty.player_tier(p.lifetime_points, p.tier_credits, p.retained_tier, p.tier) AS ladder_tier
                  FROM loyalty.player_loyalty p
                 WHERE v_full_tiers OR p.player_id = ANY (v_players)) d
         WHERE d.tier <> d.ladder_tier
        HAVING count(*) > 0),
        '[]');

    -- Raise one alert per finding (none while one is unresolved) and report it.
    FOR f IN SELECT * FROM jsonb_to_recordset(v_found)
                 AS x(kind text, severity text, fingerprint text, subject text, player_id uuid, details jsonb)
    LOOP
        v_id := NULL;
        IF NOT v_standby THEN
            INSERT INTO loyalty.alert AS a (kind, severity, fingerprint, player_id, details)
            VALUES (f.kind, f.severity, f.fingerprint, f.player_id, f.details)
            ON CONFLICT (fingerprint) WHERE resolved_at IS NULL AND fingerprint IS NOT NULL DO NOTHING
            RETURNING a.id INTO v_id;
        END IF;
        new_alert := v_id IS NOT NULL;
        IF new_alert THEN
            PERFORM loyalty.announce_alert(v_id);
        ELSE
            SELECT a.id INTO v_id FROM loyalty.alert a WHERE a.fingerprint = f.fingerprint AND a.resolved_at IS NULL;
        END IF;
        kind := f.kind; severity := f.severity; subject := f.subject; alert_id := v_id; details := f.details;
        v_count := v_count + 1;
        RETURN NEXT;
    END LOOP;

    -- Resolve what this run checked and no longer found.
    IF NOT v_standby THEN
        UPDATE loyalty.alert a SET resolved_at = v_started
         WHERE a.resolved_at IS NULL AND a.fingerprint IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements(v_found) x WHERE x ->> 'fingerprint' = a.fingerprint)
           AND (a.kind IN ('PARTIAL_COMPLETION_STALE', 'PENDING_ROW_WRONG', 'APPROVAL_OVERDUE', 'HOLD_EXPIRY_LATE')
                OR a.kind = 'TIER_DRIFT' AND v_full_tiers
                OR a.kind IN ('BALANCE_MISMATCH', 'HOLD_MISMATCH') AND a.player_id = ANY (v_players)
                OR a.kind = 'CHAIN_BROKEN' AND a.player_id = ANY (v_chained));
    END IF;

    -- Open alerts nobody took on: reported, not alerted about again.
    SELECT jsonb_build_object('alerts', count(*), 'oldest', min(a.created_at),
                              'critical', count(*) FILTER (WHERE a.severity = 'CRITICAL')),
           CASE WHEN bool_or(a.severity = 'CRITICAL') THEN 'CRITICAL'
                WHEN bool_or(a.severity = 'WARNING') THEN 'WARNING' ELSE 'INFO' END
      INTO v_unacked, severity
      FROM loyalty.alert a
     WHERE a.acknowledged_at IS NULL AND a.resolved_at IS NULL
       AND a.created_at < v_started - c.alert_ack_overdue_after;
    IF (v_unacked ->> 'alerts')::bigint > 0 THEN
        kind := 'ALERT_UNACKNOWLEDGED'; subject := 'alerts'; alert_id := NULL; new_alert := false;
        details := v_unacked;
        v_count := v_count + 1;
        RETURN NEXT;
    END IF;

    IF v_standby THEN
        RETURN;
    END IF;
    UPDATE loyalty.health_state h
       SET last_run_at = v_started,
           sweep_after = CASE WHEN cardinality(v_sweep) < c.health_sweep_players THEN NULL
                              ELSE v_sweep[cardinality(v_sweep)] END,
           ladder_digest = CASE WHEN v_full_tiers THEN v_digest ELSE h.ladder_digest END,
           last_findings = v_count,
           changed_since_xid = v_xmin
     WHERE h.singleton;  -- the one row (and safeupdate refuses an UPDATE with no WHERE)
END
$$;
-- Statements find an instant's entry by halving the chain (chain_seq_at):
-- each chain's head time, from which the write path keeps times in order
-- (derived with the rest of a row's standing, as above).
-- The seq of the player's last entry dated before p_at (or at it, with
-- p_inclusive); 0 if none. A binary search over seq 1..chain_seq: about
-- twenty key lookups for a million entries. A chain with a gap (which
-- verify_ledger_chain reports) is read in order instead.
CREATE FUNCTION loyalty.chain_seq_at(p_player_id uuid, p_at timestamptz, p_inclusive boolean)
RETURNS bigint
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, loyalty, pg_temp
AS $$
DECLARE
    lo  bigint := 0;
    hi  bigint;
    mid bigint;
    t   timestamptz;
BEGIN
    SELECT p.chain_seq INTO hi FROM loyalty.player_loyalty p WHERE p.player_id = p_player_id;
    hi := coalesce(hi, 0);
    WHILE lo < hi LOOP
        mid := (lo + hi + 1) / 2;
        t := NULL;
        SELECT l.created_at INTO t FROM loyalty.loyalty_ledger l WHERE l.player_id = p_player_id AND l.seq = mid;
        IF t IS NULL THEN
            RETURN coalesce((SELECT max(l.seq) FROM loyalty.loyalty_ledger l
                              WHERE l.player_id = p_player_id
                                AND (l.created_at < p_at OR p_inclusive AND l.created_at = p_at)), 0);
        END IF;
        IF t < p_at OR p_inclusive AND t = p_at THEN
            lo := mid;
        ELSE
            hi := mid - 1;
        END IF;
    END LOOP;
    RETURN lo;
END
$$;
COMMENT ON FUNCTION loyalty.chain_seq_at(uuid, timestamptz, boolean) IS
    'Internal: seq of the player''s last ledger entry before p_at (at or before, with p_inclusive); 0 if none.';

REVOKE ALL ON FUNCTION loyalty.chain_seq_at FROM PUBLIC;
DROP FUNCTION loyalty.ladder_tier(bigint);
DROP FUNCTION loyalty.configure(text, time, bigint, integer, interval, integer, interval, interval, interval, interval, interval, integer, interval, text);
CREATE FUNCTION loyalty.configure(p_casino_timezone text DEFAULT NULL, p_gaming_day_start time DEFAULT NULL,
    p_max_reward_points bigint DEFAULT NULL, p_rate_limit_count integer DEFAULT NULL,
    p_rate_limit_window interval DEFAULT NULL, p_alert_reward_count integer DEFAULT NULL,
    p_alert_window interval DEFAULT NULL, p_accrual_lock_timeout interval DEFAULT NULL,
    p_partial_stale_after interval DEFAULT NULL, p_approval_overdue_after interval DEFAULT NULL,
    p_alert_ack_overdue_after interval DEFAULT NULL, p_health_sweep_players integer DEFAULT NULL,
    p_notification_claim_timeout interval DEFAULT NULL, p_correlation_id text DEFAULT NULL,
    p_daily_approval_threshold_points bigint DEFAULT NULL, p_cents_per_point numeric DEFAULT NULL,
    p_max_redemption_points bigint DEFAULT NULL, p_redemption_approval_points bigint DEFAULT NULL,
    p_points_inactivity_expiry interval DEFAULT NULL, p_expiry_warning interval DEFAULT NULL,
    p_tier_basis text DEFAULT NULL, p_tier_period_start text DEFAULT NULL)
RETURNS loyalty.config
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, loyalty, pg_temp
AS $$
DECLARE
    v_primary boolean := loyalty.require_primary();  -- first: a standby refuses before anything runs
    v_actor  text := loyalty.require_caller();
    v_corr   text := loyalty.resolve_correlation_id(p_correlation_id);
    v_before loyalty.config;
    v_after  loyalty.config;
    v_con    text;
BEGIN
    SELECT * INTO v_before FROM loyalty.config FOR UPDATE;
    BEGIN
        UPDATE loyalty.config c
           SET casino_timezone = coalesce(p_casino_timezone, c.casino_timezone),
               gaming_day_start = coalesce(p_gaming_day_start, c.gaming_day_start),
               max_reward_points = coalesce(p_max_reward_points, c.max_reward_points),
               rate_limit_count = coalesce(p_rate_limit_count, c.rate_limit_count),
               rate_limit_window = coalesce(p_rate_limit_window, c.rate_limit_window),
               alert_reward_count = coalesce(p_alert_reward_count, c.alert_reward_count),
               alert_window = coalesce(p_alert_window, c.alert_window),
               accrual_lock_timeout = coalesce(p_accrual_lock_timeout, c.accrual_lock_timeout),
               partial_stale_after = coalesce(p_partial_stale_after, c.partial_stale_after),
               approval_overdue_after = coalesce(p_approval_overdue_after, c.approval_overdue_after),
               alert_ack_overdue_after = coalesce(p_alert_ack_overdue_after, c.alert_ack_overdue_after),
               health_sweep_players = coalesce(p_health_sweep_players, c.health_sweep_players),
               notification_claim_timeout = coalesce(p_notification_claim_timeout, c.notification_claim_timeout),
               daily_approval_threshold_points = coalesce(p_daily_approval_threshold_points,
                                                          c.daily_approval_threshold_points),
               cents_per_point = coalesce(p_cents_per_point, c.cents_per_point),
               max_redemption_points = coalesce(p_max_redemption_points, c.max_redemption_points),
               redemption_approval_points = coalesce(p_redemption_approval_points, c.redemption_approval_points),
               -- '0' turns inactivity expiry off again (NULL keeps the value, as everywhere)
               points_inactivity_expiry = CASE WHEN p_points_inactivity_expiry = '0'::interval THEN NULL
                                               ELSE coalesce(p_points_inactivity_expiry, c.points_inactivity_expiry) END,
               expiry_warning = coalesce(p_expiry_warning, c.expiry_warning),
               tier_basis = coalesce(p_tier_basis, c.tier_basis),
               tier_period_start = coalesce(p_tier_period_start, c.tier_period_start),
               updated_at = now()
         WHERE c.singleton
        RETURNING * INTO v_after;
    EXCEPTION WHEN check_violation OR invalid_parameter_value OR numeric_value_out_of_range THEN
        GET STACKED DIAGNOSTICS v_con = CONSTRAINT_NAME;
        PERFORM loyalty.admin_refused(coalesce(nullif(v_con, ''), 'config_casino_timezone_check'),
                                      'see docs/reference.md for each setting''s range');
    END;
    -- Turning the period basis on takes no tier away: every player keeps
    -- the tier they hold through the current period (src/aging/tier.rs),
    -- so the first fall is at the next rollover.
    IF v_before.tier_basis = 'LIFETIME' AND v_after.tier_basis = 'PERIOD' THEN
        PERFORM loyalty.keep_tiers_through_period();
    END IF;
    PERFORM loyalty.admin_audit_write(v_actor, 'configure', 'config', to_jsonb(v_before), to_jsonb(v_after), v_corr);
    RETURN v_after;
END
$$;
COMMENT ON FUNCTION loyalty.configure(text, time, bigint, integer, interval, integer, interval, interval, interval, interval, interval, integer, interval, text, bigint, numeric, bigint, bigint, interval, interval, text, text) IS
    'Admin (trusted back ends): casino time zone, gaming-day start, limits, thresholds and the tier basis (NULL keeps a value); audited. Turning tier_basis to PERIOD keeps every player''s tier through the current period.';

REVOKE ALL ON FUNCTION loyalty.configure FROM PUBLIC;
GRANT EXECUTE ON FUNCTION loyalty.configure TO service_role;

-- ---------------------------------------------------------------------------
-- 0.3.0: loyalty_api, the schema to expose (sql/api.sql), and the linter's
-- rules held for every object (sql/security.sql). The loyalty schema keeps
-- its grants, so a project that exposes it keeps working until its operator
-- switches PostgREST's db-schemas to loyalty_api.
-- ---------------------------------------------------------------------------
CREATE SCHEMA loyalty_api;
COMMENT ON SCHEMA loyalty_api IS
    'Client-facing entry points of casino_loyalty (expose this schema, not loyalty).';

-- A player's own balance and own notifications, read through the tables'
-- row-level security as the caller (security_invoker): a player sees their
-- row, view_all staff everyone's, anyone else nothing.
CREATE VIEW loyalty_api.player_loyalty WITH (security_invoker = true) AS
    SELECT player_id, current_balance, held_points, lifetime_points, tier, tier_progress,
           tier_credits, tier_period, retained_tier, last_earned_at, updated_at
      FROM loyalty.player_loyalty;
CREATE VIEW loyalty_api.notification WITH (security_invoker = true) AS
    SELECT id, kind, player_id, alert_id, ledger_entry_id, payload, created_at, delivered_at
      FROM loyalty.notification;

-- The wrapped functions: the one list of what loyalty_api exposes.
CREATE FUNCTION loyalty.api_functions() RETURNS text[]
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT ARRAY[
        -- rating slips and their approval
        'open_rating_slip', 'update_rating_slip_bet', 'complete_rating_slip',
        'complete_rating_slips', 'accrue_points_from_slip', 'recover_slip_loyalty',
        'slip_points', 'approve_slip', 'reject_slip', 'list_held_slips',
        -- points and keys a client computes before it calls
        'calculate_points', 'hash_idempotency_key', 'manual_reward_key',
        -- manual rewards
        'manual_reward', 'reward_history',
        -- comps: holds and redemption
        'hold_points', 'approve_hold', 'capture_hold', 'void_hold', 'redeem_points',
        'reverse_redemption',
        -- statements and balances as of a time
        'player_statement', 'player_balance_at'
    ]
$$;

-- (Re)create every wrapper from its namesake's catalog entry, so a wrapper
-- cannot drift from the function it calls: the arguments with their
-- defaults, the result, the volatility, and EXECUTE for exactly the roles
-- that may execute the namesake. Run at the end of installation and by
-- upgrades that change a wrapped signature. Builds DDL from the catalog
-- only (names quoted with format %I), never from a caller's input; with
-- only pg_catalog on its search_path every type prints schema-qualified.
CREATE FUNCTION loyalty.refresh_api() RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    f      record;
    v_call text;
    v_sig  text;
    v_to   text;
    n      integer := 0;
BEGIN
    FOR f IN
        SELECT p.oid, p.proname, p.provolatile, p.proretset,
               pg_get_function_arguments(p.oid) AS args,
               pg_get_function_identity_arguments(p.oid) AS ident,
               pg_get_function_result(p.oid) AS result,
               p.prorettype = 'pg_catalog.void'::regtype AS is_void,
               (SELECT string_agg(quote_ident(a.name) || ' => ' || quote_ident(a.name), ', ' ORDER BY a.ord)
                  FROM unnest(p.proargnames, coalesce(p.proargmodes, array_fill('i'::"char", ARRAY[p.pronargs])))
                       WITH ORDINALITY AS a(name, mode, ord)
                 WHERE a.mode IN ('i', 'b')) AS named
          FROM pg_proc p
         WHERE p.pronamespace = 'loyalty'::regnamespace
           AND p.proname = ANY (loyalty.api_functions())
         ORDER BY p.proname, p.oid
    LOOP
        v_call := format('loyalty.%I(%s)', f.proname, coalesce(f.named, ''));
        v_sig := format('loyalty_api.%I(%s)', f.proname, f.args);
        EXECUTE format(
            'CREATE OR REPLACE FUNCTION %s RETURNS %s LANGUAGE sql %s SECURITY INVOKER SET search_path = '''' '
            'BEGIN ATOMIC %s; END',
            v_sig, f.result,
            CASE f.provolatile WHEN 'i' THEN 'IMMUTABLE' WHEN 's' THEN 'STABLE' ELSE 'VOLATILE' END,
            CASE WHEN f.proretset THEN 'SELECT * FROM ' || v_call ELSE 'SELECT ' || v_call END);
        EXECUTE format('REVOKE ALL ON FUNCTION loyalty_api.%I(%s) FROM PUBLIC', f.proname, f.ident);
        SELECT string_agg(a.grantee::regrole::text, ', ') INTO v_to
          FROM pg_proc p, aclexplode(p.proacl) a
         WHERE p.oid = f.oid AND a.privilege_type = 'EXECUTE' AND a.grantee <> 0;
        IF v_to IS NOT NULL THEN
            EXECUTE format('GRANT EXECUTE ON FUNCTION loyalty_api.%I(%s) TO %s', f.proname, f.ident, v_to);
        END IF;
        EXECUTE format('COMMENT ON FUNCTION loyalty_api.%I(%s) IS %L', f.proname, f.ident,
                       format('Calls loyalty.%s with the same arguments, as the caller (reference §3).', f.proname));
        n := n + 1;
    END LOOP;
    RETURN n;
END
$$;
REVOKE ALL ON FUNCTION loyalty.api_functions, loyalty.refresh_api FROM PUBLIC;

-- One UPDATE had no WHERE (safeupdate refuses it): health_check above.
-- Tables only the owner touches (settings, the health check's state, the
-- rate-limit windows, seed tombstones) say so with a policy that admits
-- nobody: the owner bypasses RLS, no role holds a grant on them, and every
-- table with RLS on has a policy (Supabase's linter, rule 0008).
CREATE POLICY config_owner_only ON loyalty.config USING (false) WITH CHECK (false);
CREATE POLICY health_state_owner_only ON loyalty.health_state USING (false) WITH CHECK (false);
CREATE POLICY reward_window_owner_only ON loyalty.reward_window USING (false) WITH CHECK (false);
CREATE POLICY seed_removed_owner_only ON loyalty.seed_removed USING (false) WITH CHECK (false);

-- Functions that run no SQL pin a search path too, so no function the
-- extension creates depends on the caller's (linter rule 0011).
ALTER FUNCTION loyalty.hash_idempotency_key SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION loyalty.is_ledger_kind SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION loyalty.is_ledger_event SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION loyalty.lifetime_credit SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION loyalty.resolve_correlation_id SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION loyalty.tier_ladder_changed SET search_path = pg_catalog, pg_temp;

-- The exposed schema (sql/api.sql): the API roles reach the wrappers, each
-- wrapper EXECUTE for exactly the roles that may execute its namesake, and
-- the two views for the roles that read the tables behind them.
GRANT USAGE ON SCHEMA loyalty_api TO anon, authenticated, service_role;
GRANT SELECT ON loyalty_api.player_loyalty, loyalty_api.notification TO authenticated, service_role;
SELECT loyalty.refresh_api();

-- ---------------------------------------------------------------------------
-- 0.3.0: on a hot standby every writing function refuses with 25006 before
-- it does anything, and health_check reports without writing (SPEC §18).
-- The Rust functions check in the library; the SQL ones call
-- require_primary() first (created at the top of this file, since the
-- functions redefined before this point call it too).
-- ---------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION loyalty.deactivate_staff(p_staff_id uuid, p_correlation_id text DEFAULT NULL)
RETURNS loyalty.staff
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, loyalty, pg_temp
AS $$
DECLARE
    v_primary boolean := loyalty.require_primary();  -- first: a standby refuses before anything runs
    v_actor  text := loyalty.require_caller();
    v_corr   text := loyalty.resolve_correlation_id(p_correlation_id);
    v_before loyalty.staff;
    v_after  loyalty.staff;
BEGIN
    SELECT * INTO v_before FROM loyalty.staff s WHERE s.staff_id = p_staff_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING MESSAGE = 'INVALID_STAFF_ID', DETAIL = 'no such staff member', ERRCODE = 'PT403';
    END IF;
    -- Inactive staff hold no permission (the checks read `active`); the
    -- row stays, so their past entries keep naming them.
    UPDATE loyalty.staff s SET active = false, updated_at = now()
     WHERE s.staff_id = p_staff_id RETURNING * INTO v_after;
    PERFORM loyalty.admin_audit_write(v_actor, 'deactivate_staff', 'staff:' || p_staff_id,
                                      to_jsonb(v_before), to_jsonb(v_after), v_corr);
    RETURN v_after;
END
$$;

CREATE OR REPLACE FUNCTION loyalty.upsert_game_settings(p_game_type text, p_house_edge numeric DEFAULT NULL,
    p_decisions_per_hour integer DEFAULT NULL, p_points_conversion_rate numeric DEFAULT NULL,
    p_point_multiplier numeric DEFAULT NULL, p_min_average_bet numeric DEFAULT NULL,
    p_max_average_bet numeric DEFAULT NULL, p_approval_threshold_points bigint DEFAULT NULL,
    p_correlation_id text DEFAULT NULL)
RETURNS loyalty.game_settings
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, loyalty, pg_temp
AS $$
DECLARE
    v_primary boolean := loyalty.require_primary();  -- first: a standby refuses before anything runs
    v_actor  text := loyalty.require_caller();
    v_corr   text := loyalty.resolve_correlation_id(p_correlation_id);
    v_before loyalty.game_settings;
    v_after  loyalty.game_settings;
    v_con    text;
BEGIN
    IF p_game_type IS NULL THEN
        RAISE EXCEPTION USING MESSAGE = 'VALIDATION_ERROR', DETAIL = 'p_game_type is required', ERRCODE = 'PT422';
    END IF;
    SELECT * INTO v_before FROM loyalty.game_settings g WHERE g.game_type = p_game_type FOR UPDATE;
    BEGIN
        IF NOT FOUND THEN
            INSERT INTO loyalty.game_settings (game_type, house_edge, decisions_per_hour, points_conversion_rate,
                                               point_multiplier, min_average_bet, max_average_bet,
                                               approval_threshold_points)
            VALUES (p_game_type, p_house_edge, p_decisions_per_hour, p_points_conversion_rate,
                    coalesce(p_point_multiplier, 1), coalesce(p_min_average_bet, 1),
                    coalesce(p_max_average_bet, 100000), coalesce(p_approval_threshold_points, 25000))
            RETURNING * INTO v_after;
        ELSE
            UPDATE loyalty.game_settings g
               SET house_edge = coalesce(p_house_edge, g.house_edge),
                   decisions_per_hour = coalesce(p_decisions_per_hour, g.decisions_per_hour),
                   points_conversion_rate = coalesce(p_points_conversion_rate, g.points_conversion_rate),
                   point_multiplier = coalesce(p_point_multiplier, g.point_multiplier),
                   min_average_bet = coalesce(p_min_average_bet, g.min_average_bet),
                   max_average_bet = coalesce(p_max_average_bet, g.max_average_bet),
                   approval_threshold_points = coalesce(p_approval_threshold_points, g.approval_threshold_points),
                   updated_at = now()
             WHERE g.game_type = p_game_type
            RETURNING * INTO v_after;
        END IF;
    EXCEPTION WHEN check_violation OR not_null_violation OR numeric_value_out_of_range THEN
        GET STACKED DIAGNOSTICS v_con = CONSTRAINT_NAME;
        PERFORM loyalty.admin_refused(v_con,
            'a new game needs p_house_edge, p_decisions_per_hour and p_points_conversion_rate');
    END;
    PERFORM loyalty.admin_audit_write(v_actor, 'upsert_game_settings', 'game_settings:' || p_game_type,
        CASE WHEN v_before.game_type IS NOT NULL THEN to_jsonb(v_before) END, to_jsonb(v_after), v_corr);
    RETURN v_after;
END
$$;

CREATE OR REPLACE FUNCTION loyalty.upsert_tier(p_tier text, p_threshold_points bigint, p_correlation_id text DEFAULT NULL)
RETURNS loyalty.tier
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, loyalty, pg_temp
AS $$
DECLARE
    v_primary boolean := loyalty.require_primary();  -- first: a standby refuses before anything runs
    v_actor  text := loyalty.require_caller();
    v_corr   text := loyalty.resolve_correlation_id(p_correlation_id);
    v_before loyalty.tier;
    v_after  loyalty.tier;
    v_con    text;
BEGIN
    IF p_tier IS NULL OR p_threshold_points IS NULL THEN
        RAISE EXCEPTION USING MESSAGE = 'VALIDATION_ERROR', DETAIL = 'p_tier and p_threshold_points are required',
            ERRCODE = 'PT422';
    END IF;
    SELECT * INTO v_before FROM loyalty.tier t WHERE t.tier = p_tier FOR UPDATE;
    BEGIN
        IF NOT FOUND THEN
            INSERT INTO loyalty.tier (tier, threshold_points) VALUES (p_tier, p_threshold_points)
            RETURNING * INTO v_after;
        ELSE
            UPDATE loyalty.tier t SET threshold_points = p_threshold_points, updated_at = now()
             WHERE t.tier = p_tier RETURNING * INTO v_after;
        END IF;
        -- the threshold key is deferred (restores reshuffle); check it now
        SET CONSTRAINTS loyalty.tier_threshold_points_key IMMEDIATE;
        SET CONSTRAINTS loyalty.tier_threshold_points_key DEFERRED;
    EXCEPTION WHEN check_violation OR not_null_violation OR unique_violation THEN
        GET STACKED DIAGNOSTICS v_con = CONSTRAINT_NAME;
        PERFORM loyalty.admin_refused(v_con, 'tier names are A-Z, 0-9, _; thresholds are unique and 0 or more');
    END;
    PERFORM loyalty.admin_audit_write(v_actor, 'upsert_tier', 'tier:' || p_tier,
        CASE WHEN v_before.tier IS NOT NULL THEN to_jsonb(v_before) END, to_jsonb(v_after), v_corr);
    RETURN v_after;
END
$$;

CREATE OR REPLACE FUNCTION loyalty.delete_tier(p_tier text, p_correlation_id text DEFAULT NULL)
RETURNS loyalty.tier
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, loyalty, pg_temp
AS $$
DECLARE
    v_primary boolean := loyalty.require_primary();  -- first: a standby refuses before anything runs
    v_actor  text := loyalty.require_caller();
    v_corr   text := loyalty.resolve_correlation_id(p_correlation_id);
    v_before loyalty.tier;
BEGIN
    -- Locks the whole ladder: two deletes at once must not both pass the
    -- "one tier remains" check.
    PERFORM 1 FROM loyalty.tier FOR UPDATE;
    SELECT * INTO v_before FROM loyalty.tier t WHERE t.tier = p_tier;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING MESSAGE = 'VALIDATION_ERROR', DETAIL = 'no such tier', ERRCODE = 'PT422';
    END IF;
    IF (SELECT count(*) FROM loyalty.tier) = 1 THEN
        RAISE EXCEPTION USING MESSAGE = 'VALIDATION_ERROR', DETAIL = 'the ladder needs at least one tier',
            ERRCODE = 'PT422';
    END IF;
    DELETE FROM loyalty.tier t WHERE t.tier = p_tier;
    PERFORM loyalty.admin_audit_write(v_actor, 'delete_tier', 'tier:' || p_tier, to_jsonb(v_before), NULL, v_corr);
    RETURN v_before;
END
$$;

CREATE OR REPLACE FUNCTION loyalty.mark_notifications_delivered(p_ids bigint[])
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, loyalty, pg_temp
AS $$
DECLARE
    v_primary boolean := loyalty.require_primary();  -- first: a standby refuses before anything runs
    v_marked integer;
BEGIN
    PERFORM loyalty.require_caller();
    IF p_ids IS NULL OR cardinality(p_ids) > 10000 THEN
        RAISE EXCEPTION USING MESSAGE = 'VALIDATION_ERROR', DETAIL = 'p_ids is required (at most 10000 ids)',
            ERRCODE = 'PT422';
    END IF;
    UPDATE loyalty.notification n SET delivered_at = clock_timestamp()
     WHERE n.id = ANY (p_ids) AND n.delivered_at IS NULL;
    GET DIAGNOSTICS v_marked = ROW_COUNT;
    RETURN v_marked;
END
$$;

-- ---------------------------------------------------------------------------
-- Integrity, round 3 (SPEC §20), before 0.3.0 is released.
--
-- Every function of the extension that is written in C runs from this
-- release's own library file (a file per release, casino_loyalty-X.Y.Z.so:
-- during the window between installing a new build and updating a
-- database, that database's definitions keep calling the library they were
-- made with). 0.2.0's functions that no step above redefined are pointed
-- at it here, first, so nothing below calls the old library. The ladder's
-- and settings' statement trigger becomes a plain function calling a C one
-- (a C trigger function would name its library another way).
CREATE FUNCTION loyalty.invalidate_copies(
	"p_table" oid
) RETURNS void
VOLATILE PARALLEL UNSAFE
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'casino_loyalty-@CARGO_VERSION@', 'invalidate_copies_wrapper';
REVOKE ALL ON FUNCTION loyalty.invalidate_copies FROM PUBLIC;
CREATE OR REPLACE FUNCTION loyalty.tier_ladder_changed() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM loyalty.invalidate_copies(TG_RELID);
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION loyalty.tier_ladder_changed() IS
    'Statement trigger on loyalty.tier and loyalty.config: every backend reads its copy again after the change commits (src/pg/watch.rs).';
DO $$
DECLARE
    f record;
BEGIN
    FOR f IN
        SELECT p.oid, p.probin FROM pg_catalog.pg_proc p
          JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid
                                     AND d.deptype = 'e'
          JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid AND e.extname = 'casino_loyalty'
         WHERE p.prolang = (SELECT l.oid FROM pg_catalog.pg_language l WHERE l.lanname = 'c')
           AND p.probin IS DISTINCT FROM 'casino_loyalty-@CARGO_VERSION@'
    LOOP
        EXECUTE pg_catalog.replace(pg_catalog.pg_get_functiondef(f.oid),
                                   'AS ' || pg_catalog.quote_literal(f.probin) || ', ',
                                   'AS ''casino_loyalty-@CARGO_VERSION@'', ');
    END LOOP;
END
$$;

-- increment_player_loyalty posts a DIRECT_INCREMENT entry: no balance moves
-- without its ledger row.
COMMENT ON COLUMN loyalty.loyalty_ledger.transaction_type IS 'GAMEPLAY, MANUAL_BONUS (positive manual), ADJUSTMENT (negative manual), REDEMPTION (a captured hold, negative), REDEMPTION_REVERSAL (a redemption given back, positive), EXPIRY (points that lapsed), DIRECT_INCREMENT (a trusted back end''s increment_player_loyalty) or RECONCILIATION (an operator''s repair of a drifted balance: moves the stored balance back to the ledger, so it is not counted in the ledger''s sum; src/domain/kinds.rs).';
COMMENT ON COLUMN loyalty.loyalty_ledger.event_type IS 'RATING_SLIP_COMPLETED, POINTS_UPDATE_REQUESTED, POINTS_REDEEMED, REDEMPTION_REVERSED, POINTS_EXPIRED, BALANCE_INCREMENTED or BALANCE_RECONCILED.';
COMMENT ON TABLE loyalty.player_loyalty IS 'Balance per player. Invariant: current_balance = sum(ledger.points_change), lifetime_points = sum of loyalty.lifetime_credit over the entries, held_points = sum of the live holds.';
COMMENT ON COLUMN loyalty.player_loyalty.lifetime_points IS 'All points ever earned (GAMEPLAY, MANUAL_BONUS and positive DIRECT_INCREMENT entries; loyalty.lifetime_credit); decides the tier. Spending and reversals never change it.';
COMMENT ON COLUMN loyalty.player_loyalty.last_earned_at IS 'When the player last earned points (a GAMEPLAY, MANUAL_BONUS or positive DIRECT_INCREMENT entry), kept by the write path: inactivity expiry counts from it.';

-- The close decides a slip's points; an owed slip counts toward its
-- player's day by them. The slips owed or held now get theirs (the
-- partial index of unpaid slips: no scan of the paid ones).
ALTER TABLE loyalty.rating_slip ADD COLUMN points bigint;
COMMENT ON COLUMN loyalty.rating_slip.points IS 'Points the slip earns, decided from its snapshot when it closed (NULL while open): what a payment posts, and what an owed slip counts toward its player''s gaming day.';
UPDATE loyalty.rating_slip SET points = loyalty.slip_points(id)
 WHERE status = 'CLOSED' AND accrued_ledger_id IS NULL;

-- Expiry after a stored warning.
COMMENT ON COLUMN loyalty.player_loyalty.expiry_warned_at IS 'When the POINTS_EXPIRING warning for expiry_warned_for was sent: points expire only config.expiry_warning after it.';

-- Turning the period basis on locks no player.
ALTER TABLE loyalty.config ADD COLUMN tier_basis_since loyalty.finite_timestamptz;
COMMENT ON COLUMN loyalty.config.tier_basis_since IS 'When tier_basis last became PERIOD (configure sets it; NULL: never). Through the qualification year it fell in every player keeps the tier they held then, so turning the basis on takes no tier away and locks no player.';

-- Tier state checked against the ledger's replay.
CREATE FUNCTION loyalty.ledger_standing(
	"p_player_id" uuid
) RETURNS TABLE (
	"player_id" uuid,
	"balance" bigint,
	"lifetime_points" bigint,
	"tier" TEXT,
	"tier_progress" smallint,
	"tier_credits" bigint,
	"tier_period" date,
	"retained_tier" TEXT,
	"last_earned_at" timestamp with time zone,
	"chain_head_at" timestamp with time zone,
	"gameplay_day" date,
	"gameplay_day_points" bigint
)
STABLE SECURITY DEFINER PARALLEL SAFE
SET search_path TO pg_catalog, loyalty, pg_temp
LANGUAGE c
AS 'casino_loyalty-@CARGO_VERSION@', 'ledger_standing_wrapper';
CREATE FUNCTION loyalty.standing_check(
	"p_player_id" uuid
) RETURNS TABLE (
	"ok" bool,
	"standing" jsonb,
	"ledger_standing" jsonb
)
STABLE SECURITY DEFINER PARALLEL SAFE
SET search_path TO pg_catalog, loyalty, pg_temp
LANGUAGE c
AS 'casino_loyalty-@CARGO_VERSION@', 'standing_check_wrapper';
REVOKE ALL ON FUNCTION loyalty.ledger_standing, loyalty.standing_check FROM PUBLIC;
GRANT EXECUTE ON FUNCTION loyalty.ledger_standing, loyalty.standing_check TO authenticated, service_role;

-- The functions this round changed, as sql/ has them.
CREATE OR REPLACE FUNCTION loyalty.merge_seeded_row() RETURNS trigger
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

CREATE OR REPLACE FUNCTION loyalty.seeded_row_removed() RETURNS trigger
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

CREATE OR REPLACE FUNCTION loyalty.exception_report(p_from_gaming_day date, p_to_gaming_day date)
RETURNS TABLE (event text, gaming_day date, at timestamptz, player_id uuid, initiator text, approver text,
               amount bigint, reason text, correlation_id text, reference text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, loyalty, pg_temp
AS $$
BEGIN
    PERFORM loyalty.require_caller(ARRAY['loyalty:audit']);
    IF p_from_gaming_day IS NULL OR p_to_gaming_day IS NULL OR p_from_gaming_day > p_to_gaming_day
       OR NOT isfinite(p_from_gaming_day) OR NOT isfinite(p_to_gaming_day) THEN
        RAISE EXCEPTION USING MESSAGE = 'VALIDATION_ERROR',
            DETAIL = 'give finite gaming days p_from_gaming_day <= p_to_gaming_day (both included)', ERRCODE = 'PT422';
    END IF;
    RETURN QUERY
    -- manual adds and adjustments, reconciliations, reversals, expiries:
    -- the ledger's own rows (a gaming day lies within three days of its
    -- rows' UTC dates, so the created_at index narrows the scan)
    SELECT l.transaction_type::text, l.gaming_day, l.created_at::timestamptz, l.player_id,
           coalesce(l.staff_id::text, l.source), NULL::text, l.points_change, l.reason, l.correlation_id,
           'ledger:' || l.id || coalesce(' reverses ledger:' || l.reverses_entry_id, '')
      FROM loyalty.loyalty_ledger l
     WHERE l.transaction_type IN ('MANUAL_BONUS', 'ADJUSTMENT', 'RECONCILIATION', 'REDEMPTION_REVERSAL', 'EXPIRY',
                                  'DIRECT_INCREMENT')
       AND l.gaming_day BETWEEN p_from_gaming_day AND p_to_gaming_day
       AND l.created_at >= (p_from_gaming_day - 3)::timestamp AT TIME ZONE 'UTC'
       AND l.created_at < (p_to_gaming_day + 4)::timestamp AT TIME ZONE 'UTC'
    UNION ALL
    -- held slips decided by a second person
    SELECT 'SLIP_' || s.approval_status::text, loyalty.gaming_day(s.decided_at), s.decided_at::timestamptz,
           s.player_id, s.closed_by::text, s.decided_by::text, l.points_change, s.decision_reason,
           s.correlation_id, 'slip:' || s.id
      FROM loyalty.rating_slip s
      LEFT JOIN loyalty.loyalty_ledger l ON l.player_id = s.player_id AND l.id = s.accrued_ledger_id
     WHERE s.approval_status IN ('APPROVED', 'REJECTED')
       AND loyalty.gaming_day(s.decided_at) BETWEEN p_from_gaming_day AND p_to_gaming_day
    UNION ALL
    -- comps above the approval threshold, approved by a second person,
    -- with what moved: the points captured (0 while none were, and for a
    -- hold voided or expired), the hold's state in the reference
    SELECT 'HOLD_APPROVED', loyalty.gaming_day(h.approved_at), h.approved_at::timestamptz, h.player_id,
           h.staff_id::text, h.approved_by::text, -coalesce(h.captured_points, 0), h.reason, h.correlation_id,
           'hold:' || h.hold_id || ' ' || h.status::text
      FROM loyalty.hold h
     WHERE h.approved_by IS NOT NULL
       AND loyalty.gaming_day(h.approved_at) BETWEEN p_from_gaming_day AND p_to_gaming_day
    UNION ALL
    -- and the REDEMPTION entries that captured those comps
    SELECT l.transaction_type::text, l.gaming_day, l.created_at::timestamptz, l.player_id,
           coalesce(l.staff_id::text, l.source), h.approved_by::text, l.points_change, l.reason, l.correlation_id,
           'ledger:' || l.id || ' hold:' || h.hold_id
      FROM loyalty.hold h
      JOIN loyalty.loyalty_ledger l ON l.player_id = h.player_id AND l.id = h.ledger_entry_id
     WHERE h.approved_by IS NOT NULL
       AND l.gaming_day BETWEEN p_from_gaming_day AND p_to_gaming_day
    UNION ALL
    -- every change made through the admin API
    SELECT 'ADMIN_' || upper(a.action), loyalty.gaming_day(a.at), a.at::timestamptz, NULL::uuid, a.actor,
           NULL::text, NULL::bigint, NULL::text, a.correlation_id, a.target
      FROM loyalty.admin_audit a
     WHERE loyalty.gaming_day(a.at) BETWEEN p_from_gaming_day AND p_to_gaming_day
     ORDER BY 3, 1, 10;
END
$$;
COMMENT ON FUNCTION loyalty.exception_report(date, date) IS
    'Exception report for the gaming days [p_from_gaming_day, p_to_gaming_day]: manual adds and adjustments, direct increments, reconciliations, redemption reversals, expiries, slip approvals and rejections, approved comps above the threshold with the points they captured and their REDEMPTION entries, admin API changes; each with initiator and approver. loyalty:audit staff and trusted back ends.';

CREATE OR REPLACE FUNCTION loyalty.health_check()
RETURNS TABLE (kind text, severity text, subject text, alert_id bigint, new_alert boolean, details jsonb)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, loyalty, pg_temp
AS $$
DECLARE
    c          loyalty.config%ROWTYPE;
    st         loyalty.health_state%ROWTYPE;
    v_started  timestamptz := clock_timestamp();
    v_found    jsonb := '[]';
    v_sweep    uuid[];
    v_players  uuid[];
    v_chained  uuid[];
    v_changed  uuid[];
    v_xmin     bigint := txid_snapshot_xmin(txid_current_snapshot());
    v_digest   text;
    v_full_tiers boolean;
    v_unacked  jsonb;
    f          record;
    v_id       bigint;
    v_count    integer := 0;
    -- On a hot standby (SPEC §18) the check reports what it finds and
    -- writes nothing: no alert, no chain position, no state.
    v_standby  boolean := pg_is_in_recovery();
    v_chains   jsonb;
BEGIN
    PERFORM loyalty.require_caller();
    IF v_standby THEN
        SELECT * INTO st FROM loyalty.health_state;
    ELSE
        -- One run at a time: the state row is the lock (a second caller
        -- waits, then sees the first run's alerts and raises no duplicates).
        INSERT INTO loyalty.health_state (singleton) VALUES (true) ON CONFLICT DO NOTHING;
        SELECT * INTO st FROM loyalty.health_state FOR UPDATE;
    END IF;
    SELECT * INTO c FROM loyalty.config;

    -- Closed slips still owed their points, older than the threshold.
    v_found := v_found || coalesce((
        SELECT jsonb_agg(jsonb_build_object(
                   'kind', 'PARTIAL_COMPLETION_STALE', 'severity', 'WARNING',
                   'fingerprint', 'PARTIAL_COMPLETION_STALE:' || s.rating_slip_id, 'subject', s.rating_slip_id::text,
                   'player_id', s.player_id,
                   'details', jsonb_build_object('rating_slip_id', s.rating_slip_id, 'end_time', s.end_time,
                                                 'age_seconds', floor(extract(epoch FROM v_started - s.end_time)),
                                                 'last_error', p.error_code)))
          FROM loyalty.partial_completion s
          LEFT JOIN loyalty.pending_accrual p ON p.rating_slip_id = s.rating_slip_id
         WHERE s.end_time < v_started - c.partial_stale_after),
        '[]');

    -- A slip that was paid but is still marked owed.
    v_found := v_found || coalesce((
        SELECT jsonb_agg(jsonb_build_object(
                   'kind', 'PENDING_ROW_WRONG', 'severity', 'WARNING',
                   'fingerprint', 'PENDING_ROW_WRONG:' || p.rating_slip_id, 'subject', p.rating_slip_id::text,
                   'player_id', p.player_id,
                   'details', jsonb_build_object('rating_slip_id', p.rating_slip_id, 'ledger_entry_id', l.id,
                                                 'failed_at', p.failed_at)))
          FROM loyalty.pending_accrual p
          JOIN loyalty.loyalty_ledger l
            ON l.player_id = p.player_id AND l.idempotency_key = 'gameplay:' || p.rating_slip_id::text
         WHERE p.resolved_at IS NULL),
        '[]');

    -- Slips held for a second person's approval for too long.
    v_found := v_found || coalesce((
        SELECT jsonb_agg(jsonb_build_object(
                   'kind', 'APPROVAL_OVERDUE', 'severity', 'WARNING',
                   'fingerprint', 'APPROVAL_OVERDUE:' || s.id, 'subject', s.id::text,
                   'player_id', s.player_id,
                   'details', jsonb_build_object('rating_slip_id', s.id, 'held_since', s.end_time,
                                                 'closed_by', s.closed_by)))
          FROM loyalty.rating_slip s
         WHERE s.approval_status = 'HELD' AND s.end_time < v_started - c.approval_overdue_after),
        '[]');

    -- Players to verify: every player with a ledger entry written since the
    -- last run started (less a margin for transactions that commit late),
    -- every player whose balance row was written since (by a transaction
    -- that had not finished when the last run started: a change made behind
    -- the write path's back writes no ledger entry, but it writes the row),
    -- every player with an unresolved balance or chain alert, and the next
    -- slice of the rolling sweep, which reaches everyone.
    v_sweep := ARRAY(SELECT p.player_id FROM loyalty.player_loyalty p
                      WHERE st.sweep_after IS NULL OR p.player_id > st.sweep_after
                      ORDER BY p.player_id LIMIT c.health_sweep_players);
    v_chained := v_sweep || ARRAY(SELECT a.player_id FROM loyalty.alert a
                                   WHERE a.kind = 'CHAIN_BROKEN' AND a.resolved_at IS NULL
                                     AND a.player_id IS NOT NULL);
    v_changed := ARRAY(SELECT DISTINCT l.player_id FROM loyalty.loyalty_ledger l
                        WHERE st.last_run_at IS NULL OR l.created_at >= st.last_run_at - interval '10 minutes')
        || ARRAY(SELECT p.player_id FROM loyalty.player_loyalty p
                  WHERE st.changed_since_xid IS NOT NULL
                    AND age(p.xmin) <= CASE WHEN v_standby THEN txid_snapshot_xmax(txid_current_snapshot())
                                            ELSE txid_current() END - st.changed_since_xid);
    v_players := v_chained || v_changed
        || ARRAY(SELECT a.player_id FROM loyalty.alert a
                  WHERE a.kind IN ('BALANCE_MISMATCH', 'HOLD_MISMATCH', 'STANDING_MISMATCH') AND a.resolved_at IS NULL
                    AND a.player_id IS NOT NULL);
    v_players := ARRAY(SELECT DISTINCT u FROM unnest(v_players) u);
    v_chained := ARRAY(SELECT DISTINCT u FROM unnest(v_chained) u);
    v_changed := ARRAY(SELECT DISTINCT u FROM unnest(v_changed) u WHERE u <> ALL (v_chained));

    -- Stored balance or lifetime points that differ from the ledger
    -- (RECONCILIATION entries left out of the sum, as in verify_player_balance).
    v_found := v_found || coalesce((
        SELECT jsonb_agg(jsonb_build_object(
                   'kind', 'BALANCE_MISMATCH', 'severity', 'CRITICAL',
                   'fingerprint', 'BALANCE_MISMATCH:' || p.player_id, 'subject', p.player_id::text,
                   'player_id', p.player_id,
                   'details', jsonb_build_object('current_balance', p.current_balance, 'ledger_balance', l.bal,
                                                 'lifetime_points', p.lifetime_points, 'ledger_lifetime', l.life)))
          FROM unnest(v_players) u(player_id)
          JOIN loyalty.player_loyalty p ON p.player_id = u.player_id
          CROSS JOIN LATERAL (
              SELECT coalesce(sum(e.points_change) FILTER (WHERE e.transaction_type <> 'RECONCILIATION'), 0) AS bal,
                     coalesce(sum(loyalty.lifetime_credit(e.transaction_type, e.points_change)), 0) AS life
                FROM loyalty.loyalty_ledger e WHERE e.player_id = u.player_id) l
         WHERE p.current_balance <> l.bal OR p.lifetime_points <> l.life),
        '[]');

    -- Tier state that the ledger does not give (SPEC §20): tier credits,
    -- qualification period, retained tier and tier, against the replay of
    -- the player's entries (loyalty.standing_check).
    v_found := v_found || coalesce((
        SELECT jsonb_agg(jsonb_build_object(
                   'kind', 'STANDING_MISMATCH', 'severity', 'CRITICAL',
                   'fingerprint', 'STANDING_MISMATCH:' || u.player_id, 'subject', u.player_id::text,
                   'player_id', u.player_id,
                   'details', jsonb_build_object('standing', sc.standing, 'ledger_standing', sc.ledger_standing)))
          FROM unnest(v_players) u(player_id)
          CROSS JOIN LATERAL loyalty.standing_check(u.player_id) sc
         WHERE NOT sc.ok),
        '[]');

    -- Held points that are not the sum of the player's live holds
    -- (reference §15): for the players verified above.
    v_found := v_found || coalesce((
        SELECT jsonb_agg(jsonb_build_object(
                   'kind', 'HOLD_MISMATCH', 'severity', 'CRITICAL',
                   'fingerprint', 'HOLD_MISMATCH:' || p.player_id, 'subject', p.player_id::text,
                   'player_id', p.player_id,
                   'details', jsonb_build_object('held_points', p.held_points, 'live_hold_points', h.live)))
          FROM unnest(v_players) u(player_id)
          JOIN loyalty.player_loyalty p ON p.player_id = u.player_id
          CROSS JOIN LATERAL (
              SELECT coalesce(sum(x.points), 0) AS live FROM loyalty.hold x
               WHERE x.player_id = u.player_id AND x.status IN ('PENDING_APPROVAL', 'ACTIVE')) h
         WHERE p.held_points <> h.live),
        '[]');

    -- Live holds past their deadline that two expiry sweeps (one a minute)
    -- should have released: expire_holds is not running.
    v_found := v_found || coalesce((
        SELECT jsonb_build_array(jsonb_build_object(
                   'kind', 'HOLD_EXPIRY_LATE', 'severity', 'WARNING', 'fingerprint', 'HOLD_EXPIRY_LATE',
                   'subject', 'holds', 'player_id', NULL,
                   'details', jsonb_build_object('holds', count(*), 'oldest_expires_at', min(x.expires_at),
                                                 'sample', (array_agg(x.hold_id ORDER BY x.expires_at))[1:20])))
          FROM loyalty.hold x
         WHERE x.status IN ('PENDING_APPROVAL', 'ACTIVE') AND x.expires_at < v_started - interval '2 minutes'
        HAVING count(*) > 0),
        '[]');

    -- Hash chains (src/ledger/chain/): whole for the sweep slice and for
    -- players already alerted (so an alert resolves once the chain verifies
    -- again); for the other changed players, incrementally from where the
    -- last run verified each one. Every chain that verifies stores its head
    -- as the next run's position (chain_verified).
    SELECT coalesce(jsonb_agg(to_jsonb(r)), '[]') INTO v_chains FROM (
        SELECT u.player_id, v.*
          FROM unnest(v_chained) u(player_id)
          CROSS JOIN LATERAL loyalty.verify_ledger_chain_since(u.player_id) v
        UNION ALL
        SELECT u.player_id, v.*
          FROM unnest(v_changed) u(player_id)
          LEFT JOIN loyalty.chain_verified cv ON cv.player_id = u.player_id
          CROSS JOIN LATERAL loyalty.verify_ledger_chain_since(u.player_id, cv.seq, cv.row_hash) v) r;
    IF NOT v_standby THEN
        INSERT INTO loyalty.chain_verified AS cv (player_id, seq, row_hash)
        SELECT r.player_id, r.head_seq, r.head_hash
          FROM jsonb_to_recordset(v_chains) AS r(player_id uuid, ok boolean, head_seq bigint, head_hash text)
         WHERE r.ok
        ON CONFLICT (player_id) DO UPDATE
           SET seq = EXCLUDED.seq, row_hash = EXCLUDED.row_hash, verified_at = now();
    END IF;
    SELECT v_found || coalesce(jsonb_agg(jsonb_build_object(
               'kind', 'CHAIN_BROKEN', 'severity', 'CRITICAL',
               'fingerprint', 'CHAIN_BROKEN:' || r.player_id, 'subject', r.player_id::text,
               'player_id', r.player_id,
               'details', jsonb_build_object('break_seq', r.break_seq, 'break_kind', r.break_kind,
                                             'detail', r.detail))) FILTER (WHERE NOT r.ok),
           '[]')
      INTO v_found
      FROM jsonb_to_recordset(v_chains)
           AS r(player_id uuid, ok boolean, break_seq bigint, break_kind text, detail text);

    -- Stored tiers that disagree with the ladder: everyone when the ladder
    -- changed since the last full check or a drift alert is unresolved,
    -- else the players verified above. One finding for the whole ladder.
    SELECT md5(string_agg(t.tier || ':' || t.threshold_points, ',' ORDER BY t.threshold_points)
               || (SELECT cf.tier_basis FROM loyalty.config cf))
      INTO v_digest FROM loyalty.tier t;
    v_full_tiers := v_digest IS DISTINCT FROM st.ladder_digest
        OR EXISTS (SELECT 1 FROM loyalty.alert a WHERE a.kind = 'TIER_DRIFT' AND a.resolved_at IS NULL);
    v_found := v_found || coalesce((
        SELECT jsonb_build_array(jsonb_build_object(
                   'kind', 'TIER_DRIFT', 'severity', 'WARNING', 'fingerprint', 'TIER_DRIFT', 'subject', 'ladder',
                   'player_id', NULL,
                   'details', jsonb_build_object('players', count(*),
                                                 'sample', (array_agg(jsonb_build_object(
                                                     'player_id', d.player_id, 'tier', d.tier,
                                                     'ladder_tier', d.ladder_tier) ORDER BY d.player_id))[1:20])))
          FROM (SELECT p.player_id, p.tier,
                       loyalty.player_tier(p.lifetime_points, p.tier_credits, p.retained_tier, p.tier) AS ladder_tier
                  FROM loyalty.player_loyalty p
                 WHERE v_full_tiers OR p.player_id = ANY (v_players)) d
         WHERE d.tier <> d.ladder_tier
        HAVING count(*) > 0),
        '[]');

    -- Raise one alert per finding (none while one is unresolved) and report it.
    FOR f IN SELECT * FROM jsonb_to_recordset(v_found)
                 AS x(kind text, severity text, fingerprint text, subject text, player_id uuid, details jsonb)
    LOOP
        v_id := NULL;
        IF NOT v_standby THEN
            INSERT INTO loyalty.alert AS a (kind, severity, fingerprint, player_id, details)
            VALUES (f.kind, f.severity, f.fingerprint, f.player_id, f.details)
            ON CONFLICT (fingerprint) WHERE resolved_at IS NULL AND fingerprint IS NOT NULL DO NOTHING
            RETURNING a.id INTO v_id;
        END IF;
        new_alert := v_id IS NOT NULL;
        IF new_alert THEN
            PERFORM loyalty.announce_alert(v_id);
        ELSE
            SELECT a.id INTO v_id FROM loyalty.alert a WHERE a.fingerprint = f.fingerprint AND a.resolved_at IS NULL;
        END IF;
        kind := f.kind; severity := f.severity; subject := f.subject; alert_id := v_id; details := f.details;
        v_count := v_count + 1;
        RETURN NEXT;
    END LOOP;

    -- Resolve what this run checked and no longer found.
    IF NOT v_standby THEN
        UPDATE loyalty.alert a SET resolved_at = v_started
         WHERE a.resolved_at IS NULL AND a.fingerprint IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements(v_found) x WHERE x ->> 'fingerprint' = a.fingerprint)
           AND (a.kind IN ('PARTIAL_COMPLETION_STALE', 'PENDING_ROW_WRONG', 'APPROVAL_OVERDUE', 'HOLD_EXPIRY_LATE')
                OR a.kind = 'TIER_DRIFT' AND v_full_tiers
                OR a.kind IN ('BALANCE_MISMATCH', 'HOLD_MISMATCH', 'STANDING_MISMATCH')
                   AND a.player_id = ANY (v_players)
                OR a.kind = 'CHAIN_BROKEN' AND a.player_id = ANY (v_chained));
    END IF;

    -- Open alerts nobody took on: reported, not alerted about again.
    SELECT jsonb_build_object('alerts', count(*), 'oldest', min(a.created_at),
                              'critical', count(*) FILTER (WHERE a.severity = 'CRITICAL')),
           CASE WHEN bool_or(a.severity = 'CRITICAL') THEN 'CRITICAL'
                WHEN bool_or(a.severity = 'WARNING') THEN 'WARNING' ELSE 'INFO' END
      INTO v_unacked, severity
      FROM loyalty.alert a
     WHERE a.acknowledged_at IS NULL AND a.resolved_at IS NULL
       AND a.created_at < v_started - c.alert_ack_overdue_after;
    IF (v_unacked ->> 'alerts')::bigint > 0 THEN
        kind := 'ALERT_UNACKNOWLEDGED'; subject := 'alerts'; alert_id := NULL; new_alert := false;
        details := v_unacked;
        v_count := v_count + 1;
        RETURN NEXT;
    END IF;

    IF v_standby THEN
        RETURN;
    END IF;
    UPDATE loyalty.health_state h
       SET last_run_at = v_started,
           sweep_after = CASE WHEN cardinality(v_sweep) < c.health_sweep_players THEN NULL
                              ELSE v_sweep[cardinality(v_sweep)] END,
           ladder_digest = CASE WHEN v_full_tiers THEN v_digest ELSE h.ladder_digest END,
           last_findings = v_count,
           changed_since_xid = v_xmin
     WHERE h.singleton;  -- the one row (and safeupdate refuses an UPDATE with no WHERE)
END
$$;
COMMENT ON FUNCTION loyalty.health_check() IS
    'Finds stale partial completions, paid slips marked owed, balance/ledger mismatches, tier standings the ledger does not give, held points that are not the live holds, holds past due and not expired, broken hash chains, tier drift, overdue approvals and unacknowledged alerts; one alert per finding while unresolved.';

CREATE OR REPLACE FUNCTION loyalty.configure(p_casino_timezone text DEFAULT NULL, p_gaming_day_start time DEFAULT NULL,
    p_max_reward_points bigint DEFAULT NULL, p_rate_limit_count integer DEFAULT NULL,
    p_rate_limit_window interval DEFAULT NULL, p_alert_reward_count integer DEFAULT NULL,
    p_alert_window interval DEFAULT NULL, p_accrual_lock_timeout interval DEFAULT NULL,
    p_partial_stale_after interval DEFAULT NULL, p_approval_overdue_after interval DEFAULT NULL,
    p_alert_ack_overdue_after interval DEFAULT NULL, p_health_sweep_players integer DEFAULT NULL,
    p_notification_claim_timeout interval DEFAULT NULL, p_correlation_id text DEFAULT NULL,
    p_daily_approval_threshold_points bigint DEFAULT NULL, p_cents_per_point numeric DEFAULT NULL,
    p_max_redemption_points bigint DEFAULT NULL, p_redemption_approval_points bigint DEFAULT NULL,
    p_points_inactivity_expiry interval DEFAULT NULL, p_expiry_warning interval DEFAULT NULL,
    p_tier_basis text DEFAULT NULL, p_tier_period_start text DEFAULT NULL)
RETURNS loyalty.config
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, loyalty, pg_temp
AS $$
DECLARE
    v_primary boolean := loyalty.require_primary();  -- first: a standby refuses before anything runs
    v_actor  text := loyalty.require_caller();
    v_corr   text := loyalty.resolve_correlation_id(p_correlation_id);
    v_before loyalty.config;
    v_after  loyalty.config;
    v_con    text;
BEGIN
    SELECT * INTO v_before FROM loyalty.config FOR UPDATE;
    BEGIN
        UPDATE loyalty.config c
           SET casino_timezone = coalesce(p_casino_timezone, c.casino_timezone),
               gaming_day_start = coalesce(p_gaming_day_start, c.gaming_day_start),
               max_reward_points = coalesce(p_max_reward_points, c.max_reward_points),
               rate_limit_count = coalesce(p_rate_limit_count, c.rate_limit_count),
               rate_limit_window = coalesce(p_rate_limit_window, c.rate_limit_window),
               alert_reward_count = coalesce(p_alert_reward_count, c.alert_reward_count),
               alert_window = coalesce(p_alert_window, c.alert_window),
               accrual_lock_timeout = coalesce(p_accrual_lock_timeout, c.accrual_lock_timeout),
               partial_stale_after = coalesce(p_partial_stale_after, c.partial_stale_after),
               approval_overdue_after = coalesce(p_approval_overdue_after, c.approval_overdue_after),
               alert_ack_overdue_after = coalesce(p_alert_ack_overdue_after, c.alert_ack_overdue_after),
               health_sweep_players = coalesce(p_health_sweep_players, c.health_sweep_players),
               notification_claim_timeout = coalesce(p_notification_claim_timeout, c.notification_claim_timeout),
               daily_approval_threshold_points = coalesce(p_daily_approval_threshold_points,
                                                          c.daily_approval_threshold_points),
               cents_per_point = coalesce(p_cents_per_point, c.cents_per_point),
               max_redemption_points = coalesce(p_max_redemption_points, c.max_redemption_points),
               redemption_approval_points = coalesce(p_redemption_approval_points, c.redemption_approval_points),
               -- '0' turns inactivity expiry off again (NULL keeps the value, as everywhere)
               points_inactivity_expiry = CASE WHEN p_points_inactivity_expiry = '0'::interval THEN NULL
                                               ELSE coalesce(p_points_inactivity_expiry, c.points_inactivity_expiry) END,
               expiry_warning = coalesce(p_expiry_warning, c.expiry_warning),
               tier_basis = coalesce(p_tier_basis, c.tier_basis),
               tier_period_start = coalesce(p_tier_period_start, c.tier_period_start),
               -- turning the period basis on: through this qualification
               -- year every player keeps the tier they hold (the write path
               -- reads it when it next touches them; no player is locked here)
               tier_basis_since = CASE WHEN c.tier_basis = 'LIFETIME' AND p_tier_basis = 'PERIOD'
                                       THEN clock_timestamp() ELSE c.tier_basis_since END,
               updated_at = now()
         WHERE c.singleton
        RETURNING * INTO v_after;
    EXCEPTION WHEN check_violation OR invalid_parameter_value OR numeric_value_out_of_range THEN
        GET STACKED DIAGNOSTICS v_con = CONSTRAINT_NAME;
        PERFORM loyalty.admin_refused(coalesce(nullif(v_con, ''), 'config_casino_timezone_check'),
                                      'see docs/reference.md for each setting''s range');
    END;
    PERFORM loyalty.admin_audit_write(v_actor, 'configure', 'config', to_jsonb(v_before), to_jsonb(v_after), v_corr);
    RETURN v_after;
END
$$;
COMMENT ON FUNCTION loyalty.configure(text, time, bigint, integer, interval, integer, interval, interval, interval, interval, interval, integer, interval, text, bigint, numeric, bigint, bigint, interval, interval, text, text) IS
    'Admin (trusted back ends): casino time zone, gaming-day start, limits, thresholds and the tier basis (NULL keeps a value); audited. Turning tier_basis to PERIOD keeps every player''s tier through the current period (tier_basis_since), without locking any player.';
