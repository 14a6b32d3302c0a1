-- Operations' tables (src/ops/, sql/ops/): what the health check
-- remembers between runs, and the admin API's append-only audit.

-- What health_check remembers between runs (one row).
CREATE TABLE loyalty.health_state (
    singleton      boolean     NOT NULL DEFAULT true CONSTRAINT health_state_singleton_check CHECK (singleton),
    last_run_at    loyalty.finite_timestamptz,
    sweep_after    uuid,
    ladder_digest  text,
    last_findings  integer,
    changed_since_xid bigint,
    CONSTRAINT health_state_pkey PRIMARY KEY (singleton)
);
COMMENT ON TABLE loyalty.health_state IS 'health_check''s memory: when it last ran, where its rolling sweep over players stands, which ladder it last checked.';
COMMENT ON COLUMN loyalty.health_state.singleton IS 'Always true: the table holds exactly one row.';
COMMENT ON COLUMN loyalty.health_state.last_run_at IS 'When the last health_check run started: players with ledger entries written since then (less a margin) are re-verified next.';
COMMENT ON COLUMN loyalty.health_state.sweep_after IS 'The rolling sweep re-verifies players after this id next (NULL: from the start).';
COMMENT ON COLUMN loyalty.health_state.ladder_digest IS 'The tier ladder the last full tier check saw; a different ladder triggers a full check.';
COMMENT ON COLUMN loyalty.health_state.last_findings IS 'How many findings the last run returned.';
COMMENT ON COLUMN loyalty.health_state.changed_since_xid IS 'The oldest transaction still running when the last run started: a balance row written by it or any later one is re-verified next, ledger entry or not.';

-- Every change made through the admin API: who, when, what before and after.
CREATE TABLE loyalty.admin_audit (
    id             bigserial   NOT NULL,
    at             loyalty.finite_timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor          text        NOT NULL,
    action         text        NOT NULL,
    target         text        NOT NULL,
    before         jsonb,
    after          jsonb,
    correlation_id text        NOT NULL,
    CONSTRAINT admin_audit_pkey PRIMARY KEY (id)
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
-- Append-only like the ledger (loyalty.ledger_append_only, sql/ledger/tables.sql).
CREATE TRIGGER admin_audit_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON loyalty.admin_audit
    FOR EACH STATEMENT EXECUTE FUNCTION loyalty.ledger_append_only();
