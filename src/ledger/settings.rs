//! The manual-reward limits, as one reward reads them: from the cached
//! casino settings (ledger/casino.rs, refilled from the latest committed
//! `loyalty.config` row), with today's gaming day and the issuing staff
//! member's row.
//!
//! These are deliberately not GUCs: any role can `SET` a custom variable,
//! and the security limits must not move for an ordinary role. Only the
//! table's owner can change them; `sql/schema.sql` has the defaults.

use crate::domain::error::Result;
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

/// The limits, today's gaming day and `staff`'s row (active, permissions).
pub fn load_for_staff(
    client: &SpiClient<'_>,
    staff: pgrx::Uuid,
) -> Result<(Settings, Option<crate::auth::StaffRow>)> {
    let c = crate::ledger::casino::settings(client)?;
    let settings = Settings {
        max_reward_points: c.max_reward_points,
        rate_limit_count: c.rate_limit_count,
        rate_limit_window_s: c.rate_limit_window_s,
        alert_reward_count: c.alert_reward_count,
        alert_window_s: c.alert_window_s,
        gaming_day: crate::ledger::casino::today(client)?,
    };
    Ok((settings, crate::auth::staff_in(client, staff)?))
}
