//! Canonical log lines (SPEC §7): one JSON object per line in the server log,
//! each with `event`, `timestamp`, `correlation_id`, `player_id` and the
//! event's own fields.

use serde_json::{Map, Value};
use std::time::{SystemTime, UNIX_EPOCH};

/// Events this extension writes to the server log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    BalanceIncremented,
    AccrualCompleted,
    AccrualFailed,
    ManualRewardIssued,
    IdempotencyHit,
    TierChanged,
    ManualRewardRejected,
    BalanceRebuilt,
}

impl Event {
    pub fn name(self) -> &'static str {
        match self {
            Event::BalanceIncremented => "loyalty_balance_incremented",
            Event::AccrualCompleted => "loyalty_accrual_completed",
            Event::AccrualFailed => "loyalty_accrual_failed",
            Event::ManualRewardIssued => "manual_reward_issued",
            Event::IdempotencyHit => "loyalty_idempotency_hit",
            Event::TierChanged => "loyalty_tier_changed",
            Event::ManualRewardRejected => "manual_reward_rejected",
            Event::BalanceRebuilt => "loyalty_balance_rebuilt",
        }
    }
}

/// Build the JSON line; `fields` may not override the common keys.
pub fn line(
    event: Event,
    correlation_id: &str,
    player_id: Option<&str>,
    fields: Map<String, Value>,
) -> String {
    let mut obj = Map::new();
    obj.insert("event".into(), event.name().into());
    obj.insert("timestamp".into(), iso8601_now().into());
    obj.insert("correlation_id".into(), correlation_id.into());
    obj.insert(
        "player_id".into(),
        player_id.map_or(Value::Null, Value::from),
    );
    for (k, v) in fields {
        obj.entry(k).or_insert(v);
    }
    Value::Object(obj).to_string()
}

/// Write one canonical line to the server log (level LOG: not sent to clients).
pub fn emit(
    event: Event,
    correlation_id: &str,
    player_id: Option<&str>,
    fields: Map<String, Value>,
) {
    pgrx::log!("{}", line(event, correlation_id, player_id, fields));
}

pub fn iso8601_now() -> String {
    let micros = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0);
    iso8601_utc(micros)
}

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ` for microseconds since the Unix epoch.
pub fn iso8601_utc(micros: i64) -> String {
    let secs = micros.div_euclid(1_000_000);
    let frac = micros.rem_euclid(1_000_000);
    let days = secs.div_euclid(86_400);
    let tod = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{frac:06}Z",
        tod / 3600,
        tod % 3600 / 60,
        tod % 60
    )
}

/// Shorthand for building event fields.
#[macro_export]
macro_rules! fields {
    ($($k:literal => $v:expr),* $(,)?) => {{
        #[allow(unused_mut)]
        let mut m = ::serde_json::Map::new();
        $( m.insert($k.to_string(), ::serde_json::json!($v)); )*
        m
    }};
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(iso8601_utc(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            iso8601_utc(1_795_555_302_123_456),
            "2026-11-24T21:21:42.123456Z"
        );
        assert_eq!(
            iso8601_utc(951_782_400_000_000),
            "2000-02-29T00:00:00.000000Z"
        );
    }

    #[test]
    fn line_is_json_with_common_fields() {
        let l = line(
            Event::TierChanged,
            "corr-1",
            Some("p"),
            crate::fields! {"tier_after" => "GOLD", "event" => "spoofed"},
        );
        let v: Value = serde_json::from_str(&l).unwrap();
        assert_eq!(v["event"], "loyalty_tier_changed");
        assert_eq!(v["correlation_id"], "corr-1");
        assert_eq!(v["player_id"], "p");
        assert_eq!(v["tier_after"], "GOLD");
        assert!(v["timestamp"].as_str().unwrap().ends_with('Z'));
    }
}
