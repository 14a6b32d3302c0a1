//! The tier ladder, read once per backend and kept until `loyalty.tier`
//! changes (pg/watch.rs). Every balance change needs it; reading it in each
//! locking statement cost an aggregate subplan per call.

use crate::domain::points::Tier;
use crate::pg::spi;
use crate::pg::watch::{self, Table};
use pgrx::prelude::*;
use pgrx::spi::SpiClient;
use std::cell::RefCell;
use std::rc::Rc;

thread_local! {
    static LADDER: RefCell<Option<Rc<[Tier]>>> = const { RefCell::new(None) };
}

/// The tier ladder, lowest threshold first.
pub fn get(client: &SpiClient<'_>) -> crate::domain::error::Result<Rc<[Tier]>> {
    if watch::still_current(client, Table::Tier)? {
        if let Some(l) = LADDER.with(|l| l.borrow().clone()) {
            return Ok(l);
        }
    }
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

/// `AFTER ... FOR EACH STATEMENT` on `loyalty.tier` and `loyalty.config`:
/// tell every backend (pg/watch.rs).
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
