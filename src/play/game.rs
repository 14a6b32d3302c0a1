//! The games on the floor: their current settings (a slip snapshots them
//! at open), their table limits, and what a slip of a game would earn.

use crate::domain::error::{echo, required, run, LoyaltyError, Result};
use crate::domain::points::{self, Decimal, GameSettings};
use crate::pg::spi;
use pgrx::prelude::*;
use pgrx::spi::SpiClient;

/// The game's table limits: VALIDATION_ERROR for a bet outside them (or
/// an unknown game).
pub fn check_table_limits(client: &SpiClient<'_>, game_type: &str, bet: &AnyNumeric) -> Result<()> {
    let rows = spi::read(
        client,
        "SELECT $2 BETWEEN min_average_bet AND max_average_bet, min_average_bet::text, max_average_bet::text
           FROM loyalty.game_settings WHERE game_type = $1",
        &[game_type.into(), bet.clone().into()],
    )?;
    if rows.is_empty() {
        return Err(LoyaltyError::validation(format!(
            "unknown game type {:?}",
            echo(game_type)
        )));
    }
    let r = rows.first();
    if r.get::<bool>(1)? != Some(true) {
        return Err(LoyaltyError::validation(format!(
            "average bet must be between {} and {} at {game_type}",
            r.get::<String>(2)?.unwrap_or_default(),
            r.get::<String>(3)?.unwrap_or_default()
        )));
    }
    Ok(())
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
    run(move || {
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
        let rows = spi::read(
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
            echo(game_type)
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
