//! The casino's settings (`loyalty.config`), read once per backend from the
//! latest committed row and kept until the table changes (pg/watch.rs), so
//! a call costs no query for them and every call that starts after a
//! change commits applies it, whatever its isolation level: the gaming day
//! every ledger row carries (time zone, day start), the accrual lock
//! timeout, what decides the tier (basis, period start), the daily
//! four-eyes threshold, the manual-reward limits and the redemption limits;
//! and the enterprise's properties (`loyalty.property`), each with its own
//! gaming day and limits where it sets them (SPEC §22).

use crate::domain::error::{LoyaltyError, Result};
use crate::domain::points::{self, Basis};
use crate::pg::spi;
use crate::pg::watch::{self, Table};
use pgrx::prelude::*;
use pgrx::spi::SpiClient;
use std::cell::RefCell;
use std::ffi::CString;
use std::rc::Rc;

const MICROS_PER_DAY: i64 = 86_400_000_000;

/// What is cached of `loyalty.config`: every setting a call reads.
#[derive(Clone)]
pub struct Casino {
    timezone: CString,
    /// Day start, microseconds after local midnight.
    day_start: i64,
    /// `accrual_lock_timeout` in milliseconds.
    pub accrual_lock_timeout_ms: i32,
    pub tier_basis: Basis,
    /// `tier_period_start`: `MM-DD`.
    pub tier_period_start: String,
    /// `daily_approval_threshold_points`.
    pub daily_approval_threshold: i64,
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
    /// Most points one hold or redemption may take.
    pub max_redemption_points: i64,
    /// A hold of more points than this waits for a second person.
    pub redemption_approval_points: i64,
    /// What a point is worth in a comp, in cents (numeric text).
    pub cents_per_point: String,
    /// When the PERIOD basis was last turned on (microseconds), if it was.
    pub tier_basis_since: Option<i64>,
    /// The enterprise's properties (`loyalty.property`), as stored: a
    /// setting a property leaves NULL is the enterprise's ([`property`]).
    places: Vec<Place>,
}

/// A `loyalty.property` row as stored (None: the enterprise's setting).
#[derive(Clone)]
struct Place {
    id: String,
    active: bool,
    timezone: Option<CString>,
    day_start: Option<i64>,
    daily_approval_threshold: Option<i64>,
    cents_per_point: Option<String>,
    max_redemption_points: Option<i64>,
    redemption_approval_points: Option<i64>,
}

/// A property's settings, each its own or else the enterprise's: the one
/// place the fallback is decided (SPEC §22).
#[derive(Debug, Clone)]
pub struct Property {
    pub id: String,
    pub active: bool,
    pub daily_approval_threshold: i64,
    pub cents_per_point: String,
    pub max_redemption_points: i64,
    pub redemption_approval_points: i64,
}

impl Casino {
    /// The time zone and day start of `property`'s gaming day (the
    /// enterprise's for None or for a setting the property leaves NULL).
    fn zone(&self, property: Option<&str>) -> (CString, i64) {
        let place = property.and_then(|id| self.places.iter().find(|p| p.id == id));
        (
            place
                .and_then(|p| p.timezone.clone())
                .unwrap_or_else(|| self.timezone.clone()),
            place.and_then(|p| p.day_start).unwrap_or(self.day_start),
        )
    }
}

thread_local! {
    // shared, not copied: a call asks for the settings many times
    static CASINO: RefCell<Option<Rc<Casino>>> = const { RefCell::new(None) };
}

/// The enterprise's gaming day (`YYYY-MM-DD`) of `at` (microseconds since
/// 2000-01-01 UTC): what tier periods, expiry and manual-reward keys count.
pub fn gaming_day(client: &SpiClient<'_>, at: pg_sys::TimestampTz) -> Result<String> {
    gaming_day_at(client, None, at)
}

/// `property`'s gaming day (`YYYY-MM-DD`) of `at`: what its ledger entries
/// carry and its daily threshold counts (the enterprise's for None).
pub fn gaming_day_at(
    client: &SpiClient<'_>,
    property: Option<&str>,
    at: pg_sys::TimestampTz,
) -> Result<String> {
    unsafe extern "C-unwind" {
        // timezone(text, timestamptz), as PostgreSQL's fmgr calls it
        fn timestamptz_zone(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum;
    }
    let (tz, start) = settings(client)?.zone(property);
    // SAFETY: timestamptz_zone(text, timestamptz) called through pgrx's
    // guarded DirectFunctionCall (a PostgreSQL ERROR becomes a Rust error);
    // the text datum lives in the current memory context for this call.
    let local = unsafe {
        let zone = pg_sys::cstring_to_text(tz.as_ptr());
        pg_sys::DirectFunctionCall2Coll(
            Some(timestamptz_zone),
            pg_sys::InvalidOid,
            pg_sys::Datum::from(zone),
            pg_sys::Datum::from(at),
        )
        .value() as i64
    };
    let days = local
        .checked_sub(start)
        .ok_or_else(|| LoyaltyError::validation("the clock is out of timestamp range"))?
        .div_euclid(MICROS_PER_DAY);
    Ok(civil_date(days))
}

/// The instants `property`'s gaming day (`YYYY-MM-DD`) starts and ends:
/// its date at the day start in the property's time zone, and the next
/// date's (a day of a clock change is 23 or 25 hours long). None: the
/// enterprise's day.
pub fn day_bounds(
    client: &SpiClient<'_>,
    property: Option<&str>,
    day: &str,
) -> Result<(TimestampWithTimeZone, TimestampWithTimeZone)> {
    unsafe extern "C-unwind" {
        // timezone(text, timestamp), as PostgreSQL's fmgr calls it
        fn timestamp_zone(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum;
    }
    let (tz, start) = settings(client)?.zone(property);
    let days = i64::from(parse_date(day)?.to_pg_epoch_days());
    let at = |d: i64| -> Result<TimestampWithTimeZone> {
        let local = d
            .checked_mul(MICROS_PER_DAY)
            .and_then(|m| m.checked_add(start))
            .ok_or_else(|| LoyaltyError::validation("the day is out of timestamp range"))?;
        // SAFETY: timezone(text, timestamp) through pgrx's guarded
        // DirectFunctionCall (a PostgreSQL ERROR becomes a Rust error); the
        // text datum lives in the current memory context for this call.
        let instant = unsafe {
            let zone = pg_sys::cstring_to_text(tz.as_ptr());
            pg_sys::DirectFunctionCall2Coll(
                Some(timestamp_zone),
                pg_sys::InvalidOid,
                pg_sys::Datum::from(zone),
                pg_sys::Datum::from(local),
            )
            .value() as i64
        };
        TimestampWithTimeZone::try_from(instant)
            .map_err(|_| LoyaltyError::validation("the day is out of timestamp range"))
    };
    Ok((at(days)?, at(days + 1)?))
}

/// The gaming day (`YYYY-MM-DD`) of the transaction's start, `now()`:
/// what `loyalty.gaming_day(now())` answers, without a query.
pub fn today(client: &SpiClient<'_>) -> Result<String> {
    gaming_day(client, pg_sys::TimestampTz::from(crate::pg::context::now()))
}

/// `property`'s settings, with the enterprise's where it has none of its
/// own. VALIDATION_ERROR when there is no such property.
pub fn property(client: &SpiClient<'_>, id: &str) -> Result<Property> {
    let c = settings(client)?;
    let p = c
        .places
        .iter()
        .find(|p| p.id == id)
        .ok_or_else(|| LoyaltyError::validation(format!("there is no property {id:?}")))?;
    Ok(Property {
        id: p.id.clone(),
        active: p.active,
        daily_approval_threshold: p
            .daily_approval_threshold
            .unwrap_or(c.daily_approval_threshold),
        cents_per_point: p
            .cents_per_point
            .clone()
            .unwrap_or_else(|| c.cents_per_point.clone()),
        max_redemption_points: p.max_redemption_points.unwrap_or(c.max_redemption_points),
        redemption_approval_points: p
            .redemption_approval_points
            .unwrap_or(c.redemption_approval_points),
    })
}

/// Where a new slip, reward, hold or redemption happens: `given`, which
/// must be an active property, or without one the enterprise's only active
/// property (VALIDATION_ERROR when it has several: the caller names one).
pub fn where_new(client: &SpiClient<'_>, given: Option<&str>) -> Result<Property> {
    let id = match given {
        Some(id) => id.to_string(),
        None => {
            let c = settings(client)?;
            let mut active = c.places.iter().filter(|p| p.active);
            match (active.next(), active.next()) {
                (Some(only), None) => only.id.clone(),
                (None, _) => {
                    return Err(LoyaltyError::validation(
                        "the enterprise has no active property",
                    ))
                }
                (Some(_), Some(_)) => {
                    return Err(LoyaltyError::validation(
                        "the enterprise has several properties: name one in p_property_id",
                    ))
                }
            }
        }
    };
    let p = property(client, &id)?;
    if !p.active {
        return Err(LoyaltyError::validation(format!(
            "property {id} is inactive"
        )));
    }
    Ok(p)
}

/// How long a sweep (roll, expiry, recovery, retier) keeps starting
/// players in one call: half the accrual lock timeout, what a floor call
/// waits for a busy player before it gives up. Every player a sweep
/// changes stays locked until its call commits; call it again for the rest.
pub fn sweep_budget(client: &SpiClient<'_>) -> Result<std::time::Duration> {
    let ms = settings(client)?.accrual_lock_timeout_ms;
    Ok(std::time::Duration::from_millis(
        u64::try_from(ms / 2).unwrap_or(0).max(1),
    ))
}

/// `config.accrual_lock_timeout` in milliseconds.
pub fn accrual_lock_timeout_ms(client: &SpiClient<'_>) -> Result<i32> {
    Ok(settings(client)?.accrual_lock_timeout_ms)
}

/// The tier basis, and the first gaming day of the qualification period
/// that holds `gaming_day` (`YYYY-MM-DD`).
pub fn tier_rules(client: &SpiClient<'_>, gaming_day: &str) -> Result<(Basis, String)> {
    let c = settings(client)?;
    Ok((
        c.tier_basis,
        points::period_of(gaming_day, &c.tier_period_start),
    ))
}

/// `config.tier_basis`.
pub fn tier_basis(client: &SpiClient<'_>) -> Result<Basis> {
    Ok(settings(client)?.tier_basis)
}

/// When the PERIOD basis was last turned on, and the first gaming day of
/// the qualification period that instant fell in: through that period each
/// player keeps the tier they held under LIFETIME (points::Standing::rolled_keeping).
pub fn basis_switch(client: &SpiClient<'_>) -> Result<Option<(i64, String)>> {
    let c = settings(client)?;
    match c.tier_basis_since {
        Some(at) if c.tier_basis == Basis::Period => {
            let day = gaming_day(client, pg_sys::TimestampTz::from(at))?;
            Ok(Some((at, points::period_of(&day, &c.tier_period_start))))
        }
        _ => Ok(None),
    }
}

/// `loyalty.tier_period_of(p_at)`: the first gaming day of the
/// qualification period `p_at` falls in (what a post at `p_at` counts its
/// tier credits toward).
#[pg_extern(stable)]
#[search_path(pg_catalog, loyalty, pg_temp)]
fn tier_period_of(p_at: default!(TimestampWithTimeZone, "now()")) -> pgrx::datum::Date {
    crate::domain::error::run(|| {
        let day = Spi::connect(|c| {
            let day = gaming_day(c, pg_sys::TimestampTz::from(p_at))?;
            Ok::<_, LoyaltyError>(tier_rules(c, &day)?.1)
        })?;
        parse_date(&day)
    })
}

/// A `YYYY-MM-DD` date.
pub fn parse_date(day: &str) -> Result<pgrx::datum::Date> {
    let part = |r: std::ops::Range<usize>| day.get(r).and_then(|p| p.parse::<i32>().ok());
    match (part(0..4), part(5..7), part(8..10)) {
        (Some(y), Some(m), Some(d)) => pgrx::datum::Date::new(y, m as u8, d as u8)
            .map_err(|_| LoyaltyError::validation(format!("{day} is not a date"))),
        _ => Err(LoyaltyError::validation(format!("{day} is not a date"))),
    }
}

/// The cached settings, read again (from the latest committed row) after
/// `loyalty.config` changed.
pub fn settings(client: &SpiClient<'_>) -> Result<Rc<Casino>> {
    // both asked, so each copy that was stale counts as current again
    let config = watch::still_current(client, Table::Config)?;
    let places = watch::still_current(client, Table::Property)?;
    if config && places {
        if let Some(c) = CASINO.with(|c| c.borrow().clone()) {
            return Ok(c);
        }
    }
    let json = spi::read_latest(
        client,
        "SELECT pg_catalog.json_build_object(
                'timezone', casino_timezone,
                'day_start', (extract(epoch FROM gaming_day_start - time '00:00') * 1000000)::bigint,
                'accrual_lock_timeout_ms', (extract(epoch FROM accrual_lock_timeout) * 1000)::integer,
                'tier_basis', tier_basis, 'tier_period_start', tier_period_start,
                'daily_approval_threshold', daily_approval_threshold_points,
                'max_reward_points', max_reward_points, 'rate_limit_count', rate_limit_count,
                'rate_limit_window_s', extract(epoch FROM rate_limit_window)::float8,
                'alert_reward_count', alert_reward_count,
                'alert_window_s', extract(epoch FROM alert_window)::float8,
                'max_redemption_points', max_redemption_points,
                'redemption_approval_points', redemption_approval_points,
                'cents_per_point', cents_per_point::text,
                'tier_basis_since', (extract(epoch FROM tier_basis_since - '2000-01-01 00:00:00+00') * 1000000)::bigint,
                'places', (SELECT pg_catalog.json_agg(pg_catalog.json_build_object(
                                'id', p.property_id, 'active', p.active, 'timezone', p.time_zone,
                                'day_start', (extract(epoch FROM p.gaming_day_start - time '00:00') * 1000000)::bigint,
                                'daily_approval_threshold', p.daily_approval_threshold_points,
                                'cents_per_point', p.cents_per_point::text,
                                'max_redemption_points', p.max_redemption_points,
                                'redemption_approval_points', p.redemption_approval_points))
                             FROM loyalty.property p))::text
           FROM loyalty.config",
        &[],
    )?
    .ok_or_else(|| LoyaltyError::validation("loyalty.config has no row; reinstall the extension"))?;
    let v: serde_json::Value = serde_json::from_str(&json)
        .map_err(|_| LoyaltyError::validation("loyalty.config could not be read"))?;
    let int = |k: &str| v.get(k).and_then(serde_json::Value::as_i64).unwrap_or(0);
    let float = |k: &str| v.get(k).and_then(serde_json::Value::as_f64).unwrap_or(0.0);
    let text = |k: &str| {
        v.get(k)
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let casino = Casino {
        timezone: CString::new(text("timezone"))
            .map_err(|_| LoyaltyError::validation("casino_timezone holds a NUL"))?,
        day_start: int("day_start"),
        accrual_lock_timeout_ms: i32::try_from(int("accrual_lock_timeout_ms")).unwrap_or(2_000),
        tier_basis: Basis::parse(&text("tier_basis")),
        tier_period_start: text("tier_period_start"),
        daily_approval_threshold: int("daily_approval_threshold"),
        max_reward_points: int("max_reward_points"),
        rate_limit_count: int("rate_limit_count"),
        rate_limit_window_s: float("rate_limit_window_s"),
        alert_reward_count: int("alert_reward_count"),
        alert_window_s: float("alert_window_s"),
        max_redemption_points: int("max_redemption_points"),
        redemption_approval_points: int("redemption_approval_points"),
        cents_per_point: text("cents_per_point"),
        tier_basis_since: v
            .get("tier_basis_since")
            .and_then(serde_json::Value::as_i64),
        places: v
            .get("places")
            .and_then(serde_json::Value::as_array)
            .map(|a| a.iter().map(place).collect::<Result<Vec<_>>>())
            .transpose()?
            .unwrap_or_default(),
    };
    let casino = Rc::new(casino);
    CASINO.with(|c| *c.borrow_mut() = Some(casino.clone()));
    Ok(casino)
}

/// One property's row, from its JSON.
fn place(v: &serde_json::Value) -> Result<Place> {
    let text = |k: &str| v.get(k).and_then(serde_json::Value::as_str);
    let int = |k: &str| v.get(k).and_then(serde_json::Value::as_i64);
    Ok(Place {
        id: text("id").unwrap_or_default().to_string(),
        active: v
            .get("active")
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(false),
        timezone: text("timezone")
            .map(CString::new)
            .transpose()
            .map_err(|_| LoyaltyError::validation("a property's time_zone holds a NUL"))?,
        day_start: int("day_start"),
        daily_approval_threshold: int("daily_approval_threshold"),
        cents_per_point: text("cents_per_point").map(str::to_string),
        max_redemption_points: int("max_redemption_points"),
        redemption_approval_points: int("redemption_approval_points"),
    })
}

/// `YYYY-MM-DD` of a day count since 2000-01-01 (PostgreSQL's epoch).
fn civil_date(days_since_2000: i64) -> String {
    crate::pg::log::civil_date(days_since_2000 + 10_957)
}

extension_sql!(
    r#"
-- The write path caches the casino's settings (src/ledger/casino.rs);
-- any change to loyalty.config tells every backend to read them again.
CREATE TRIGGER config_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON loyalty.config
    FOR EACH STATEMENT EXECUTE FUNCTION loyalty.tier_ladder_changed();
CREATE TRIGGER property_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON loyalty.property
    FOR EACH STATEMENT EXECUTE FUNCTION loyalty.tier_ladder_changed();
"#,
    name = "config_changed_trigger",
    requires = ["schema", "tier_ladder_trigger"]
);

#[cfg(test)]
mod unit {
    use super::civil_date;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_date(0), "2000-01-01");
        assert_eq!(civil_date(59), "2000-02-29");
        assert_eq!(civil_date(60), "2000-03-01");
        assert_eq!(civil_date(-1), "1999-12-31");
        assert_eq!(civil_date(9_826), "2026-11-26");
        assert_eq!(civil_date(366 + 365 * 3), "2004-01-01");
    }
}
