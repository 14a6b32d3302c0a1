-- Partial completions: CLOSED slips still owed their points. The one home of
-- the rule: bulk recovery and its listing (src/ops/runbook.rs), the health
-- check's PARTIAL_COMPLETION_STALE finding and metrics() all read this view.
--
-- The ledger, not a flag, is the judge: a slip is owed only while no
-- gameplay entry carries its key. Slips held for or refused approval are
-- not owed (approval pays them, or nothing does). The slip conditions match
-- rating_slip_unaccrued_idx, so reading the view stays an index scan however
-- many slips are closed; a locking read (FOR UPDATE OF the view) locks the
-- slips. security_invoker: whoever reads it needs the privileges and passes
-- the row-level security of rating_slip themselves.
CREATE VIEW loyalty.partial_completion WITH (security_invoker = true) AS
SELECT s.id AS rating_slip_id, s.player_id, s.end_time
  FROM loyalty.rating_slip s
 WHERE s.status = 'CLOSED' AND s.accrued_ledger_id IS NULL AND s.approval_status IS NULL
   AND NOT EXISTS (SELECT 1 FROM loyalty.loyalty_ledger l
                    WHERE l.player_id = s.player_id AND l.idempotency_key = 'gameplay:' || s.id::text);
COMMENT ON VIEW loyalty.partial_completion IS
    'Closed slips still owed their points (no gameplay entry), except slips held for or refused approval.';
