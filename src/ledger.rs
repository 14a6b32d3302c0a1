//! The one write path for balances.
//!
//! `increment` is the row-locked balance primitive behind
//! `increment_player_loyalty`; every other balance change (gameplay accrual,
//! manual reward) goes through it and writes its ledger row in the same
//! transaction.

use crate::error::{Code, LoyaltyError, Result};
use crate::log::{self, Event};
use crate::points::{self, Tier};
use pgrx::prelude::*;

/// Channel for tier-change notifications (sent on commit only).
pub const TIER_CHANNEL: &str = "loyalty_tier_changed";

/// The outcome of one balance change, as `increment_player_loyalty` returns it.
#[derive(Debug, Clone)]
pub struct BalanceChange {
    pub player_id: pgrx::Uuid,
    pub balance_before: i64,
    pub balance_after: i64,
    pub tier_before: String,
    pub tier_after: String,
    pub tier_progress: i16,
    pub lifetime_points: i64,
    pub updated_at: TimestampWithTimeZone,
    /// Always true: the player's row was held `FOR UPDATE` while changing it.
    pub row_locked: bool,
}

struct Locked {
    balance: i64,
    lifetime: i64,
    tier: String,
}

/// Lock the player's row (creating it at BRONZE/0 if missing) and apply
/// `delta`. Refuses a result below zero and any overflow.
pub fn increment(player_id: pgrx::Uuid, delta: i64, correlation_id: &str) -> Result<BalanceChange> {
    Spi::connect_mut(|client| {
        let locked = match lock_player(client, player_id)? {
            Some(l) => l,
            None => {
                // Two sessions may both get here for a new player: ON CONFLICT
                // lets the loser wait for the winner's row, then lock it.
                client.update(
                    "INSERT INTO loyalty.player_loyalty (player_id) VALUES ($1) ON CONFLICT (player_id) DO NOTHING",
                    None,
                    &[player_id.into()],
                )?;
                lock_player(client, player_id)?.ok_or_else(|| {
                    LoyaltyError::new(Code::PlayerNotFound, "player row vanished while locking")
                })?
            }
        };

        let balance_after = locked.balance.checked_add(delta).ok_or_else(|| {
            LoyaltyError::validation(format!(
                "a change of {delta} points would overflow the balance"
            ))
        })?;
        if balance_after < 0 {
            return Err(LoyaltyError::new(
                Code::InsufficientBalance,
                format!(
                    "balance is {} points; a change of {delta} would take it below zero",
                    locked.balance
                ),
            ));
        }
        let lifetime = locked.lifetime.checked_add(delta.max(0)).ok_or_else(|| {
            LoyaltyError::validation(format!(
                "a change of {delta} points would overflow lifetime points"
            ))
        })?;
        let (tier_after, progress) = points::tier_for(lifetime, &ladder(client)?);

        let updated_at = client
            .update(
                "UPDATE loyalty.player_loyalty
                    SET current_balance = $2, lifetime_points = $3, tier = $4,
                        tier_progress = $5, updated_at = now()
                  WHERE player_id = $1
              RETURNING updated_at",
                Some(1),
                &[
                    player_id.into(),
                    balance_after.into(),
                    lifetime.into(),
                    tier_after.as_str().into(),
                    progress.into(),
                ],
            )?
            .first()
            .get_one::<TimestampWithTimeZone>()?
            .ok_or_else(|| {
                LoyaltyError::new(Code::PlayerNotFound, "player row vanished while updating")
            })?;

        let change = BalanceChange {
            player_id,
            balance_before: locked.balance,
            balance_after,
            tier_before: locked.tier,
            tier_after,
            tier_progress: progress,
            lifetime_points: lifetime,
            updated_at,
            row_locked: true,
        };
        let pid = player_id.to_string();
        log::emit(
            Event::BalanceIncremented,
            correlation_id,
            Some(&pid),
            crate::fields! {
                "points_change" => delta,
                "balance_before" => change.balance_before,
                "balance_after" => change.balance_after,
                "lifetime_points" => lifetime,
            },
        );
        if change.tier_before != change.tier_after {
            let fields = crate::fields! {
                "tier_before" => change.tier_before,
                "tier_after" => change.tier_after,
                "lifetime_points" => lifetime,
            };
            let payload = log::line(
                Event::TierChanged,
                correlation_id,
                Some(&pid),
                fields.clone(),
            );
            log::emit(Event::TierChanged, correlation_id, Some(&pid), fields);
            client.update(
                "SELECT pg_catalog.pg_notify($1, $2)",
                None,
                &[TIER_CHANNEL.into(), payload.into()],
            )?;
        }
        Ok(change)
    })
}

fn lock_player(
    client: &mut pgrx::spi::SpiClient<'_>,
    player_id: pgrx::Uuid,
) -> Result<Option<Locked>> {
    let rows = client.update(
        "SELECT current_balance, lifetime_points, tier
           FROM loyalty.player_loyalty WHERE player_id = $1 FOR UPDATE",
        Some(1),
        &[player_id.into()],
    )?;
    if rows.is_empty() {
        return Ok(None);
    }
    let row = rows.first();
    Ok(Some(Locked {
        balance: row.get::<i64>(1)?.unwrap_or(0),
        lifetime: row.get::<i64>(2)?.unwrap_or(0),
        tier: row.get::<String>(3)?.unwrap_or_default(),
    }))
}

/// The tier ladder, lowest threshold first.
pub fn ladder(client: &pgrx::spi::SpiClient<'_>) -> Result<Vec<Tier>> {
    let rows = client.select(
        "SELECT tier, threshold_points FROM loyalty.tier ORDER BY threshold_points",
        None,
        &[],
    )?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        out.push(Tier {
            name: row.get::<String>(1)?.unwrap_or_default(),
            threshold: row.get::<i64>(2)?.unwrap_or(0),
        });
    }
    Ok(out)
}
