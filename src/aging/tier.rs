//! `roll_tier_period` (pg_cron, daily): start the new qualification period
//! for every player whose standing belongs to one that has ended. The rule
//! itself is the write path's (domain/points.rs `Standing::rolled`, applied
//! by `ledger::restated`), so a player who posts before the sweep reaches
//! them rolls the same way in that post.

// pgrx reads a TableIterator's columns from the signature itself.
#![allow(clippy::type_complexity)]

use crate::auth::{self, Who};
use crate::domain::error::{required, run, LoyaltyError, Result};
use crate::ledger;
use crate::pg::context;
use crate::pg::spi;
use pgrx::prelude::*;

/// Most players one call rolls (each is locked until the caller commits).
pub const MAX_ROLL: i32 = 100_000;

/// The current period's first gaming day, and up to `limit` players whose
/// standing is of an earlier one, in player order (the order every sweep
/// and batch takes its locks in).
fn candidates(limit: i32) -> Result<(String, Vec<pgrx::Uuid>)> {
    Spi::connect(|c| {
        // SAFETY: reads the clock, as clock_timestamp() does.
        let now = unsafe { pg_sys::GetCurrentTimestamp() };
        let day = ledger::casino::gaming_day(c, now)?;
        let (_, period) = ledger::casino::tier_rules(c, &day)?;
        // and rows an upgrade brought that the write path has not derived
        // from their ledger yet (ledger::derive_if_needed)
        let rows = spi::write(
            c,
            "SELECT player_id FROM loyalty.player_loyalty
              WHERE tier_period < $1::date OR (tier_period IS NULL AND chain_seq > 0)
              ORDER BY player_id LIMIT $2",
            &[period.as_str().into(), limit.into()],
        )?;
        let ids = rows
            .into_iter()
            .filter_map(|r| r.get(1).ok().flatten())
            .collect();
        Ok((period, ids))
    })
}

/// `roll_tier_period(p_limit)`: for each player whose tier credits count in
/// a period that has ended, keep the tier those credits reached through the
/// new period, start its credits at 0, and, under `tier_basis = PERIOD`,
/// set the tier that follows (a fall notifies as any tier change). A rerun
/// finds nobody left. Players busy in another transaction are skipped (their
/// own next post rolls them), and a call starts no player once the sweep
/// budget (half the accrual lock timeout) is spent, so no floor call waits
/// on it longer than that: pg_cron calls it every minute. Trusted back ends
/// only; call until it returns none.
#[pg_extern(security_definer, volatile, parallel_unsafe)]
#[search_path(pg_catalog, loyalty, pg_temp)]
fn roll_tier_period(
    p_limit: default!(Option<i32>, "1000"),
) -> TableIterator<
    'static,
    (
        name!(player_id, pgrx::Uuid),
        name!(tier_before, String),
        name!(tier_after, String),
        name!(period_credits, i64),
        name!(retained_tier, Option<String>),
        name!(period_start, pgrx::datum::Date),
    ),
> {
    let rows = run(move || {
        auth::open(Who::Trusted, None)?;
        let limit = required(p_limit, "p_limit")?;
        if !(1..=MAX_ROLL).contains(&limit) {
            return Err(LoyaltyError::validation(format!(
                "p_limit must be between 1 and {MAX_ROLL}"
            )));
        }
        let correlation_id = context::correlation_id(None)?;
        let (period, players) = candidates(limit)?;
        let mut out = Vec::with_capacity(players.len());
        Spi::connect(|c| -> Result<()> {
            let budget = ledger::casino::sweep_budget(c)?;
            let started = std::time::Instant::now();
            for player in players {
                if started.elapsed() >= budget {
                    break;
                }
                let Some(locked) = ledger::try_lock_player(c, player)? else {
                    continue; // busy: their own next post rolls them
                };
                let locked = ledger::balance::derive_if_needed(c, locked)?;
                if locked.standing.is_in(&period) {
                    continue; // a post rolled them while we looked
                }
                let rolled = ledger::restated(&locked)?;
                ledger::set_balance(c, &locked, &rolled)?;
                if rolled.tier_after != locked.tier {
                    ledger::tier_changed(
                        c,
                        &player.to_string(),
                        &locked.tier,
                        &rolled.tier_after,
                        locked.lifetime,
                        None,
                        &correlation_id,
                    )?;
                }
                out.push((
                    player,
                    locked.tier.clone(),
                    rolled.tier_after.clone(),
                    locked.standing.credits_before(&period),
                    rolled.standing.retained.clone(),
                    ledger::casino::parse_date(&locked.period)?,
                ));
            }
            Ok(())
        })?;
        Ok(out)
    });
    TableIterator::new(rows)
}
