//! The tier ladder, read once per backend and kept until `loyalty.tier`
//! changes. Every balance change needs it; reading it in each locking
//! statement cost an aggregate subplan per call.
//!
//! Invalidation is PostgreSQL's own: a statement trigger on `loyalty.tier`
//! queues a relcache invalidation of the table, which every backend receives
//! when the change commits (and this backend at once), and a relcache
//! callback marks the cached ladder stale.

use crate::points::Tier;
use crate::spi;
use pgrx::prelude::*;
use pgrx::spi::SpiClient;
use std::cell::{Cell, RefCell};
use std::rc::Rc;

thread_local! {
    static LADDER: RefCell<Option<Rc<[Tier]>>> = const { RefCell::new(None) };
    static TIER_OID: Cell<pg_sys::Oid> = const { Cell::new(pg_sys::InvalidOid) };
    static STALE: Cell<bool> = const { Cell::new(true) };
    static REGISTERED: Cell<bool> = const { Cell::new(false) };
}

/// The tier ladder, lowest threshold first.
pub fn get(client: &SpiClient<'_>) -> crate::error::Result<Rc<[Tier]>> {
    if !STALE.get() {
        if let Some(l) = LADDER.with(|l| l.borrow().clone()) {
            return Ok(l);
        }
    }
    if !REGISTERED.get() {
        // SAFETY: registers a callback for this backend's lifetime; the
        // callback only sets two flags.
        unsafe { pg_sys::CacheRegisterRelcacheCallback(Some(on_relcache), pg_sys::Datum::from(0)) };
        REGISTERED.set(true);
    }
    if TIER_OID.get() == pg_sys::InvalidOid {
        let oid = spi::read(client, "SELECT 'loyalty.tier'::regclass::oid", &[])?
            .first()
            .get_one::<pg_sys::Oid>()?;
        TIER_OID.set(oid.unwrap_or(pg_sys::InvalidOid));
    }
    // Marked fresh before reading: an invalidation that arrives during the
    // read marks it stale again, so the next call reads once more.
    STALE.set(false);
    let rows = spi::write(
        client,
        "SELECT tier, threshold_points FROM loyalty.tier ORDER BY threshold_points",
        &[],
    )?;
    let mut tiers = Vec::with_capacity(rows.len());
    for row in rows {
        tiers.push(Tier {
            name: row.get::<String>(1)?.unwrap_or_default(),
            threshold: row.get::<i64>(2)?.unwrap_or(0),
        });
    }
    let ladder: Rc<[Tier]> = tiers.into();
    LADDER.with(|l| *l.borrow_mut() = Some(ladder.clone()));
    Ok(ladder)
}

/// Relcache callback: relid 0 means "all relations" (cache reset). The
/// table's OID is looked up again too: after a DROP and CREATE EXTENSION in
/// a long-lived backend, the table is a new one.
unsafe extern "C-unwind" fn on_relcache(_arg: pg_sys::Datum, relid: pg_sys::Oid) {
    if relid == pg_sys::InvalidOid || relid == TIER_OID.get() {
        STALE.set(true);
        TIER_OID.set(pg_sys::InvalidOid);
    }
}

/// `AFTER ... FOR EACH STATEMENT` on `loyalty.tier`: tell every backend.
#[pg_trigger]
fn tier_ladder_changed<'a>(
    trigger: &'a PgTrigger<'a>,
) -> Result<Option<PgHeapTuple<'a, AllocatedByRust>>, PgTriggerError> {
    // SAFETY: queues an invalidation message for a valid relation id.
    unsafe { pg_sys::CacheInvalidateRelcacheByRelid(trigger.relid()?) };
    Ok(None)
}

extension_sql!(
    r#"
CREATE TRIGGER tier_ladder_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON loyalty.tier
    FOR EACH STATEMENT EXECUTE FUNCTION loyalty.tier_ladder_changed();
"#,
    name = "tier_ladder_trigger",
    requires = ["schema", tier_ladder_changed]
);
