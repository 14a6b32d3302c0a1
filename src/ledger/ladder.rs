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
    // the latest committed ladder, whatever the caller's snapshot (pg/watch.rs)
    let json = spi::read_latest(
        client,
        "SELECT coalesce(pg_catalog.json_agg(pg_catalog.json_build_array(tier, threshold_points)
                                             ORDER BY threshold_points), '[]')::text
           FROM loyalty.tier",
        &[],
    )?
    .unwrap_or_default();
    let rows: Vec<(String, i64)> = serde_json::from_str(&json).unwrap_or_default();
    let tiers: Vec<Tier> = rows
        .into_iter()
        .map(|(name, threshold)| Tier { name, threshold })
        .collect();
    let ladder: Rc<[Tier]> = tiers.into();
    LADDER.with(|l| *l.borrow_mut() = Some(ladder.clone()));
    Ok(ladder)
}

/// `loyalty.invalidate_copies(p_table)`: tell every backend, when this
/// transaction commits, that its copy of `p_table` (the ladder, the
/// casino settings) is stale (pg/watch.rs). Called by the statement
/// trigger `tier_ladder_changed` on those tables; trusted back ends only
/// (the owner's and the admin API's writes), whatever the grants.
#[pg_extern(volatile, parallel_unsafe)]
#[search_path(pg_catalog, pg_temp)]
fn invalidate_copies(p_table: Option<pg_sys::Oid>) {
    crate::domain::error::run(move || {
        crate::auth::require_trusted()?;
        let table = crate::domain::error::required(p_table, "p_table")?;
        // SAFETY: queues an invalidation message for a relation id; one
        // that names no relation is ignored by every backend.
        unsafe { pg_sys::CacheInvalidateRelcacheByRelid(table) };
        Ok(())
    })
}

extension_sql!(
    r#"
-- A plain trigger function calls the C one: its definition then names the
-- library the way every other function's does (a file per release).
CREATE FUNCTION loyalty.tier_ladder_changed() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM loyalty.invalidate_copies(TG_RELID);
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION loyalty.tier_ladder_changed() IS
    'Statement trigger on loyalty.tier and loyalty.config: every backend reads its copy again after the change commits (src/pg/watch.rs).';
CREATE TRIGGER tier_ladder_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON loyalty.tier
    FOR EACH STATEMENT EXECUTE FUNCTION loyalty.tier_ladder_changed();
"#,
    name = "tier_ladder_trigger",
    requires = ["tables", invalidate_copies]
);

/// `loyalty.player_tier(lifetime, credits, retained, tier)`: the tier a
/// stored balance row should hold under the casino's basis and ladder (the
/// write path's rule, domain/points.rs `tier_of`; under PERIOD the row's
/// own tier is kept, as inside a period). The health check and
/// `retier_players` compare stored tiers with it; a statement with no
/// entries opens at `player_tier(0)`.
#[pg_extern(stable)]
#[search_path(pg_catalog, loyalty, pg_temp)]
fn player_tier(
    p_lifetime_points: i64,
    p_tier_credits: default!(i64, "0"),
    p_retained_tier: default!(Option<&str>, "NULL"),
    p_tier: default!(Option<&str>, "NULL"),
) -> String {
    crate::domain::error::run(|| {
        Spi::connect(|c| {
            let ladder = get(c)?;
            let basis = crate::ledger::casino::tier_basis(c)?;
            let standing = crate::domain::points::Standing {
                credits: p_tier_credits,
                period: None,
                retained: p_retained_tier.map(str::to_string),
            };
            Ok(
                crate::domain::points::tier_of(
                    basis,
                    p_lifetime_points,
                    &standing,
                    p_tier,
                    &ladder,
                )
                .0,
            )
        })
    })
}
