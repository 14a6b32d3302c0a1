-- Alerts and the durable outbox (src/alert/, sql/alert/outbox.sql).

CREATE TABLE loyalty.alert (
    id         bigserial NOT NULL,
    kind       text  NOT NULL,
    staff_id   uuid,
    player_id  uuid,
    details    jsonb NOT NULL DEFAULT '{}',
    created_at loyalty.finite_timestamptz NOT NULL DEFAULT now(),
    severity   text  NOT NULL DEFAULT 'WARNING'
               CONSTRAINT alert_severity_check CHECK (severity IN ('INFO', 'WARNING', 'CRITICAL')),
    fingerprint text,
    acknowledged_at loyalty.finite_timestamptz,
    acknowledged_by text,
    note       text,
    resolved_at loyalty.finite_timestamptz,
    property_id text,
    CONSTRAINT alert_pkey PRIMARY KEY (id),
    CONSTRAINT alert_acknowledged_check CHECK ((acknowledged_at IS NULL) = (acknowledged_by IS NULL))
);
COMMENT ON TABLE loyalty.alert IS 'Raised alerts (e.g. a staff member issuing more manual rewards than the alert threshold in an hour).';
COMMENT ON COLUMN loyalty.alert.id IS 'Alert id.';
COMMENT ON COLUMN loyalty.alert.kind IS 'What kind of alert (MANUAL_REWARD_FREQUENCY, ...).';
COMMENT ON COLUMN loyalty.alert.staff_id IS 'Staff member the alert is about, if any.';
COMMENT ON COLUMN loyalty.alert.player_id IS 'Player the alert is about, if any.';
COMMENT ON COLUMN loyalty.alert.details IS 'Alert specifics as JSON.';
COMMENT ON COLUMN loyalty.alert.created_at IS 'Audit: when the alert was raised.';
COMMENT ON COLUMN loyalty.alert.severity IS 'INFO, WARNING or CRITICAL.';
COMMENT ON COLUMN loyalty.alert.fingerprint IS 'What the alert is about, for health_check findings (kind and subject): one unresolved alert per fingerprint.';
COMMENT ON COLUMN loyalty.alert.acknowledged_at IS 'Audit: when someone took the alert on (acknowledge_alert).';
COMMENT ON COLUMN loyalty.alert.acknowledged_by IS 'Audit: who acknowledged it: a staff id, or the role of a trusted back end.';
COMMENT ON COLUMN loyalty.alert.note IS 'Audit: the acknowledger''s note.';
COMMENT ON COLUMN loyalty.alert.property_id IS 'Where it happened (a held slip''s, a comp''s, a reward''s property); NULL for a finding of the whole enterprise (health_check).';
COMMENT ON COLUMN loyalty.alert.resolved_at IS 'When health_check last found the condition gone; a recurrence raises a new alert.';
CREATE INDEX alert_staff_idx ON loyalty.alert (staff_id, created_at);
-- One unresolved alert per finding (health_check inserts ON CONFLICT DO NOTHING).
CREATE UNIQUE INDEX alert_open_fingerprint_key ON loyalty.alert (fingerprint)
    WHERE resolved_at IS NULL AND fingerprint IS NOT NULL;
-- Open alerts (metrics, the unacknowledged-alert finding).
CREATE INDEX alert_open_idx ON loyalty.alert (created_at) WHERE acknowledged_at IS NULL AND resolved_at IS NULL;

-- The durable outbox: one row per event a consumer must not miss, written
-- in the event's own transaction (so a rolled-back event leaves none), read
-- through RLS (a player their own tier changes; loyalty:view_all staff the
-- alerts) or claimed by trusted workers (claim_notifications).
CREATE TABLE loyalty.notification (
    id              bigserial   NOT NULL,
    kind            loyalty.notification_kind NOT NULL,
    player_id       uuid,
    alert_id        bigint,
    ledger_entry_id bigint,
    payload         jsonb       NOT NULL DEFAULT '{}',
    created_at      loyalty.finite_timestamptz NOT NULL DEFAULT clock_timestamp(),
    claimed_at      loyalty.finite_timestamptz,
    claims          loyalty.claim_count NOT NULL DEFAULT 0,
    delivered_at    loyalty.finite_timestamptz,
    property_id     text,
    CONSTRAINT notification_pkey PRIMARY KEY (id)
);
COMMENT ON TABLE loyalty.notification IS 'Durable outbox of tier changes and alerts, written in the event''s transaction; pg_notify only wakes consumers up.';
COMMENT ON COLUMN loyalty.notification.id IS 'Notification id, increasing in insertion order.';
COMMENT ON COLUMN loyalty.notification.kind IS 'TIER_CHANGED, HOLD (a hold made, approved, captured, voided, expired, or a redemption reversed) and POINTS_EXPIRING (readable by that player), or ALERT (readable by staff with loyalty:view_all).';
COMMENT ON COLUMN loyalty.notification.player_id IS 'The player concerned, if any.';
COMMENT ON COLUMN loyalty.notification.alert_id IS 'The alert (kind ALERT).';
COMMENT ON COLUMN loyalty.notification.ledger_entry_id IS 'The ledger entry that changed the tier, if one did.';
COMMENT ON COLUMN loyalty.notification.payload IS 'What a consumer shows without another read (tiers, alert kind and severity).';
COMMENT ON COLUMN loyalty.notification.created_at IS 'Audit: when the event happened.';
COMMENT ON COLUMN loyalty.notification.claimed_at IS 'When a worker last claimed it (claim_notifications).';
COMMENT ON COLUMN loyalty.notification.claims IS 'How many times it was claimed (more than one: a worker died or failed before marking it delivered).';
COMMENT ON COLUMN loyalty.notification.property_id IS 'Where the event happened (a hold''s or an alert''s property); NULL for an enterprise event (a tier change, an expiry warning).';
COMMENT ON COLUMN loyalty.notification.delivered_at IS 'When a worker marked it delivered; delivered rows are never claimed again.';
CREATE INDEX notification_pending_idx ON loyalty.notification (id) WHERE delivered_at IS NULL;
CREATE INDEX notification_player_idx ON loyalty.notification (player_id, id) WHERE player_id IS NOT NULL;
