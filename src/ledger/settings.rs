//! Every owner-only setting, read from the one-row `loyalty.config` table.
//!
//! These are deliberately not GUCs: any role can `SET` a custom variable,
//! and the security limits must not move for an ordinary role. Only the
//! table's owner can change them; see `sql/schema.sql` for the defaults.

use crate::domain::error::{LoyaltyError, Result};
use crate::pg::spi;
use pgrx::spi::SpiClient;

#[derive(Debug, Clone)]
pub struct Settings {
    /// Largest |points| of one manual reward (REWARD_EXCEEDS_LIMIT above).
    pub max_reward_points: i64,
    /// Manual rewards one staff member may issue per `rate_limit_window_s`.
    pub rate_limit_count: i64,
    /// Sliding window of the rate limit, in seconds.
    pub rate_limit_window_s: f64,
    /// More rewards than this by one staff member in `alert_window_s` alert.
    pub alert_reward_count: i64,
    /// Window of the reward-frequency alert, in seconds.
    pub alert_window_s: f64,

    /// The gaming day (YYYY-MM-DD) of the current transaction's start.
    pub gaming_day: String,
}

/// The settings, today's gaming day and `staff`'s row (active,
/// permissions), in one query.
pub fn load_for_staff(
    client: &SpiClient<'_>,
    staff: pgrx::Uuid,
) -> Result<(Settings, Option<crate::auth::StaffRow>)> {
    let rows = spi::write(
        client,
        "SELECT c.max_reward_points, c.rate_limit_count::bigint, extract(epoch FROM c.rate_limit_window)::float8,
                c.alert_reward_count::bigint, extract(epoch FROM c.alert_window)::float8,
                s.active, s.permissions
           FROM loyalty.config c LEFT JOIN loyalty.staff s ON s.staff_id = $1",
        &[staff.into()],
    )?;
    if rows.is_empty() {
        return Err(LoyaltyError::validation(
            "loyalty.config has no row; reinstall the extension",
        ));
    }
    let r = rows.first();
    let settings = Settings {
        max_reward_points: r.get(1)?.unwrap_or(10_000),
        rate_limit_count: r.get(2)?.unwrap_or(10),
        rate_limit_window_s: r.get(3)?.unwrap_or(60.0),
        alert_reward_count: r.get(4)?.unwrap_or(20),
        alert_window_s: r.get(5)?.unwrap_or(3600.0),
        gaming_day: crate::ledger::casino::today(client)?,
    };
    let staff_row = match r.get::<bool>(6)? {
        Some(active) => Some((active, r.get::<Vec<String>>(7)?.unwrap_or_default())),
        None => None,
    };
    Ok((settings, staff_row))
}
