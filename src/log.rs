//! Canonical log lines (docs/reference.md §7): one JSON object per line in the server log,
//! each with `event`, `timestamp`, `correlation_id`, `player_id` and the
//! event's own fields.

use crate::keys::write_string;
use serde_json::Value;
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
    SlipHeld,
    SlipRejected,
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
            Event::SlipHeld => "loyalty_slip_held",
            Event::SlipRejected => "loyalty_slip_rejected",
        }
    }
}

/// An event's own fields, in the order they are written.
pub type Fields = Vec<(&'static str, Value)>;

/// The keys every line starts with; an event's fields cannot override them.
const COMMON: [&str; 4] = ["event", "timestamp", "correlation_id", "player_id"];

/// Build the JSON line: the common keys first, then the event's fields.
/// Written by hand: this runs on every balance change, some of them while
/// a player's row is locked.
pub fn line(event: Event, correlation_id: &str, player_id: Option<&str>, fields: Fields) -> String {
    let mut out = String::with_capacity(320);
    out.push_str("{\"event\":\"");
    out.push_str(event.name());
    out.push_str("\",\"timestamp\":\"");
    out.push_str(&iso8601_now());
    out.push_str("\",\"correlation_id\":");
    write_string(&mut out, correlation_id);
    out.push_str(",\"player_id\":");
    match player_id {
        Some(p) => write_string(&mut out, p),
        None => out.push_str("null"),
    }
    for (k, v) in fields {
        if COMMON.contains(&k) {
            continue;
        }
        out.push(',');
        write_string(&mut out, k);
        out.push(':');
        match v {
            Value::String(s) => write_string(&mut out, &s),
            v => out.push_str(&v.to_string()),
        }
    }
    out.push('}');
    out
}

/// Write one canonical line to the server log (level LOG: not sent to clients).
pub fn emit(event: Event, correlation_id: &str, player_id: Option<&str>, fields: Fields) {
    server_log(&line(event, correlation_id, player_id, fields));
}

/// One LOG entry holding just `message`. PostgreSQL would otherwise append
/// the whole client statement (LOG ranks above log_min_error_statement) and
/// run every error-context callback (formatting the statement's parameters)
/// for each line: the line carries its own context, so both are skipped.
fn server_log(message: &str) {
    use std::ffi::{c_char, c_int, CString};
    unsafe extern "C-unwind" {
        fn errstart(elevel: c_int, domain: *const c_char) -> bool;
        fn errmsg_internal(fmt: *const c_char, ...) -> c_int;
        fn errhidestmt(hide_stmt: bool) -> c_int;
        fn errhidecontext(hide_ctx: bool) -> c_int;
        fn errfinish(filename: *const c_char, lineno: c_int, funcname: *const c_char);
    }
    // Lines are JSON, where NUL is always escaped, so this cannot fail.
    let Ok(message) = CString::new(message) else {
        return;
    };
    // SAFETY: main thread, inside a SQL function call. A LOG-level report
    // returns from errfinish; the context stack is restored right after.
    unsafe {
        let saved = pgrx::pg_sys::error_context_stack;
        pgrx::pg_sys::error_context_stack = std::ptr::null_mut();
        if errstart(pgrx::pg_sys::LOG as c_int, std::ptr::null()) {
            errmsg_internal(c"%s".as_ptr(), message.as_ptr());
            errhidestmt(true);
            errhidecontext(true);
            errfinish(c"casino_loyalty".as_ptr(), 0, std::ptr::null());
        }
        pgrx::pg_sys::error_context_stack = saved;
    }
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
    ($($k:literal => $v:expr),* $(,)?) => {
        vec![$(($k, ::serde_json::json!($v))),*]
    };
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
        assert!(l.starts_with(r#"{"event":"loyalty_tier_changed","timestamp":""#));
    }

    #[test]
    fn line_escapes_and_allows_no_player() {
        let l = line(
            Event::ManualRewardRejected,
            "c\"1\n",
            None,
            crate::fields! {"detail" => "é \"quoted\"", "points" => -5, "staff_id" => None::<String>},
        );
        let v: Value = serde_json::from_str(&l).unwrap();
        assert_eq!(v["correlation_id"], "c\"1\n");
        assert_eq!(v["player_id"], Value::Null);
        assert_eq!(v["detail"], "é \"quoted\"");
        assert_eq!(v["points"], -5);
        assert_eq!(v["staff_id"], Value::Null);
    }
}
