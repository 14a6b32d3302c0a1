//! Comps (docs/reference.md §15): a player's points spent through holds, in
//! two phases. `hold` reserves points (and `redeem_points` reserves and
//! captures in one call); `settle` captures, voids and expires a hold;
//! `reverse` gives a captured redemption back.
//!
//! The rules every door here keeps:
//! - lock order: the player's balance row, then the hold row (approve_hold
//!   takes the hold alone), so no two of these deadlock;
//! - a hold moves forward only, and its status is decided under its row
//!   lock in a fresh statement, so a capture racing a void, an expiry or
//!   another capture sees the winner's status;
//! - points move only through the ledger: held points by `ledger::held`,
//!   the spend and the reversal by `ledger::post` (keys `redemption:<hold>`
//!   and `reversal:<entry>`: each posts at most once);
//! - every change is announced once, at commit: a log line, and an outbox
//!   row (kind HOLD) the player reads.
//!
//! Calls the ledger, auth, alert and the plumbing; nothing above it.

pub mod hold;
pub mod reverse;
pub mod settle;

use crate::domain::error::{Code, LoyaltyError, Result};
use crate::ledger::held::Available;
use crate::pg::log::{self, Event};
use crate::pg::rows::HoldRow;
use crate::pg::spi;
use pgrx::prelude::*;
use pgrx::spi::SpiClient;

/// Hold statuses that reserve points.
pub const LIVE: [&str; 2] = ["PENDING_APPROVAL", "ACTIVE"];

/// A hold row as read under its lock.
#[derive(Debug, Clone)]
pub struct Hold {
    pub hold_id: pgrx::Uuid,
    pub player_id: pgrx::Uuid,
    pub status: String,
    pub points: i64,
    pub captured_points: Option<i64>,
    pub outlet: String,
    pub comp_value_cents: i64,
    pub expires_at: TimestampWithTimeZone,
    pub ledger_entry_id: Option<i64>,
    pub staff_id: pgrx::Uuid,
    pub approved_by: Option<pgrx::Uuid>,
    pub reason: String,
    /// Where the comp is given (`hold.property_id`).
    pub property_id: String,
    /// `expires_at` has passed (by the clock at the read).
    pub past_due: bool,
}

impl Hold {
    pub fn is_live(&self) -> bool {
        LIVE.contains(&self.status.as_str())
    }

    /// The hold as a function returns it.
    pub fn row(&self, available: Available, hit: bool, correlation_id: &str) -> HoldRow {
        (
            self.hold_id,
            self.player_id,
            self.status.clone(),
            self.points,
            self.captured_points,
            self.outlet.clone(),
            self.comp_value_cents,
            self.expires_at,
            self.ledger_entry_id,
            available.before,
            available.after,
            available.balance,
            hit,
            correlation_id.to_string(),
        )
    }

    /// HOLD_NOT_ACTIVE, saying what the hold is instead.
    pub fn not_active(&self, doing: &str) -> LoyaltyError {
        let state = if self.is_live() && self.past_due {
            "past its expiry".to_string()
        } else {
            self.status.clone()
        };
        LoyaltyError::new(
            Code::HoldNotActive,
            format!("hold {} is {state}; it cannot be {doing}", self.hold_id),
        )
    }
}

/// The columns [`decode`] reads, in its order: `$head` is the statement
/// before them (a SELECT, or a write's RETURNING), `$past_due` the last
/// column (whether `expires_at` has passed), then what follows.
macro_rules! hold_row {
    ($head:literal, $past_due:literal $(, $tail:literal)*) => {
        concat!(
            $head,
            " hold_id, player_id, status, points, captured_points, outlet, comp_value_cents,
              expires_at, ledger_entry_id, staff_id, approved_by, reason, property_id, ",
            $past_due
            $(, $tail)*
        )
    };
}
pub(crate) use hold_row;

/// A SELECT of holds ending in `$tail`.
macro_rules! select_hold {
    ($tail:literal) => {
        $crate::redeem::hold_row!(
            "SELECT",
            "expires_at <= pg_catalog.clock_timestamp()",
            " FROM loyalty.hold ",
            $tail
        )
    };
}
pub(crate) use select_hold;

pub fn decode(rows: pgrx::spi::SpiTupleTable<'_>) -> Result<Option<Hold>> {
    if rows.is_empty() {
        return Ok(None);
    }
    let r = rows.first();
    let missing = || LoyaltyError::validation("hold row with a NULL key column");
    Ok(Some(Hold {
        hold_id: r.get(1)?.ok_or_else(missing)?,
        player_id: r.get(2)?.ok_or_else(missing)?,
        status: r.get(3)?.unwrap_or_default(),
        points: r.get(4)?.unwrap_or(0),
        captured_points: r.get(5)?,
        outlet: r.get(6)?.unwrap_or_default(),
        comp_value_cents: r.get(7)?.unwrap_or(0),
        expires_at: r.get(8)?.ok_or_else(missing)?,
        ledger_entry_id: r.get(9)?,
        staff_id: r.get(10)?.ok_or_else(missing)?,
        approved_by: r.get(11)?,
        reason: r.get(12)?.unwrap_or_default(),
        property_id: r.get(13)?.unwrap_or_default(),
        past_due: r.get(14)?.unwrap_or(true),
    }))
}

/// Whose hold `hold_id` is (HOLD_NOT_FOUND if nobody's), once `opened`
/// may act at its property (`given`, if named, must be it). Read without a
/// lock: a hold's player and property never change.
pub fn owner(
    opened: &crate::auth::Opened,
    hold_id: Option<pgrx::Uuid>,
    given: Option<&str>,
) -> Result<(pgrx::Uuid, pgrx::Uuid)> {
    let hold_id = crate::domain::error::required(hold_id, "p_hold_id")?;
    Spi::connect(|c| -> Result<(pgrx::Uuid, pgrx::Uuid)> {
        let rows = spi::read(
            c,
            "SELECT player_id, property_id::text FROM loyalty.hold WHERE hold_id = $1",
            &[hold_id.into()],
        )?;
        let (player, property) = if rows.is_empty() {
            (None, None)
        } else {
            let r = rows.first();
            (r.get::<pgrx::Uuid>(1)?, r.get::<String>(2)?)
        };
        let (Some(player), Some(property)) = (player, property) else {
            return Err(LoyaltyError::new(
                Code::HoldNotFound,
                format!("no hold {hold_id}"),
            ));
        };
        opened.at_started(&property, given)?;
        Ok((hold_id, player))
    })
}

/// The hold, locked `FOR UPDATE` in a fresh statement (after the player's
/// lock, when the caller takes one).
pub fn lock(c: &SpiClient<'_>, player: pgrx::Uuid, hold_id: pgrx::Uuid) -> Result<Hold> {
    decode(spi::write(
        c,
        select_hold!("WHERE player_id = $1 AND hold_id = $2 FOR UPDATE"),
        &[player.into(), hold_id.into()],
    )?)?
    .ok_or_else(|| LoyaltyError::new(Code::HoldNotFound, format!("no hold {hold_id}")))
}

/// Available points of a player, as a call that changed none reports them.
pub fn unchanged(c: &SpiClient<'_>, player: pgrx::Uuid) -> Result<Available> {
    let rows = spi::write(
        c,
        "SELECT current_balance - held_points, current_balance FROM loyalty.player_loyalty
          WHERE player_id = $1",
        &[player.into()],
    )?;
    let r = rows.first();
    let available = r.get::<i64>(1).ok().flatten().unwrap_or(0);
    Ok(Available {
        before: available,
        after: available,
        balance: r.get::<i64>(2).ok().flatten().unwrap_or(0),
    })
}

/// Announce a hold's change: the log line at commit and the player's outbox
/// row, in this transaction.
pub fn announce(
    c: &SpiClient<'_>,
    event: Event,
    hold: &Hold,
    by: Option<pgrx::Uuid>,
    available_after: i64,
    correlation_id: &str,
) -> Result<()> {
    log::emit(
        event,
        correlation_id,
        Some(&hold.player_id.to_string()),
        crate::fields! {
            "hold_id" => hold.hold_id.to_string(),
            "status" => hold.status.as_str(),
            "points" => hold.points,
            "captured_points" => hold.captured_points,
            "outlet" => hold.outlet.as_str(),
            "ledger_entry_id" => hold.ledger_entry_id,
            "staff_id" => by.map(|u| u.to_string()),
            "available_after" => available_after,
        },
    );
    hold_notification(
        c,
        hold.player_id,
        hold.ledger_entry_id,
        &hold.property_id,
        serde_json::json!({
            "event": event.name(),
            "hold_id": hold.hold_id.to_string(),
            "status": hold.status.as_str(),
            "points": hold.points,
            "captured_points": hold.captured_points,
            "outlet": hold.outlet.as_str(),
            "available_after": available_after,
        }),
    )
}

/// The player's outbox row of kind HOLD (RLS lets them read it), in this
/// transaction: every hold change and every reversal writes one.
pub fn hold_notification(
    c: &SpiClient<'_>,
    player: pgrx::Uuid,
    ledger_entry_id: Option<i64>,
    property: &str,
    payload: serde_json::Value,
) -> Result<()> {
    spi::write(
        c,
        "INSERT INTO loyalty.notification (kind, player_id, ledger_entry_id, payload, property_id)
         VALUES ('HOLD', $1, $2, $3::text::jsonb, $4)",
        &[
            player.into(),
            ledger_entry_id.into(),
            payload.to_string().into(),
            property.into(),
        ],
    )?;
    Ok(())
}
