//! The games on the floor: their current settings (a slip snapshots them
//! at open), their table limits, and what a slip of a game would earn.
//! Read from the latest committed `loyalty.game_settings` row, so a game
//! edit applies to every open that starts after it commits, whatever the
//! caller's isolation level.

use crate::domain::error::{echo, required, run, LoyaltyError, Result};
use crate::domain::points::{self, Decimal, GameSettings};
use pgrx::prelude::*;
use pgrx::spi::SpiClient;

/// A game's settings as last committed: what a slip snapshots.
pub struct Game {
    pub game_type: String,
    /// `house_edge`, `points_conversion_rate`, `point_multiplier` as text
    /// (exact numerics), `decisions_per_hour`.
    pub house_edge: String,
    pub decisions_per_hour: i32,
    pub points_conversion_rate: String,
    pub point_multiplier: String,
    pub approval_threshold_points: i64,
    pub min_average_bet: String,
    pub max_average_bet: String,
    /// Whether the bet asked about lies within the table limits.
    pub bet_in_range: bool,
}

impl Game {
    pub fn settings(&self) -> Result<GameSettings> {
        Ok(GameSettings {
            house_edge_percent: Decimal::parse("house_edge", &self.house_edge)?,
            decisions_per_hour: u32::try_from(self.decisions_per_hour)
                .map_err(|_| LoyaltyError::validation("decisions_per_hour is negative"))?,
            points_conversion_rate: Decimal::parse(
                "points_conversion_rate",
                &self.points_conversion_rate,
            )?,
            point_multiplier: Decimal::parse("point_multiplier", &self.point_multiplier)?,
        })
    }
}

/// The game's current settings at `property` (its own table limits and
/// slip threshold where it sets them, within the game's: SPEC §22; the
/// game's own for None), and whether `bet` lies within the table limits;
/// VALIDATION_ERROR for an unknown game.
pub fn current(
    client: &SpiClient<'_>,
    game_type: &str,
    bet: Option<&AnyNumeric>,
    property: Option<&str>,
) -> Result<Game> {
    let json = crate::pg::spi::read_latest(
        client,
        "SELECT pg_catalog.json_build_object(
                'house_edge', g.house_edge::text, 'decisions_per_hour', g.decisions_per_hour,
                'points_conversion_rate', g.points_conversion_rate::text,
                'point_multiplier', g.point_multiplier::text,
                'approval_threshold_points', coalesce(p.approval_threshold_points, g.approval_threshold_points),
                'min', l.lo::text, 'max', l.hi::text,
                'in_range', $2::numeric BETWEEN l.lo AND l.hi)::text
           FROM loyalty.game_settings g
           LEFT JOIN loyalty.property_game p ON p.property_id = $3 AND p.game_type = g.game_type
          CROSS JOIN LATERAL (SELECT greatest(g.min_average_bet, coalesce(p.min_average_bet, g.min_average_bet)) AS lo,
                                     least(g.max_average_bet, coalesce(p.max_average_bet, g.max_average_bet)) AS hi) l
          WHERE g.game_type = $1",
        &[game_type.into(), bet.cloned().into(), property.into()],
    )?
    .ok_or_else(|| LoyaltyError::validation(format!("unknown game type {:?}", echo(game_type))))?;
    let v: serde_json::Value = serde_json::from_str(&json)
        .map_err(|_| LoyaltyError::validation("game settings could not be read"))?;
    let text = |k: &str| {
        v.get(k)
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    Ok(Game {
        game_type: game_type.to_string(),
        house_edge: text("house_edge"),
        decisions_per_hour: v
            .get("decisions_per_hour")
            .and_then(serde_json::Value::as_i64)
            .and_then(|d| i32::try_from(d).ok())
            .unwrap_or(0),
        points_conversion_rate: text("points_conversion_rate"),
        point_multiplier: text("point_multiplier"),
        approval_threshold_points: v
            .get("approval_threshold_points")
            .and_then(serde_json::Value::as_i64)
            .unwrap_or(0),
        min_average_bet: text("min"),
        max_average_bet: text("max"),
        bet_in_range: v.get("in_range").and_then(serde_json::Value::as_bool) == Some(true),
    })
}

/// The game's table limits at `property`: VALIDATION_ERROR for a bet
/// outside them (or an unknown game). Returns the game as last committed.
pub fn check_table_limits(
    client: &SpiClient<'_>,
    game_type: &str,
    bet: &AnyNumeric,
    property: &str,
) -> Result<Game> {
    let game = current(client, game_type, Some(bet), Some(property))?;
    if !game.bet_in_range {
        return Err(LoyaltyError::validation(format!(
            "average bet must be between {} and {} at {}",
            game.min_average_bet,
            game.max_average_bet,
            echo(game_type)
        )));
    }
    Ok(game)
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
        let settings = Spi::connect(|c| current(c, game_type, None, None))?.settings()?;
        points::points(&settings, bet, i64::from(duration))
    })
}
