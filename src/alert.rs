//! Alerts: a row in `loyalty.alert`, and a wake-up on channel
//! `loyalty_alert` when the transaction commits.
//!
//! The notification carries the alert's id and nothing else. Any role can
//! LISTEN, and any role can `pg_notify('loyalty_alert', ...)` a payload of
//! its own, so a notification proves nothing: a consumer reads the alert
//! row, which RLS shows only to staff with `loyalty:view_all`.

use crate::error::Result;
use crate::spi;
use pgrx::prelude::*;

/// Channel for alert wake-ups (sent on commit only).
pub const ALERT_CHANNEL: &str = "loyalty_alert";

/// What an alert is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertKind {
    /// More manual rewards by one staff member in the alert window than allowed.
    ManualRewardFrequency,
    /// A slip closed above its game's approval threshold and waits.
    SlipNeedsApproval,
}

impl AlertKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::ManualRewardFrequency => "MANUAL_REWARD_FREQUENCY",
            AlertKind::SlipNeedsApproval => "SLIP_NEEDS_APPROVAL",
        }
    }
}

/// Insert an alert row and queue its wake-up; returns the alert's id.
pub fn raise(
    kind: AlertKind,
    staff_id: Option<pgrx::Uuid>,
    player_id: Option<pgrx::Uuid>,
    details: &serde_json::Value,
) -> Result<i64> {
    Spi::connect(|c| -> Result<i64> {
        let id = spi::write(
            c,
            "INSERT INTO loyalty.alert (kind, staff_id, player_id, details)
             VALUES ($1, $2, $3, $4::text::jsonb) RETURNING id",
            &[
                kind.as_str().into(),
                staff_id.into(),
                player_id.into(),
                details.to_string().into(),
            ],
        )?
        .first()
        .get_one::<i64>()?
        .unwrap_or(0);
        spi::write(
            c,
            "SELECT pg_catalog.pg_notify($1, $2)",
            &[
                ALERT_CHANNEL.into(),
                format!(r#"{{"alert_id":{id}}}"#).into(),
            ],
        )?;
        Ok(id)
    })
}
