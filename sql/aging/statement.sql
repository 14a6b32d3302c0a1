-- What a player had, and what moved it (SPEC §16): every ledger row already
-- carries the balance and tier after it, so a balance as of any instant is
-- the last row at or before it, and a statement is the rows of a half-open
-- range [p_from, p_to) between two such balances: one statement's closing
-- balance is the next one's opening balance. A player reads their own;
-- staff with loyalty:view_all and trusted back ends anyone's. Each reads
-- the player's rows through the (player_id, seq) key only: the write path
-- keeps a chain's times in order (a row is never dated before the one it
-- follows: src/ledger/balance.rs), so the entry of an instant is found by
-- halving the chain, and a statement costs its own entries, whatever the
-- player's history or the ledger's size.

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
