//! Closing a whole table at shift change: `complete_rating_slips` completes
//! many slips in one call, one transaction and one commit, with the rules of
//! `complete_rating_slip` for each slip.
//!
//! Lock order: every slip of the batch first, in slip-id order, in one
//! statement; then the players, in player order, as each slip is paid.
//! Single calls take one slip, then its player, and bulk recovery skips
//! locked slips, so two overlapping batches, a batch and single calls, or a
//! batch and recovery never wait on each other in a cycle.

// pgrx reads a TableIterator's columns from the signature itself.
#![allow(clippy::type_complexity)]

use crate::auth::{self, Permission, Who};
use crate::domain::error::{run, Code, LoyaltyError, Result};
use crate::pg::rows::{BatchRow, CompleteRow};
use crate::pg::spi;
use crate::pg::subxact::{self, Failure};
use crate::play::complete;
use crate::row_fn;
use pgrx::prelude::*;
use std::collections::HashMap;

/// Most slips one call completes (a pit, with room to spare).
pub const MAX_BATCH: usize = 1_000;

row_fn! {
    /// One row per element of `p_slip_ids`, in array order (`ordinal` from 1):
    /// the statuses of `complete_rating_slip` (COMPLETED, PARTIAL_COMPLETION,
    /// ALREADY_COMPLETED, HELD_FOR_APPROVAL), REFUSED with the error code for a
    /// slip this caller may not complete or that does not exist, DUPLICATE for
    /// an id already given earlier in the array. Each slip runs in its own
    /// savepoint: one slip's failure is that slip's row. With `p_atomic`, any
    /// slip that would not complete fails the whole call and nothing changes.
    #[pg_extern(security_definer, volatile, parallel_unsafe)]
    #[search_path(pg_catalog, loyalty, pg_temp)]
    fn complete_rating_slips(
        p_slip_ids: Option<Vec<Option<pgrx::Uuid>>>,
        p_correlation_id: default!(Option<&str>, "NULL"),
        p_atomic: default!(Option<bool>, "false"),
        p_staff_id: default!(Option<pgrx::Uuid>, "NULL"),
        p_property_id: default!(Option<&str>, "NULL"),
    ) -> BatchRow {
        let rows = run(move || {
            let opened = auth::open(Who::PersonAt(Permission::Rate, p_staff_id), p_correlation_id)?;
            let correlation_id = opened.correlation_id.clone();
            let ids = p_slip_ids.ok_or_else(|| LoyaltyError::validation("p_slip_ids is required"))?;
            if ids.len() > MAX_BATCH {
                return Err(LoyaltyError::validation(format!(
                    "at most {MAX_BATCH} slips per call"
                )));
            }
            let atomic = p_atomic.unwrap_or(false);
            let mut unique: Vec<pgrx::Uuid> = ids.iter().flatten().copied().collect();
            unique.sort_unstable_by_key(|u| *u.as_bytes());
            unique.dedup();
            let found = lock_slips(&unique)?;

            // Pay in player order, so players are locked in one global order.
            let mut order: Vec<(pgrx::Uuid, pgrx::Uuid)> = found
                .iter()
                .map(|(slip, player)| (*player, *slip))
                .collect();
            order.sort_unstable_by_key(|(p, s)| (*p.as_bytes(), *s.as_bytes()));
            let mut done: HashMap<pgrx::Uuid, std::result::Result<CompleteRow, Failure>> =
                HashMap::with_capacity(order.len());
            for (_, id) in order {
                let outcome = if atomic {
                    match complete::complete(id, &opened, p_property_id, true, None) {
                        Ok(row) => Ok(row),
                        Err(e) => return Err(in_batch(e, id)),
                    }
                } else {
                    subxact::run(|| complete::complete(id, &opened, p_property_id, false, None))
                };
                done.insert(id, outcome);
            }

            let mut seen = std::collections::HashSet::with_capacity(ids.len());
            let mut out = Vec::with_capacity(ids.len());
            for (i, id) in ids.iter().enumerate() {
                let ordinal = i as i32 + 1;
                let Some(id) = id else {
                    if atomic {
                        return Err(LoyaltyError::validation(format!(
                            "p_slip_ids[{ordinal}] is NULL"
                        )));
                    }
                    out.push(refused(
                        ordinal,
                        None,
                        "VALIDATION_ERROR",
                        "NULL slip id",
                        &correlation_id,
                    ));
                    continue;
                };
                if !seen.insert(*id) {
                    out.push(marker(ordinal, *id, "DUPLICATE", &correlation_id));
                    continue;
                }
                match done.get(id) {
                    None if atomic => {
                        return Err(LoyaltyError::new(
                            Code::SlipNotFound,
                            format!("no slip {id} (element {ordinal})"),
                        ))
                    }
                    None => out.push(refused(
                        ordinal,
                        Some(*id),
                        "SLIP_NOT_FOUND",
                        "no such slip",
                        &correlation_id,
                    )),
                    Some(Ok(row)) => out.push(from_complete(ordinal, row.clone())),
                    Some(Err(f)) => out.push(refused(
                        ordinal,
                        Some(*id),
                        &f.code(),
                        &f.message(),
                        &correlation_id,
                    )),
                }
            }
            Ok(out)
        });
        TableIterator::new(rows)
    }
}

/// Lock every slip of the batch that exists, in id order, in one statement;
/// (slip, player) of each.
fn lock_slips(ids: &[pgrx::Uuid]) -> Result<Vec<(pgrx::Uuid, pgrx::Uuid)>> {
    Spi::connect(|c| {
        let rows = spi::write(
            c,
            "SELECT id, player_id FROM loyalty.rating_slip WHERE id = ANY ($1) ORDER BY id FOR UPDATE",
            &[ids.to_vec().into()],
        )?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            if let (Some(s), Some(p)) = (r.get::<pgrx::Uuid>(1)?, r.get::<pgrx::Uuid>(2)?) {
                out.push((s, p));
            }
        }
        Ok(out)
    })
}

/// An atomic batch fails with the slip's own error, saying which slip.
fn in_batch(e: LoyaltyError, id: pgrx::Uuid) -> LoyaltyError {
    LoyaltyError::new(e.code, format!("slip {id}: {}", e.detail))
}

fn from_complete(ordinal: i32, r: CompleteRow) -> BatchRow {
    let (
        status,
        slip_id,
        player_id,
        ..,
        entry,
        points,
        _,
        after,
        _,
        tier_after,
        hit,
        code,
        msg,
        corr,
        recovery,
    ) = r;
    (
        ordinal,
        Some(slip_id),
        status,
        Some(player_id),
        entry,
        points,
        after,
        tier_after,
        hit,
        code,
        msg,
        recovery,
        corr,
    )
}

fn refused(
    ordinal: i32,
    id: Option<pgrx::Uuid>,
    code: &str,
    message: &str,
    correlation_id: &str,
) -> BatchRow {
    (
        ordinal,
        id,
        "REFUSED".to_string(),
        None,
        None,
        None,
        None,
        None,
        false,
        Some(code.to_string()),
        Some(message.to_string()),
        false,
        correlation_id.to_string(),
    )
}

fn marker(ordinal: i32, id: pgrx::Uuid, status: &str, correlation_id: &str) -> BatchRow {
    (
        ordinal,
        Some(id),
        status.to_string(),
        None,
        None,
        None,
        None,
        None,
        false,
        None,
        None,
        false,
        correlation_id.to_string(),
    )
}
