//! A player's standing as their ledger gives it (domain/replay.rs), read
//! from the database: every entry in chain order, under the settings in
//! force. `loyalty.ledger_standing(p_player_id)` is what the health check
//! and `verify_player_balance` compare a stored row with; the
//! reconciliation runbook and the derivation of rows an upgrade brought
//! use [`derived`].

use crate::domain::error::{Code, LoyaltyError, Result};
use crate::domain::kinds::Kind;
use crate::domain::replay::{self, Replayed, Rules};
use crate::pg::spi;
use pgrx::prelude::*;
use pgrx::spi::SpiClient;

/// The replay of `player`'s ledger, with their stored period (a roll may
/// have moved it on without an entry); None when the player has neither a
/// row nor an entry.
pub fn derived(client: &SpiClient<'_>, player: pgrx::Uuid) -> Result<Option<Replayed>> {
    let stored = spi::write(
        client,
        "SELECT to_char(tier_period, 'YYYY-MM-DD') FROM loyalty.player_loyalty WHERE player_id = $1",
        &[player.into()],
    )?;
    let has_row = !stored.is_empty();
    let stored_period = if has_row {
        stored.first().get_one::<String>()?
    } else {
        None
    };
    let mut entries = Vec::new();
    for r in spi::write(
        client,
        // an entry at a property carries that property's day; its
        // qualification period is the enterprise's day's
        "SELECT transaction_type::text, points_change, to_char(gaming_day, 'YYYY-MM-DD'), created_at,
                to_char(CASE WHEN property_id IS NULL THEN gaming_day
                             ELSE loyalty.gaming_day(created_at) END, 'YYYY-MM-DD'),
                property_id
           FROM loyalty.loyalty_ledger WHERE player_id = $1 ORDER BY seq",
        &[player.into()],
    )? {
        let kind_name = r.get::<String>(1)?.unwrap_or_default();
        let kind = Kind::named(&kind_name).ok_or_else(|| {
            LoyaltyError::validation(format!("a ledger entry has an unknown kind {kind_name:?}"))
        })?;
        entries.push(replay::Entry {
            kind,
            points: r.get::<i64>(2)?.unwrap_or(0),
            gaming_day: r.get::<String>(3)?.unwrap_or_default(),
            period_day: r.get::<String>(5)?.unwrap_or_default(),
            property: r.get::<String>(6)?,
            created_at: r
                .get::<TimestampWithTimeZone>(4)?
                .map_or(0, pg_sys::TimestampTz::from),
        });
    }
    if !has_row && entries.is_empty() {
        return Ok(None);
    }
    let ladder = crate::ledger::ladder::get(client)?;
    let casino = crate::ledger::casino::settings(client)?;
    // SAFETY: reads the clock, as clock_timestamp() does.
    let now = unsafe { pg_sys::GetCurrentTimestamp() };
    let today = crate::ledger::casino::gaming_day(client, now)?;
    let (basis, current_period) = crate::ledger::casino::tier_rules(client, &today)?;
    let rules = Rules {
        ladder: &ladder,
        basis,
        period_start: &casino.tier_period_start,
        switched: crate::ledger::casino::basis_switch(client)?,
        current_period,
        stored_period,
    };
    Ok(Some(replay::replay(&entries, &rules)))
}

/// `loyalty.ledger_standing(p_player_id)`: the standing the player's ledger
/// gives (balance, lifetime points, tier, tier credits, period, retained
/// tier, last earning, last entry, last gameplay day and its points), as
/// the write path would hold it. Trusted back ends and staff with
/// loyalty:view_all; PLAYER_NOT_FOUND for a player with no row and no entry.
#[allow(clippy::type_complexity)]
#[pg_extern(security_definer, stable, parallel_safe)]
#[search_path(pg_catalog, loyalty, pg_temp)]
fn ledger_standing(
    p_player_id: Option<pgrx::Uuid>,
) -> TableIterator<
    'static,
    (
        name!(player_id, pgrx::Uuid),
        name!(balance, i64),
        name!(lifetime_points, i64),
        name!(tier, String),
        name!(tier_progress, i16),
        name!(tier_credits, i64),
        name!(tier_period, Option<pgrx::datum::Date>),
        name!(retained_tier, Option<String>),
        name!(last_earned_at, Option<TimestampWithTimeZone>),
        name!(chain_head_at, Option<TimestampWithTimeZone>),
        name!(gameplay_day, Option<pgrx::datum::Date>),
        name!(gameplay_day_points, i64),
    ),
> {
    let row = crate::domain::error::run(move || {
        crate::auth::require_any(&[crate::auth::Permission::ViewAll])?;
        let player = crate::domain::error::required(p_player_id, "p_player_id")?;
        let r = Spi::connect(|c| derived(c, player))?.ok_or_else(|| {
            LoyaltyError::new(
                Code::PlayerNotFound,
                format!("no balance and no ledger entries for player {player}"),
            )
        })?;
        let date = |d: Option<String>| -> Result<Option<pgrx::datum::Date>> {
            d.map(|d| crate::ledger::casino::parse_date(&d)).transpose()
        };
        let instant = |t: Option<i64>| t.and_then(|t| TimestampWithTimeZone::try_from(t).ok());
        Ok((
            player,
            r.balance,
            r.lifetime,
            r.tier,
            r.progress,
            r.standing.credits,
            date(r.standing.period)?,
            r.standing.retained,
            instant(r.last_earned_at),
            instant(r.chain_head_at),
            date(r.gameplay_day)?,
            r.gameplay_day_points,
        ))
    });
    TableIterator::once(row)
}

/// A stored row's standing against its ledger's, both as they stand in the
/// current qualification period (a roll not yet made, a period start moved
/// since, count the same on both sides): tier, tier credits, period and
/// retained tier. A row an upgrade brought and the write path has not yet
/// derived (no period, entries in the ledger) is checked on its tier alone.
/// None when the player has no row (the balance checks report that).
pub fn check(
    client: &SpiClient<'_>,
    player: pgrx::Uuid,
) -> Result<Option<(bool, serde_json::Value, serde_json::Value)>> {
    let rows = spi::write(
        client,
        "SELECT lifetime_points, tier, tier_credits, to_char(tier_period, 'YYYY-MM-DD'), retained_tier
           FROM loyalty.player_loyalty WHERE player_id = $1",
        &[player.into()],
    )?;
    if rows.is_empty() {
        return Ok(None);
    }
    let r = rows.first();
    let stored = Stored {
        lifetime: r.get::<i64>(1)?.unwrap_or(0),
        tier: r.get::<String>(2)?.unwrap_or_default(),
        standing: crate::domain::points::Standing {
            credits: r.get::<i64>(3)?.unwrap_or(0),
            period: r.get::<String>(4)?,
            retained: r.get::<String>(5)?,
        },
    };
    let Some(ledger) = derived(client, player)? else {
        return Ok(None);
    };
    let ladder = crate::ledger::ladder::get(client)?;
    // SAFETY: reads the clock, as clock_timestamp() does.
    let now = unsafe { pg_sys::GetCurrentTimestamp() };
    let today = crate::ledger::casino::gaming_day(client, now)?;
    let (basis, current) = crate::ledger::casino::tier_rules(client, &today)?;
    let keep = crate::ledger::casino::basis_switch(client)?.map(|(_, p)| p);
    // the lowest tier retained is no tier retained (a roll with no credits
    // says either, depending on whether a sweep rolled the year between)
    let lowest = ladder.first().map(|t| t.name.clone());
    let now_as = |standing: &crate::domain::points::Standing, tier: &str, lifetime: i64| {
        let mut rolled = standing.rolled_keeping(&current, &ladder, keep.as_deref());
        if rolled.retained == lowest {
            rolled.retained = None;
        }
        let tier = if standing.is_in(&current) {
            tier.to_string()
        } else {
            crate::domain::points::tier_of(basis, lifetime, &rolled, None, &ladder).0
        };
        (tier, rolled)
    };
    let (stored_tier, stored_now) = now_as(&stored.standing, &stored.tier, stored.lifetime);
    let (ledger_tier, ledger_now) = now_as(&ledger.standing, &ledger.tier, ledger.lifetime);
    let underived = stored.standing.period.is_none() && ledger.chain_head_at.is_some();
    let ok = stored_tier == ledger_tier && (underived || stored_now == ledger_now);
    let json = |tier: &str, s: &crate::domain::points::Standing| {
        serde_json::json!({
            "tier": tier,
            "tier_credits": s.credits,
            "tier_period": s.period,
            "retained_tier": s.retained,
        })
    };
    Ok(Some((
        ok,
        json(&stored.tier, &stored.standing),
        json(&ledger.tier, &ledger.standing),
    )))
}

struct Stored {
    lifetime: i64,
    tier: String,
    standing: crate::domain::points::Standing,
}

/// `loyalty.standing_check(p_player_id)`: whether the player's stored tier
/// and tier standing are what their ledger gives ([`check`]), with both.
/// The health check and `verify_player_balance` read it; trusted back ends
/// and staff with loyalty:view_all may call it. No row for a player
/// without a balance row.
#[pg_extern(security_definer, stable, parallel_safe)]
#[search_path(pg_catalog, loyalty, pg_temp)]
fn standing_check(
    p_player_id: Option<pgrx::Uuid>,
) -> TableIterator<
    'static,
    (
        name!(ok, bool),
        name!(standing, pgrx::JsonB),
        name!(ledger_standing, pgrx::JsonB),
    ),
> {
    let row = crate::domain::error::run(move || {
        crate::auth::require_any(&[crate::auth::Permission::ViewAll])?;
        let player = crate::domain::error::required(p_player_id, "p_player_id")?;
        Ok(Spi::connect(|c| check(c, player))?
            .map(|(ok, s, l)| (ok, pgrx::JsonB(s), pgrx::JsonB(l))))
    });
    TableIterator::new(row)
}
