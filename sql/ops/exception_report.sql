-- The regulator's exception report (SPEC §16; Nevada MICS, 25 CFR 542.17
-- and 543.12/13): every change to points that a person made by hand or
-- decided, and every parameter change, over a range of gaming days, each
-- with who initiated it and who approved it. Read by staff holding
-- loyalty:audit, who may hold no permission that grants or receives points
-- (staff_audit_separation_check), and by trusted back ends. What is not an
-- exception (gameplay paid without a hold, a comp within the approval
-- threshold) is not listed. With p_property_id, what happened at that
-- property and the admin changes to it (SPEC §22), for an auditor of that
-- property; without, everything, for an auditor of every property. Each
-- row's gaming day is its property's (the enterprise's for enterprise
-- events and admin changes).
CREATE FUNCTION loyalty.exception_report(p_from_gaming_day date, p_to_gaming_day date,
                                         p_property_id text DEFAULT NULL)
RETURNS TABLE (event text, gaming_day date, at timestamptz, player_id uuid, initiator text, approver text,
               amount bigint, reason text, correlation_id text, reference text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, loyalty, pg_temp
AS $$
BEGIN
    PERFORM loyalty.require_caller_at(ARRAY['loyalty:audit'], p_property_id);
    IF p_property_id IS NOT NULL AND NOT EXISTS (SELECT FROM loyalty.property p WHERE p.property_id = p_property_id) THEN
        RAISE EXCEPTION USING MESSAGE = 'VALIDATION_ERROR', DETAIL = 'no such property', ERRCODE = 'PT422';
    END IF;
    IF p_from_gaming_day IS NULL OR p_to_gaming_day IS NULL OR p_from_gaming_day > p_to_gaming_day
       OR NOT isfinite(p_from_gaming_day) OR NOT isfinite(p_to_gaming_day) THEN
        RAISE EXCEPTION USING MESSAGE = 'VALIDATION_ERROR',
            DETAIL = 'give finite gaming days p_from_gaming_day <= p_to_gaming_day (both included)', ERRCODE = 'PT422';
    END IF;
    RETURN QUERY
    -- manual adds and adjustments, reconciliations, reversals, expiries,
    -- direct increments: the ledger's own rows of every kind the registry
    -- calls an exception (src/domain/kinds.rs; a gaming day lies within
    -- three days of its rows' UTC dates, so the created_at index narrows
    -- the scan)
    SELECT l.transaction_type::text, l.gaming_day, l.created_at::timestamptz, l.player_id,
           coalesce(l.staff_id::text, l.source), NULL::text, l.points_change, l.reason, l.correlation_id,
           'ledger:' || l.id || coalesce(' reverses ledger:' || l.reverses_entry_id, '')
      FROM loyalty.loyalty_ledger l
     WHERE l.transaction_type IN (SELECT k.kind FROM loyalty.ledger_kinds() k WHERE k.exception)
       AND l.gaming_day BETWEEN p_from_gaming_day AND p_to_gaming_day
       AND l.created_at >= (p_from_gaming_day - 3)::timestamp AT TIME ZONE 'UTC'
       AND l.created_at < (p_to_gaming_day + 4)::timestamp AT TIME ZONE 'UTC'
       AND (p_property_id IS NULL OR l.property_id = p_property_id)
    UNION ALL
    -- held slips decided by a second person
    SELECT 'SLIP_' || s.approval_status::text, loyalty.property_gaming_day(s.property_id, s.decided_at),
           s.decided_at::timestamptz,
           s.player_id, s.closed_by::text, s.decided_by::text, l.points_change, s.decision_reason,
           s.correlation_id, 'slip:' || s.id
      FROM loyalty.rating_slip s
      LEFT JOIN loyalty.loyalty_ledger l ON l.player_id = s.player_id AND l.id = s.accrued_ledger_id
     WHERE s.approval_status IN ('APPROVED', 'REJECTED')
       AND loyalty.property_gaming_day(s.property_id, s.decided_at) BETWEEN p_from_gaming_day AND p_to_gaming_day
       AND (p_property_id IS NULL OR s.property_id = p_property_id)
    UNION ALL
    -- comps above the approval threshold, approved by a second person,
    -- with what moved: the points captured (0 while none were, and for a
    -- hold voided or expired), the hold's state in the reference
    SELECT 'HOLD_APPROVED', loyalty.property_gaming_day(h.property_id, h.approved_at), h.approved_at::timestamptz,
           h.player_id,
           h.staff_id::text, h.approved_by::text, -coalesce(h.captured_points, 0), h.reason, h.correlation_id,
           'hold:' || h.hold_id || ' ' || h.status::text
      FROM loyalty.hold h
     WHERE h.approved_by IS NOT NULL
       AND loyalty.property_gaming_day(h.property_id, h.approved_at) BETWEEN p_from_gaming_day AND p_to_gaming_day
       AND (p_property_id IS NULL OR h.property_id = p_property_id)
    UNION ALL
    -- and the REDEMPTION entries that captured those comps
    SELECT l.transaction_type::text, l.gaming_day, l.created_at::timestamptz, l.player_id,
           coalesce(l.staff_id::text, l.source), h.approved_by::text, l.points_change, l.reason, l.correlation_id,
           'ledger:' || l.id || ' hold:' || h.hold_id
      FROM loyalty.hold h
      JOIN loyalty.loyalty_ledger l ON l.player_id = h.player_id AND l.id = h.ledger_entry_id
     WHERE h.approved_by IS NOT NULL
       AND l.gaming_day BETWEEN p_from_gaming_day AND p_to_gaming_day
       AND (p_property_id IS NULL OR h.property_id = p_property_id)
    UNION ALL
    -- every change made through the admin API
    SELECT 'ADMIN_' || upper(a.action), loyalty.gaming_day(a.at), a.at::timestamptz, NULL::uuid, a.actor,
           NULL::text, NULL::bigint, NULL::text, a.correlation_id, a.target
      FROM loyalty.admin_audit a
     WHERE loyalty.gaming_day(a.at) BETWEEN p_from_gaming_day AND p_to_gaming_day
       AND (p_property_id IS NULL OR a.target = 'property:' || p_property_id
            OR starts_with(a.target, 'property:' || p_property_id || ' game:')
            OR (starts_with(a.target, 'staff:') AND split_part(a.target, '@', 2) = p_property_id))
     ORDER BY 3, 1, 10;
END
$$;
COMMENT ON FUNCTION loyalty.exception_report(date, date, text) IS
    'Exception report for the gaming days [p_from_gaming_day, p_to_gaming_day] (at p_property_id, or everywhere): manual adds and adjustments, direct increments, reconciliations, redemption reversals, expiries, slip approvals and rejections, approved comps above the threshold with the points they captured and their REDEMPTION entries, admin API changes; each with initiator and approver. loyalty:audit staff (of that property, or of every property) and trusted back ends.';
