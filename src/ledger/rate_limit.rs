//! The manual-reward rate limit and frequency alert: how many manual rewards
//! (domain/kinds.rs decides which entries those are) one staff member issued in the
//! last `rate_limit_window` and `alert_window`, as of the clock at the call.
//!
//! Both counts live in the staff member's `loyalty.reward_window` row, locked
//! `FOR UPDATE` for the whole reward, which serializes that staff member's
//! rewards at every isolation level: under READ COMMITTED the next reward
//! waits and then sees the row as committed; under REPEATABLE READ or
//! SERIALIZABLE a reward whose snapshot predates another's commit fails with
//! PostgreSQL's serialization error (40001) instead of counting stale rows.
//!
//! Each call moves the windows to the clock: rewards that fell out since the
//! last call are counted out (an index range scan over just those rows), so
//! every reward is counted in once and out once, and a call costs the same
//! whatever the configured limits. A missing row, or one whose windows differ
//! from `loyalty.config`, is recounted from the ledger.

use crate::domain::error::Result;
use crate::domain::kinds;
use crate::ledger::settings::Settings;
use crate::pg::spi;
use pgrx::prelude::*;
use pgrx::spi::SpiClient;

/// Manual rewards this staff member issued within each window before the
/// reward being decided, and where each window now starts.
#[derive(Debug, Clone, Copy)]
pub struct Windows {
    pub in_rate_window: i64,
    pub in_alert_window: i64,
    rate_since: TimestampWithTimeZone,
    alert_since: TimestampWithTimeZone,
}

/// Lock the staff member's window row (creating it if missing), move both
/// windows to the clock and count. Writes nothing else: [`record`] stores
/// the moved windows with a newly posted reward counted in; a refused call
/// or an idempotent replay leaves the row as it was.
pub fn lock_and_count(
    client: &SpiClient<'_>,
    staff: pgrx::Uuid,
    cfg: &Settings,
) -> Result<Windows> {
    let locked = spi::write(
        client,
        "SELECT 1 FROM loyalty.reward_window WHERE staff_id = $1 FOR UPDATE",
        &[staff.into()],
    )?;
    if locked.is_empty() {
        // Zero-length windows never match the settings, so the counts
        // below come from the ledger. ON CONFLICT DO UPDATE takes the row
        // lock when a concurrent reward created the row first.
        spi::write(
            client,
            "INSERT INTO loyalty.reward_window AS w
                 (staff_id, rate_window, rate_since, rate_count, alert_window, alert_since, alert_count)
             VALUES ($1, '0', clock_timestamp(), 0, '0', clock_timestamp(), 0)
             ON CONFLICT (staff_id) DO UPDATE SET staff_id = w.staff_id",
            &[staff.into()],
        )?;
    }
    // Each window either slides (the rewards that left it since `*_since`
    // are counted out) or, when its length changed, is recounted.
    let rows = spi::write(
        client,
        "WITH w AS (
            SELECT rate_window = make_interval(secs => $2) AS rate_same, rate_since, rate_count,
                   alert_window = make_interval(secs => $3) AS alert_same, alert_since, alert_count,
                   clock_timestamp() - make_interval(secs => $2) AS rate_start,
                   clock_timestamp() - make_interval(secs => $3) AS alert_start
              FROM loyalty.reward_window WHERE staff_id = $1)
         SELECT CASE WHEN rate_same
                     THEN rate_count - (SELECT count(*) FROM loyalty.loyalty_ledger l
                                         WHERE l.staff_id = $1 AND l.transaction_type = ANY ($4)
                                           AND l.created_at > rate_since AND l.created_at <= rate_start)
                     ELSE (SELECT count(*) FROM loyalty.loyalty_ledger l
                            WHERE l.staff_id = $1 AND l.transaction_type = ANY ($4) AND l.created_at > rate_start)
                END,
                CASE WHEN alert_same
                     THEN alert_count - (SELECT count(*) FROM loyalty.loyalty_ledger l
                                          WHERE l.staff_id = $1 AND l.transaction_type = ANY ($4)
                                            AND l.created_at > alert_since AND l.created_at <= alert_start)
                     ELSE (SELECT count(*) FROM loyalty.loyalty_ledger l
                            WHERE l.staff_id = $1 AND l.transaction_type = ANY ($4) AND l.created_at > alert_start)
                END,
                -- a clock that stepped back slides nothing
                CASE WHEN rate_same THEN greatest(rate_start, rate_since) ELSE rate_start END,
                CASE WHEN alert_same THEN greatest(alert_start, alert_since) ELSE alert_start END
           FROM w",
        &[
            staff.into(),
            cfg.rate_limit_window_s.into(),
            cfg.alert_window_s.into(),
            kinds::manual_reward_kinds().into(),
        ],
    )?;
    let r = rows.first();
    let since = |i: usize| -> Result<TimestampWithTimeZone> {
        r.get::<TimestampWithTimeZone>(i)?.ok_or_else(|| {
            crate::domain::error::LoyaltyError::validation("reward window has no start")
        })
    };
    Ok(Windows {
        in_rate_window: r.get::<i64>(1)?.unwrap_or(0),
        in_alert_window: r.get::<i64>(2)?.unwrap_or(0),
        rate_since: since(3)?,
        alert_since: since(4)?,
    })
}

/// Store the moved windows with the reward counted in, in the statement
/// that posts it (under the lock taken by [`lock_and_count`]; $11 is the
/// posting's staff member): only a new entry counts, a replay stores
/// nothing.
pub fn record(cfg: &Settings, w: &Windows) -> crate::ledger::Along<'static> {
    crate::ledger::Along {
        cte: "counted AS (
                UPDATE loyalty.reward_window
                   SET rate_window = make_interval(secs => $36), rate_since = $37, rate_count = $38,
                       alert_window = make_interval(secs => $39), alert_since = $40, alert_count = $41
                 WHERE staff_id = $11 AND EXISTS (SELECT FROM entry))",
        args: vec![
            cfg.rate_limit_window_s.into(),
            w.rate_since.into(),
            (w.in_rate_window + 1).into(),
            cfg.alert_window_s.into(),
            w.alert_since.into(),
            (w.in_alert_window + 1).into(),
        ],
    }
}
