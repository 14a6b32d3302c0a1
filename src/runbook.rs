//! Operator runbooks that change data: recover partial completions in bulk,
//! rebuild a player's balance from the ledger. The read-only runbooks
//! (list, verify, export, look-up) are plain SQL in `sql/runbook.sql`.

// pgrx reads a TableIterator's columns from the signature itself, so the
// row tuples must be spelled out there rather than named with `type`.
#![allow(clippy::type_complexity)]

use crate::context;
use crate::error::{run, Code, LoyaltyError, Result};
use crate::ledger;
use crate::log::{self, Event};
use crate::points;
use crate::slip;
use crate::subxact;
use pgrx::prelude::*;

/// Most slips one bulk recovery call will attempt.
pub const MAX_BULK_RECOVERY: i32 = 100_000;

/// Recover up to `p_limit` partial completions, oldest first, each in its
/// own savepoint: one failing slip is recorded in pending_accrual (attempts
/// + 1) and the rest go on.
#[pg_extern(security_definer, volatile, parallel_unsafe)]
#[search_path(pg_catalog, loyalty, pg_temp)]
fn recover_partial_completions(
    p_limit: default!(Option<i32>, "100"),
    p_correlation_id: default!(Option<&str>, "NULL"),
) -> TableIterator<
    'static,
    (
        name!(attempted, i32),
        name!(recovered, i32),
        name!(failed, i32),
        name!(points_posted, i64),
        name!(correlation_id, String),
    ),
> {
    let row = run(|| {
        let caller = crate::auth::require(crate::auth::PERM_RECOVER)?;
        let limit = p_limit.unwrap_or(100);
        if !(1..=MAX_BULK_RECOVERY).contains(&limit) {
            return Err(LoyaltyError::validation(format!(
                "p_limit must be between 1 and {MAX_BULK_RECOVERY}"
            )));
        }
        let correlation_id = context::correlation_id(p_correlation_id)?;
        let ids: Vec<pgrx::Uuid> = Spi::connect(|c| -> Result<Vec<pgrx::Uuid>> {
            let rows = c.select(
                "SELECT rating_slip_id FROM loyalty.list_partial_completions($1)",
                None,
                &[limit.into()],
            )?;
            let mut ids = Vec::with_capacity(rows.len());
            for r in rows {
                if let Some(id) = r.get::<pgrx::Uuid>(1)? {
                    ids.push(id);
                }
            }
            Ok(ids)
        })?;
        let (mut recovered, mut failed, mut points) = (0, 0, 0i64);
        for id in &ids {
            match subxact::run(|| {
                slip::accrue_by_id(*id, caller, "recover_slip_loyalty", &correlation_id)
            }) {
                Ok(p) => {
                    recovered += 1;
                    if !p.idempotent_hit {
                        points = points.saturating_add(p.points_change);
                    }
                }
                Err(f) => {
                    failed += 1;
                    let s = Spi::connect_mut(|c| slip::load(c, *id, false))?;
                    slip::record_pending(&s, &f, &correlation_id)?;
                }
            }
        }
        Ok((ids.len() as i32, recovered, failed, points, correlation_id))
    });
    TableIterator::once(row)
}

/// Set a player's balance, lifetime points and tier to what the ledger
/// says (after a verified mismatch). Logged with before and after.
#[pg_extern(security_definer, volatile, parallel_unsafe)]
#[search_path(pg_catalog, loyalty, pg_temp)]
fn rebuild_player_balance(
    p_player_id: Option<pgrx::Uuid>,
    p_correlation_id: default!(Option<&str>, "NULL"),
) -> TableIterator<
    'static,
    (
        name!(player_id, pgrx::Uuid),
        name!(balance_before, i64),
        name!(balance_after, i64),
        name!(lifetime_before, i64),
        name!(lifetime_after, i64),
        name!(tier_before, String),
        name!(tier_after, String),
        name!(correlation_id, String),
    ),
> {
    let row = run(|| {
        crate::auth::require_trusted()?;
        let player_id = crate::error::required(p_player_id, "p_player_id")?;
        let correlation_id = context::correlation_id(p_correlation_id)?;
        Spi::connect_mut(|c| {
            let Some(locked) = ledger::lock_player(c, player_id)? else {
                return Err(LoyaltyError::new(
                    Code::PlayerNotFound,
                    format!("no balance row for player {player_id}"),
                ));
            };
            let (bal, life, tier) = (locked.balance, locked.lifetime, locked.tier.clone());
            let sums = c.select(
                "SELECT coalesce(sum(points_change), 0)::bigint,
                        coalesce(sum(points_change) FILTER (WHERE points_change > 0), 0)::bigint
                   FROM loyalty.loyalty_ledger WHERE player_id = $1",
                Some(1),
                &[player_id.into()],
            )?;
            let s = sums.first();
            let (new_bal, new_life) =
                (s.get::<i64>(1)?.unwrap_or(0), s.get::<i64>(2)?.unwrap_or(0));
            if new_bal < 0 {
                return Err(LoyaltyError::validation(
                    "the ledger sums to a negative balance; investigate before rebuilding",
                ));
            }
            let (new_tier, progress) = points::tier_for(new_life, &locked.ladder);
            ledger::set_balance(c, &locked, new_bal, new_life, &new_tier, progress)?;
            let pid = player_id.to_string();
            log::emit(
                Event::BalanceRebuilt,
                &correlation_id,
                Some(&pid),
                crate::fields! {
                    "balance_before" => bal, "balance_after" => new_bal,
                    "lifetime_before" => life, "lifetime_after" => new_life,
                    "tier_before" => tier, "tier_after" => new_tier,
                },
            );
            if tier != new_tier {
                ledger::tier_changed(c, &pid, &tier, &new_tier, new_life, None, &correlation_id)?;
            }
            Ok((
                player_id,
                bal,
                new_bal,
                life,
                new_life,
                tier,
                new_tier,
                correlation_id,
            ))
        })
    });
    TableIterator::once(row)
}
