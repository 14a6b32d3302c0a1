//! Per-backend copies of a table that follow the table: the tier ladder
//! (ledger/ladder.rs), the casino settings and its properties (ledger/casino.rs) are read once per backend
//! and read again only after the table changed.
//!
//! Invalidation is PostgreSQL's own: a statement trigger on each table
//! (`tier_ladder_changed`) queues a relcache invalidation of it, which every
//! backend receives when the change commits (and this backend at once), and
//! the callback here marks that table's copy stale. A committing backend
//! makes its change visible before it sends the invalidation, so a copy
//! refilled from the latest committed rows ([`crate::pg::spi::read_latest`])
//! after the invalidation arrived holds the change; one refilled under the
//! caller's own, older snapshot would not, and would be kept for good.

use crate::pg::spi;
use pgrx::prelude::*;
use pgrx::spi::SpiClient;
use std::cell::Cell;

/// A table whose copy a backend keeps.
#[derive(Debug, Clone, Copy)]
pub enum Table {
    Tier = 0,
    Config = 1,
    Property = 2,
}

impl Table {
    fn oid_query(self) -> &'static str {
        match self {
            Table::Tier => "SELECT 'loyalty.tier'::regclass::oid",
            Table::Config => "SELECT 'loyalty.config'::regclass::oid",
            Table::Property => "SELECT 'loyalty.property'::regclass::oid",
        }
    }
}

thread_local! {
    static OIDS: [Cell<pg_sys::Oid>; 3] = const {
        [Cell::new(pg_sys::InvalidOid), Cell::new(pg_sys::InvalidOid), Cell::new(pg_sys::InvalidOid)]
    };
    static STALE: [Cell<bool>; 3] = const { [Cell::new(true), Cell::new(true), Cell::new(true)] };
    static REGISTERED: Cell<bool> = const { Cell::new(false) };
}

/// Whether this backend's copy of `table` is still current. When it is not,
/// it counts as current from here on and the caller reads the table again,
/// from the latest committed rows: an invalidation that arrives during that
/// read marks it stale again, so the next call reads once more.
pub fn still_current(client: &SpiClient<'_>, table: Table) -> crate::domain::error::Result<bool> {
    // A backend reads the invalidation queue when it takes a lock it did
    // not hold or starts a transaction; a call late in a long transaction
    // may do neither, so it reads the queue here (a shared counter when
    // nothing is queued).
    // SAFETY: what LockRelationOid does before every new lock.
    unsafe { pg_sys::AcceptInvalidationMessages() };
    let i = table as usize;
    if !STALE.with(|s| s[i].get()) {
        return Ok(true);
    }
    if !REGISTERED.get() {
        // SAFETY: registers a callback for this backend's lifetime; the
        // callback only sets cells.
        unsafe { pg_sys::CacheRegisterRelcacheCallback(Some(on_relcache), pg_sys::Datum::from(0)) };
        REGISTERED.set(true);
    }
    if OIDS.with(|o| o[i].get()) == pg_sys::InvalidOid {
        let oid = spi::read(client, table.oid_query(), &[])?
            .first()
            .get_one::<pg_sys::Oid>()?;
        OIDS.with(|o| o[i].set(oid.unwrap_or(pg_sys::InvalidOid)));
    }
    STALE.with(|s| s[i].set(false));
    Ok(false)
}

/// Relcache callback: relid 0 means "all relations" (cache reset). The
/// table's OID is looked up again too: after a DROP and CREATE EXTENSION in
/// a long-lived backend, the table is a new one.
unsafe extern "C-unwind" fn on_relcache(_arg: pg_sys::Datum, relid: pg_sys::Oid) {
    OIDS.with(|oids| {
        STALE.with(|stale| {
            for (oid, stale) in oids.iter().zip(stale.iter()) {
                if relid == pg_sys::InvalidOid || relid == oid.get() {
                    stale.set(true);
                    oid.set(pg_sys::InvalidOid);
                }
            }
        })
    });
}
