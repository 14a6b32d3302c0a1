//! The casino settings the write path needs on every post, read once per
//! backend and kept until `loyalty.config` changes (pg/watch.rs), so a post
//! costs no query for them:
//! the gaming day every ledger row carries (time zone, day start), the
//! accrual lock timeout, what decides the tier (basis, period start) and
//! the daily four-eyes threshold a completion checks.

use crate::domain::error::{LoyaltyError, Result};
use crate::domain::points::{self, Basis};
use crate::pg::spi;
use crate::pg::watch::{self, Table};
use pgrx::prelude::*;
use pgrx::spi::SpiClient;
use std::cell::RefCell;
use std::ffi::CString;

const MICROS_PER_DAY: i64 = 86_400_000_000;

/// What is cached of `loyalty.config`.
#[derive(Clone)]
struct Casino {
    timezone: CString,
    /// Day start, microseconds after local midnight.
    day_start: i64,
    /// `accrual_lock_timeout` in milliseconds.
    accrual_lock_timeout_ms: i32,
    tier_basis: Basis,
    /// `tier_period_start`: `MM-DD`.
    tier_period_start: String,
    /// `daily_approval_threshold_points`.
    daily_approval_threshold: i64,
}

thread_local! {
    static CASINO: RefCell<Option<Casino>> = const { RefCell::new(None) };
}

/// The gaming day (`YYYY-MM-DD`) of `at` (microseconds since 2000-01-01 UTC).
pub fn gaming_day(client: &SpiClient<'_>, at: pg_sys::TimestampTz) -> Result<String> {
    unsafe extern "C-unwind" {
        // timezone(text, timestamptz), as PostgreSQL's fmgr calls it
        fn timestamptz_zone(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum;
    }
    let Casino {
        timezone: tz,
        day_start: start,
        ..
    } = casino(client)?;
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

/// The gaming day (`YYYY-MM-DD`) of the transaction's start, `now()`:
/// what `loyalty.gaming_day(now())` answers, without a query.
pub fn today(client: &SpiClient<'_>) -> Result<String> {
    gaming_day(client, pg_sys::TimestampTz::from(crate::pg::context::now()))
}

/// `config.daily_approval_threshold_points`.
pub fn daily_approval_threshold(client: &SpiClient<'_>) -> Result<i64> {
    Ok(casino(client)?.daily_approval_threshold)
}

/// `config.accrual_lock_timeout` in milliseconds.
pub fn accrual_lock_timeout_ms(client: &SpiClient<'_>) -> Result<i32> {
    Ok(casino(client)?.accrual_lock_timeout_ms)
}

/// The tier basis, and the first gaming day of the qualification period
/// that holds `gaming_day` (`YYYY-MM-DD`).
pub fn tier_rules(client: &SpiClient<'_>, gaming_day: &str) -> Result<(Basis, String)> {
    let c = casino(client)?;
    Ok((
        c.tier_basis,
        points::period_of(gaming_day, &c.tier_period_start),
    ))
}

/// `config.tier_basis`.
pub fn tier_basis(client: &SpiClient<'_>) -> Result<Basis> {
    Ok(casino(client)?.tier_basis)
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

/// The cached settings, read again after `loyalty.config` changed.
fn casino(client: &SpiClient<'_>) -> Result<Casino> {
    if watch::still_current(client, Table::Config)? {
        if let Some(c) = CASINO.with(|c| c.borrow().clone()) {
            return Ok(c);
        }
    }
    let rows = spi::read(
        client,
        "SELECT casino_timezone,
                (extract(epoch FROM gaming_day_start - time '00:00') * 1000000)::bigint,
                (extract(epoch FROM accrual_lock_timeout) * 1000)::integer,
                tier_basis, tier_period_start, daily_approval_threshold_points
           FROM loyalty.config",
        &[],
    )?;
    let row = rows.first();
    let tz = row.get::<String>(1)?.ok_or_else(|| {
        LoyaltyError::validation("loyalty.config has no row; reinstall the extension")
    })?;
    let casino = Casino {
        timezone: CString::new(tz)
            .map_err(|_| LoyaltyError::validation("casino_timezone holds a NUL"))?,
        day_start: row.get::<i64>(2)?.unwrap_or(0),
        accrual_lock_timeout_ms: row.get::<i32>(3)?.unwrap_or(2_000),
        tier_basis: Basis::parse(&row.get::<String>(4)?.unwrap_or_default()),
        tier_period_start: row.get::<String>(5)?.unwrap_or_else(|| "01-01".into()),
        daily_approval_threshold: row.get::<i64>(6)?.unwrap_or(0),
    };
    CASINO.with(|c| *c.borrow_mut() = Some(casino.clone()));
    Ok(casino)
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
