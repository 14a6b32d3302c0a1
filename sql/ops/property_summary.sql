-- What each property of the enterprise did with points over a range of its
-- gaming days (SPEC §22), for the group's settlement between properties.
-- One row per property with activity, and one with no property for the
-- entries that name none (the enterprise's own events: expiry, direct
-- increments, reconciliations; and entries from before properties existed):
--   points_earned    what earning entries there added (lifetime credit),
--   points_redeemed  redemptions there, less the reversals of redemptions,
--   redeemed_from    where the redeemed points were earned: each
--                    redemption is split over the properties its player
--                    had earned at before it, in proportion to what they
--                    earned at each (whole points; the remainder to the
--                    largest share), "" for points earned at no property
--                    (a direct increment, an entry from before
--                    properties); a reversal takes back its redemption's
--                    split,
--   points_expired   expiry (an enterprise event: the row with no property),
--   comp_value_cents what the comps captured there were worth.
-- loyalty:audit staff of every property and trusted back ends.
CREATE FUNCTION loyalty.property_summary(p_from_gaming_day date, p_to_gaming_day date)
RETURNS TABLE (property_id text, points_earned bigint, points_redeemed bigint, redeemed_from jsonb,
               points_expired bigint, comp_value_cents bigint)
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
    WITH day AS (
        -- the range's entries: a gaming day lies within three days of its
        -- rows' UTC dates, so the created_at index narrows the scan
        SELECT l.*, l.property_id AS place
          FROM loyalty.loyalty_ledger l
         WHERE l.gaming_day BETWEEN p_from_gaming_day AND p_to_gaming_day
           AND l.created_at >= (p_from_gaming_day - 3)::timestamp AT TIME ZONE 'UTC'
           AND l.created_at < (p_to_gaming_day + 4)::timestamp AT TIME ZONE 'UTC'
    ),
    spent AS (
        -- each redemption (+) and reversal (-) in the range, with the
        -- redemption whose earnings split it
        SELECT d.place, d.player_id, coalesce(d.reverses_entry_id, d.id) AS redemption,
               -d.points_change AS points
          FROM day d WHERE d.transaction_type IN ('REDEMPTION', 'REDEMPTION_REVERSAL')
    ),
    earned_before AS (
        -- what each such redemption's player had earned at each property
        -- before it
        SELECT s.redemption, coalesce(e.property_id, '') AS earned_at,
               sum(loyalty.lifetime_credit(e.transaction_type, e.points_change)) AS earned
          FROM (SELECT DISTINCT x.player_id, x.redemption FROM spent x) s
          JOIN loyalty.loyalty_ledger r ON r.player_id = s.player_id AND r.id = s.redemption
          JOIN loyalty.loyalty_ledger e ON e.player_id = s.player_id AND e.seq < r.seq
         WHERE loyalty.lifetime_credit(e.transaction_type, e.points_change) > 0
         GROUP BY 1, 2
    ),
    split AS (
        SELECT s.place, b.earned_at, s.points,
               (s.points * b.earned) / sum(b.earned) OVER w AS share,
               row_number() OVER (PARTITION BY s.place, s.redemption, s.points ORDER BY b.earned DESC, b.earned_at) AS rank,
               s.redemption
          FROM spent s JOIN earned_before b ON b.redemption = s.redemption
        WINDOW w AS (PARTITION BY s.place, s.redemption, s.points)
    ),
    settled AS (
        -- whole points; what the truncation left goes to the largest share
        SELECT x.place, x.earned_at,
               sum(trunc(x.share) + CASE WHEN x.rank = 1 THEN x.points - r.whole ELSE 0 END)::bigint AS points
          FROM split x
          JOIN (SELECT y.place, y.redemption, y.points, sum(trunc(y.share)) AS whole
                  FROM split y GROUP BY 1, 2, 3) r
            ON r.place IS NOT DISTINCT FROM x.place AND r.redemption = x.redemption AND r.points = x.points
         GROUP BY 1, 2
        UNION ALL
        -- a redemption whose player had earned nothing before it
        SELECT s.place, '', sum(s.points)::bigint
          FROM spent s WHERE NOT EXISTS (SELECT FROM earned_before b WHERE b.redemption = s.redemption)
         GROUP BY 1
    ),
    places AS (
        SELECT d.place FROM day d
        UNION
        SELECT h.property_id::text FROM loyalty.hold h
         WHERE h.status = 'CAPTURED'
           AND loyalty.property_gaming_day(h.property_id, h.decided_at) BETWEEN p_from_gaming_day AND p_to_gaming_day
    )
    SELECT pl.place,
           (SELECT coalesce(sum(loyalty.lifetime_credit(d.transaction_type, d.points_change)), 0)::bigint
              FROM day d WHERE d.place IS NOT DISTINCT FROM pl.place),
           (SELECT coalesce(sum(s.points), 0)::bigint FROM spent s WHERE s.place IS NOT DISTINCT FROM pl.place),
           (SELECT coalesce(jsonb_object_agg(t.earned_at, t.points), '{}'::jsonb)
              FROM (SELECT x.earned_at, sum(x.points) AS points FROM settled x
                     WHERE x.place IS NOT DISTINCT FROM pl.place GROUP BY 1 HAVING sum(x.points) <> 0) t),
           (SELECT coalesce(-sum(d.points_change), 0)::bigint
              FROM day d WHERE d.place IS NOT DISTINCT FROM pl.place AND d.transaction_type = 'EXPIRY'),
           (SELECT coalesce(sum(h.comp_value_cents), 0)::bigint FROM loyalty.hold h
             WHERE h.status = 'CAPTURED' AND h.property_id = pl.place
               AND loyalty.property_gaming_day(h.property_id, h.decided_at) BETWEEN p_from_gaming_day AND p_to_gaming_day)
      FROM places pl
     ORDER BY 1 NULLS LAST;
END
$$;
COMMENT ON FUNCTION loyalty.property_summary(date, date) IS
    'Per property, over its gaming days [p_from_gaming_day, p_to_gaming_day]: points earned, redeemed (net of reversals) and where the redeemed points were earned (redeemed_from: points per earning property, split in proportion to what the player had earned at each before the redemption), expired (the row with no property: an enterprise event), and the value of the comps captured. loyalty:audit staff of every property and trusted back ends.';
