//! Paying a CLOSED slip: its gameplay entry (key `gameplay:<slip id>`,
//! points from the slip's snapshot) through the ledger's one write path,
//! the slip marked accrued and its pending_accrual row resolved together;
//! or, when the payment fails, the pending row that recovery works from.
//! Accrual and recovery (`loyalty:recover`) refuse slips held for or refused
//! approval; only approval.rs pays those, through [`pay`].

use crate::auth::{self, Permission, Who};
use crate::domain::error::{required, run, Code, LoyaltyError, Result};
use crate::domain::keys;
use crate::domain::kinds::Kind;
use crate::ledger::{self, Entry, Posted};
use crate::pg::log::{self, Event};
use crate::pg::rows::AccrualRow;
use crate::pg::spi;
use crate::pg::subxact::Failure;
use crate::play::slip::{self, Slip};
use crate::row_fn;
use pgrx::prelude::*;

/// The ledger entry that pays a CLOSED slip: key `gameplay:<slip id>`,
/// points from its snapshot.
pub(crate) fn gameplay_entry<'a>(
    slip: &'a Slip,
    source: &'static str,
    correlation_id: &'a str,
) -> Result<Entry<'a>> {
    if !slip.is_closed() {
        return Err(LoyaltyError::new(
            Code::SlipNotClosed,
            "the slip is still open; complete it first",
        ));
    }
    Ok(Entry {
        player_id: slip.player_id,
        idempotency_key: keys::gameplay_key(&slip.id.to_string()),
        kind: Kind::Gameplay,
        points: match slip.decided_points {
            Some(p) => p,
            None => slip.points()?,
        },
        rating_slip_id: Some(slip.id),
        visit_id: slip.visit_id,
        session_id: slip.session_id,
        reason: None,
        source,
        staff_id: None,
        reward_id: None,
        correlation_id,
        restate: None,
        held_change: 0,
        reverses_entry_id: None,
        property: Some(&slip.property_id),
        under_lock: None,
    })
}

/// Post a CLOSED slip's gameplay points, with `along` (the slip's closing,
/// when a completion pays) in the same statement; otherwise the slip's row
/// is not touched. `under_lock`: the daily four-eyes rule, checked under
/// the player's lock (slip::daily_rule; none for an approved slip).
pub(crate) fn post_gameplay(
    slip: &Slip,
    source: &'static str,
    correlation_id: &str,
    along: Option<ledger::Along<'_>>,
    under_lock: Option<ledger::UnderLock<'_>>,
) -> Result<Posted> {
    let entry = Entry {
        under_lock,
        ..gameplay_entry(slip, source, correlation_id)?
    };
    let posted = ledger::post_along(&entry, along)?;
    if !posted.idempotent_hit {
        log::emit(
            Event::AccrualCompleted,
            correlation_id,
            Some(&slip.player_id.to_string()),
            crate::fields! {
                "rating_slip_id" => slip.id.to_string(),
                "ledger_entry_id" => posted.entry_id,
                "points_earned" => posted.points_change,
                "balance_after" => posted.balance_after,
                "source" => source,
            },
        );
    }
    Ok(posted)
}

/// What an accrual or a recovery did with a slip.
pub enum Accrued {
    /// Its gameplay entry, new or replayed.
    Paid(Posted),
    /// Paying it would have taken its player's day above the daily
    /// threshold: it is held for a second person instead.
    Held { points: i64 },
}

/// Accrual and recovery of a CLOSED, locked slip: never of one held for,
/// or refused, approval; and, like a completion, under the daily four-eyes
/// rule (slip::daily_rule), which holds the slip instead of paying it. See
/// [`pay`].
pub fn accrue(slip: &Slip, source: &'static str, correlation_id: &str) -> Result<Accrued> {
    slip.refuse_unapproved()?;
    if slip.accrued_ledger_id.is_some() {
        return pay(slip, source, correlation_id, None).map(Accrued::Paid);
    }
    let points = gameplay_entry(slip, source, correlation_id)?.points;
    let daily = crate::play::slip::daily_rule(slip, points);
    match pay(slip, source, correlation_id, Some(&daily)) {
        Err(e) if e.code == Code::OverDailyThreshold => {
            hold_owed(slip, points, correlation_id)?;
            Ok(Accrued::Held { points })
        }
        paid => paid.map(Accrued::Paid),
    }
}

/// An owed slip that the daily rule stops: HELD for approval, its alert
/// raised, as a completion over the threshold would have left it.
fn hold_owed(slip: &Slip, points: i64, correlation_id: &str) -> Result<()> {
    Spi::connect(|c| {
        spi::write(
            c,
            "UPDATE loyalty.rating_slip
                SET approval_status = 'HELD', correlation_id = $2, updated_at = now()
              WHERE id = $1",
            &[slip.id.into(), correlation_id.into()],
        )
        .map(|_| ())
    })?;
    crate::play::slip::announce_held(slip, points, "daily", correlation_id)
}

/// Post a CLOSED, locked slip's points, mark the slip accrued and resolve
/// its pending_accrual row. Whenever the gameplay entry exists, new or
/// replayed, the pending row ends resolved.
pub fn pay(
    slip: &Slip,
    source: &'static str,
    correlation_id: &str,
    under_lock: Option<ledger::UnderLock<'_>>,
) -> Result<Posted> {
    let posted = match slip.accrued_ledger_id {
        // Paid already: answered from the ledger without waiting on the
        // player's row, so a recovery stuck behind a busy player cannot time
        // out on, and mark owed, a slip that has its entry.
        Some(id) => Spi::connect(|c| ledger::replay(c, &gameplay_entry(slip, source, correlation_id)?))?
            .ok_or_else(|| {
                LoyaltyError::validation(format!(
                    "the slip is marked paid by ledger entry {id}, which the ledger does not hold; investigate"
                ))
            })?,
        None => post_gameplay(slip, source, correlation_id, None, under_lock)?,
    };
    Spi::connect(|client| {
        spi::write(
            client,
            "WITH paid AS (
                UPDATE loyalty.rating_slip SET accrued_ledger_id = $2, updated_at = now()
                 WHERE id = $1 AND accrued_ledger_id IS NULL)
             UPDATE loyalty.pending_accrual SET resolved_at = now()
              WHERE rating_slip_id = $1 AND resolved_at IS NULL",
            &[slip.id.into(), posted.entry_id.into()],
        )
        .map(|_| ())
    })?;
    Ok(posted)
}

pub(crate) fn accrual_row(a: Accrued, slip_id: pgrx::Uuid, correlation_id: String) -> AccrualRow {
    match a {
        Accrued::Paid(p) => (
            Some(p.entry_id),
            p.points_change,
            Some(p.balance_before),
            Some(p.balance_after),
            Some(p.tier_before),
            Some(p.tier_after),
            p.idempotent_hit,
            slip_id,
            correlation_id,
            "PAID".to_string(),
        ),
        Accrued::Held { points } => (
            None,
            points,
            None,
            None,
            None,
            None,
            false,
            slip_id,
            correlation_id,
            "HELD_FOR_APPROVAL".to_string(),
        ),
    }
}

row_fn! {
    /// Accrue a closed slip's points (needs loyalty:recover: it is recovery by
    /// another name); a replay returns the first entry with `idempotent_hit = true`.
    #[pg_extern(security_definer, volatile, parallel_unsafe)]
    #[search_path(pg_catalog, loyalty, pg_temp)]
    fn accrue_points_from_slip(
        p_slip_id: Option<pgrx::Uuid>,
        p_correlation_id: default!(Option<&str>, "NULL"),
    ) -> AccrualRow {
        let row = run(move || {
            let opened = auth::open(Who::StaffAt(Permission::Recover), p_correlation_id)?;
            let slip_id = required(p_slip_id, "p_slip_id")?;
            let posted = accrue_by_id(slip_id, &opened, "accrue_points_from_slip")?;
            Ok(accrual_row(posted, slip_id, opened.correlation_id))
        });
        TableIterator::once(row)
    }
}

row_fn! {
    /// Replay a closed slip's accrual (SLIP_NOT_CLOSED for an open one). Any
    /// number of calls leave one ledger entry.
    #[pg_extern(security_definer, volatile, parallel_unsafe)]
    #[search_path(pg_catalog, loyalty, pg_temp)]
    fn recover_slip_loyalty(
        p_slip_id: Option<pgrx::Uuid>,
        p_correlation_id: default!(Option<&str>, "NULL"),
    ) -> AccrualRow {
        let row = run(move || {
            let opened = auth::open(Who::StaffAt(Permission::Recover), p_correlation_id)?;
            let slip_id = required(p_slip_id, "p_slip_id")?;
            let posted = accrue_by_id(slip_id, &opened, "recover_slip_loyalty")?;
            Ok(accrual_row(posted, slip_id, opened.correlation_id))
        });
        TableIterator::once(row)
    }
}

/// Lock a slip by id and [`accrue`] it, unless it is the caller's own play
/// or at a property where the caller may not recover.
pub fn accrue_by_id(
    slip_id: pgrx::Uuid,
    opened: &auth::Opened,
    source: &'static str,
) -> Result<Accrued> {
    let slip = Spi::connect(|client| slip::load(client, slip_id, true))?;
    opened.at(&slip.property_id)?;
    opened
        .caller
        .not_for_self(slip.player_id, "recover points")?;
    accrue(&slip, source, &opened.correlation_id)
}

/// Record (or count again) a failed accrual for later recovery, unless the
/// slip's gameplay entry exists: a paid slip is never marked owed again.
/// Every caller holds the slip's row lock, so a payment of the same slip
/// has committed before this statement's snapshot, or has not begun.
pub fn record_pending(slip: &Slip, failure: &Failure, correlation_id: &str) -> Result<()> {
    let message: String = failure.message().chars().take(2000).collect();
    Spi::connect(|client| -> Result<()> {
        spi::write(
            client,
            "INSERT INTO loyalty.pending_accrual AS p
                 (rating_slip_id, player_id, error_code, error_message, correlation_id)
             SELECT $1, $2, $3, $4, $5
              WHERE NOT EXISTS (SELECT 1 FROM loyalty.loyalty_ledger l
                                 WHERE l.player_id = $2 AND l.idempotency_key = 'gameplay:' || $1::text)
             ON CONFLICT (rating_slip_id) DO UPDATE
                SET error_code = EXCLUDED.error_code, error_message = EXCLUDED.error_message,
                    correlation_id = EXCLUDED.correlation_id, attempts = p.attempts + 1,
                    failed_at = now(), resolved_at = NULL",
            &[
                slip.id.into(),
                slip.player_id.into(),
                failure.code().into(),
                message.into(),
                correlation_id.into(),
            ],
        )?;
        Ok(())
    })?;
    log::emit(
        Event::AccrualFailed,
        correlation_id,
        Some(&slip.player_id.to_string()),
        crate::fields! {
            "rating_slip_id" => slip.id.to_string(),
            "error_code" => failure.code(),
            "error_message" => failure.message(),
            "recovery_needed" => true,
        },
    );
    Ok(())
}
