//! `expire_inactive_points` (pg_cron, daily): warn, then expire.

// pgrx reads a TableIterator's columns from the signature itself.
#![allow(clippy::type_complexity)]

use crate::auth::{self, Who};
use crate::domain::error::{required, run, Code, LoyaltyError, Result};
use crate::domain::kinds::Kind;
use crate::ledger::{self, Entry};
use crate::pg::context;
use crate::pg::log::{self, Event};
use crate::pg::spi;
use pgrx::prelude::*;

/// The one statement of when points lapse: a player with points available
/// whose last earning (or, never having earned, their first balance row)
/// is older than the inactivity setting, less `$lead` (an interval
/// expression: `c.expiry_warning` for the warning, none for the expiry).
/// Reads `p` (player_loyalty) and `c` (config). A row an upgrade brought is
/// left until the write path has derived its last earning from the ledger
/// (its qualification period says so).
macro_rules! lapses_within {
    ($lead:literal) => {
        concat!(
            "c.points_inactivity_expiry IS NOT NULL AND p.current_balance > p.held_points
             AND p.tier_period IS NOT NULL
             AND coalesce(p.last_earned_at, p.created_at)
                 <= pg_catalog.clock_timestamp() - (c.points_inactivity_expiry - ",
            $lead,
            ")"
        )
    };
}

/// And the warning came first: the player was told about this stretch
/// without play at least `c.expiry_warning` ago (a warning's time is
/// stored), so turning expiry on, or an upgrade, never warns and expires
/// in one call.
macro_rules! warned_in_time {
    () => {
        " AND p.expiry_warned_for = coalesce(p.last_earned_at, p.created_at)
          AND p.expiry_warned_at <= pg_catalog.clock_timestamp() - c.expiry_warning"
    };
}

/// Most players one call expires (each is locked until the caller commits).
pub const MAX_EXPIRE: i32 = 100_000;

/// A player whose available points lapse now, as read under their lock.
struct Lapsing {
    player: pgrx::Uuid,
    available: i64,
    gaming_day: String,
}

/// Players inactive for longer than the setting with points available, the
/// longest quiet first, returned in player order: each player's lock is
/// then taken in that order, as a batch completion takes its players'.
/// A sequential scan of the balances (a daily job): an index on
/// `last_earned_at` would make every earning post a non-HOT update.
fn candidates(limit: i32) -> Result<Vec<pgrx::Uuid>> {
    Spi::connect(|c| {
        let rows = spi::write(
            c,
            concat!(
                "SELECT player_id FROM (
                     SELECT p.player_id FROM loyalty.player_loyalty p, loyalty.config c WHERE ",
                lapses_within!("'0'::interval"),
                warned_in_time!(),
                " ORDER BY coalesce(p.last_earned_at, p.created_at) LIMIT $1) quiet
                  ORDER BY player_id"
            ),
            &[limit.into()],
        )?;
        Ok(rows
            .into_iter()
            .filter_map(|r| r.get(1).ok().flatten())
            .collect())
    })
}

/// Lock the player (unless another transaction holds them: a sweep never
/// waits, the player is picked up by a later run) and read, under the
/// lock, whether their points lapse now.
fn lock_lapsing(player: pgrx::Uuid) -> Result<Option<Lapsing>> {
    Spi::connect(|c| {
        if ledger::try_lock_player(c, player)?.is_none() {
            return Ok(None);
        }
        let rows = spi::write(
            c,
            concat!(
                "SELECT p.current_balance - p.held_points,
                        to_char(loyalty.gaming_day(pg_catalog.clock_timestamp()), 'YYYY-MM-DD')
                   FROM loyalty.player_loyalty p, loyalty.config c
                  WHERE p.player_id = $1 AND ",
                lapses_within!("'0'::interval"),
                warned_in_time!()
            ),
            &[player.into()],
        )?;
        if rows.is_empty() {
            return Ok(None);
        }
        let r = rows.first();
        Ok(Some(Lapsing {
            player,
            available: r.get::<i64>(1)?.unwrap_or(0),
            gaming_day: r.get::<String>(2)?.unwrap_or_default(),
        }))
    })
}

/// One POINTS_EXPIRING notification per player and stretch without play,
/// once the expiry is at most `config.expiry_warning` away; returns how many.
fn warn(limit: i32, correlation_id: &str) -> Result<i64> {
    Spi::connect(|c| {
        let rows = spi::write(
            c,
            concat!(
                "WITH due AS (
                 SELECT p.player_id, coalesce(p.last_earned_at, p.created_at) AS quiet_since,
                        coalesce(p.last_earned_at, p.created_at) + c.points_inactivity_expiry AS expires_at,
                        p.current_balance - p.held_points AS available
                   FROM loyalty.player_loyalty p, loyalty.config c
                  WHERE ",
                lapses_within!("c.expiry_warning"),
                " AND p.expiry_warned_for IS DISTINCT FROM coalesce(p.last_earned_at, p.created_at)
                  ORDER BY 2 LIMIT $1
                  FOR UPDATE OF p SKIP LOCKED),
             marked AS (
                 UPDATE loyalty.player_loyalty p
                    SET expiry_warned_for = d.quiet_since, expiry_warned_at = pg_catalog.clock_timestamp()
                   FROM due d WHERE p.player_id = d.player_id)
             INSERT INTO loyalty.notification (kind, player_id, payload)
             SELECT 'POINTS_EXPIRING', d.player_id,
                    pg_catalog.jsonb_build_object('expires_at', d.expires_at, 'available', d.available,
                                                  'correlation_id', $2::text)
               FROM due d
             RETURNING 1"
            ),
            &[limit.into(), correlation_id.into()],
        )?;
        Ok(rows.len() as i64)
    })
}

/// `expire_inactive_points(p_limit)`: warn the players whose points expire
/// within `config.expiry_warning`, then post one EXPIRY entry of −available
/// for each player inactive longer than `config.points_inactivity_expiry`
/// (key `expiry:<player>:<gaming day>`: a rerun that day is a hit), once
/// its warning is at least `config.expiry_warning` old. Busy players are
/// skipped and a call starts no player once the sweep budget is spent.
/// Trusted back ends only; nothing while the setting is NULL.
#[pg_extern(security_definer, volatile, parallel_unsafe)]
#[search_path(pg_catalog, loyalty, pg_temp)]
fn expire_inactive_points(
    p_limit: default!(Option<i32>, "1000"),
) -> TableIterator<
    'static,
    (
        name!(player_id, pgrx::Uuid),
        name!(points_expired, i64),
        name!(ledger_entry_id, i64),
        name!(balance_after, i64),
        name!(warned, i64),
    ),
> {
    let rows = run(move || {
        auth::open(Who::Trusted, None)?;
        let limit = required(p_limit, "p_limit")?;
        if !(1..=MAX_EXPIRE).contains(&limit) {
            return Err(LoyaltyError::validation(format!(
                "p_limit must be between 1 and {MAX_EXPIRE}"
            )));
        }
        let correlation_id = context::correlation_id(None)?;
        let warned = warn(limit, &correlation_id)?;
        let budget = Spi::connect(ledger::casino::sweep_budget)?;
        let started = std::time::Instant::now();
        let mut out = Vec::new();
        for player in candidates(limit)? {
            if started.elapsed() >= budget {
                break; // the rest waits for the next run
            }
            let Some(l) = lock_lapsing(player)? else {
                continue; // played, spent or was held while we looked
            };
            let posted = match ledger::post(&Entry {
                player_id: l.player,
                idempotency_key: format!("expiry:{}:{}", l.player, l.gaming_day),
                kind: Kind::Expiry,
                points: -l.available,
                rating_slip_id: None,
                visit_id: None,
                session_id: None,
                reason: Some("points expired after the configured inactivity"),
                source: "expire_inactive_points",
                staff_id: None,
                reward_id: None,
                correlation_id: &correlation_id,
                restate: None,
                held_change: 0,
                reverses_entry_id: None,
                property: None,
                under_lock: None,
            }) {
                Ok(p) => p,
                // expired once already this gaming day (the key is per day):
                // the rest waits for tomorrow's run
                Err(e) if e.code == Code::IdempotencyConflict => continue,
                Err(e) => return Err(e),
            };
            if !posted.idempotent_hit {
                log::emit(
                    Event::PointsExpired,
                    &correlation_id,
                    Some(&l.player.to_string()),
                    crate::fields! {
                        "ledger_entry_id" => posted.entry_id,
                        "points" => l.available,
                        "balance_after" => posted.balance_after,
                    },
                );
                out.push((
                    l.player,
                    l.available,
                    posted.entry_id,
                    posted.balance_after,
                    warned,
                ));
            }
        }
        Ok(out)
    });
    TableIterator::new(rows)
}
