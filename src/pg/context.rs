//! Request context: the correlation id (docs/reference.md §7).
//!
//! Resolution order: the function's argument, else the session setting
//! `loyalty.correlation_id`, else PostgREST's `x-correlation-id` request
//! header (`request.headers`), else a freshly generated UUID.

use crate::domain::error::{LoyaltyError, Result};
use std::ffi::{CStr, CString};

/// Longest correlation id stored (bytes).
pub const MAX_CORRELATION_ID_BYTES: usize = 128;

/// The correlation id for this call. An invalid argument is an error; an
/// invalid setting or header is skipped, so a bad proxy header never fails a
/// payment.
pub fn correlation_id(arg: Option<&str>) -> Result<String> {
    if let Some(a) = arg.map(str::trim).filter(|a| !a.is_empty()) {
        return check(a).map(str::to_string);
    }
    if let Some(s) = setting("loyalty.correlation_id") {
        if let Ok(s) = check(s.trim()) {
            if !s.is_empty() {
                return Ok(s.to_string());
            }
        }
    }
    if let Some(h) = setting("request.headers").and_then(|h| header_correlation_id(&h)) {
        return Ok(h);
    }
    Ok(generate_uuid())
}

/// The `x-correlation-id` member of PostgREST's `request.headers` JSON.
pub fn header_correlation_id(headers_json: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(headers_json).ok()?;
    let h = v.get("x-correlation-id")?.as_str()?.trim();
    match check(h) {
        Ok(h) if !h.is_empty() => Some(h.to_string()),
        _ => None,
    }
}

fn check(id: &str) -> Result<&str> {
    if id.len() > MAX_CORRELATION_ID_BYTES {
        return Err(LoyaltyError::validation(format!(
            "correlation id is longer than {MAX_CORRELATION_ID_BYTES} bytes"
        )));
    }
    if id.chars().any(char::is_control) {
        return Err(LoyaltyError::validation(
            "correlation id contains control characters",
        ));
    }
    Ok(id)
}

/// A session setting's value, or None when it is unset or empty.
pub fn setting(name: &str) -> Option<String> {
    let name = CString::new(name).ok()?;
    // SAFETY: GetConfigOption returns NULL or a pointer to a NUL-terminated
    // string owned by the GUC machinery, valid until the setting changes;
    // it is copied at once.
    unsafe {
        let p = pgrx::pg_sys::GetConfigOption(name.as_ptr(), true, false);
        if p.is_null() {
            return None;
        }
        let s = CStr::from_ptr(p).to_string_lossy().into_owned();
        (!s.is_empty()).then_some(s)
    }
}

/// The current transaction's start time: what SQL `now()` returns.
pub fn now() -> pgrx::datum::TimestampWithTimeZone {
    // SAFETY: reads backend state that is valid inside a transaction.
    let ts = unsafe { pgrx::pg_sys::GetCurrentTransactionStartTimestamp() };
    pgrx::datum::TimestampWithTimeZone::try_from(ts)
        .unwrap_or_else(|_| pgrx::datum::TimestampWithTimeZone::positive_infinity())
}

/// `infinity` and `-infinity` are no times for a slip or a reward:
/// VALIDATION_ERROR naming the argument.
pub fn finite(
    t: pgrx::datum::TimestampWithTimeZone,
    name: &str,
) -> Result<pgrx::datum::TimestampWithTimeZone> {
    if t.is_infinity() || t.is_neg_infinity() {
        return Err(LoyaltyError::validation(format!(
            "{name} must be a finite time"
        )));
    }
    Ok(t)
}

/// A random (version 4) UUID from PostgreSQL's strong random source.
pub fn generate_uuid() -> String {
    let mut b = [0u8; 16];
    // SAFETY: writes exactly b.len() bytes into b.
    let ok = unsafe { pgrx::pg_sys::pg_strong_random(b.as_mut_ptr().cast(), b.len()) };
    if !ok {
        pgrx::error!("casino_loyalty: could not generate random bytes");
    }
    format_uuid_v4(b)
}

pub fn format_uuid_v4(mut b: [u8; 16]) -> String {
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn header_is_read_and_checked() {
        assert_eq!(
            header_correlation_id(r#"{"x-correlation-id":"req-42","accept":"*/*"}"#),
            Some("req-42".to_string())
        );
        assert_eq!(header_correlation_id(r#"{"accept":"*/*"}"#), None);
        assert_eq!(header_correlation_id("not json"), None);
        assert_eq!(
            header_correlation_id(r#"{"x-correlation-id":"a\nb"}"#),
            None
        );
        let long = format!(r#"{{"x-correlation-id":"{}"}}"#, "x".repeat(129));
        assert_eq!(header_correlation_id(&long), None);
    }

    #[test]
    fn uuid_v4_layout() {
        let u = format_uuid_v4([0xff; 16]);
        assert_eq!(u, "ffffffff-ffff-4fff-bfff-ffffffffffff");
    }
}

/// `loyalty.resolve_correlation_id(p_correlation_id)`: the same resolution
/// for the SQL functions (admin API, outbox), so every function names a
/// request the same way. Not granted to anyone; the SQL functions run as
/// the owner.
#[pgrx::pg_extern(volatile, parallel_safe)]
fn resolve_correlation_id(p_correlation_id: Option<&str>) -> String {
    crate::domain::error::run(move || correlation_id(p_correlation_id))
}
