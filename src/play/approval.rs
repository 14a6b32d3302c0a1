//! Four-eyes approval of large slips (docs/reference.md §3, "Approval").
//!
//! A completion whose points exceed the slip's approval threshold closes
//! the slip as HELD and raises a SLIP_NEEDS_APPROVAL alert (complete.rs).
//! Only a second person may then decide: staff with `loyalty:approve` who are
//! not the player and did not open, re-rate or close the slip; a trusted back
//! end decides as the staff member it names (`p_staff_id`), under the same
//! rules. Approval posts the points under the slip's usual key
//! `gameplay:<id>`, so a second approval is an idempotent hit; rejection
//! means no points, ever. Accrual and recovery refuse both states.

// pgrx reads a TableIterator's columns from the signature itself, so the
// row tuples must be spelled out there rather than named with `type`.
#![allow(clippy::type_complexity)]

use crate::auth::{self, Caller, Permission, Who};
use crate::domain::error::{required, run, Code, LoyaltyError, Result};
use crate::pg::log::{self, Event};
use crate::pg::spi;
use crate::play::accrual;
use crate::play::slip::{self, Slip};
use crate::row_fn;
use pgrx::prelude::*;

/// Most held slips one `list_held_slips` call returns.
pub const MAX_LIST: i32 = 10_000;

/// The second pair of eyes: not the player, and nobody who opened,
/// re-rated or closed the slip.
fn check_decider(caller: Caller, slip: &Slip) -> Result<()> {
    caller.not_for_self(slip.player_id, "approve play")?;
    if let Some(u) = caller.uid() {
        if slip.opened_by == Some(u) || slip.closed_by == Some(u) || slip.rerated_by.contains(&u) {
            return Err(LoyaltyError::new(
                Code::Forbidden,
                "whoever opened, re-rated or closed a slip may not approve or reject it",
            ));
        }
    }
    Ok(())
}

/// A held decision needs a CLOSED slip that was held.
fn not_held(slip: &Slip) -> LoyaltyError {
    if slip.is_closed() {
        LoyaltyError::validation("the slip was not held for approval")
    } else {
        LoyaltyError::new(Code::SlipNotClosed, "the slip is still open")
    }
}

/// Lock the slip and check who decides (the opening found `caller`, who
/// holds loyalty:approve).
fn load_for_decision(
    opened: &auth::Opened,
    slip_id: Option<pgrx::Uuid>,
    property: Option<&str>,
) -> Result<Slip> {
    let slip_id = required(slip_id, "p_slip_id")?;
    let slip = Spi::connect(|c| slip::load(c, slip_id, true))?;
    opened.at_started(&slip.property_id, property)?;
    check_decider(opened.caller, &slip)?;
    Ok(slip)
}

/// Record an approval decision on a locked slip.
fn decide(
    slip: &Slip,
    caller: Caller,
    status: &str,
    reason: Option<&str>,
    correlation_id: &str,
) -> Result<()> {
    Spi::connect(|c| {
        spi::write(
            c,
            "UPDATE loyalty.rating_slip
                SET approval_status = $2, decided_by = $3, decided_at = now(), decision_reason = $4,
                    correlation_id = $5, updated_at = now()
              WHERE id = $1",
            &[
                slip.id.into(),
                status.into(),
                caller.uid().into(),
                reason.into(),
                correlation_id.into(),
            ],
        )
        .map(|_| ())
    })
}

row_fn! {
    /// Approve a held slip: post its points under `gameplay:<slip id>`. A second
    /// approval returns the first entry with `idempotent_hit = true`.
    #[pg_extern(security_definer, volatile, parallel_unsafe)]
    #[search_path(pg_catalog, loyalty, pg_temp)]
    fn approve_slip(
        p_slip_id: Option<pgrx::Uuid>,
        p_correlation_id: default!(Option<&str>, "NULL"),
        p_staff_id: default!(Option<pgrx::Uuid>, "NULL"),
        p_property_id: default!(Option<&str>, "NULL"),
    ) -> AccrualRow {
        let row = run(move || {
            let opened = auth::open(Who::PersonAt(Permission::Approve, p_staff_id), p_correlation_id)?;
            let slip = load_for_decision(&opened, p_slip_id, p_property_id)?;
            let auth::Opened { caller, correlation_id, .. } = opened;
            match slip.approval_status.as_deref() {
                Some("HELD") => decide(&slip, caller, "APPROVED", None, &correlation_id)?,
                Some("APPROVED") => {} // posted already: pay() answers the replay
                Some(_) => {
                    return Err(LoyaltyError::new(
                        Code::SlipNotApproved,
                        "the slip was rejected; it earns no points",
                    ))
                }
                None => return Err(not_held(&slip)),
            }
            let posted = accrual::pay(&slip, "approve_slip", &correlation_id, None)?;
            Ok(accrual::accrual_row(accrual::Accrued::Paid(posted), slip.id, correlation_id))
        });
        TableIterator::once(row)
    }
}

/// Refuse a held slip, with a reason: no points, ever. Rejecting it again
/// returns the first decision.
#[pg_extern(security_definer, volatile, parallel_unsafe)]
#[search_path(pg_catalog, loyalty, pg_temp)]
fn reject_slip(
    p_slip_id: Option<pgrx::Uuid>,
    p_reason: Option<&str>,
    p_correlation_id: default!(Option<&str>, "NULL"),
    p_staff_id: default!(Option<pgrx::Uuid>, "NULL"),
    p_property_id: default!(Option<&str>, "NULL"),
) -> TableIterator<
    'static,
    (
        name!(rating_slip_id, pgrx::Uuid),
        name!(approval_status, String),
        name!(decided_by, Option<pgrx::Uuid>),
        name!(decided_at, Option<TimestampWithTimeZone>),
        name!(decision_reason, Option<String>),
        name!(correlation_id, String),
    ),
> {
    let row = run(move || {
        let opened = auth::open(
            Who::PersonAt(Permission::Approve, p_staff_id),
            p_correlation_id,
        )?;
        let slip = load_for_decision(&opened, p_slip_id, p_property_id)?;
        let auth::Opened {
            caller,
            correlation_id,
            ..
        } = opened;
        let reason = crate::domain::reason::check(p_reason)?;
        match slip.approval_status.as_deref() {
            Some("HELD") => {
                decide(&slip, caller, "REJECTED", Some(&reason), &correlation_id)?;
                log::emit(
                    Event::SlipRejected,
                    &correlation_id,
                    Some(&slip.player_id.to_string()),
                    crate::fields! {
                        "rating_slip_id" => slip.id.to_string(),
                        "decided_by" => caller.uid().map(|u| u.to_string()),
                    },
                );
            }
            Some("REJECTED") => {}
            Some(_) => {
                return Err(LoyaltyError::validation(
                    "the slip was already approved and its points posted",
                ))
            }
            None => return Err(not_held(&slip)),
        }
        Spi::connect(|c| {
            let r = spi::write(
                c,
                "SELECT decided_by, decided_at, decision_reason FROM loyalty.rating_slip WHERE id = $1",
                &[slip.id.into()],
            )?;
            let r = r.first();
            Ok((
                slip.id,
                "REJECTED".to_string(),
                r.get::<pgrx::Uuid>(1)?,
                r.get::<TimestampWithTimeZone>(2)?,
                r.get::<String>(3)?,
                correlation_id,
            ))
        })
    });
    TableIterator::once(row)
}

/// Slips waiting for approval, oldest first: for staff with
/// loyalty:approve or loyalty:view_all (at `p_property_id`, its slips; else
/// at every property, everyone's), and trusted back ends.
#[pg_extern(security_definer, stable, parallel_safe)]
#[search_path(pg_catalog, loyalty, pg_temp)]
fn list_held_slips(
    p_limit: default!(Option<i32>, "100"),
    p_property_id: default!(Option<&str>, "NULL"),
) -> TableIterator<
    'static,
    (
        name!(rating_slip_id, pgrx::Uuid),
        name!(player_id, pgrx::Uuid),
        name!(game_type, String),
        name!(average_bet, AnyNumeric),
        name!(duration_seconds, Option<i32>),
        name!(points, Option<i64>),
        name!(approval_threshold_points, i64),
        name!(opened_by, Option<pgrx::Uuid>),
        name!(closed_by, Option<pgrx::Uuid>),
        name!(held_since, Option<TimestampWithTimeZone>),
    ),
> {
    let rows = run(move || {
        let scope = p_property_id.map_or(auth::Scope::Enterprise, auth::Scope::At);
        auth::require_scoped(&[Permission::Approve, Permission::ViewAll], scope)?;
        let limit = p_limit.unwrap_or(100);
        if !(1..=MAX_LIST).contains(&limit) {
            return Err(LoyaltyError::validation(format!(
                "p_limit must be between 1 and {MAX_LIST}"
            )));
        }
        Spi::connect(|c| -> Result<Vec<_>> {
            let ids = spi::read(
                c,
                "SELECT id FROM loyalty.rating_slip
                  WHERE approval_status = 'HELD' AND ($2::text IS NULL OR property_id = $2)
                  ORDER BY end_time, id LIMIT $1",
                &[limit.into(), p_property_id.into()],
            )?;
            let mut out = Vec::with_capacity(ids.len());
            for r in ids {
                let Some(id) = r.get::<pgrx::Uuid>(1)? else {
                    continue;
                };
                let s = slip::load_read_only(c, id)?;
                out.push((
                    s.id,
                    s.player_id,
                    s.game_type.clone(),
                    s.average_bet.clone(),
                    s.duration_seconds,
                    s.points().ok(),
                    s.approval_threshold_points,
                    s.opened_by,
                    s.closed_by,
                    s.end_time,
                ));
            }
            Ok(out)
        })
    });
    TableIterator::new(rows)
}
