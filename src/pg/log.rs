//! Canonical log lines (docs/reference.md §7): one JSON object per line in the server log,
//! each with `event`, `timestamp`, `correlation_id`, `player_id` and the
//! event's own fields.
//!
//! A line that announces something done (a reward issued, points accrued, a
//! tier changed) is written when its transaction commits, and never if it,
//! or the savepoint it was made in, rolls back: the log must not claim what
//! the ledger does not hold. Refusals and failures are written at once.

use crate::domain::keys::write_string;
use pgrx::pg_sys;
use serde_json::Value;
use std::cell::{Cell, RefCell};
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
    PointsHeld,
    HoldApproved,
    HoldCaptured,
    HoldVoided,
    HoldExpired,
    RedemptionReversed,
    PointsExpired,
}

impl Event {
    /// Refusals and failures are facts the moment they happen; everything
    /// else is a success that is true only once its transaction commits.
    pub fn at_commit(self) -> bool {
        !matches!(self, Event::AccrualFailed | Event::ManualRewardRejected)
    }

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
            Event::PointsHeld => "points_held",
            Event::HoldApproved => "hold_approved",
            Event::HoldCaptured => "hold_captured",
            Event::HoldVoided => "hold_voided",
            Event::HoldExpired => "hold_expired",
            Event::RedemptionReversed => "redemption_reversed",
            Event::PointsExpired => "points_expired",
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

/// Write one canonical line to the server log (level LOG: not sent to
/// clients): now for a refusal or failure, at commit for a success.
pub fn emit(event: Event, correlation_id: &str, player_id: Option<&str>, fields: Fields) {
    let line = line(event, correlation_id, player_id, fields);
    if event.at_commit() {
        at_commit(line);
    } else {
        server_log(&line);
    }
}

thread_local! {
    /// Success lines waiting for their transaction, with the subtransaction
    /// that wrote each (so a rolled-back savepoint drops its own).
    static AT_COMMIT: RefCell<Vec<(pg_sys::SubTransactionId, String)>> =
        const { RefCell::new(Vec::new()) };
    static HOOKED: Cell<bool> = const { Cell::new(false) };
}

fn at_commit(line: String) {
    if !HOOKED.with(Cell::get) {
        // SAFETY: registered once per backend; the callbacks below never
        // raise an error and never panic (no unwinding into PostgreSQL).
        unsafe {
            pg_sys::RegisterXactCallback(Some(xact_end), std::ptr::null_mut());
            pg_sys::RegisterSubXactCallback(Some(subxact_end), std::ptr::null_mut());
        }
        HOOKED.with(|h| h.set(true));
    }
    // SAFETY: plain read of backend state.
    let sub = unsafe { pg_sys::GetCurrentSubTransactionId() };
    AT_COMMIT.with(|q| {
        if let Ok(mut q) = q.try_borrow_mut() {
            q.push((sub, line));
        }
    });
}

/// Commit writes the waiting lines; abort drops them. A prepared (two-phase)
/// transaction is not committed yet and may still be rolled back, so its
/// lines are dropped too: the log never claims more than happened.
unsafe extern "C-unwind" fn xact_end(event: pg_sys::XactEvent::Type, _arg: *mut std::ffi::c_void) {
    use pg_sys::XactEvent::*;
    let commit = match event {
        XACT_EVENT_COMMIT | XACT_EVENT_PARALLEL_COMMIT => true,
        XACT_EVENT_ABORT | XACT_EVENT_PARALLEL_ABORT | XACT_EVENT_PREPARE => false,
        _ => return,
    };
    let lines = AT_COMMIT.with(|q| q.try_borrow_mut().map(|mut q| std::mem::take(&mut *q)));
    if let (true, Ok(lines)) = (commit, lines) {
        for (_, line) in lines {
            server_log(&line);
        }
    }
}

/// A rolled-back subtransaction drops its lines and its children's (their
/// ids are at least its own); a released one hands them to its parent.
unsafe extern "C-unwind" fn subxact_end(
    event: pg_sys::SubXactEvent::Type,
    sub: pg_sys::SubTransactionId,
    parent: pg_sys::SubTransactionId,
    _arg: *mut std::ffi::c_void,
) {
    use pg_sys::SubXactEvent::*;
    AT_COMMIT.with(|q| {
        let Ok(mut q) = q.try_borrow_mut() else {
            return;
        };
        match event {
            SUBXACT_EVENT_ABORT_SUB => q.retain(|(s, _)| *s < sub),
            SUBXACT_EVENT_COMMIT_SUB => q
                .iter_mut()
                .filter(|(s, _)| *s >= sub)
                .for_each(|(s, _)| *s = parent),
            _ => {}
        }
    });
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
    let tod = secs.rem_euclid(86_400);
    format!(
        "{}T{:02}:{:02}:{:02}.{frac:06}Z",
        civil_date(secs.div_euclid(86_400)),
        tod / 3600,
        tod % 3600 / 60,
        tod % 60
    )
}

/// `YYYY-MM-DD` of a day count since 1970-01-01, in the proleptic Gregorian
/// calendar PostgreSQL uses (Howard Hinnant's civil_from_days).
pub fn civil_date(days_since_1970: i64) -> String {
    let z = days_since_1970 + 719_468; // days since 0000-03-01
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
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
