//! A hot standby answers every read and refuses every write (SPEC §18).
//! Each writing function calls [`writable`] before anything else, so on a
//! standby it does no work at all (no lock, no sequence, no argument check)
//! and says why in the same words everywhere: the client, or the pooler in
//! front of it, can send the call to the primary instead.

use crate::domain::error::{run, Code, LoyaltyError, Result};
use pgrx::prelude::*;

/// The refusal on a standby: SQLSTATE 25006 (read_only_sql_transaction),
/// what PostgreSQL itself raises for a write there.
pub fn writable() -> Result<()> {
    // SAFETY: reads this process's view of shared recovery state.
    if unsafe { pg_sys::RecoveryInProgress() } {
        return Err(LoyaltyError::new(
            Code::ReadOnlyStandby,
            "this server is a hot standby (in recovery) and takes no writes: call the primary",
        ));
    }
    Ok(())
}

/// `loyalty.require_primary()`: [`writable`] for the writing functions that
/// are written in SQL (the admin API, the outbox), so they refuse with the
/// same code and sentence. True, so a PL/pgSQL function can call it in its
/// first DECLARE initializer, before anything else runs. Internal: granted
/// to nobody.
#[pg_extern(volatile, parallel_safe)]
#[search_path(pg_catalog, pg_temp)]
fn require_primary() -> bool {
    run(writable);
    true
}
