//! The SQL surface (docs/reference.md §3). Each function validates its arguments, does its
//! work through the modules, and turns a spec error into a PostgreSQL ERROR
//! with [`crate::domain::error::run`]. Arguments are all `Option` so that NULL gets
//! VALIDATION_ERROR instead of a silent NULL result.

use crate::auth::{self, Who};
use crate::domain::error::{required, run};
use crate::domain::keys;
use crate::ledger;
use crate::pg::jsonb::{self, RawJsonb};
use pgrx::prelude::*;

#[allow(clippy::type_complexity)]
#[pg_extern(security_definer, volatile, parallel_unsafe)]
#[search_path(pg_catalog, loyalty, pg_temp)]
fn increment_player_loyalty(
    p_player_id: Option<pgrx::Uuid>,
    p_delta_points: Option<i64>,
    p_correlation_id: default!(Option<&str>, "NULL"),
) -> TableIterator<
    'static,
    (
        name!(player_id, pgrx::Uuid),
        name!(balance_before, i64),
        name!(balance_after, i64),
        name!(tier_before, String),
        name!(tier_after, String),
        name!(tier_progress, i16),
        name!(lifetime_points, i64),
        name!(updated_at, TimestampWithTimeZone),
        name!(row_locked, bool),
        name!(correlation_id, String),
    ),
> {
    let (c, correlation_id) = run(move || {
        // The balance primitive: trusted back ends only, whatever the grants.
        let correlation_id = auth::open(Who::Trusted, p_correlation_id)?.correlation_id;
        let player_id = required(p_player_id, "p_player_id")?;
        let delta = required(p_delta_points, "p_delta_points")?;
        Ok((
            ledger::increment(player_id, delta, &correlation_id)?,
            correlation_id,
        ))
    });
    TableIterator::once((
        c.player_id,
        c.balance_before,
        c.balance_after,
        c.tier_before,
        c.tier_after,
        c.tier_progress,
        c.lifetime_points,
        c.updated_at,
        c.row_locked,
        correlation_id,
    ))
}

/// SHA-256 hex of the RFC 8785 canonical form of the payload. It runs no
/// SQL, so it pins no `search_path`: a function-level `SET` would cost a GUC
/// save and restore on every call.
#[pg_extern(immutable, parallel_safe)]
fn hash_idempotency_key(p_payload: Option<RawJsonb>) -> String {
    run(move || keys::hash_canonical(&jsonb::canonical(&required(p_payload, "p_payload")?)?))
}
