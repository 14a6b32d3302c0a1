//! Run a closure in an internal subtransaction (a savepoint), the way
//! PL/pgSQL runs a block with an EXCEPTION clause: on any failure the
//! closure's writes are rolled back and the failure is returned as a value.

use crate::domain::error::LoyaltyError;
use pgrx::pg_sys;
use pgrx::pg_sys::panic::CaughtError;
use pgrx::PgSqlErrorCode;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};

/// Why a subtransaction was rolled back.
#[derive(Debug, Clone)]
pub enum Failure {
    /// One of our spec errors.
    Spec(LoyaltyError),
    /// A PostgreSQL error (lock timeout, a trigger, a constraint...).
    Postgres { sqlstate: String, message: String },
}

impl Failure {
    /// The code stored and returned for this failure: the spec code, or the
    /// SQLSTATE of a PostgreSQL error.
    pub fn code(&self) -> String {
        match self {
            Failure::Spec(e) => e.code.as_str().to_string(),
            Failure::Postgres { sqlstate, .. } => sqlstate.clone(),
        }
    }

    /// The SQLSTATE a client would have seen: PTnnn for a spec error.
    pub fn sqlstate(&self) -> String {
        match self {
            Failure::Spec(e) => e.code.sqlstate(),
            Failure::Postgres { sqlstate, .. } => sqlstate.clone(),
        }
    }

    pub fn message(&self) -> String {
        match self {
            Failure::Spec(e) => e.detail.clone(),
            Failure::Postgres { message, .. } => message.clone(),
        }
    }
}

/// Run `f` inside a subtransaction. Query cancellation (statement timeout,
/// pg_cancel_backend) is not swallowed: it rolls back and propagates, so a
/// cancelled call changes nothing.
pub fn run<T>(f: impl FnOnce() -> crate::domain::error::Result<T>) -> Result<T, Failure> {
    // SAFETY: main thread, inside a transaction; mirrors PL/pgSQL's
    // exec_stmt_block: remember the memory context and resource owner,
    // start the subtransaction, and restore both whichever way it ends.
    unsafe {
        let cxt = pg_sys::CurrentMemoryContext;
        let owner = pg_sys::CurrentResourceOwner;
        pg_sys::BeginInternalSubTransaction(std::ptr::null());
        pg_sys::MemoryContextSwitchTo(cxt);
        let outcome = catch_unwind(AssertUnwindSafe(f));
        let restore = || {
            pg_sys::MemoryContextSwitchTo(cxt);
            pg_sys::CurrentResourceOwner = owner;
        };
        match outcome {
            Ok(Ok(v)) => {
                pg_sys::ReleaseCurrentSubTransaction();
                restore();
                Ok(v)
            }
            Ok(Err(e)) => {
                pg_sys::RollbackAndReleaseCurrentSubTransaction();
                restore();
                Err(Failure::Spec(e))
            }
            Err(panic) => {
                pg_sys::RollbackAndReleaseCurrentSubTransaction();
                restore();
                let (code, message) = match panic.downcast_ref::<CaughtError>() {
                    Some(CaughtError::PostgresError(r))
                    | Some(CaughtError::ErrorReport(r))
                    | Some(CaughtError::RustPanic { ereport: r, .. }) => {
                        (r.sql_error_code(), r.message().to_string())
                    }
                    None => (PgSqlErrorCode::ERRCODE_INTERNAL_ERROR, "panic".to_string()),
                };
                if code == PgSqlErrorCode::ERRCODE_QUERY_CANCELED
                    || code == PgSqlErrorCode::ERRCODE_ADMIN_SHUTDOWN
                {
                    resume_unwind(panic);
                }
                Err(Failure::Postgres {
                    sqlstate: sqlstate_text(code as i32),
                    message,
                })
            }
        }
    }
}

/// The five-character SQLSTATE of PostgreSQL's packed representation.
pub fn sqlstate_text(code: i32) -> String {
    (0..5)
        .map(|i| (((code >> (6 * i)) & 0x3F) as u8 + b'0') as char)
        .collect()
}

#[cfg(test)]
mod unit {
    #[test]
    fn sqlstate_roundtrip() {
        assert_eq!(
            super::sqlstate_text(pgrx::PgSqlErrorCode::ERRCODE_LOCK_NOT_AVAILABLE as i32),
            "55P03"
        );
        assert_eq!(
            super::sqlstate_text(pgrx::PgSqlErrorCode::ERRCODE_RAISE_EXCEPTION as i32),
            "P0001"
        );
    }
}
