-- What a player had, and what moved it (SPEC §16): every ledger row already
-- carries the balance and tier after it, so a balance as of any instant is
-- the last row at or before it, and a statement is the rows of a half-open
-- range [p_from, p_to) between two such balances: one statement's closing
-- balance is the next one's opening balance. A player reads their own;
-- staff with loyalty:view_all and trusted back ends anyone's. Each reads
-- the player's rows through the (player_id, seq) key only, so its cost is
-- that player's entries, whatever the ledger's size.

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
BEGIN
    PERFORM loyalty.statement_reader(p_player_id);
    IF p_at IS NULL OR NOT isfinite(p_at) THEN
        RAISE EXCEPTION USING MESSAGE = 'VALIDATION_ERROR', DETAIL = 'p_at must be a finite time', ERRCODE = 'PT422';
    END IF;
    -- the last entry at or before p_at, in the player's chain order
    SELECT l.id, l.seq, l.created_at, l.balance_after, l.tier_after INTO e
      FROM loyalty.loyalty_ledger l
     WHERE l.player_id = p_player_id AND l.created_at <= p_at
     ORDER BY l.seq DESC LIMIT 1;
    player_id := p_player_id; at := p_at;
    IF e.id IS NULL THEN
        balance := 0; lifetime_points := 0; tier := loyalty.player_tier(0);
    ELSE
        balance := e.balance_after; tier := e.tier_after;
        ledger_entry_id := e.id; seq := e.seq; entry_at := e.created_at;
        SELECT coalesce(sum(l.points_change) FILTER (WHERE loyalty.kind_earns(l.transaction_type)), 0)::bigint
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
BEGIN
    PERFORM loyalty.statement_reader(p_player_id);
    IF p_from IS NULL OR p_to IS NULL OR NOT isfinite(p_from) OR NOT isfinite(p_to) OR p_from > p_to THEN
        RAISE EXCEPTION USING MESSAGE = 'VALIDATION_ERROR',
            DETAIL = 'give finite p_from <= p_to (the statement covers [p_from, p_to))', ERRCODE = 'PT422';
    END IF;
    SELECT coalesce((SELECT l.balance_after FROM loyalty.loyalty_ledger l
                      WHERE l.player_id = p_player_id AND l.created_at < p_from
                      ORDER BY l.seq DESC LIMIT 1), 0)
      INTO v_opening;
    line := 'OPENING'; created_at := p_from; balance_after := v_opening;
    RETURN NEXT;
    RETURN QUERY
    SELECT 'ENTRY', l.seq::bigint, l.id, l.created_at::timestamptz, l.gaming_day, l.transaction_type::text, l.points_change,
           l.balance_after::bigint, NULL::bigint, l.reason, l.correlation_id
      FROM loyalty.loyalty_ledger l
     WHERE l.player_id = p_player_id AND l.created_at >= p_from AND l.created_at < p_to
     ORDER BY l.seq;
    RETURN QUERY
    SELECT 'TOTAL', NULL::bigint, NULL::bigint, NULL::timestamptz, NULL::date, l.transaction_type::text,
           sum(l.points_change)::bigint, NULL::bigint, count(*), NULL::text, NULL::text
      FROM loyalty.loyalty_ledger l
     WHERE l.player_id = p_player_id AND l.created_at >= p_from AND l.created_at < p_to
     GROUP BY l.transaction_type ORDER BY l.transaction_type;
    SELECT coalesce((SELECT l.balance_after FROM loyalty.loyalty_ledger l
                      WHERE l.player_id = p_player_id AND l.created_at < p_to
                      ORDER BY l.seq DESC LIMIT 1), 0)
      INTO v_closing;
    line := 'CLOSING'; seq := NULL; ledger_entry_id := NULL; created_at := p_to; gaming_day := NULL;
    transaction_type := NULL; points_change := v_closing - v_opening; balance_after := v_closing;
    entries := NULL; reason := NULL; correlation_id := NULL;
    RETURN NEXT;
END
$$;
COMMENT ON FUNCTION loyalty.player_statement(uuid, timestamptz, timestamptz) IS
    'A player''s statement of [p_from, p_to): the OPENING balance, every ENTRY in chain order, a TOTAL per kind, and the CLOSING balance (the next statement''s opening); CLOSING.points_change is the net movement.';
