//! Completing a slip: close it and pay it in one call (the saga). A
//! completion above the slip's approval threshold closes it HELD, with no
//! points, and announces the hold for a second person (approval.rs); one
//! whose payment fails closes it all the same, rolls the payment back to a
//! savepoint and leaves a pending row (PARTIAL_COMPLETION) for recovery.

use crate::auth::{self, Permission, Who};
use crate::domain::error::{required, run, Code, LoyaltyError, Result};
use crate::domain::keys;
use crate::domain::points;
use crate::ledger::{self, Posted};
use crate::pg::context;
use crate::pg::rows::CompleteRow;
use crate::pg::spi;
use crate::pg::subxact::{self, Failure};
use crate::play::accrual::{post_gameplay, record_pending};
use crate::play::slip::{self, micros, Slip};
use crate::row_fn;
use pgrx::prelude::*;

row_fn! {
    /// Close a slip and accrue its points in one call (docs/reference.md §3). If the accrual
    /// fails, its work is rolled back to a savepoint, the slip stays CLOSED, a
    /// pending_accrual row is written and the status is PARTIAL_COMPLETION;
    /// with `p_atomic` the whole call fails instead and nothing changes.
    #[pg_extern(security_definer, volatile, parallel_unsafe)]
    #[search_path(pg_catalog, loyalty, pg_temp)]
    fn complete_rating_slip(
        p_slip_id: Option<pgrx::Uuid>,
        p_correlation_id: default!(Option<&str>, "NULL"),
        p_atomic: default!(Option<bool>, "false"),
        p_end_time: default!(Option<TimestampWithTimeZone>, "NULL"),
        p_staff_id: default!(Option<pgrx::Uuid>, "NULL"),
        p_property_id: default!(Option<&str>, "NULL"),
    ) -> CompleteRow {
        let row = run(move || {
            let opened = auth::open(Who::PersonAt(Permission::Rate, p_staff_id), p_correlation_id)?;
            let slip_id = required(p_slip_id, "p_slip_id")?;
            complete(
                slip_id,
                &opened,
                p_property_id,
                p_atomic.unwrap_or(false),
                p_end_time,
            )
        });
        TableIterator::once(row)
    }
}

/// Complete slip `slip_id` for the `opened` call, at `property` if it names
/// one (it must be the slip's: a slip is finished where it was opened).
pub(crate) fn complete(
    slip_id: pgrx::Uuid,
    opened: &auth::Opened,
    property: Option<&str>,
    atomic: bool,
    end_time: Option<TimestampWithTimeZone>,
) -> Result<CompleteRow> {
    let (caller, correlation_id) = (opened.caller, opened.correlation_id.clone());
    let slip = Spi::connect(|client| slip::load_for_closing(client, slip_id))?;
    opened.at_started(&slip.property_id, property)?;
    caller.not_for_self(slip.player_id, "rate play")?;
    if slip.approval_status.as_deref() == Some("HELD") {
        // Writes nothing: it still waits for a second staff member.
        return Ok(complete_row(
            "HELD_FOR_APPROVAL",
            slip,
            None,
            None,
            correlation_id,
            false,
        ));
    }
    if slip.is_closed() {
        // Writes nothing; reports the slip's accrual as it stands.
        let first = match slip.accrued_ledger_id {
            Some(_) => Spi::connect(|c| {
                ledger::find_entry(c, slip.player_id, &keys::gameplay_key(&slip.id.to_string()))
            })?,
            None => None,
        };
        // A rejected slip is owed nothing.
        let recovery_needed = first.is_none() && slip.approval_status.is_none();
        return Ok(complete_row(
            "ALREADY_COMPLETED",
            slip,
            first,
            None,
            correlation_id,
            recovery_needed,
        ));
    }
    let now = context::now();
    let end = context::finite(end_time.unwrap_or(now), "p_end_time")?;
    if micros(end) > micros(now) {
        return Err(LoyaltyError::validation("a slip cannot end in the future"));
    }
    let duration = points::duration_seconds(micros(slip.start_time), micros(end))? as i32;
    let closed = Slip {
        end_time: Some(end),
        status: "CLOSED".to_string(),
        duration_seconds: Some(duration),
        closed_by: caller.uid(),
        ..slip
    };
    // The close decides the points (recorded on the slip: a payment days
    // later posts them, and an owed slip counts toward its player's day).
    let points = closed.points().ok();
    let closed = Slip {
        decided_points: points,
        ..closed
    };

    // Four eyes: above the slip's own threshold the slip closes with no
    // points posted and waits for approve_slip.
    if let Some(p) = points.filter(|p| *p > closed.approval_threshold_points) {
        return hold(closed, p, "slip", correlation_id);
    }

    // The accrual runs against the slip as it will be stored, and a new
    // entry closes the slip in its own statement. Under the player's lock
    // it checks the daily threshold (slip::daily_rule): over it, the slip
    // is held like a large one. A replay (the entry was there) or a failed
    // payment (rolled back to the savepoint) closes it here, with the entry
    // that paid it if one did.
    let daily = points.map(|p| slip::daily_rule(&closed, p));
    let pay = || {
        post_gameplay(
            &closed,
            "complete_rating_slip",
            &correlation_id,
            Some(closing_along(&closed)),
            daily.as_ref().map(|d| d as ledger::UnderLock<'_>),
        )
    };
    let outcome = if atomic {
        match pay() {
            Ok(posted) => Ok(posted),
            Err(e) if e.code == Code::OverDailyThreshold => Err(Failure::Spec(e)),
            Err(e) => return Err(e),
        }
    } else {
        subxact::run(pay)
    };
    if let (Err(Failure::Spec(e)), Some(p)) = (&outcome, points) {
        if e.code == Code::OverDailyThreshold {
            return hold(closed, p, "daily", correlation_id);
        }
    }
    let accrued = outcome.as_ref().ok().map(|p| p.entry_id);
    if !outcome.as_ref().is_ok_and(|p| !p.idempotent_hit) {
        store_closed(&closed, accrued, &correlation_id)?;
    }
    let closed = Slip {
        accrued_ledger_id: accrued,
        ..closed
    };
    match outcome {
        Ok(posted) => Ok(complete_row(
            "COMPLETED",
            closed,
            Some(posted),
            None,
            correlation_id,
            false,
        )),
        Err(failure) => {
            record_pending(&closed, &failure, &correlation_id)?;
            Ok(complete_row(
                "PARTIAL_COMPLETION",
                closed,
                None,
                Some(failure),
                correlation_id,
                true,
            ))
        }
    }
}

/// Close `slip` HELD for approval under `rule` ("slip" or "daily"): no
/// points posted, an alert for a second person.
fn hold(slip: Slip, points: i64, rule: &str, correlation_id: String) -> Result<CompleteRow> {
    let held = Slip {
        approval_status: Some("HELD".to_string()),
        ..slip
    };
    store_closed(&held, None, &correlation_id)?;
    slip::announce_held(&held, points, rule, &correlation_id)?;
    Ok(complete_row(
        "HELD_FOR_APPROVAL",
        held,
        None,
        None,
        correlation_id,
        false,
    ))
}

/// What closing a slip writes, with its parameters' places: the slip,
/// end, duration, who closed it, correlation id, the paying entry,
/// approval state, the points decided. One text for both ways a slip is
/// closed.
macro_rules! close_slip {
    ($id:literal, $end:literal, $dur:literal, $by:literal, $corr:literal, $paid:literal, $approval:literal, $points:literal) => {
        concat!(
            "UPDATE loyalty.rating_slip
                SET status = 'CLOSED', end_time = ",
            $end,
            ", duration_seconds = ",
            $dur,
            ", closed_by = ",
            $by,
            ", correlation_id = ",
            $corr,
            ", accrued_ledger_id = ",
            $paid,
            ", approval_status = ",
            $approval,
            ", points = ",
            $points,
            ", updated_at = now()
              WHERE id = ",
            $id
        )
    };
}

/// Write a slip's closing: end, duration, who closed it, approval state
/// and the entry that paid it (if one did).
fn store_closed(s: &Slip, accrued: Option<i64>, correlation_id: &str) -> Result<()> {
    Spi::connect(|client| {
        spi::write(
            client,
            close_slip!("$1", "$2", "$3", "$4", "$5", "$6", "$7", "$8"),
            &[
                s.id.into(),
                s.end_time.into(),
                s.duration_seconds.into(),
                s.closed_by.into(),
                correlation_id.into(),
                accrued.into(),
                s.approval_status.as_deref().into(),
                s.decided_points.into(),
            ],
        )
        .map(|_| ())
    })
}

/// The slip's closing, written in the statement that posts its entry
/// (ledger::Along): the slip is the posting's $2, its correlation id $17.
fn closing_along(s: &Slip) -> ledger::Along<'static> {
    ledger::Along {
        cte: concat!(
            "closed AS (",
            close_slip!(
                "$2",
                "$36",
                "$37",
                "$38",
                "$17",
                "(SELECT id FROM entry)",
                "$39",
                "$40"
            ),
            " AND EXISTS (SELECT FROM entry))"
        ),
        args: vec![
            s.end_time.into(),
            s.duration_seconds.into(),
            s.closed_by.into(),
            s.approval_status.clone().into(),
            s.decided_points.into(),
        ],
    }
}

pub(crate) fn complete_row(
    status: &str,
    s: Slip,
    p: Option<Posted>,
    failure: Option<Failure>,
    correlation_id: String,
    recovery_needed: bool,
) -> CompleteRow {
    let hit = status == "ALREADY_COMPLETED" || p.as_ref().is_some_and(|p| p.idempotent_hit);
    (
        status.to_string(),
        s.id,
        s.player_id,
        s.visit_id,
        s.session_id,
        s.game_type,
        s.average_bet,
        s.start_time,
        s.end_time,
        s.duration_seconds,
        p.as_ref().map(|p| p.entry_id),
        p.as_ref().map(|p| p.points_change),
        p.as_ref().map(|p| p.balance_before),
        p.as_ref().map(|p| p.balance_after),
        p.as_ref().map(|p| p.tier_before.clone()),
        p.as_ref().map(|p| p.tier_after.clone()),
        hit,
        failure.as_ref().map(Failure::code),
        failure.as_ref().map(Failure::message),
        correlation_id,
        recovery_needed,
    )
}
