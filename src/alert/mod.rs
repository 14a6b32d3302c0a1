//! Alerts: a row in `loyalty.alert`, announced by `loyalty.announce_alert`
//! (an outbox row, and a wake-up on channel `loyalty_alert` at commit), and
//! their acknowledgement.
//!
//! The notification carries the alert's id and nothing else. Any role can
//! LISTEN, and any role can `pg_notify('loyalty_alert', ...)` a payload of
//! its own, so a notification proves nothing: a consumer reads the alert
//! row, which RLS shows only to staff with `loyalty:view_all`.

// pgrx reads a TableIterator's columns from the signature itself.
#![allow(clippy::type_complexity)]

use crate::auth::{self, Caller, Permission, Who};
use crate::domain::error::{required, run, Code, LoyaltyError, Result};
use crate::pg::spi;
use pgrx::prelude::*;

/// What an alert is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertKind {
    /// More manual rewards by one staff member in the alert window than allowed.
    ManualRewardFrequency,
    /// A slip closed above its game's approval threshold and waits.
    SlipNeedsApproval,
    /// A hold above the redemption approval threshold waits for a second person.
    HoldNeedsApproval,
}

impl AlertKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::ManualRewardFrequency => "MANUAL_REWARD_FREQUENCY",
            AlertKind::SlipNeedsApproval => "SLIP_NEEDS_APPROVAL",
            AlertKind::HoldNeedsApproval => "HOLD_NEEDS_APPROVAL",
        }
    }

    /// How urgent: each waits for a person, none is a broken invariant.
    pub fn severity(self) -> &'static str {
        match self {
            AlertKind::ManualRewardFrequency
            | AlertKind::SlipNeedsApproval
            | AlertKind::HoldNeedsApproval => "WARNING",
        }
    }
}

/// Insert an alert row and announce it (sql/alert/outbox.sql); returns its id.
pub fn raise(
    kind: AlertKind,
    staff_id: Option<pgrx::Uuid>,
    player_id: Option<pgrx::Uuid>,
    property: Option<&str>,
    details: &serde_json::Value,
) -> Result<i64> {
    Spi::connect(|c| -> Result<i64> {
        let id = spi::write(
            c,
            "INSERT INTO loyalty.alert (kind, severity, staff_id, player_id, details, property_id)
             VALUES ($1, $2, $3, $4, $5::text::jsonb, $6) RETURNING id",
            &[
                kind.as_str().into(),
                kind.severity().into(),
                staff_id.into(),
                player_id.into(),
                details.to_string().into(),
                property.into(),
            ],
        )?
        .first()
        .get_one::<i64>()?
        .unwrap_or(0);
        spi::write(c, "SELECT loyalty.announce_alert($1)", &[id.into()])?;
        Ok(id)
    })
}

/// `acknowledge_alert(p_alert_id, p_note)`: someone has taken the alert on.
/// Staff with `loyalty:view_all` or trusted back ends; nobody acknowledges
/// an alert about themselves (as the staff member or the player it names).
/// A second acknowledgement changes nothing and says so.
#[pg_extern(security_definer, volatile, parallel_unsafe)]
#[search_path(pg_catalog, loyalty, pg_temp)]
fn acknowledge_alert(
    p_alert_id: Option<i64>,
    p_note: default!(Option<&str>, "NULL"),
) -> TableIterator<
    'static,
    (
        name!(alert_id, i64),
        name!(kind, String),
        name!(severity, String),
        name!(acknowledged_at, TimestampWithTimeZone),
        name!(acknowledged_by, String),
        name!(note, String),
        name!(already_acknowledged, bool),
    ),
> {
    let row = run(move || {
        let opened = auth::open(Who::StaffAt(Permission::ViewAll), None)?;
        let caller = opened.caller;
        let alert_id = required(p_alert_id, "p_alert_id")?;
        let note = crate::domain::reason::check(p_note)?;
        let actor = auth::actor();
        Spi::connect_mut(|c| {
            let rows = spi::write(
                c,
                "SELECT kind, severity, staff_id, player_id, acknowledged_at, acknowledged_by, note, property_id
                   FROM loyalty.alert WHERE id = $1 FOR UPDATE",
                &[alert_id.into()],
            )?;
            if rows.is_empty() {
                return Err(LoyaltyError::new(
                    Code::AlertNotFound,
                    format!("no alert {alert_id}"),
                ));
            }
            let r = rows.first();
            // an alert at a property is its staff's; one of the whole
            // enterprise, staff of every property's
            opened.at_place(r.get::<String>(8)?.as_deref())?;
            let kind = r.get::<String>(1)?.unwrap_or_default();
            let severity = r.get::<String>(2)?.unwrap_or_default();
            let about = [r.get::<pgrx::Uuid>(3)?, r.get::<pgrx::Uuid>(4)?];
            if let Caller::Staff(uid) = caller {
                if about.contains(&Some(uid)) {
                    return Err(LoyaltyError::new(
                        Code::Forbidden,
                        "nobody acknowledges an alert about themselves",
                    ));
                }
            }
            if let Some(at) = r.get::<TimestampWithTimeZone>(5)? {
                let by = r.get::<String>(6)?.unwrap_or_default();
                let old_note = r.get::<String>(7)?.unwrap_or_default();
                return Ok((alert_id, kind, severity, at, by, old_note, true));
            }
            let at = spi::write(
                c,
                "UPDATE loyalty.alert SET acknowledged_at = clock_timestamp(), acknowledged_by = $2, note = $3
                  WHERE id = $1 RETURNING acknowledged_at",
                &[alert_id.into(), actor.as_str().into(), note.as_str().into()],
            )?
            .first()
            .get_one::<TimestampWithTimeZone>()?
            .ok_or_else(|| LoyaltyError::new(Code::AlertNotFound, format!("no alert {alert_id}")))?;
            Ok((alert_id, kind, severity, at, actor, note, false))
        })
    });
    TableIterator::once(row)
}
