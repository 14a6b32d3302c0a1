//! One error type for the whole extension, mapped to docs/reference.md §5: the stable code
//! is the message, a human sentence is the DETAIL, and the SQLSTATE is
//! `PTnnn` so PostgREST answers with HTTP status nnn.

use std::ffi::CString;
use std::os::raw::{c_char, c_int};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    Unauthorized,
    Forbidden,
    InvalidStaffId,
    SlipNotFound,
    PlayerNotFound,
    AlertNotFound,
    SlipNotClosed,
    SlipAlreadyOpen,
    SlipNotApproved,
    SlipOverlap,
    IdempotencyConflict,
    InsufficientBalance,
    ValidationError,
    RewardExceedsLimit,
    RateLimitExceeded,
    HoldNotFound,
    EntryNotFound,
    HoldNotActive,
    RedemptionExceedsLimit,
    /// Internal: paying a slip would take its player's day above the daily
    /// four-eyes threshold, so the slip is held instead (never raised to a
    /// client: the completion or recovery holds the slip and says so).
    OverDailyThreshold,
    /// A write on a hot standby: SQLSTATE 25006, not a PTnnn code.
    ReadOnlyStandby,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Unauthorized => "UNAUTHORIZED",
            Code::Forbidden => "FORBIDDEN",
            Code::InvalidStaffId => "INVALID_STAFF_ID",
            Code::SlipNotFound => "SLIP_NOT_FOUND",
            Code::PlayerNotFound => "PLAYER_NOT_FOUND",
            Code::AlertNotFound => "ALERT_NOT_FOUND",
            Code::SlipNotClosed => "SLIP_NOT_CLOSED",
            Code::SlipAlreadyOpen => "SLIP_ALREADY_OPEN",
            Code::SlipNotApproved => "SLIP_NOT_APPROVED",
            Code::SlipOverlap => "SLIP_OVERLAP",
            Code::IdempotencyConflict => "IDEMPOTENCY_CONFLICT",
            Code::InsufficientBalance => "INSUFFICIENT_BALANCE",
            Code::ValidationError => "VALIDATION_ERROR",
            Code::RewardExceedsLimit => "REWARD_EXCEEDS_LIMIT",
            Code::RateLimitExceeded => "RATE_LIMIT_EXCEEDED",
            Code::HoldNotFound => "HOLD_NOT_FOUND",
            Code::EntryNotFound => "LEDGER_ENTRY_NOT_FOUND",
            Code::HoldNotActive => "HOLD_NOT_ACTIVE",
            Code::RedemptionExceedsLimit => "REDEMPTION_EXCEEDS_LIMIT",
            Code::OverDailyThreshold => "HELD_FOR_APPROVAL",
            Code::ReadOnlyStandby => "READ_ONLY_STANDBY",
        }
    }

    /// The HTTP status PostgREST returns, which is also the SQLSTATE's digits.
    pub fn http_status(self) -> u16 {
        match self {
            Code::Unauthorized => 401,
            Code::Forbidden | Code::InvalidStaffId => 403,
            Code::SlipNotFound
            | Code::PlayerNotFound
            | Code::AlertNotFound
            | Code::HoldNotFound
            | Code::EntryNotFound => 404,
            Code::SlipNotClosed
            | Code::SlipAlreadyOpen
            | Code::SlipNotApproved
            | Code::SlipOverlap
            | Code::IdempotencyConflict
            | Code::InsufficientBalance
            | Code::HoldNotActive
            | Code::OverDailyThreshold => 409,
            Code::ValidationError | Code::RewardExceedsLimit | Code::RedemptionExceedsLimit => 422,
            Code::RateLimitExceeded => 429,
            // what PostgREST answers for SQLSTATE 25006
            Code::ReadOnlyStandby => 405,
        }
    }

    pub fn sqlstate(self) -> String {
        match self {
            // PostgreSQL's own code for a write where none may run, so a
            // client or pooler that retries writes on the primary knows it
            Code::ReadOnlyStandby => "25006".to_string(),
            _ => format!("PT{}", self.http_status()),
        }
    }
}

/// A spec error: code plus the sentence shown as DETAIL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoyaltyError {
    pub code: Code,
    pub detail: String,
}

pub type Result<T> = std::result::Result<T, LoyaltyError>;

impl LoyaltyError {
    pub fn new(code: Code, detail: impl Into<String>) -> Self {
        LoyaltyError {
            code,
            detail: detail.into(),
        }
    }

    pub fn validation(detail: impl Into<String>) -> Self {
        Self::new(Code::ValidationError, detail)
    }
}

/// Most characters of user input a DETAIL repeats.
pub const ECHO_CHARS: usize = 64;

/// User input as a DETAIL may show it: at most [`ECHO_CHARS`] characters,
/// with an ellipsis when cut. An error must not carry (or copy) a caller's
/// 100,000-digit argument.
pub fn echo(input: &str) -> String {
    let mut shown: String = input.chars().take(ECHO_CHARS).collect();
    if shown.len() < input.len() {
        shown.push('…');
    }
    shown
}

/// A required argument: NULL is VALIDATION_ERROR (functions are not STRICT,
/// so NULL gets the spec's code instead of a silent NULL result).
pub fn required<T>(v: Option<T>, name: &str) -> Result<T> {
    v.ok_or_else(|| LoyaltyError::validation(format!("{name} is required")))
}

impl LoyaltyError {
    /// Raise as a PostgreSQL ERROR. Call only from the outermost frame of a
    /// SQL-callable function (see [`run`]): the ERROR longjmps out of it, so
    /// nothing with a destructor may be alive here. pgrx's own error path
    /// cannot carry a custom SQLSTATE (it maps unknown codes to XX000),
    /// hence the direct calls, which mirror pgrx's `do_ereport`.
    fn raise(self) -> ! {
        unsafe extern "C-unwind" {
            fn errstart(elevel: c_int, domain: *const c_char) -> bool;
            fn errcode(sqlerrcode: c_int) -> c_int;
            fn errmsg(fmt: *const c_char, ...) -> c_int;
            fn errdetail(fmt: *const c_char, ...) -> c_int;
            fn errfinish(filename: *const c_char, lineno: c_int, funcname: *const c_char);
        }
        let LoyaltyError { code, detail } = self;
        let sqlstate = make_sqlstate(code.sqlstate().as_bytes());
        let message = cstring(code.as_str());
        let detail_c = cstring(&detail);
        // errfinish longjmps out of this frame: every owned value must be
        // gone before it, the error's own String included.
        drop(detail);
        // SAFETY: main thread (we are inside a SQL function call); errmsg and
        // errdetail copy their arguments, so the CStrings are dropped before
        // errfinish longjmps and nothing leaks.
        unsafe {
            if errstart(pgrx::pg_sys::PGERROR as c_int, std::ptr::null()) {
                errcode(sqlstate);
                errmsg(c"%s".as_ptr(), message.as_ptr());
                errdetail(c"%s".as_ptr(), detail_c.as_ptr());
                drop(message);
                drop(detail_c);
                errfinish(c"casino_loyalty".as_ptr(), 0, std::ptr::null());
            }
        }
        unreachable!("ERROR-level ereport returned")
    }
}

impl std::fmt::Display for LoyaltyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.detail)
    }
}

/// Errors from SPI are bugs or infrastructure faults (not user input): they
/// surface as PostgreSQL errors with their own SQLSTATE, never as spec codes.
impl From<pgrx::spi::Error> for LoyaltyError {
    fn from(e: pgrx::spi::Error) -> Self {
        pgrx::error!("casino_loyalty internal SPI error: {e}")
    }
}

/// Run the body of a SQL-callable function and turn a spec error into a
/// PostgreSQL ERROR once every Rust value of the body has been dropped.
pub fn run<T>(body: impl FnOnce() -> Result<T>) -> T {
    match body() {
        Ok(v) => v,
        Err(e) => e.raise(),
    }
}

/// SQLSTATE packing of PostgreSQL's MAKE_SQLSTATE macro.
fn make_sqlstate(s: &[u8]) -> c_int {
    s.iter().take(5).enumerate().fold(0, |acc, (i, ch)| {
        acc + ((((*ch as c_int) - ('0' as c_int)) & 0x3F) << (6 * i))
    })
}

/// NUL bytes cannot cross into C; user text reaches here only inside DETAIL.
fn cstring(s: &str) -> CString {
    CString::new(s.replace('\0', "\\0")).unwrap_or_default()
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn sqlstates_follow_http_status() {
        assert_eq!(Code::Unauthorized.sqlstate(), "PT401");
        assert_eq!(Code::InvalidStaffId.sqlstate(), "PT403");
        assert_eq!(Code::PlayerNotFound.sqlstate(), "PT404");
        assert_eq!(Code::InsufficientBalance.sqlstate(), "PT409");
        assert_eq!(Code::RewardExceedsLimit.sqlstate(), "PT422");
        assert_eq!(Code::RateLimitExceeded.sqlstate(), "PT429");
        assert_eq!(Code::ReadOnlyStandby.sqlstate(), "25006");
    }

    #[test]
    fn echo_keeps_a_short_prefix() {
        assert_eq!(echo("BLACKJACK"), "BLACKJACK");
        let long = "9".repeat(100_000);
        let shown = echo(&long);
        assert_eq!(shown.chars().count(), ECHO_CHARS + 1);
        assert!(shown.ends_with('…'));
        assert_eq!(echo(&"é".repeat(64)), "é".repeat(64));
    }

    #[test]
    fn make_sqlstate_matches_postgres() {
        // ERRCODE_UNIQUE_VIOLATION is MAKE_SQLSTATE('2','3','5','0','5')
        assert_eq!(
            make_sqlstate(b"23505"),
            pgrx::PgSqlErrorCode::ERRCODE_UNIQUE_VIOLATION as c_int
        );
    }
}
