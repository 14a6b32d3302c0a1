//! Holds' effect on a balance (reference §15): points reserved by a
//! pending or active hold stay in the balance but are not available.
//! Reserving and releasing change `held_points` alone, under the player's
//! lock, and write no ledger row: only a capture (a REDEMPTION posted by
//! `post`, which releases the hold in the same statement) moves the
//! balance. `post` refuses any change that would leave available points
//! below 0, so a reward, an adjustment or a capture can never spend what a
//! hold reserved; the table's CHECK (held_points <= current_balance) is the
//! last guard behind both.

use crate::domain::error::{Code, LoyaltyError, Result};
use crate::ledger::balance::{compute, Locked};
use crate::pg::spi;
use pgrx::spi::SpiClient;

/// Available points before and after a change of the held points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Available {
    pub before: i64,
    pub after: i64,
    pub balance: i64,
}

impl Locked {
    /// Points the player can spend now.
    pub fn available(&self) -> i64 {
        self.balance - self.held
    }
}

/// Move `delta` points into (positive: a hold) or out of (negative: a void
/// or an expiry) the locked player's held points. INSUFFICIENT_BALANCE when
/// fewer than `delta` points are available.
pub fn change_held(client: &SpiClient<'_>, locked: &Locked, delta: i64) -> Result<Available> {
    let c = compute(locked, 0, 0, 0, delta)?;
    spi::write(
        client,
        "UPDATE loyalty.player_loyalty SET held_points = $3, updated_at = now()
          WHERE ctid = $2 AND player_id = $1",
        &[
            locked.player_id.into(),
            locked.tid.into(),
            c.held_after.into(),
        ],
    )?;
    Ok(Available {
        before: locked.available(),
        after: c.balance_after - c.held_after,
        balance: c.balance_after,
    })
}

/// Lock a player who must already hold points: a hold on someone without a
/// balance row has nothing available.
pub fn lock_holder(client: &SpiClient<'_>, player: pgrx::Uuid) -> Result<Locked> {
    let locked = crate::ledger::lock_player(client, player)?.ok_or_else(|| {
        LoyaltyError::new(
            Code::InsufficientBalance,
            "0 points are available: the player has no balance yet",
        )
    })?;
    crate::ledger::balance::roll_if_due(client, locked)
}
