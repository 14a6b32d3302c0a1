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
) RETURNS TEXT
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
    SELECT p_player_id, p.current_balance::bigint, l.bal, p.lifetime_points::bigint, l.life, l.n, l.breaks,
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
-- Ledger rows carry their gaming day (docs/reference.md §10), which the
-- hash covers, so existing rows get theirs before they are sealed: the
-- gaming day of created_at under today's casino settings.
CREATE FUNCTION loyalty.gaming_day(p_at timestamptz) RETURNS date
LANGUAGE sql STABLE SET search_path = pg_catalog, loyalty, pg_temp
AS $$
    SELECT ((p_at AT TIME ZONE c.casino_timezone) - (c.gaming_day_start - time '00:00'))::date
      FROM loyalty.config c
$$;
COMMENT ON FUNCTION loyalty.gaming_day(timestamptz) IS
    'The casino''s gaming day of p_at (config time zone and day start).';
REVOKE ALL ON FUNCTION loyalty.gaming_day(timestamptz) FROM PUBLIC;
ALTER TABLE loyalty.loyalty_ledger ADD COLUMN seq bigint, ADD COLUMN prev_hash text, ADD COLUMN row_hash text,
    ADD COLUMN gaming_day date;
CREATE FUNCTION loyalty.seal_ledger_chains() RETURNS bigint LANGUAGE c AS 'MODULE_PATHNAME', 'seal_ledger_chains_wrapper';
ALTER TABLE loyalty.loyalty_ledger DISABLE TRIGGER loyalty_ledger_append_only;
UPDATE loyalty.loyalty_ledger SET gaming_day = loyalty.gaming_day(created_at);
SELECT loyalty.seal_ledger_chains();
ALTER TABLE loyalty.loyalty_ledger ENABLE TRIGGER loyalty_ledger_append_only;
DROP FUNCTION loyalty.seal_ledger_chains();
ALTER TABLE loyalty.loyalty_ledger
    ALTER COLUMN seq SET NOT NULL, ALTER COLUMN prev_hash SET NOT NULL, ALTER COLUMN row_hash SET NOT NULL,
    ALTER COLUMN gaming_day SET NOT NULL, ALTER COLUMN gaming_day SET DEFAULT loyalty.gaming_day(clock_timestamp()),
    ADD CONSTRAINT loyalty_ledger_seq_check CHECK (seq >= 1),
    ADD CONSTRAINT loyalty_ledger_player_id_seq_key UNIQUE (player_id, seq);
COMMENT ON COLUMN loyalty.loyalty_ledger.seq IS 'Position in the player''s hash chain: 1, 2, 3, ... with no gaps (an idempotent replay takes none).';
COMMENT ON COLUMN loyalty.loyalty_ledger.prev_hash IS 'Tamper evidence: the row_hash of the player''s previous entry (64 zeros for the first).';
COMMENT ON COLUMN loyalty.loyalty_ledger.gaming_day IS 'The casino''s gaming day (loyalty.config time zone and day start) when the entry was written.';
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

-- Operations (docs/reference.md §10): alerts with severity and
-- acknowledgement, a durable outbox, health checks, metrics, the review's
-- runbooks, reconciliation entries and an admin API.

-- Settings for the health check and the outbox, at the end of the row as in
-- a fresh install.
ALTER TABLE loyalty.config
    ADD COLUMN partial_stale_after  interval NOT NULL DEFAULT '15 minutes'
                         CONSTRAINT config_partial_stale_after_check CHECK (partial_stale_after > '0'::interval),
    ADD COLUMN approval_overdue_after interval NOT NULL DEFAULT '30 minutes'
                         CONSTRAINT config_approval_overdue_after_check CHECK (approval_overdue_after > '0'::interval),
    ADD COLUMN alert_ack_overdue_after interval NOT NULL DEFAULT '1 hour'
                         CONSTRAINT config_alert_ack_overdue_after_check CHECK (alert_ack_overdue_after > '0'::interval),
    ADD COLUMN health_sweep_players integer  NOT NULL DEFAULT 1000
                         CONSTRAINT config_health_sweep_players_check CHECK (health_sweep_players BETWEEN 1 AND 1000000),
    ADD COLUMN notification_claim_timeout interval NOT NULL DEFAULT '5 minutes'
                         CONSTRAINT config_notification_claim_timeout_check CHECK (notification_claim_timeout > '0'::interval);
COMMENT ON COLUMN loyalty.config.partial_stale_after IS 'health_check: a partial completion older than this is PARTIAL_COMPLETION_STALE.';
COMMENT ON COLUMN loyalty.config.approval_overdue_after IS 'health_check: a slip held for approval longer than this is APPROVAL_OVERDUE.';
COMMENT ON COLUMN loyalty.config.alert_ack_overdue_after IS 'health_check: an open alert nobody acknowledged for this long is reported (ALERT_UNACKNOWLEDGED).';
COMMENT ON COLUMN loyalty.config.health_sweep_players IS 'health_check: how many players'' balances and chains each run re-verifies besides the players changed since the last run (a rolling sweep over everyone).';
COMMENT ON COLUMN loyalty.config.notification_claim_timeout IS 'A claimed notification not marked delivered within this time may be claimed again (its worker is presumed dead).';

-- The admin API maintains updated_at on tiers too.
ALTER TABLE loyalty.tier ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now(),
    ADD CONSTRAINT tier_times_finite_check CHECK (isfinite(updated_at));
COMMENT ON COLUMN loyalty.tier.updated_at IS 'Audit: when the tier was last added or moved (the admin API maintains it).';


-- Alerts: severity, acknowledgement, resolution, one unresolved per finding.
-- 0.1.0's alerts (frequency alerts) are warnings.
ALTER TABLE loyalty.alert
    ADD COLUMN severity text NOT NULL DEFAULT 'WARNING'
               CONSTRAINT alert_severity_check CHECK (severity IN ('INFO', 'WARNING', 'CRITICAL')),
    ADD COLUMN fingerprint text,
    ADD COLUMN acknowledged_at timestamptz,
    ADD COLUMN acknowledged_by text,
    ADD COLUMN note text,
    ADD COLUMN resolved_at timestamptz,
    DROP CONSTRAINT alert_times_finite_check,
    ADD CONSTRAINT alert_times_finite_check
        CHECK (isfinite(created_at) AND isfinite(acknowledged_at) AND isfinite(resolved_at)),
    ADD CONSTRAINT alert_acknowledged_check CHECK ((acknowledged_at IS NULL) = (acknowledged_by IS NULL));
COMMENT ON COLUMN loyalty.alert.severity IS 'INFO, WARNING or CRITICAL.';
COMMENT ON COLUMN loyalty.alert.fingerprint IS 'What the alert is about, for health_check findings (kind and subject): one unresolved alert per fingerprint.';
COMMENT ON COLUMN loyalty.alert.acknowledged_at IS 'Audit: when someone took the alert on (acknowledge_alert).';
COMMENT ON COLUMN loyalty.alert.acknowledged_by IS 'Audit: who acknowledged it: a staff id, or the role of a trusted back end.';
COMMENT ON COLUMN loyalty.alert.note IS 'Audit: the acknowledger''s note.';
COMMENT ON COLUMN loyalty.alert.resolved_at IS 'When health_check last found the condition gone; a recurrence raises a new alert.';
-- One unresolved alert per finding (health_check inserts ON CONFLICT DO NOTHING).
CREATE UNIQUE INDEX alert_open_fingerprint_key ON loyalty.alert (fingerprint)
    WHERE resolved_at IS NULL AND fingerprint IS NOT NULL;
-- Open alerts (metrics, the unacknowledged-alert finding).
CREATE INDEX alert_open_idx ON loyalty.alert (created_at) WHERE acknowledged_at IS NULL AND resolved_at IS NULL;

-- A reconciliation is a ledger entry of its own kind (src/kinds.rs).
ALTER TABLE loyalty.loyalty_ledger
    DROP CONSTRAINT loyalty_ledger_transaction_type_check,
    ADD CONSTRAINT loyalty_ledger_transaction_type_check
        CHECK (transaction_type IN ('GAMEPLAY', 'MANUAL_BONUS', 'ADJUSTMENT', 'RECONCILIATION')),
    DROP CONSTRAINT loyalty_ledger_event_type_check,
    ADD CONSTRAINT loyalty_ledger_event_type_check
        CHECK (event_type IN ('RATING_SLIP_COMPLETED', 'POINTS_UPDATE_REQUESTED', 'BALANCE_RECONCILED'));
COMMENT ON COLUMN loyalty.loyalty_ledger.transaction_type IS 'GAMEPLAY, MANUAL_BONUS (positive manual), ADJUSTMENT (negative manual) or RECONCILIATION (an operator''s repair of a drifted balance: moves the stored balance back to the ledger, so it is not counted in the ledger''s sum; src/kinds.rs).';
COMMENT ON COLUMN loyalty.loyalty_ledger.event_type IS 'RATING_SLIP_COMPLETED, POINTS_UPDATE_REQUESTED or BALANCE_RECONCILED.';

-- The append-only guard now serves admin_audit too, and names its table.
CREATE OR REPLACE FUNCTION loyalty.ledger_append_only() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RAISE EXCEPTION USING
        MESSAGE = 'LEDGER_APPEND_ONLY',
        DETAIL = format('%s is append-only: %s is not allowed; correct a balance with a new entry.', TG_TABLE_NAME, TG_OP),
        ERRCODE = 'PT405';
END
$$;

-- Restores merge the new config and tier columns too.
CREATE OR REPLACE FUNCTION loyalty.merge_seeded_row() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF TG_TABLE_NAME = 'tier' THEN
        UPDATE loyalty.tier SET threshold_points = NEW.threshold_points, seeded = NEW.seeded,
                                updated_at = NEW.updated_at
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
               accrual_lock_timeout = NEW.accrual_lock_timeout, seeded = NEW.seeded,
               partial_stale_after = NEW.partial_stale_after,
               approval_overdue_after = NEW.approval_overdue_after,
               alert_ack_overdue_after = NEW.alert_ack_overdue_after,
               health_sweep_players = NEW.health_sweep_players,
               notification_claim_timeout = NEW.notification_claim_timeout
         WHERE singleton = NEW.singleton;
    END IF;
    IF FOUND THEN
        RETURN NULL;  -- merged into the existing row
    END IF;
    RETURN NEW;
END
$$;

-- The durable outbox: one row per event a consumer must not miss, written
-- in the event's own transaction (so a rolled-back event leaves none), read
-- through RLS (a player their own tier changes; loyalty:view_all staff the
-- alerts) or claimed by trusted workers (claim_notifications).
CREATE TABLE loyalty.notification (
    id              bigserial   NOT NULL,
    kind            text        NOT NULL CONSTRAINT notification_kind_check CHECK (kind IN ('TIER_CHANGED', 'ALERT')),
    player_id       uuid,
    alert_id        bigint,
    ledger_entry_id bigint,
    payload         jsonb       NOT NULL DEFAULT '{}',
    created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    claimed_at      timestamptz,
    claims          integer     NOT NULL DEFAULT 0 CONSTRAINT notification_claims_check CHECK (claims >= 0),
    delivered_at    timestamptz,
    CONSTRAINT notification_pkey PRIMARY KEY (id),
    CONSTRAINT notification_times_finite_check
        CHECK (isfinite(created_at) AND isfinite(claimed_at) AND isfinite(delivered_at))
);
COMMENT ON TABLE loyalty.notification IS 'Durable outbox of tier changes and alerts, written in the event''s transaction; pg_notify only wakes consumers up.';
COMMENT ON COLUMN loyalty.notification.id IS 'Notification id, increasing in insertion order.';
COMMENT ON COLUMN loyalty.notification.kind IS 'TIER_CHANGED (readable by that player) or ALERT (readable by staff with loyalty:view_all).';
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
    last_run_at    timestamptz,
    sweep_after    uuid,
    ladder_digest  text,
    last_findings  integer,
    CONSTRAINT health_state_pkey PRIMARY KEY (singleton),
    CONSTRAINT health_state_times_finite_check CHECK (isfinite(last_run_at))
);
COMMENT ON TABLE loyalty.health_state IS 'health_check''s memory: when it last ran, where its rolling sweep over players stands, which ladder it last checked.';
COMMENT ON COLUMN loyalty.health_state.singleton IS 'Always true: the table holds exactly one row.';
COMMENT ON COLUMN loyalty.health_state.last_run_at IS 'When the last health_check run started: players with ledger entries written since then (less a margin) are re-verified next.';
COMMENT ON COLUMN loyalty.health_state.sweep_after IS 'The rolling sweep re-verifies players after this id next (NULL: from the start).';
COMMENT ON COLUMN loyalty.health_state.ladder_digest IS 'The tier ladder the last full tier check saw; a different ladder triggers a full check.';
COMMENT ON COLUMN loyalty.health_state.last_findings IS 'How many findings the last run returned.';

-- Every change made through the admin API: who, when, what before and after.
CREATE TABLE loyalty.admin_audit (
    id             bigserial   NOT NULL,
    at             timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor          text        NOT NULL,
    action         text        NOT NULL,
    target         text        NOT NULL,
    before         jsonb,
    after          jsonb,
    correlation_id text        NOT NULL,
    CONSTRAINT admin_audit_pkey PRIMARY KEY (id),
    CONSTRAINT admin_audit_times_finite_check CHECK (isfinite(at))
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
    at              timestamptz NOT NULL DEFAULT clock_timestamp(),
    correlation_id  text        NOT NULL,
    CONSTRAINT reward_replay_times_finite_check CHECK (isfinite(at))
);
COMMENT ON TABLE loyalty.reward_replay IS 'One row per manual reward retry answered as an idempotent hit (reward_history).';
COMMENT ON COLUMN loyalty.reward_replay.ledger_entry_id IS 'The entry the retry was answered with.';
COMMENT ON COLUMN loyalty.reward_replay.player_id IS 'The player of that entry.';
COMMENT ON COLUMN loyalty.reward_replay.staff_id IS 'Who sent the retry.';
COMMENT ON COLUMN loyalty.reward_replay.at IS 'When the retry arrived.';
COMMENT ON COLUMN loyalty.reward_replay.correlation_id IS 'Correlation id of the retry.';
CREATE INDEX reward_replay_player_idx ON loyalty.reward_replay (player_id, at);

CREATE TRIGGER admin_audit_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON loyalty.admin_audit
    FOR EACH STATEMENT EXECUTE FUNCTION loyalty.ledger_append_only();
SELECT pg_catalog.pg_extension_config_dump('loyalty.notification', '');
SELECT pg_catalog.pg_extension_config_dump('loyalty.notification_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('loyalty.health_state', '');
SELECT pg_catalog.pg_extension_config_dump('loyalty.admin_audit', '');
SELECT pg_catalog.pg_extension_config_dump('loyalty.admin_audit_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('loyalty.reward_replay', '');

-- The write path caches the casino's settings (src/casino.rs);
-- any change to loyalty.config tells every backend to read them again.
CREATE TRIGGER config_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON loyalty.config
    FOR EACH STATEMENT EXECUTE FUNCTION loyalty.tier_ladder_changed();

-- Functions in Rust: acknowledgement, retiering, the reconciling rebuild
-- (a reason is now required and the result names its entry: dropped and
-- created again), the correlation-id helper of the SQL functions.
CREATE FUNCTION loyalty.acknowledge_alert(
	"p_alert_id" bigint,
	"p_note" TEXT DEFAULT NULL
) RETURNS TABLE (
	"alert_id" bigint, 
	"kind" TEXT, 
	"severity" TEXT, 
	"acknowledged_at" timestamp with time zone, 
	"acknowledged_by" TEXT, 
	"note" TEXT, 
	"already_acknowledged" bool 
)
VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path TO pg_catalog, loyalty, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'acknowledge_alert_wrapper';

CREATE FUNCTION loyalty.retier_players(
	"p_limit" INT DEFAULT 1000,
	"p_correlation_id" TEXT DEFAULT NULL
) RETURNS TABLE (
	"player_id" uuid, 
	"tier_before" TEXT, 
	"tier_after" TEXT, 
	"lifetime_points" bigint, 
	"correlation_id" TEXT 
)
VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path TO pg_catalog, loyalty, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'retier_players_wrapper';

DROP FUNCTION loyalty.rebuild_player_balance(uuid, text);
CREATE FUNCTION loyalty.rebuild_player_balance(
	"p_player_id" uuid,
	"p_correlation_id" TEXT DEFAULT NULL,
	"p_reason" TEXT DEFAULT NULL
) RETURNS TABLE (
	"player_id" uuid, 
	"balance_before" bigint, 
	"balance_after" bigint, 
	"lifetime_before" bigint, 
	"lifetime_after" bigint, 
	"tier_before" TEXT, 
	"tier_after" TEXT, 
	"correlation_id" TEXT, 
	"ledger_entry_id" bigint 
)
VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path TO pg_catalog, loyalty, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'rebuild_player_balance_wrapper';

CREATE FUNCTION loyalty.resolve_correlation_id(
	"p_correlation_id" TEXT
) RETURNS TEXT
VOLATILE PARALLEL SAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'resolve_correlation_id_wrapper';

-- Verification leaves reconciliations out of the ledger's sum.
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
    -- RECONCILIATION entries (src/kinds.rs) bring the stored balance back
    -- to the ledger's sum and are left out of it; before/after breaks count
    -- only after the last one (an operator reviewed and closed what came
    -- before, and the ledger still shows it).
    WITH l AS (
        SELECT coalesce(sum(e.points_change) FILTER (WHERE NOT e.reconciliation), 0)::bigint AS bal,
               coalesce(sum(e.points_change) FILTER (WHERE e.points_change > 0 AND NOT e.reconciliation),
                        0)::bigint AS life,
               count(*) AS n,
               count(*) FILTER (WHERE e.seq > coalesce(e.last_reconciled, 0) AND e.prev_after IS NOT NULL
                                  AND e.prev_after <> e.balance_before) AS breaks
          FROM (SELECT x.points_change, x.balance_before, x.seq,
                       x.transaction_type = 'RECONCILIATION' AS reconciliation,
                       lag(x.balance_after) OVER (ORDER BY x.seq) AS prev_after,
                       max(x.seq) FILTER (WHERE x.transaction_type = 'RECONCILIATION') OVER () AS last_reconciled
                  FROM loyalty.loyalty_ledger x WHERE x.player_id = p_player_id) e
    )
    SELECT p_player_id, p.current_balance::bigint, l.bal, p.lifetime_points::bigint, l.life, l.n, l.breaks,
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
                        coalesce(sum(e.points_change) FILTER (WHERE e.points_change > 0
                                                                AND e.transaction_type <> 'RECONCILIATION'),
                                 0)::bigint AS life
                   FROM loyalty.loyalty_ledger e GROUP BY e.player_id) l ON l.player_id = p.player_id
     WHERE p.player_id IS NULL OR l.player_id IS NULL AND (p.current_balance <> 0 OR p.lifetime_points <> 0)
        OR p.current_balance <> l.bal OR p.lifetime_points <> l.life
$$;

-- Exports and the frequency report take gaming-day bounds (new optional
-- parameters: dropped and created again).
DROP FUNCTION loyalty.export_ledger(timestamptz, timestamptz);
DROP FUNCTION loyalty.manual_reward_frequency(timestamptz, timestamptz, interval);
CREATE FUNCTION loyalty.export_ledger(p_from timestamptz DEFAULT NULL, p_to timestamptz DEFAULT NULL,
                                      p_from_day date DEFAULT NULL, p_to_day date DEFAULT NULL)
RETURNS SETOF loyalty.loyalty_ledger
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, loyalty, pg_temp
AS $$
BEGIN
    PERFORM loyalty.require_caller();
    IF (p_from IS NULL) <> (p_to IS NULL) OR (p_from_day IS NULL) <> (p_to_day IS NULL)
       OR (p_from IS NULL) = (p_from_day IS NULL) OR p_from > p_to OR p_from_day > p_to_day THEN
        RAISE EXCEPTION USING MESSAGE = 'VALIDATION_ERROR',
            DETAIL = 'give p_from <= p_to (times) or p_from_day <= p_to_day (gaming days), not both', ERRCODE = 'PT422';
    END IF;
    IF p_from IS NOT NULL THEN
        RETURN QUERY SELECT * FROM loyalty.loyalty_ledger l
                      WHERE l.created_at >= p_from AND l.created_at < p_to ORDER BY l.id;
    ELSE
        -- A gaming day lies within three days of its entries' UTC dates
        -- whatever the time zone and day start, so the created_at index
        -- narrows the scan and gaming_day decides.
        RETURN QUERY SELECT * FROM loyalty.loyalty_ledger l
                      WHERE l.gaming_day BETWEEN p_from_day AND p_to_day
                        AND l.created_at >= (p_from_day - 3)::timestamp AT TIME ZONE 'UTC'
                        AND l.created_at < (p_to_day + 4)::timestamp AT TIME ZONE 'UTC'
                      ORDER BY l.id;
    END IF;
END
$$;
COMMENT ON FUNCTION loyalty.export_ledger(timestamptz, timestamptz, date, date) IS
    'Runbook: ledger operations with created_at in [p_from, p_to), or with gaming_day in [p_from_day, p_to_day], in entry order (\copy-able).';

CREATE FUNCTION loyalty.manual_reward_frequency(p_from timestamptz DEFAULT NULL, p_to timestamptz DEFAULT NULL,
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
     -- manual rewards are these two kinds (src/kinds.rs), whoever else
     -- appears in staff_id on other kinds
     WHERE l.transaction_type IN ('MANUAL_BONUS', 'ADJUSTMENT')
       AND CASE WHEN p_from IS NOT NULL THEN l.created_at >= p_from AND l.created_at < p_to
                ELSE l.gaming_day BETWEEN p_from_day AND p_to_day
                     AND l.created_at >= (p_from_day - 3)::timestamp AT TIME ZONE 'UTC'
                     AND l.created_at < (p_to_day + 4)::timestamp AT TIME ZONE 'UTC' END
     GROUP BY 1, 2 ORDER BY 2, 1;
END
$$;
COMMENT ON FUNCTION loyalty.manual_reward_frequency(timestamptz, timestamptz, interval, date, date) IS
    'Dashboard: manual rewards per staff member per time bucket, for created_at in [p_from, p_to) or gaming days [p_from_day, p_to_day].';

-- Runbook 2, duplicate manual reward: each manual reward a player received
-- in [p_from, p_to), with its key, who issued it and every retry that was
-- answered with it as an idempotent hit (a retry writes no ledger row; the
-- write path records it in reward_replay).
CREATE FUNCTION loyalty.reward_history(p_player_id uuid, p_from timestamptz, p_to timestamptz)
RETURNS TABLE (ledger_entry_id bigint, created_at timestamptz, gaming_day date, transaction_type text,
               points_change bigint, idempotency_key text, staff_id uuid, reward_id text, reason text,
               correlation_id text, retries bigint, retried_by uuid[], retry_correlation_ids text[])
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, loyalty, pg_temp
AS $$
BEGIN
    PERFORM loyalty.require_caller(ARRAY['loyalty:view_all']);
    IF p_player_id IS NULL OR p_from IS NULL OR p_to IS NULL OR p_from > p_to THEN
        RAISE EXCEPTION USING MESSAGE = 'VALIDATION_ERROR',
            DETAIL = 'p_player_id, p_from and p_to are required and p_from must not be after p_to', ERRCODE = 'PT422';
    END IF;
    RETURN QUERY
    -- (casts: the columns are domains, RETURN QUERY wants the declared types)
    SELECT l.id, l.created_at::timestamptz, l.gaming_day, l.transaction_type::text, l.points_change,
           l.idempotency_key::text, l.staff_id, l.reward_id, l.reason, l.correlation_id,
           count(r.at), coalesce(array_agg(r.staff_id ORDER BY r.at) FILTER (WHERE r.at IS NOT NULL), '{}'),
           coalesce(array_agg(r.correlation_id ORDER BY r.at) FILTER (WHERE r.at IS NOT NULL), '{}')
      FROM loyalty.loyalty_ledger l
      LEFT JOIN loyalty.reward_replay r ON r.player_id = l.player_id AND r.ledger_entry_id = l.id
     WHERE l.player_id = p_player_id AND l.transaction_type IN ('MANUAL_BONUS', 'ADJUSTMENT')
       AND l.created_at >= p_from AND l.created_at < p_to
     GROUP BY l.player_id, l.id  -- the primary key: every other column follows
     ORDER BY l.seq;
END
$$;
COMMENT ON FUNCTION loyalty.reward_history(uuid, timestamptz, timestamptz) IS
    'Runbook (duplicate manual reward): a player''s manual rewards in [p_from, p_to) with key, issuer and idempotent retries.';

-- Runbook 3, rate limit and alert response: one staff member's manual
-- rewards in [p_from, p_to), the alerts about them, and where their rate
-- windows stand now. Refused rewards are not here: a refusal aborts its
-- transaction and leaves no row by design; its manual_reward_rejected log
-- line (written at once) is the record (docs/runbook.md).
CREATE FUNCTION loyalty.staff_activity(p_staff_id uuid, p_from timestamptz, p_to timestamptz)
RETURNS TABLE (kind text, at timestamptz, player_id uuid, points_change bigint, detail jsonb)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, loyalty, pg_temp
AS $$
BEGIN
    PERFORM loyalty.require_caller(ARRAY['loyalty:view_all']);
    IF p_staff_id IS NULL OR p_from IS NULL OR p_to IS NULL OR p_from > p_to THEN
        RAISE EXCEPTION USING MESSAGE = 'VALIDATION_ERROR',
            DETAIL = 'p_staff_id, p_from and p_to are required and p_from must not be after p_to', ERRCODE = 'PT422';
    END IF;
    RETURN QUERY
    -- (casts: the columns are domains, RETURN QUERY wants the declared types)
    SELECT 'reward', l.created_at::timestamptz, l.player_id, l.points_change,
           jsonb_build_object('ledger_entry_id', l.id, 'transaction_type', l.transaction_type,
                              'idempotency_key', l.idempotency_key, 'reward_id', l.reward_id,
                              'reason', l.reason, 'correlation_id', l.correlation_id)
      FROM loyalty.loyalty_ledger l
     WHERE l.staff_id = p_staff_id AND l.transaction_type IN ('MANUAL_BONUS', 'ADJUSTMENT')
       AND l.created_at >= p_from AND l.created_at < p_to
    UNION ALL
    SELECT 'retry', r.at::timestamptz, r.player_id, NULL::bigint,
           jsonb_build_object('ledger_entry_id', r.ledger_entry_id, 'correlation_id', r.correlation_id)
      FROM loyalty.reward_replay r
     WHERE r.staff_id = p_staff_id AND r.at >= p_from AND r.at < p_to
    UNION ALL
    SELECT 'alert', a.created_at::timestamptz, a.player_id, NULL::bigint,
           jsonb_build_object('alert_id', a.id, 'kind', a.kind, 'severity', a.severity,
                              'acknowledged_at', a.acknowledged_at, 'acknowledged_by', a.acknowledged_by,
                              'details', a.details)
      FROM loyalty.alert a
     WHERE a.staff_id = p_staff_id AND a.created_at >= p_from AND a.created_at < p_to
    UNION ALL
    SELECT 'window', now(), NULL::uuid, NULL::bigint,
           jsonb_build_object('rate_count', w.rate_count, 'rate_window', w.rate_window,
                              'alert_count', w.alert_count, 'alert_window', w.alert_window)
      FROM loyalty.reward_window w WHERE w.staff_id = p_staff_id
    ORDER BY 2, 1;
END
$$;
COMMENT ON FUNCTION loyalty.staff_activity(uuid, timestamptz, timestamptz) IS
    'Runbook (rate limit and alert response): one staff member''s manual rewards, retries and alerts in [p_from, p_to), and their rate windows now.';

-- The durable outbox (docs/reference.md §10). Tier changes write their row
-- in the write path (src/ledger.rs), alerts through announce_alert below,
-- each in the event's own transaction. pg_notify stays as a wake-up
-- carrying ids only.

-- Every alert, whoever raises it (src/alert.rs, health_check), is announced
-- here in its own transaction: an outbox row, and a wake-up at commit. (Not
-- a trigger: a restore re-inserts old alerts and must not announce them again.)
CREATE FUNCTION loyalty.announce_alert(p_alert_id bigint) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    INSERT INTO loyalty.notification (kind, player_id, alert_id, payload)
    SELECT 'ALERT', a.player_id, a.id, jsonb_build_object('alert_kind', a.kind, 'severity', a.severity)
      FROM loyalty.alert a WHERE a.id = p_alert_id;
    -- Sent on commit only; a notification proves nothing (anyone may
    -- NOTIFY), so it carries the id and a listener reads the row.
    PERFORM pg_notify('loyalty_alert', jsonb_build_object('alert_id', p_alert_id)::text);
END
$$;
COMMENT ON FUNCTION loyalty.announce_alert(bigint) IS
    'Internal: the outbox row and wake-up of a new alert.';

-- Workers (trusted back ends) take up to p_limit undelivered notifications,
-- oldest first. FOR UPDATE SKIP LOCKED: two workers never take the same row
-- at once; a row claimed by a worker that never marked it delivered is
-- offered again after config.notification_claim_timeout.
CREATE FUNCTION loyalty.claim_notifications(p_limit integer DEFAULT 100)
RETURNS TABLE (id bigint, kind text, player_id uuid, alert_id bigint, ledger_entry_id bigint,
               payload jsonb, created_at timestamptz, claims integer)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, loyalty, pg_temp
AS $$
DECLARE
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
    RETURNING n.id, n.kind, n.player_id, n.alert_id, n.ledger_entry_id, n.payload, n.created_at::timestamptz,
              n.claims;
END
$$;
COMMENT ON FUNCTION loyalty.claim_notifications(integer) IS
    'Outbox: claim up to p_limit undelivered notifications (FOR UPDATE SKIP LOCKED); mark them delivered when sent.';

CREATE FUNCTION loyalty.mark_notifications_delivered(p_ids bigint[])
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, loyalty, pg_temp
AS $$
DECLARE
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
COMMENT ON FUNCTION loyalty.mark_notifications_delivered(bigint[]) IS
    'Outbox: mark notifications delivered (already delivered ids are left alone); returns how many were marked.';

-- Self-detection (docs/reference.md §10, docs/runbook.md §9): health_check()
-- finds what would otherwise wait for an operator to ask, raises one alert
-- per finding while it stays unresolved, and resolves alerts whose
-- condition is gone. metrics() gives the numbers an operator graphs.

-- The tier a player with p_lifetime points holds under the current ladder
-- (the same rule as src/points.rs: the highest threshold reached, else the
-- lowest tier).
CREATE FUNCTION loyalty.ladder_tier(p_lifetime bigint) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, loyalty, pg_temp
AS $$
    SELECT coalesce((SELECT t.tier FROM loyalty.tier t WHERE t.threshold_points <= p_lifetime
                      ORDER BY t.threshold_points DESC LIMIT 1),
                    (SELECT t.tier FROM loyalty.tier t ORDER BY t.threshold_points LIMIT 1),
                    'BRONZE')
$$;
COMMENT ON FUNCTION loyalty.ladder_tier(bigint) IS
    'The tier the current ladder gives p_lifetime lifetime points.';

CREATE FUNCTION loyalty.health_check()
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
    v_digest   text;
    v_full_tiers boolean;
    v_unacked  jsonb;
    f          record;
    v_id       bigint;
    v_count    integer := 0;
BEGIN
    PERFORM loyalty.require_caller();
    -- One run at a time: the state row is the lock (a second caller waits,
    -- then sees the first run's alerts and raises no duplicates).
    INSERT INTO loyalty.health_state (singleton) VALUES (true) ON CONFLICT DO NOTHING;
    SELECT * INTO st FROM loyalty.health_state FOR UPDATE;
    SELECT * INTO c FROM loyalty.config;

    -- Closed slips still owed their points, older than the threshold.
    v_found := v_found || coalesce((
        SELECT jsonb_agg(jsonb_build_object(
                   'kind', 'PARTIAL_COMPLETION_STALE', 'severity', 'WARNING',
                   'fingerprint', 'PARTIAL_COMPLETION_STALE:' || s.id, 'subject', s.id::text,
                   'player_id', s.player_id,
                   'details', jsonb_build_object('rating_slip_id', s.id, 'end_time', s.end_time,
                                                 'age_seconds', floor(extract(epoch FROM v_started - s.end_time)),
                                                 'last_error', p.error_code)))
          FROM loyalty.rating_slip s
          LEFT JOIN loyalty.pending_accrual p ON p.rating_slip_id = s.id
         WHERE s.status = 'CLOSED' AND s.accrued_ledger_id IS NULL AND s.approval_status IS NULL
           AND s.end_time < v_started - c.partial_stale_after
           AND NOT EXISTS (SELECT 1 FROM loyalty.loyalty_ledger l
                            WHERE l.player_id = s.player_id AND l.idempotency_key = 'gameplay:' || s.id::text)),
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
    -- every player with an unresolved balance or chain alert, and the next
    -- slice of the rolling sweep, which reaches everyone (a change made
    -- behind the write path's back writes no ledger entry).
    v_sweep := ARRAY(SELECT p.player_id FROM loyalty.player_loyalty p
                      WHERE st.sweep_after IS NULL OR p.player_id > st.sweep_after
                      ORDER BY p.player_id LIMIT c.health_sweep_players);
    v_chained := v_sweep || ARRAY(SELECT a.player_id FROM loyalty.alert a
                                   WHERE a.kind = 'CHAIN_BROKEN' AND a.resolved_at IS NULL
                                     AND a.player_id IS NOT NULL);
    v_players := v_chained
        || ARRAY(SELECT a.player_id FROM loyalty.alert a
                  WHERE a.kind = 'BALANCE_MISMATCH' AND a.resolved_at IS NULL AND a.player_id IS NOT NULL)
        || ARRAY(SELECT DISTINCT l.player_id FROM loyalty.loyalty_ledger l
                  WHERE st.last_run_at IS NULL OR l.created_at >= st.last_run_at - interval '10 minutes');
    v_players := ARRAY(SELECT DISTINCT u FROM unnest(v_players) u);
    v_chained := ARRAY(SELECT DISTINCT u FROM unnest(v_chained) u);

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
                     coalesce(sum(e.points_change) FILTER (WHERE e.points_change > 0
                                                             AND e.transaction_type <> 'RECONCILIATION'), 0) AS life
                FROM loyalty.loyalty_ledger e WHERE e.player_id = u.player_id) l
         WHERE p.current_balance <> l.bal OR p.lifetime_points <> l.life),
        '[]');

    -- Hash chains (src/chain.rs) of the sweep slice and of players already
    -- alerted, so an alert resolves once the chain verifies again.
    v_found := v_found || coalesce((
        SELECT jsonb_agg(jsonb_build_object(
                   'kind', 'CHAIN_BROKEN', 'severity', 'CRITICAL',
                   'fingerprint', 'CHAIN_BROKEN:' || v.player_id, 'subject', v.player_id::text,
                   'player_id', v.player_id,
                   'details', jsonb_build_object('break_seq', v.break_seq, 'break_kind', v.break_kind,
                                                 'detail', v.detail)))
          FROM unnest(v_chained) u(player_id)
          CROSS JOIN LATERAL loyalty.verify_ledger_chain(u.player_id) v
         WHERE NOT v.ok),
        '[]');

    -- Stored tiers that disagree with the ladder: everyone when the ladder
    -- changed since the last full check or a drift alert is unresolved,
    -- else the players verified above. One finding for the whole ladder.
    SELECT md5(string_agg(t.tier || ':' || t.threshold_points, ',' ORDER BY t.threshold_points))
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
          FROM (SELECT p.player_id, p.tier, loyalty.ladder_tier(p.lifetime_points) AS ladder_tier
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
        INSERT INTO loyalty.alert AS a (kind, severity, fingerprint, player_id, details)
        VALUES (f.kind, f.severity, f.fingerprint, f.player_id, f.details)
        ON CONFLICT (fingerprint) WHERE resolved_at IS NULL AND fingerprint IS NOT NULL DO NOTHING
        RETURNING a.id INTO v_id;
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
    UPDATE loyalty.alert a SET resolved_at = v_started
     WHERE a.resolved_at IS NULL AND a.fingerprint IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements(v_found) x WHERE x ->> 'fingerprint' = a.fingerprint)
       AND (a.kind IN ('PARTIAL_COMPLETION_STALE', 'PENDING_ROW_WRONG', 'APPROVAL_OVERDUE')
            OR a.kind = 'TIER_DRIFT' AND v_full_tiers
            OR a.kind = 'BALANCE_MISMATCH' AND a.player_id = ANY (v_players)
            OR a.kind = 'CHAIN_BROKEN' AND a.player_id = ANY (v_chained));

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

    UPDATE loyalty.health_state h
       SET last_run_at = v_started,
           sweep_after = CASE WHEN cardinality(v_sweep) < c.health_sweep_players THEN NULL
                              ELSE v_sweep[cardinality(v_sweep)] END,
           ladder_digest = CASE WHEN v_full_tiers THEN v_digest ELSE h.ladder_digest END,
           last_findings = v_count;
END
$$;
COMMENT ON FUNCTION loyalty.health_check() IS
    'Finds stale partial completions, paid slips marked owed, balance/ledger mismatches, broken hash chains, tier drift, overdue approvals and unacknowledged alerts; one alert per finding while unresolved.';

CREATE FUNCTION loyalty.metrics()
RETURNS TABLE (gaming_day date, slips_open bigint, slips_completed_today bigint, slips_held_today bigint,
               partial_completions bigint, oldest_partial_seconds bigint, rewards_today bigint,
               reward_points_today bigint, alerts_open_info bigint, alerts_open_warning bigint,
               alerts_open_critical bigint, notifications_pending bigint, last_health_check timestamptz,
               last_health_check_age_seconds bigint)
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
           floor(extract(epoch FROM clock_timestamp() - h.last_run_at))::bigint
      FROM (SELECT count(*) AS n, floor(extract(epoch FROM clock_timestamp() - min(s.end_time)))::bigint AS age
              FROM loyalty.rating_slip s
             WHERE s.status = 'CLOSED' AND s.accrued_ledger_id IS NULL AND s.approval_status IS NULL) o,
           (SELECT count(*) AS n, coalesce(sum(l.points_change), 0)::bigint AS pts
              FROM loyalty.loyalty_ledger l
             WHERE l.transaction_type IN ('MANUAL_BONUS', 'ADJUSTMENT') AND l.gaming_day = v_day
               AND l.created_at >= v_day_start - interval '1 day') r
      LEFT JOIN loyalty.health_state h ON true;
END
$$;
COMMENT ON FUNCTION loyalty.metrics() IS
    'Dashboard: one row of the numbers an operator graphs (docs/monitoring.md).';

-- The admin API (docs/reference.md §10): what an owner would otherwise do
-- with INSERT/UPDATE on loyalty tables, for trusted back ends only
-- (service_role, the owner, a superuser). On Supabase the extension's owner
-- is supabase_admin, so `postgres` and a service-role back end have no
-- table privileges: these functions are how they run the casino.
--
-- Each change is audited in loyalty.admin_audit (who, when, the row before
-- and after, the correlation id) in the same transaction, and maintains
-- updated_at. A NULL argument keeps the current value. A value the table's
-- constraints refuse is VALIDATION_ERROR naming the constraint (never the
-- value: DETAIL echoes no input).

CREATE FUNCTION loyalty.admin_audit_write(p_actor text, p_action text, p_target text, p_before jsonb,
                                          p_after jsonb, p_correlation_id text)
RETURNS void
LANGUAGE sql VOLATILE SET search_path = pg_catalog, loyalty, pg_temp
AS $$
    INSERT INTO loyalty.admin_audit (actor, action, target, before, after, correlation_id)
    VALUES (p_actor, p_action, p_target, p_before, p_after, p_correlation_id);
$$;
COMMENT ON FUNCTION loyalty.admin_audit_write(text, text, text, jsonb, jsonb, text) IS
    'Internal: one admin_audit row (called by the admin API functions).';

-- A constraint refused the change: VALIDATION_ERROR naming the constraint.
CREATE FUNCTION loyalty.admin_refused(p_constraint text, p_hint text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RAISE EXCEPTION USING MESSAGE = 'VALIDATION_ERROR', ERRCODE = 'PT422',
        DETAIL = concat('refused by ', coalesce(nullif(p_constraint, ''), 'a constraint of the table'),
                        CASE WHEN p_hint IS NOT NULL THEN ' (' || p_hint || ')' END);
END
$$;
COMMENT ON FUNCTION loyalty.admin_refused(text, text) IS
    'Internal: raise VALIDATION_ERROR for a change a constraint refused.';

CREATE FUNCTION loyalty.upsert_staff(p_staff_id uuid, p_permissions text[] DEFAULT NULL,
                                     p_active boolean DEFAULT NULL, p_correlation_id text DEFAULT NULL)
RETURNS loyalty.staff
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, loyalty, pg_temp
AS $$
DECLARE
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
            'permissions are loyalty:award, loyalty:rate, loyalty:approve, loyalty:recover, loyalty:view_all');
    END;
    PERFORM loyalty.admin_audit_write(v_actor, 'upsert_staff', 'staff:' || p_staff_id,
        CASE WHEN v_before.staff_id IS NOT NULL THEN to_jsonb(v_before) END, to_jsonb(v_after), v_corr);
    RETURN v_after;
END
$$;
COMMENT ON FUNCTION loyalty.upsert_staff(uuid, text[], boolean, text) IS
    'Admin (trusted back ends): add a staff member or change their permissions or active flag; audited.';

CREATE FUNCTION loyalty.deactivate_staff(p_staff_id uuid, p_correlation_id text DEFAULT NULL)
RETURNS loyalty.staff
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, loyalty, pg_temp
AS $$
DECLARE
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
COMMENT ON FUNCTION loyalty.deactivate_staff(uuid, text) IS
    'Admin (trusted back ends): a staff member loses every permission at once; audited.';

CREATE FUNCTION loyalty.upsert_game_settings(p_game_type text, p_house_edge numeric DEFAULT NULL,
    p_decisions_per_hour integer DEFAULT NULL, p_points_conversion_rate numeric DEFAULT NULL,
    p_point_multiplier numeric DEFAULT NULL, p_min_average_bet numeric DEFAULT NULL,
    p_max_average_bet numeric DEFAULT NULL, p_approval_threshold_points bigint DEFAULT NULL,
    p_correlation_id text DEFAULT NULL)
RETURNS loyalty.game_settings
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, loyalty, pg_temp
AS $$
DECLARE
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
COMMENT ON FUNCTION loyalty.upsert_game_settings(text, numeric, integer, numeric, numeric, numeric, numeric, bigint, text) IS
    'Admin (trusted back ends): add a game or change its settings (NULL keeps a value); audited. Open slips keep the settings they were opened with.';

CREATE FUNCTION loyalty.upsert_tier(p_tier text, p_threshold_points bigint, p_correlation_id text DEFAULT NULL)
RETURNS loyalty.tier
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, loyalty, pg_temp
AS $$
DECLARE
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
COMMENT ON FUNCTION loyalty.upsert_tier(text, bigint, text) IS
    'Admin (trusted back ends): add a tier or move its threshold; audited. Stored tiers follow with retier_players().';

CREATE FUNCTION loyalty.delete_tier(p_tier text, p_correlation_id text DEFAULT NULL)
RETURNS loyalty.tier
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, loyalty, pg_temp
AS $$
DECLARE
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
COMMENT ON FUNCTION loyalty.delete_tier(text, text) IS
    'Admin (trusted back ends): remove a tier from the ladder (never the last one); audited. Stored tiers follow with retier_players().';

CREATE FUNCTION loyalty.configure(p_casino_timezone text DEFAULT NULL, p_gaming_day_start time DEFAULT NULL,
    p_max_reward_points bigint DEFAULT NULL, p_rate_limit_count integer DEFAULT NULL,
    p_rate_limit_window interval DEFAULT NULL, p_alert_reward_count integer DEFAULT NULL,
    p_alert_window interval DEFAULT NULL, p_accrual_lock_timeout interval DEFAULT NULL,
    p_partial_stale_after interval DEFAULT NULL, p_approval_overdue_after interval DEFAULT NULL,
    p_alert_ack_overdue_after interval DEFAULT NULL, p_health_sweep_players integer DEFAULT NULL,
    p_notification_claim_timeout interval DEFAULT NULL, p_correlation_id text DEFAULT NULL)
RETURNS loyalty.config
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, loyalty, pg_temp
AS $$
DECLARE
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
               updated_at = now()
        RETURNING * INTO v_after;
    EXCEPTION WHEN check_violation OR invalid_parameter_value THEN
        GET STACKED DIAGNOSTICS v_con = CONSTRAINT_NAME;
        PERFORM loyalty.admin_refused(coalesce(nullif(v_con, ''), 'config_casino_timezone_check'),
                                      'see docs/reference.md for each setting''s range');
    END;
    PERFORM loyalty.admin_audit_write(v_actor, 'configure', 'config', to_jsonb(v_before), to_jsonb(v_after), v_corr);
    RETURN v_after;
END
$$;
COMMENT ON FUNCTION loyalty.configure(text, time, bigint, integer, interval, integer, interval, interval, interval, interval, interval, integer, interval, text) IS
    'Admin (trusted back ends): casino time zone, gaming-day start, limits and thresholds (NULL keeps a value); audited.';

-- Privileges and row-level security of everything above (as sql/security.sql).
REVOKE ALL ON TABLE loyalty.notification, loyalty.health_state, loyalty.admin_audit, loyalty.reward_replay
    FROM PUBLIC;
REVOKE ALL ON FUNCTION loyalty.acknowledge_alert, loyalty.retier_players, loyalty.rebuild_player_balance,
    loyalty.resolve_correlation_id, loyalty.export_ledger, loyalty.manual_reward_frequency,
    loyalty.reward_history, loyalty.staff_activity, loyalty.announce_alert, loyalty.claim_notifications,
    loyalty.mark_notifications_delivered, loyalty.ladder_tier, loyalty.health_check, loyalty.metrics,
    loyalty.admin_audit_write, loyalty.admin_refused, loyalty.upsert_staff, loyalty.deactivate_staff,
    loyalty.upsert_game_settings, loyalty.upsert_tier, loyalty.delete_tier, loyalty.configure
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION loyalty.rebuild_player_balance, loyalty.export_ledger, loyalty.manual_reward_frequency,
    loyalty.health_check, loyalty.retier_players, loyalty.claim_notifications, loyalty.mark_notifications_delivered
    TO service_role;
GRANT EXECUTE ON FUNCTION loyalty.metrics, loyalty.reward_history, loyalty.staff_activity,
    loyalty.acknowledge_alert
    TO authenticated, service_role;
GRANT EXECUTE ON FUNCTION loyalty.upsert_staff, loyalty.deactivate_staff, loyalty.upsert_game_settings,
    loyalty.upsert_tier, loyalty.delete_tier, loyalty.configure
    TO service_role;
ALTER TABLE loyalty.notification    ENABLE ROW LEVEL SECURITY;
ALTER TABLE loyalty.health_state    ENABLE ROW LEVEL SECURITY;
ALTER TABLE loyalty.admin_audit     ENABLE ROW LEVEL SECURITY;
ALTER TABLE loyalty.reward_replay   ENABLE ROW LEVEL SECURITY;
GRANT SELECT ON loyalty.notification TO authenticated, service_role;
CREATE POLICY notification_read ON loyalty.notification FOR SELECT TO authenticated
    USING (kind = 'TIER_CHANGED' AND player_id = (SELECT loyalty.caller_uid())
           OR (SELECT loyalty.caller_has_permission('loyalty:view_all')));
GRANT SELECT ON loyalty.admin_audit, loyalty.reward_replay TO authenticated, service_role;
CREATE POLICY admin_audit_read ON loyalty.admin_audit FOR SELECT TO authenticated
    USING ((SELECT loyalty.caller_has_permission('loyalty:view_all')));
CREATE POLICY reward_replay_read ON loyalty.reward_replay FOR SELECT TO authenticated
    USING ((SELECT loyalty.caller_has_permission('loyalty:view_all')));
CREATE POLICY notification_service ON loyalty.notification FOR SELECT TO service_role USING (true);
CREATE POLICY admin_audit_service ON loyalty.admin_audit FOR SELECT TO service_role USING (true);
CREATE POLICY reward_replay_service ON loyalty.reward_replay FOR SELECT TO service_role USING (true);

-- Throughput (docs/reference.md §3): close a whole table in one call.
CREATE FUNCTION loyalty.complete_rating_slips(
	"p_slip_ids" uuid[],
	"p_correlation_id" TEXT DEFAULT NULL,
	"p_atomic" bool DEFAULT false
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
AS 'MODULE_PATHNAME', 'complete_rating_slips_wrapper';
REVOKE ALL ON FUNCTION loyalty.complete_rating_slips FROM PUBLIC;
GRANT EXECUTE ON FUNCTION loyalty.complete_rating_slips TO authenticated, service_role;
ALTER FUNCTION loyalty.complete_rating_slips SET plan_cache_mode = force_generic_plan;

-- Every index earns its write cost (BENCHMARKS.md): the ledger's slip index
-- skips the NULLs of manual rewards.
DROP INDEX loyalty.loyalty_ledger_slip_idx;
CREATE INDEX loyalty_ledger_slip_idx ON loyalty.loyalty_ledger (rating_slip_id) WHERE rating_slip_id IS NOT NULL;

-- Transaction kinds have one source (src/kinds.rs): the ledger's kind
-- domains (below) call it instead of listing the kinds.
CREATE FUNCTION loyalty.is_ledger_kind(
	"p_kind" TEXT
) RETURNS bool
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'is_ledger_kind_wrapper';
CREATE FUNCTION loyalty.is_ledger_event(
	"p_event" TEXT
) RETURNS bool
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'is_ledger_event_wrapper';
REVOKE ALL ON FUNCTION loyalty.is_ledger_kind, loyalty.is_ledger_event FROM PUBLIC;

-- Single-column rules become domains (sql/schema.sql): PostgreSQL parses and
-- plans a table's CHECKs again on every INSERT and UPDATE statement, a
-- domain's once per backend. Each domain is created without its CHECK and
-- the columns change type first, which rewrites no table; adding the CHECK
-- to the domain afterwards only scans the rows it covers.
CREATE DOMAIN loyalty.finite_timestamptz AS timestamptz;
COMMENT ON DOMAIN loyalty.finite_timestamptz IS 'A timestamp that is not infinity or -infinity (every timestamp column of the extension).';
CREATE DOMAIN loyalty.nonnegative_bigint AS bigint;
COMMENT ON DOMAIN loyalty.nonnegative_bigint IS 'A balance, a total or a count: never below 0.';
CREATE DOMAIN loyalty.chain_position AS bigint;
COMMENT ON DOMAIN loyalty.chain_position IS 'A ledger entry''s position in its player''s hash chain: 1, 2, 3, ...';
CREATE DOMAIN loyalty.idempotency_key AS text;
COMMENT ON DOMAIN loyalty.idempotency_key IS 'A ledger entry''s idempotency key: 1 to 200 characters.';
CREATE DOMAIN loyalty.ledger_kind AS text;
COMMENT ON DOMAIN loyalty.ledger_kind IS 'A ledger transaction_type (src/kinds.rs).';
CREATE DOMAIN loyalty.ledger_event AS text;
COMMENT ON DOMAIN loyalty.ledger_event IS 'A ledger event_type (src/kinds.rs).';
CREATE DOMAIN loyalty.slip_status AS text;
COMMENT ON DOMAIN loyalty.slip_status IS 'A rating slip''s status: OPEN or CLOSED.';
CREATE DOMAIN loyalty.approval_status AS text;
COMMENT ON DOMAIN loyalty.approval_status IS 'A held slip''s approval state: HELD, APPROVED or REJECTED.';
CREATE DOMAIN loyalty.slip_duration AS integer;
COMMENT ON DOMAIN loyalty.slip_duration IS 'A closed slip''s whole seconds of play: 0 to 86400.';
CREATE DOMAIN loyalty.average_bet AS numeric;
COMMENT ON DOMAIN loyalty.average_bet IS 'An average bet: above 0 (the game''s range is checked by the functions).';
CREATE DOMAIN loyalty.tier_progress AS smallint;
COMMENT ON DOMAIN loyalty.tier_progress IS 'Percent of the way to the next tier: 0 to 100.';

ALTER TABLE loyalty.config DROP CONSTRAINT config_times_finite_check,
    ALTER COLUMN updated_at TYPE loyalty.finite_timestamptz;
ALTER TABLE loyalty.tier DROP CONSTRAINT tier_times_finite_check,
    ALTER COLUMN updated_at TYPE loyalty.finite_timestamptz;
ALTER TABLE loyalty.game_settings DROP CONSTRAINT game_settings_times_finite_check,
    ALTER COLUMN updated_at TYPE loyalty.finite_timestamptz;
ALTER TABLE loyalty.staff DROP CONSTRAINT staff_times_finite_check,
    ALTER COLUMN created_at TYPE loyalty.finite_timestamptz,
    ALTER COLUMN updated_at TYPE loyalty.finite_timestamptz;
ALTER TABLE loyalty.rating_slip
    DROP CONSTRAINT rating_slip_times_finite_check,
    DROP CONSTRAINT rating_slip_average_bet_check,
    DROP CONSTRAINT rating_slip_status_check,
    DROP CONSTRAINT rating_slip_duration_seconds_check,
    DROP CONSTRAINT rating_slip_approval_status_check,
    ALTER COLUMN average_bet TYPE loyalty.average_bet,
    ALTER COLUMN start_time TYPE loyalty.finite_timestamptz,
    ALTER COLUMN end_time TYPE loyalty.finite_timestamptz,
    ALTER COLUMN status TYPE loyalty.slip_status,
    ALTER COLUMN duration_seconds TYPE loyalty.slip_duration,
    ALTER COLUMN created_at TYPE loyalty.finite_timestamptz,
    ALTER COLUMN updated_at TYPE loyalty.finite_timestamptz,
    ALTER COLUMN approval_status TYPE loyalty.approval_status,
    ALTER COLUMN decided_at TYPE loyalty.finite_timestamptz;
ALTER TABLE loyalty.player_loyalty
    DROP CONSTRAINT player_loyalty_times_finite_check,
    DROP CONSTRAINT player_loyalty_current_balance_check,
    DROP CONSTRAINT player_loyalty_lifetime_points_check,
    DROP CONSTRAINT player_loyalty_tier_progress_check,
    DROP CONSTRAINT player_loyalty_chain_seq_check,
    ALTER COLUMN current_balance TYPE loyalty.nonnegative_bigint,
    ALTER COLUMN lifetime_points TYPE loyalty.nonnegative_bigint,
    ALTER COLUMN tier_progress TYPE loyalty.tier_progress,
    ALTER COLUMN created_at TYPE loyalty.finite_timestamptz,
    ALTER COLUMN updated_at TYPE loyalty.finite_timestamptz,
    ALTER COLUMN chain_seq TYPE loyalty.nonnegative_bigint;
ALTER TABLE loyalty.loyalty_ledger
    DROP CONSTRAINT loyalty_ledger_times_finite_check,
    DROP CONSTRAINT loyalty_ledger_idempotency_key_check,
    DROP CONSTRAINT loyalty_ledger_transaction_type_check,
    DROP CONSTRAINT loyalty_ledger_event_type_check,
    DROP CONSTRAINT loyalty_ledger_balance_before_check,
    DROP CONSTRAINT loyalty_ledger_balance_after_check,
    DROP CONSTRAINT loyalty_ledger_seq_check,
    ALTER COLUMN idempotency_key TYPE loyalty.idempotency_key,
    ALTER COLUMN transaction_type TYPE loyalty.ledger_kind,
    ALTER COLUMN event_type TYPE loyalty.ledger_event,
    ALTER COLUMN balance_before TYPE loyalty.nonnegative_bigint,
    ALTER COLUMN balance_after TYPE loyalty.nonnegative_bigint,
    ALTER COLUMN created_at TYPE loyalty.finite_timestamptz,
    ALTER COLUMN seq TYPE loyalty.chain_position;
ALTER TABLE loyalty.pending_accrual DROP CONSTRAINT pending_accrual_times_finite_check,
    ALTER COLUMN failed_at TYPE loyalty.finite_timestamptz,
    ALTER COLUMN resolved_at TYPE loyalty.finite_timestamptz;
ALTER TABLE loyalty.alert DROP CONSTRAINT alert_times_finite_check,
    ALTER COLUMN created_at TYPE loyalty.finite_timestamptz,
    ALTER COLUMN acknowledged_at TYPE loyalty.finite_timestamptz,
    ALTER COLUMN resolved_at TYPE loyalty.finite_timestamptz;
ALTER TABLE loyalty.reward_window
    DROP CONSTRAINT reward_window_rate_since_check,
    DROP CONSTRAINT reward_window_rate_count_check,
    DROP CONSTRAINT reward_window_alert_since_check,
    DROP CONSTRAINT reward_window_alert_count_check,
    ALTER COLUMN rate_since TYPE loyalty.finite_timestamptz,
    ALTER COLUMN rate_count TYPE loyalty.nonnegative_bigint,
    ALTER COLUMN alert_since TYPE loyalty.finite_timestamptz,
    ALTER COLUMN alert_count TYPE loyalty.nonnegative_bigint;
ALTER TABLE loyalty.notification DROP CONSTRAINT notification_times_finite_check,
    ALTER COLUMN created_at TYPE loyalty.finite_timestamptz,
    ALTER COLUMN claimed_at TYPE loyalty.finite_timestamptz,
    ALTER COLUMN delivered_at TYPE loyalty.finite_timestamptz;
ALTER TABLE loyalty.health_state DROP CONSTRAINT health_state_times_finite_check,
    ALTER COLUMN last_run_at TYPE loyalty.finite_timestamptz;
ALTER TABLE loyalty.admin_audit DROP CONSTRAINT admin_audit_times_finite_check,
    ALTER COLUMN at TYPE loyalty.finite_timestamptz;
ALTER TABLE loyalty.reward_replay DROP CONSTRAINT reward_replay_times_finite_check,
    ALTER COLUMN at TYPE loyalty.finite_timestamptz;
ALTER TABLE loyalty.seed_removed DROP CONSTRAINT seed_removed_times_finite_check,
    ALTER COLUMN removed_at TYPE loyalty.finite_timestamptz;

ALTER DOMAIN loyalty.finite_timestamptz ADD CONSTRAINT finite_timestamptz_check CHECK (isfinite(VALUE));
ALTER DOMAIN loyalty.nonnegative_bigint ADD CONSTRAINT nonnegative_bigint_check CHECK (VALUE >= 0);
ALTER DOMAIN loyalty.chain_position ADD CONSTRAINT chain_position_check CHECK (VALUE >= 1);
ALTER DOMAIN loyalty.idempotency_key ADD CONSTRAINT idempotency_key_check CHECK (length(VALUE) BETWEEN 1 AND 200);
ALTER DOMAIN loyalty.ledger_kind ADD CONSTRAINT ledger_kind_check CHECK (loyalty.is_ledger_kind(VALUE));
ALTER DOMAIN loyalty.ledger_event ADD CONSTRAINT ledger_event_check CHECK (loyalty.is_ledger_event(VALUE));
ALTER DOMAIN loyalty.slip_status ADD CONSTRAINT slip_status_check CHECK (VALUE IN ('OPEN', 'CLOSED'));
ALTER DOMAIN loyalty.approval_status ADD CONSTRAINT approval_status_check CHECK (VALUE IN ('HELD', 'APPROVED', 'REJECTED'));
ALTER DOMAIN loyalty.slip_duration ADD CONSTRAINT slip_duration_check CHECK (VALUE BETWEEN 0 AND 86400);
ALTER DOMAIN loyalty.average_bet ADD CONSTRAINT average_bet_check CHECK (VALUE > 0);
ALTER DOMAIN loyalty.tier_progress ADD CONSTRAINT tier_progress_check CHECK (VALUE BETWEEN 0 AND 100);
