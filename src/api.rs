//! The SQL surface (docs/reference.md §3). Each function validates its arguments, does its
//! work through the modules, and turns a spec error into a PostgreSQL ERROR
//! with [`crate::error::run`]. Arguments are all `Option` so that NULL gets
//! VALIDATION_ERROR instead of a silent NULL result.

use crate::context;
use crate::error::{required, run, LoyaltyError, Result};
use crate::jsonb::{self, RawJsonb};
use crate::keys;
use crate::ledger;
use crate::points::{self, Decimal, GameSettings};
use pgrx::prelude::*;

#[allow(clippy::type_complexity)]
#[pg_extern(security_definer, volatile, parallel_unsafe)]
#[search_path(pg_catalog, loyalty, pg_temp)]
fn increment_player_loyalty(
    p_player_id: Option<pgrx::Uuid>,
    p_delta_points: Option<i64>,
    p_correlation_id: default!(Option<&str>, "NULL"),
) -> TableIterator<
    'static,
    (
        name!(player_id, pgrx::Uuid),
        name!(balance_before, i64),
        name!(balance_after, i64),
        name!(tier_before, String),
        name!(tier_after, String),
        name!(tier_progress, i16),
        name!(lifetime_points, i64),
        name!(updated_at, TimestampWithTimeZone),
        name!(row_locked, bool),
        name!(correlation_id, String),
    ),
> {
    let (c, correlation_id) = run(|| {
        // Writes no ledger row: trusted back ends only, whatever the grants.
        crate::auth::require_trusted()?;
        let player_id = required(p_player_id, "p_player_id")?;
        let delta = required(p_delta_points, "p_delta_points")?;
        let correlation_id = context::correlation_id(p_correlation_id)?;
        Ok((
            ledger::increment(player_id, delta, &correlation_id)?,
            correlation_id,
        ))
    });
    TableIterator::once((
        c.player_id,
        c.balance_before,
        c.balance_after,
        c.tier_before,
        c.tier_after,
        c.tier_progress,
        c.lifetime_points,
        c.updated_at,
        c.row_locked,
        correlation_id,
    ))
}

/// SHA-256 hex of the RFC 8785 canonical form of the payload. It runs no
/// SQL, so it pins no `search_path`: a function-level `SET` would cost a GUC
/// save and restore on every call.
#[pg_extern(immutable, parallel_safe)]
fn hash_idempotency_key(p_payload: Option<RawJsonb>) -> String {
    run(|| keys::hash_canonical(&jsonb::canonical(&required(p_payload, "p_payload")?)?))
}

/// Points a slip of this game, bet and duration earns under the current
/// game settings (a slip itself uses the settings snapshotted at open).
#[pg_extern(security_definer, stable, parallel_safe)]
#[search_path(pg_catalog, loyalty, pg_temp)]
fn calculate_points(
    p_game_type: Option<&str>,
    p_average_bet: Option<AnyNumeric>,
    p_duration_seconds: Option<i32>,
) -> i64 {
    run(|| {
        let game_type = required(p_game_type, "p_game_type")?;
        let bet = Decimal::parse(
            "p_average_bet",
            &required(p_average_bet, "p_average_bet")?.to_string(),
        )?;
        let duration = required(p_duration_seconds, "p_duration_seconds")?;
        let settings = game_settings(game_type)?;
        points::points(&settings, bet, i64::from(duration))
    })
}

/// The current settings of a game type; unknown types are VALIDATION_ERROR.
pub fn game_settings(game_type: &str) -> Result<GameSettings> {
    let row = Spi::connect(|client| -> Result<Option<(String, i32, String, String)>> {
        let rows = crate::spi::read(
            client,
            "SELECT house_edge::text, decisions_per_hour, points_conversion_rate::text, point_multiplier::text
               FROM loyalty.game_settings WHERE game_type = $1",
            &[game_type.into()],
        )?;
        if rows.is_empty() {
            return Ok(None);
        }
        let r = rows.first();
        Ok(Some((
            r.get::<String>(1)?.unwrap_or_default(),
            r.get::<i32>(2)?.unwrap_or(0),
            r.get::<String>(3)?.unwrap_or_default(),
            r.get::<String>(4)?.unwrap_or_default(),
        )))
    })?;
    let Some((edge, dph, rate, mult)) = row else {
        return Err(LoyaltyError::validation(format!(
            "unknown game type {:?}",
            crate::error::echo(game_type)
        )));
    };
    Ok(GameSettings {
        house_edge_percent: Decimal::parse("house_edge", &edge)?,
        decisions_per_hour: u32::try_from(dph)
            .map_err(|_| LoyaltyError::validation("decisions_per_hour is negative"))?,
        points_conversion_rate: Decimal::parse("points_conversion_rate", &rate)?,
        point_multiplier: Decimal::parse("point_multiplier", &mult)?,
    })
}
