-- The durable outbox (docs/reference.md §10). Tier changes write their row
-- in the write path (src/ledger/post.rs), alerts through announce_alert below,
-- each in the event's own transaction. pg_notify stays as a wake-up
-- carrying ids only.

-- Every alert, whoever raises it (src/alert/mod.rs, health_check), is announced
-- here in its own transaction: an outbox row, and a wake-up at commit. (Not
-- a trigger: a restore re-inserts old alerts and must not announce them again.)
CREATE FUNCTION loyalty.announce_alert(p_alert_id bigint) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    INSERT INTO loyalty.notification (kind, player_id, alert_id, payload, property_id)
    SELECT 'ALERT', a.player_id, a.id, jsonb_build_object('alert_kind', a.kind, 'severity', a.severity),
           a.property_id
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
COMMENT ON FUNCTION loyalty.claim_notifications(integer) IS
    'Outbox: claim up to p_limit undelivered notifications (FOR UPDATE SKIP LOCKED); mark them delivered when sent.';

CREATE FUNCTION loyalty.mark_notifications_delivered(p_ids bigint[])
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
COMMENT ON FUNCTION loyalty.mark_notifications_delivered(bigint[]) IS
    'Outbox: mark notifications delivered (already delivered ids are left alone); returns how many were marked.';
