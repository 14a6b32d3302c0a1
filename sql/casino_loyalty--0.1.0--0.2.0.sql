-- casino_loyalty 0.1.0 -> 0.2.0.
--
-- `ALTER EXTENSION casino_loyalty UPDATE` runs this file in one transaction,
-- after the 0.2.0 shared library has been installed. It must carry a 0.1.0
-- database to exactly the schema a fresh 0.2.0 install creates: the upgrade
-- suite (tests/upgrade) compares the two and fails on any difference.
--
-- 0.2.0 is not released yet (sql/RELEASED), so every 0.2.0 change appends its
-- step here, in the order the changes were made; once 0.2.0 is released this
-- file never changes again (CONTRIBUTING.md, docs/releasing.md).
\echo Use "ALTER EXTENSION casino_loyalty UPDATE TO '0.2.0'" to load this file. \quit

-- Every constraint now has a name in sql/schema.sql. Most keep the name
-- PostgreSQL generated for 0.1.0; the two anonymous slip checks and the
-- ledger's arithmetic check get names that say what they hold.
ALTER TABLE loyalty.rating_slip
    RENAME CONSTRAINT rating_slip_check TO rating_slip_end_time_when_closed_check;
ALTER TABLE loyalty.rating_slip
    RENAME CONSTRAINT rating_slip_check1 TO rating_slip_duration_when_closed_check;
ALTER TABLE loyalty.loyalty_ledger
    RENAME CONSTRAINT loyalty_ledger_check TO loyalty_ledger_balance_arithmetic_check;

-- Integrity against insiders (docs/reference.md §6).

-- New permissions: loyalty:rate (open, re-rate, complete slips) and
-- loyalty:approve (held slips). Existing staff keep exactly what they had:
-- granting loyalty:rate to floor staff is the casino's decision
-- (CHANGELOG.md, "Upgrading from 0.1.0").
ALTER TABLE loyalty.staff DROP CONSTRAINT staff_permissions_check;
ALTER TABLE loyalty.staff ADD CONSTRAINT staff_permissions_check
    CHECK (permissions <@ ARRAY['loyalty:award', 'loyalty:rate', 'loyalty:approve',
                                'loyalty:recover', 'loyalty:view_all']::text[]);
COMMENT ON COLUMN loyalty.staff.permissions IS 'Granted permissions: loyalty:award (manual rewards), loyalty:rate (open, re-rate, complete slips), loyalty:approve (approve or reject held slips), loyalty:recover (recovery of partial completions), loyalty:view_all (read everything).';

-- Table limits and the four-eyes threshold, per game; existing games get
-- the seeded values.
ALTER TABLE loyalty.game_settings
    ADD COLUMN min_average_bet numeric(14,4) NOT NULL DEFAULT 1,
    ADD COLUMN max_average_bet numeric(14,4) NOT NULL DEFAULT 100000,
    ADD COLUMN approval_threshold_points bigint NOT NULL DEFAULT 25000
        CONSTRAINT game_settings_approval_threshold_points_check CHECK (approval_threshold_points >= 0),
    ADD CONSTRAINT game_settings_bet_range_check
        CHECK (min_average_bet > 0 AND min_average_bet <= max_average_bet AND max_average_bet < 1000000000);
COMMENT ON COLUMN loyalty.game_settings.min_average_bet IS 'Table limit: the smallest average bet a slip may be opened or re-rated with.';
COMMENT ON COLUMN loyalty.game_settings.max_average_bet IS 'Table limit: the largest average bet a slip may be opened or re-rated with.';
COMMENT ON COLUMN loyalty.game_settings.approval_threshold_points IS 'Four-eyes rule: a completed slip earning more points than this is HELD_FOR_APPROVAL until a second staff member approves it. Snapshotted onto each slip at open.';

-- One seat. A 0.1.0 database may hold two OPEN slips for one player; the
-- upgrade will not close anyone's slip for them, so it stops and says which.
DO $$
DECLARE
    players text;
BEGIN
    SELECT string_agg(player_id::text, ', ') INTO players
      FROM (SELECT player_id FROM loyalty.rating_slip WHERE status = 'OPEN'
             GROUP BY player_id HAVING count(*) > 1 ORDER BY player_id LIMIT 20) p;
    IF players IS NOT NULL THEN
        RAISE EXCEPTION USING
            MESSAGE = 'casino_loyalty 0.2.0 allows one OPEN slip per player',
            DETAIL = 'these players have more than one: ' || players,
            HINT = 'complete the extra slips with loyalty.complete_rating_slip(), then run ALTER EXTENSION casino_loyalty UPDATE again';
    END IF;
END
$$;

-- Approval state on slips. The threshold is snapshotted at open like the
-- other game settings; slips from 0.1.0 take their game's current one.
ALTER TABLE loyalty.rating_slip
    ADD COLUMN approval_threshold_points bigint,
    ADD COLUMN rerated_by uuid[] NOT NULL DEFAULT '{}',
    ADD COLUMN approval_status text CONSTRAINT rating_slip_approval_status_check
        CHECK (approval_status IN ('HELD', 'APPROVED', 'REJECTED')),
    ADD COLUMN decided_by uuid,
    ADD COLUMN decided_at timestamptz,
    ADD COLUMN decision_reason text,
    ADD CONSTRAINT rating_slip_approval_when_closed_check CHECK (approval_status IS NULL OR status = 'CLOSED');
UPDATE loyalty.rating_slip s
   SET approval_threshold_points = coalesce(
           (SELECT g.approval_threshold_points FROM loyalty.game_settings g WHERE g.game_type = s.game_type), 25000);
ALTER TABLE loyalty.rating_slip ALTER COLUMN approval_threshold_points SET NOT NULL;
COMMENT ON COLUMN loyalty.rating_slip.approval_threshold_points IS 'Snapshot of game_settings.approval_threshold_points at open: more points than this are held for approval.';
COMMENT ON COLUMN loyalty.rating_slip.rerated_by IS 'Audit: every staff member who re-rated the slip (none of them may approve it).';
COMMENT ON COLUMN loyalty.rating_slip.approval_status IS 'NULL: no approval needed. HELD: closed above the threshold, points not posted. APPROVED: a second staff member approved, points posted. REJECTED: no points, ever.';
COMMENT ON COLUMN loyalty.rating_slip.decided_by IS 'Audit: staff member who approved or rejected the held slip (NULL for a trusted back end).';
COMMENT ON COLUMN loyalty.rating_slip.decided_at IS 'Audit: when the held slip was approved or rejected.';
COMMENT ON COLUMN loyalty.rating_slip.decision_reason IS 'Audit: why the held slip was rejected.';
CREATE UNIQUE INDEX rating_slip_one_open_per_player ON loyalty.rating_slip (player_id) WHERE status = 'OPEN';
CREATE INDEX rating_slip_held_idx ON loyalty.rating_slip (end_time) WHERE approval_status = 'HELD';

-- Ledger rows carry the clock time of the write.
ALTER TABLE loyalty.loyalty_ledger ALTER COLUMN created_at SET DEFAULT clock_timestamp();
COMMENT ON COLUMN loyalty.loyalty_ledger.created_at IS 'Audit: when the entry was written (the clock at the write, not the start of its transaction, so the manual-reward rate limit counts what really happened in each window).';

-- Sliding-window counts of manual rewards (filled lazily from the ledger).
CREATE TABLE loyalty.reward_window (
    staff_id      uuid        NOT NULL,
    rate_window   interval    NOT NULL,
    rate_since    timestamptz NOT NULL CONSTRAINT reward_window_rate_since_check CHECK (isfinite(rate_since)),
    rate_count    bigint      NOT NULL CONSTRAINT reward_window_rate_count_check CHECK (rate_count >= 0),
    alert_window  interval    NOT NULL,
    alert_since   timestamptz NOT NULL CONSTRAINT reward_window_alert_since_check CHECK (isfinite(alert_since)),
    alert_count   bigint      NOT NULL CONSTRAINT reward_window_alert_count_check CHECK (alert_count >= 0),
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
SELECT pg_catalog.pg_extension_config_dump('loyalty.reward_window', '');
ALTER TABLE loyalty.reward_window ENABLE ROW LEVEL SECURITY;


-- Every function checks its caller itself (src/auth.rs): the SQL runbooks
-- ask loyalty.require_caller() first.
CREATE FUNCTION loyalty.require_caller(
	"p_permissions" TEXT[] DEFAULT NULL
) RETURNS void
STABLE SECURITY DEFINER PARALLEL SAFE
SET search_path TO pg_catalog, loyalty, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'require_caller_wrapper';

-- Four-eyes approval (src/approval.rs).
CREATE FUNCTION loyalty.approve_slip(
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
	"correlation_id" TEXT 
)
VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path TO pg_catalog, loyalty, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'approve_slip_wrapper';
CREATE FUNCTION loyalty.reject_slip(
	"p_slip_id" uuid,
	"p_reason" TEXT,
	"p_correlation_id" TEXT DEFAULT NULL
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
AS 'MODULE_PATHNAME', 'reject_slip_wrapper';
CREATE FUNCTION loyalty.list_held_slips(
	"p_limit" INT DEFAULT 100
) RETURNS TABLE (
	"rating_slip_id" uuid, 
	"player_id" uuid, 
	"game_type" TEXT, 
	"average_bet" NUMERIC, 
	"duration_seconds" INT, 
	"points" bigint, 
	"approval_threshold_points" bigint, 
	"opened_by" uuid, 
	"closed_by" uuid, 
	"held_since" timestamp with time zone 
)
STABLE SECURITY DEFINER PARALLEL SAFE
SET search_path TO pg_catalog, loyalty, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'list_held_slips_wrapper';

-- The runbooks, each guarded; partial completions leave out held and
-- rejected slips; reward frequency counts manual-reward kinds only.
CREATE OR REPLACE FUNCTION loyalty.verify_player_balance(p_player_id uuid)
RETURNS TABLE (player_id uuid, current_balance bigint, ledger_balance bigint, lifetime_points bigint,
               ledger_lifetime bigint, entries bigint, chain_breaks bigint, ok boolean)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, loyalty, pg_temp
AS $$
BEGIN
    PERFORM loyalty.require_caller();
    IF p_player_id IS NULL THEN
        RAISE EXCEPTION USING MESSAGE = 'VALIDATION_ERROR', DETAIL = 'p_player_id is required', ERRCODE = 'PT422';
    END IF;
    RETURN QUERY
    WITH l AS (
        SELECT coalesce(sum(e.points_change), 0)::bigint AS bal,
               coalesce(sum(e.points_change) FILTER (WHERE e.points_change > 0), 0)::bigint AS life,
               count(*) AS n,
               count(*) FILTER (WHERE e.prev_after IS NOT NULL AND e.prev_after <> e.balance_before) AS breaks
          FROM (SELECT x.points_change, x.balance_before,
                       lag(x.balance_after) OVER (ORDER BY x.id) AS prev_after
                  FROM loyalty.loyalty_ledger x WHERE x.player_id = p_player_id) e
    )
    SELECT p_player_id, p.current_balance, l.bal, p.lifetime_points, l.life, l.n, l.breaks,
           p.current_balance IS NOT DISTINCT FROM l.bal AND p.lifetime_points IS NOT DISTINCT FROM l.life
           AND l.breaks = 0
      FROM l LEFT JOIN loyalty.player_loyalty p ON p.player_id = p_player_id
     WHERE p.player_id IS NOT NULL OR l.n > 0;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING MESSAGE = 'PLAYER_NOT_FOUND',
            DETAIL = format('no balance and no ledger entries for player %s', p_player_id), ERRCODE = 'PT404';
    END IF;
END
$$;
COMMENT ON FUNCTION loyalty.verify_player_balance(uuid) IS
    'Runbook: one player''s balance and lifetime points against the ledger sums, and the before/after chain.';

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
      FULL JOIN (SELECT e.player_id, sum(e.points_change)::bigint AS bal,
                        coalesce(sum(e.points_change) FILTER (WHERE e.points_change > 0), 0)::bigint AS life
                   FROM loyalty.loyalty_ledger e GROUP BY e.player_id) l ON l.player_id = p.player_id
     WHERE p.player_id IS NULL OR l.player_id IS NULL AND (p.current_balance <> 0 OR p.lifetime_points <> 0)
        OR p.current_balance <> l.bal OR p.lifetime_points <> l.life
$$;
COMMENT ON FUNCTION loyalty.verify_all_balances() IS
    'Runbook: every player whose balance or lifetime points differ from the ledger (empty = all consistent).';

CREATE OR REPLACE FUNCTION loyalty.export_ledger(p_from timestamptz, p_to timestamptz)
RETURNS SETOF loyalty.loyalty_ledger
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, loyalty, pg_temp
AS $$
BEGIN
    PERFORM loyalty.require_caller();
    IF p_from IS NULL OR p_to IS NULL OR p_from > p_to THEN
        RAISE EXCEPTION USING MESSAGE = 'VALIDATION_ERROR',
            DETAIL = 'p_from and p_to are required and p_from must not be after p_to', ERRCODE = 'PT422';
    END IF;
    RETURN QUERY SELECT * FROM loyalty.loyalty_ledger l
                  WHERE l.created_at >= p_from AND l.created_at < p_to ORDER BY l.id;
END
$$;
COMMENT ON FUNCTION loyalty.export_ledger(timestamptz, timestamptz) IS
    'Runbook: ledger operations with created_at in [p_from, p_to), in entry order (\copy-able).';

CREATE OR REPLACE FUNCTION loyalty.lookup_correlation(p_correlation_id text)
RETURNS TABLE (kind text, id text, player_id uuid, at timestamptz, details jsonb)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, loyalty, pg_temp
AS $$
    SELECT loyalty.require_caller();
    SELECT 'ledger', l.id::text, l.player_id, l.created_at,
           jsonb_build_object('transaction_type', l.transaction_type, 'points_change', l.points_change,
                              'balance_before', l.balance_before, 'balance_after', l.balance_after,
                              'rating_slip_id', l.rating_slip_id, 'idempotency_key', l.idempotency_key,
                              'staff_id', l.staff_id, 'reason', l.reason)
      FROM loyalty.loyalty_ledger l WHERE l.correlation_id = p_correlation_id
    UNION ALL
    SELECT 'pending_accrual', p.rating_slip_id::text, p.player_id, p.failed_at,
           jsonb_build_object('error_code', p.error_code, 'error_message', p.error_message,
                              'attempts', p.attempts, 'resolved_at', p.resolved_at)
      FROM loyalty.pending_accrual p WHERE p.correlation_id = p_correlation_id
    UNION ALL
    SELECT 'rating_slip', s.id::text, s.player_id, s.updated_at,
           jsonb_build_object('status', s.status, 'game_type', s.game_type, 'average_bet', s.average_bet,
                              'accrued_ledger_id', s.accrued_ledger_id)
      FROM loyalty.rating_slip s WHERE s.correlation_id = p_correlation_id
    ORDER BY 4, 1
$$;
COMMENT ON FUNCTION loyalty.lookup_correlation(text) IS
    'Runbook: everything a request (by correlation id) touched: ledger rows, pending accruals, slips.';

CREATE OR REPLACE FUNCTION loyalty.manual_reward_frequency(p_from timestamptz, p_to timestamptz,
                                                p_bucket interval DEFAULT '1 hour')
RETURNS TABLE (staff_id uuid, bucket_start timestamptz, rewards bigint, bonuses bigint,
               adjustments bigint, points_total bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, loyalty, pg_temp
AS $$
BEGIN
    PERFORM loyalty.require_caller();
    IF p_from IS NULL OR p_to IS NULL OR p_from > p_to OR p_bucket IS NULL
       OR p_bucket < interval '1 minute' OR extract(month FROM p_bucket) <> 0 OR extract(year FROM p_bucket) <> 0 THEN
        RAISE EXCEPTION USING MESSAGE = 'VALIDATION_ERROR',
            DETAIL = 'p_from <= p_to are required; p_bucket is at least 1 minute and given in days or less',
            ERRCODE = 'PT422';
    END IF;
    RETURN QUERY
    SELECT l.staff_id, date_bin(p_bucket, l.created_at, p_from), count(*),
           count(*) FILTER (WHERE l.transaction_type = 'MANUAL_BONUS'),
           count(*) FILTER (WHERE l.transaction_type = 'ADJUSTMENT'),
           sum(l.points_change)::bigint
      FROM loyalty.loyalty_ledger l
     -- manual rewards are these two kinds (src/kinds.rs), whoever else
     -- appears in staff_id on other kinds
     WHERE l.transaction_type IN ('MANUAL_BONUS', 'ADJUSTMENT') AND l.created_at >= p_from AND l.created_at < p_to
     GROUP BY 1, 2 ORDER BY 2, 1;
END
$$;
COMMENT ON FUNCTION loyalty.manual_reward_frequency(timestamptz, timestamptz, interval) IS
    'Dashboard: manual rewards per staff member per time bucket in [p_from, p_to).';

GRANT EXECUTE ON FUNCTION loyalty.approve_slip, loyalty.reject_slip, loyalty.list_held_slips
    TO authenticated, service_role;
REVOKE ALL ON FUNCTION loyalty.require_caller, loyalty.approve_slip, loyalty.reject_slip, loyalty.list_held_slips
    FROM PUBLIC;
REVOKE ALL ON TABLE loyalty.reward_window FROM PUBLIC;

-- Robustness: the error path, recovery, pending rows, timeouts, inputs.

-- Accrual waits on a busy player at most this long, then the completion
-- is a PARTIAL_COMPLETION (below API statement timeouts).
ALTER TABLE loyalty.config ADD COLUMN accrual_lock_timeout interval NOT NULL DEFAULT '2 seconds'
    CONSTRAINT config_accrual_lock_timeout_check
    CHECK (accrual_lock_timeout >= '1 millisecond' AND accrual_lock_timeout <= '1 minute');
COMMENT ON COLUMN loyalty.config.accrual_lock_timeout IS 'Longest an accrual waits for a busy player''s row before the completion becomes PARTIAL_COMPLETION (keep it below API statement timeouts).';

-- pending_accrual is true: a slip whose gameplay entry exists is not owed.
UPDATE loyalty.pending_accrual p SET resolved_at = now()
 WHERE p.resolved_at IS NULL
   AND EXISTS (SELECT 1 FROM loyalty.loyalty_ledger l
                WHERE l.player_id = p.player_id AND l.idempotency_key = 'gameplay:' || p.rating_slip_id::text);

-- The partial-completion listing and bulk recovery move to Rust: one slip
-- whose points cannot be computed no longer stops either; bulk recovery
-- locks its slips first (SKIP LOCKED), in batches of at most 1,000, and
-- reports each failure with its own SQLSTATE (a new column: its return
-- type changes, so it is dropped and created again).
CREATE OR REPLACE FUNCTION loyalty.list_partial_completions(
	"p_limit" INT DEFAULT 100
) RETURNS TABLE (
	"rating_slip_id" uuid, 
	"player_id" uuid, 
	"game_type" TEXT, 
	"end_time" timestamp with time zone, 
	"points_owed" bigint, 
	"pending" bool, 
	"error_code" TEXT, 
	"error_message" TEXT, 
	"attempts" INT, 
	"failed_at" timestamp with time zone, 
	"correlation_id" TEXT 
)
STABLE SECURITY DEFINER PARALLEL SAFE
SET search_path TO pg_catalog, loyalty, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'list_partial_completions_wrapper';
DROP FUNCTION loyalty.recover_partial_completions(integer, text);
CREATE FUNCTION loyalty.recover_partial_completions(
	"p_limit" INT DEFAULT 100,
	"p_correlation_id" TEXT DEFAULT NULL
) RETURNS TABLE (
	"attempted" INT, 
	"recovered" INT, 
	"failed" INT, 
	"points_posted" bigint, 
	"correlation_id" TEXT, 
	"failures" jsonb 
)
VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path TO pg_catalog, loyalty, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'recover_partial_completions_wrapper';
REVOKE ALL ON FUNCTION loyalty.recover_partial_completions FROM PUBLIC;
GRANT EXECUTE ON FUNCTION loyalty.recover_partial_completions TO service_role;

-- Game settings are bounded so that any allowed slip's points fit in a
-- bigint. A game a 0.1.0 owner set beyond that stops the upgrade: lowering
-- its figures is the owner's decision, not the upgrade's.
DO $$
DECLARE
    games text;
BEGIN
    SELECT string_agg(game_type, ', ' ORDER BY game_type) INTO games
      FROM loyalty.game_settings
     WHERE max_average_bet * house_edge / 100 * decisions_per_hour * 24 * points_conversion_rate
           * point_multiplier >= 9223372036854775807;
    IF games IS NOT NULL THEN
        RAISE EXCEPTION USING
            MESSAGE = 'casino_loyalty 0.2.0 bounds game settings so that every slip''s points fit in a bigint',
            DETAIL = 'these games exceed it at their maximum bet for 24 hours: ' || games,
            HINT = 'lower max_average_bet or the game''s figures in loyalty.game_settings, then run ALTER EXTENSION casino_loyalty UPDATE again';
    END IF;
END
$$;
ALTER TABLE loyalty.game_settings ADD CONSTRAINT game_settings_points_fit_check
    CHECK (max_average_bet * house_edge / 100 * decisions_per_hour * 24 * points_conversion_rate
           * point_multiplier < 9223372036854775807);

-- Every timestamp is a real time: isfinite() on every timestamp column
-- (NULL passes). 0.1.0 let a slip open at -infinity, which can never
-- complete and now would hold its player's only seat: the upgrade stops
-- and names such slips instead of guessing their times.
DO $$
DECLARE
    slips text;
BEGIN
    SELECT string_agg(id::text, ', ') INTO slips
      FROM (SELECT id FROM loyalty.rating_slip
             WHERE NOT isfinite(start_time) OR NOT isfinite(end_time) ORDER BY id LIMIT 20) s;
    IF slips IS NOT NULL THEN
        RAISE EXCEPTION USING
            MESSAGE = 'casino_loyalty 0.2.0 requires finite slip times',
            DETAIL = 'these slips have an infinite start or end time: ' || slips,
            HINT = 'such a slip never earned points; as the owner, delete it (DELETE FROM loyalty.rating_slip WHERE id = ...), then run ALTER EXTENSION casino_loyalty UPDATE again';
    END IF;
END
$$;
ALTER TABLE loyalty.config ADD CONSTRAINT config_times_finite_check CHECK (isfinite(updated_at));
ALTER TABLE loyalty.game_settings ADD CONSTRAINT game_settings_times_finite_check CHECK (isfinite(updated_at));
ALTER TABLE loyalty.staff ADD CONSTRAINT staff_times_finite_check CHECK (isfinite(created_at) AND isfinite(updated_at));
ALTER TABLE loyalty.rating_slip ADD CONSTRAINT rating_slip_times_finite_check CHECK (isfinite(start_time) AND isfinite(end_time) AND isfinite(created_at)
                                                        AND isfinite(updated_at) AND isfinite(decided_at));
ALTER TABLE loyalty.player_loyalty ADD CONSTRAINT player_loyalty_times_finite_check CHECK (isfinite(created_at) AND isfinite(updated_at));
ALTER TABLE loyalty.loyalty_ledger ADD CONSTRAINT loyalty_ledger_times_finite_check CHECK (isfinite(created_at));
ALTER TABLE loyalty.pending_accrual ADD CONSTRAINT pending_accrual_times_finite_check CHECK (isfinite(failed_at) AND isfinite(resolved_at));
ALTER TABLE loyalty.alert ADD CONSTRAINT alert_times_finite_check CHECK (isfinite(created_at));

-- Restores keep the owner's configuration exactly (see the comment in
-- sql/schema.sql). Rows that still hold 0.1.0's seed values are marked
-- seeded; a 0.1.0 seed the owner deleted gets its tombstone.
ALTER TABLE loyalty.config ADD COLUMN seeded boolean NOT NULL DEFAULT false;
ALTER TABLE loyalty.tier ADD COLUMN seeded boolean NOT NULL DEFAULT false;
ALTER TABLE loyalty.game_settings ADD COLUMN seeded boolean NOT NULL DEFAULT false;
COMMENT ON COLUMN loyalty.config.seeded IS 'True while the row is as the install seeded it; an owner edit clears it. Deleting a seeded row leaves a tombstone in seed_removed, so a restore does not bring it back.';
COMMENT ON COLUMN loyalty.tier.seeded IS 'True while the row is as the install seeded it; an owner edit clears it. Deleting a seeded row leaves a tombstone in seed_removed, so a restore does not bring it back.';
COMMENT ON COLUMN loyalty.game_settings.seeded IS 'True while the row is as the install seeded it; an owner edit clears it. Deleting a seeded row leaves a tombstone in seed_removed, so a restore does not bring it back.';
UPDATE loyalty.config SET seeded = true
 WHERE casino_timezone = 'UTC' AND gaming_day_start = '06:00' AND max_reward_points = 10000
   AND rate_limit_count = 10 AND rate_limit_window = '60 seconds' AND alert_reward_count = 20
   AND alert_window = '1 hour';
UPDATE loyalty.tier t SET seeded = true
  FROM (VALUES ('BRONZE', 0), ('SILVER', 10000), ('GOLD', 50000), ('PLATINUM', 100000)) s (tier, threshold)
 WHERE t.tier = s.tier AND t.threshold_points = s.threshold;
UPDATE loyalty.game_settings g SET seeded = true
  FROM (VALUES ('BLACKJACK', 2.0, 70, 10, 1.0), ('BACCARAT', 1.2, 72, 10, 1.0),
               ('ROULETTE', 5.26, 38, 10, 1.0), ('CRAPS', 1.4, 48, 10, 1.0))
       s (game_type, house_edge, decisions_per_hour, points_conversion_rate, point_multiplier)
 WHERE g.game_type = s.game_type AND g.house_edge = s.house_edge AND g.decisions_per_hour = s.decisions_per_hour
   AND g.points_conversion_rate = s.points_conversion_rate AND g.point_multiplier = s.point_multiplier;
ALTER TABLE loyalty.tier DROP CONSTRAINT tier_threshold_points_key;
ALTER TABLE loyalty.tier ADD CONSTRAINT tier_threshold_points_key UNIQUE (threshold_points) DEFERRABLE INITIALLY DEFERRED;
-- The owner's configuration survives pg_dump / pg_restore exactly. During
-- a restore CREATE EXTENSION seeds config, tier and game_settings again
-- before the dumped rows arrive, so:
--   * every row is dumped; a dumped row whose key exists merges over the
--     seeded row (edits kept, untouched seeds unchanged);
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
    removed_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT seed_removed_pkey PRIMARY KEY (table_name, key),
    CONSTRAINT seed_removed_times_finite_check CHECK (isfinite(removed_at))
);
COMMENT ON TABLE loyalty.seed_removed IS 'Seeded tiers and games the owner deleted, so a restore deletes them again after CREATE EXTENSION re-seeds them.';
COMMENT ON COLUMN loyalty.seed_removed.table_name IS 'tier or game_settings.';
COMMENT ON COLUMN loyalty.seed_removed.key IS 'The deleted row''s key (tier name or game type).';
COMMENT ON COLUMN loyalty.seed_removed.removed_at IS 'Audit: when the owner deleted the seeded row.';

CREATE OR REPLACE FUNCTION loyalty.merge_seeded_row() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF TG_TABLE_NAME = 'tier' THEN
        UPDATE loyalty.tier SET threshold_points = NEW.threshold_points, seeded = NEW.seeded
         WHERE tier = NEW.tier;
    ELSIF TG_TABLE_NAME = 'game_settings' THEN
        UPDATE loyalty.game_settings
           SET house_edge = NEW.house_edge, decisions_per_hour = NEW.decisions_per_hour,
               points_conversion_rate = NEW.points_conversion_rate,
               point_multiplier = NEW.point_multiplier, updated_at = NEW.updated_at,
               min_average_bet = NEW.min_average_bet, max_average_bet = NEW.max_average_bet,
               approval_threshold_points = NEW.approval_threshold_points, seeded = NEW.seeded
         WHERE game_type = NEW.game_type;
    ELSIF TG_TABLE_NAME = 'config' THEN
        UPDATE loyalty.config
           SET casino_timezone = NEW.casino_timezone, gaming_day_start = NEW.gaming_day_start,
               max_reward_points = NEW.max_reward_points, rate_limit_count = NEW.rate_limit_count,
               rate_limit_window = NEW.rate_limit_window, alert_reward_count = NEW.alert_reward_count,
               alert_window = NEW.alert_window, updated_at = NEW.updated_at,
               accrual_lock_timeout = NEW.accrual_lock_timeout, seeded = NEW.seeded
         WHERE singleton = NEW.singleton;
    END IF;
    IF FOUND THEN
        RETURN NULL;  -- merged into the existing row
    END IF;
    RETURN NEW;
END
$$;

-- An owner's edit makes a seeded row the owner's. A restore's merge
-- (an UPDATE from inside merge_seeded_row, trigger depth 2) keeps the
-- flag the dump carried.
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
CREATE FUNCTION loyalty.seeded_row_removed() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
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
INSERT INTO loyalty.seed_removed (table_name, key)
SELECT 'tier', k FROM unnest(ARRAY['BRONZE', 'SILVER', 'GOLD', 'PLATINUM']) k
 WHERE NOT EXISTS (SELECT 1 FROM loyalty.tier t WHERE t.tier = k)
UNION ALL
SELECT 'game_settings', k FROM unnest(ARRAY['BLACKJACK', 'BACCARAT', 'ROULETTE', 'CRAPS']) k
 WHERE NOT EXISTS (SELECT 1 FROM loyalty.game_settings g WHERE g.game_type = k);
SELECT pg_catalog.pg_extension_config_dump('loyalty.seed_removed', '');
ALTER TABLE loyalty.seed_removed ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON TABLE loyalty.seed_removed FROM PUBLIC;
REVOKE ALL ON FUNCTION loyalty.seeded_row_edited(), loyalty.seeded_row_removed(), loyalty.apply_seed_removal()
    FROM PUBLIC;

-- Tamper evidence: a hash chain per player (src/chain.rs). The chain starts
-- here: existing rows are sealed in id order per player, so an edit made
-- before this upgrade is not detected; every later change is.
ALTER TABLE loyalty.player_loyalty
    ADD COLUMN chain_seq bigint NOT NULL DEFAULT 0 CONSTRAINT player_loyalty_chain_seq_check CHECK (chain_seq >= 0),
    ADD COLUMN chain_head text NOT NULL DEFAULT '0000000000000000000000000000000000000000000000000000000000000000';
COMMENT ON COLUMN loyalty.player_loyalty.chain_seq IS 'Tamper evidence: seq of the player''s last ledger entry, as the write path set it.';
COMMENT ON COLUMN loyalty.player_loyalty.chain_head IS 'Tamper evidence: row_hash of the player''s last ledger entry (64 zeros before the first).';
ALTER TABLE loyalty.loyalty_ledger ADD COLUMN seq bigint, ADD COLUMN prev_hash text, ADD COLUMN row_hash text;
CREATE FUNCTION loyalty.seal_ledger_chains() RETURNS bigint LANGUAGE c AS 'MODULE_PATHNAME', 'seal_ledger_chains_wrapper';
ALTER TABLE loyalty.loyalty_ledger DISABLE TRIGGER loyalty_ledger_append_only;
SELECT loyalty.seal_ledger_chains();
ALTER TABLE loyalty.loyalty_ledger ENABLE TRIGGER loyalty_ledger_append_only;
DROP FUNCTION loyalty.seal_ledger_chains();
ALTER TABLE loyalty.loyalty_ledger
    ALTER COLUMN seq SET NOT NULL, ALTER COLUMN prev_hash SET NOT NULL, ALTER COLUMN row_hash SET NOT NULL,
    ADD CONSTRAINT loyalty_ledger_seq_check CHECK (seq >= 1),
    ADD CONSTRAINT loyalty_ledger_player_id_seq_key UNIQUE (player_id, seq);
COMMENT ON COLUMN loyalty.loyalty_ledger.seq IS 'Position in the player''s hash chain: 1, 2, 3, ... with no gaps (an idempotent replay takes none).';
COMMENT ON COLUMN loyalty.loyalty_ledger.prev_hash IS 'Tamper evidence: the row_hash of the player''s previous entry (64 zeros for the first).';
COMMENT ON COLUMN loyalty.loyalty_ledger.row_hash IS 'Tamper evidence: SHA-256 of prev_hash followed by the RFC 8785 canonical JSON of this row''s immutable fields (docs/reference.md, "Tamper evidence").';
CREATE FUNCTION loyalty.verify_ledger_chain(
	"p_player_id" uuid
) RETURNS TABLE (
	"player_id" uuid, 
	"entries" bigint, 
	"ok" bool, 
	"break_seq" bigint, 
	"break_kind" TEXT, 
	"detail" TEXT 
)
STABLE SECURITY DEFINER PARALLEL SAFE
SET search_path TO pg_catalog, loyalty, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'verify_ledger_chain_wrapper';
CREATE FUNCTION loyalty.verify_all_chains(
	"p_limit" INT DEFAULT 10000,
	"p_after" uuid DEFAULT NULL
) RETURNS TABLE (
	"player_id" uuid, 
	"break_seq" bigint, 
	"break_kind" TEXT, 
	"detail" TEXT 
)
STABLE SECURITY DEFINER PARALLEL SAFE
SET search_path TO pg_catalog, loyalty, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'verify_all_chains_wrapper';
CREATE FUNCTION loyalty.ledger_chain_heads() RETURNS jsonb
STRICT STABLE SECURITY DEFINER PARALLEL SAFE
SET search_path TO pg_catalog, loyalty, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'ledger_chain_heads_wrapper';
CREATE FUNCTION loyalty.verify_chain_heads(
	"p_heads" jsonb
) RETURNS TABLE (
	"player_id" uuid, 
	"seq" bigint, 
	"problem" TEXT 
)
STABLE SECURITY DEFINER PARALLEL SAFE
SET search_path TO pg_catalog, loyalty, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'verify_chain_heads_wrapper';
REVOKE ALL ON FUNCTION loyalty.verify_ledger_chain, loyalty.verify_all_chains, loyalty.ledger_chain_heads,
    loyalty.verify_chain_heads FROM PUBLIC;
GRANT EXECUTE ON FUNCTION loyalty.verify_ledger_chain, loyalty.verify_all_chains, loyalty.ledger_chain_heads,
    loyalty.verify_chain_heads TO service_role;
