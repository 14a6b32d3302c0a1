//! Settling a hold: `capture_hold` (the comp is charged: one REDEMPTION
//! entry), `void_hold` (it is not: the points go back) and `expire_holds`
//! (nobody settled it in time). Each locks the player, then the hold, and
//! decides from the status it reads under that lock.

// pgrx reads a TableIterator's columns from the signature itself.
#![allow(clippy::type_complexity)]

use super::{announce, lock, owner, unchanged, Hold};
use crate::auth::{self, Permission, Who};
use crate::domain::error::{required, run, Code, LoyaltyError, Result};
use crate::domain::kinds::Kind;
use crate::ledger::held::{self, Available};
use crate::ledger::Locked;
use crate::ledger::{self, Entry};
use crate::pg::context;
use crate::pg::log::Event;
use crate::pg::spi;
use crate::row_fn;
use pgrx::prelude::*;

/// Most holds one `expire_holds` call settles.
pub const MAX_EXPIRE: i32 = 100_000;

/// Post the capture of `h` (locked by this transaction, ACTIVE, not past
/// due): one REDEMPTION entry of −`points` (all of it by default) that
/// releases the whole hold in the same statement. Returns the captured hold
/// and the available points around the capture.
pub fn capture(
    h: &Hold,
    points: Option<i64>,
    person: pgrx::Uuid,
    correlation_id: &str,
) -> Result<(Hold, Available)> {
    let take = points.unwrap_or(h.points);
    if take < 1 || take > h.points {
        return Err(LoyaltyError::validation(format!(
            "p_points must be between 1 and the {} points held",
            h.points
        )));
    }
    // The hold is marked CAPTURED in the posting's own statement ($1 is the
    // player, $11 the person); a replay marks nothing and is refused below.
    let mark = ledger::Along {
        cte: "captured AS (
                UPDATE loyalty.hold
                   SET status = 'CAPTURED', captured_points = $36, ledger_entry_id = (SELECT id FROM entry),
                       decided_at = pg_catalog.clock_timestamp(), decided_by = $11
                 WHERE player_id = $1 AND hold_id = $37 AND EXISTS (SELECT FROM entry))",
        args: vec![take.into(), h.hold_id.into()],
    };
    let posted = ledger::post_along(
        &Entry {
            player_id: h.player_id,
            idempotency_key: format!("redemption:{}", h.hold_id),
            kind: Kind::Redemption,
            points: -take,
            rating_slip_id: None,
            visit_id: None,
            session_id: None,
            reason: Some(&h.reason),
            source: "capture_hold",
            staff_id: Some(person),
            reward_id: None,
            correlation_id,
            restate: None,
            held_change: -h.points,
            reverses_entry_id: None,
            property: Some(&h.property_id),
            under_lock: None,
        },
        Some(mark),
    )?;
    let held_after = match posted.held_after {
        Some(held) if !posted.idempotent_hit => held,
        // The hold said ACTIVE yet its entry exists: someone wrote the hold
        // table behind the write path's back. Refuse rather than guess.
        _ => {
            return Err(LoyaltyError::validation(format!(
                "hold {} is ACTIVE but its redemption entry {} exists; see the runbook",
                h.hold_id, posted.entry_id
            )))
        }
    };
    // What the statement wrote (the hold is locked by this transaction).
    let captured = Hold {
        status: "CAPTURED".to_string(),
        captured_points: Some(take),
        ledger_entry_id: Some(posted.entry_id),
        past_due: false,
        ..h.clone()
    };
    let available = Available {
        before: posted.balance_before - held_after - h.points,
        after: posted.balance_after - held_after,
        balance: posted.balance_after,
    };
    Spi::connect(|c| {
        announce(
            c,
            Event::HoldCaptured,
            &captured,
            Some(person),
            available.after,
            correlation_id,
        )
    })?;
    Ok((captured, available))
}

/// The hold `hold_id` with its player's row and then its own locked.
fn lock_both(player: pgrx::Uuid, hold_id: pgrx::Uuid) -> Result<(Locked, Hold)> {
    Spi::connect(|c| {
        let locked = held::lock_holder(c, player)?;
        Ok((locked, lock(c, player, hold_id)?))
    })
}

row_fn! {
    /// Charge the comp: post one REDEMPTION entry of −`p_points` (default:
    /// all held; the rest is released). Again: the same entry, as an
    /// idempotent hit. Voided, expired, pending or past-due: HOLD_NOT_ACTIVE.
    #[pg_extern(security_definer, volatile, parallel_unsafe)]
    #[search_path(pg_catalog, loyalty, pg_temp)]
    fn capture_hold(
        p_hold_id: Option<pgrx::Uuid>,
        p_points: default!(Option<i64>, "NULL"),
        p_staff_id: default!(Option<pgrx::Uuid>, "NULL"),
        p_correlation_id: default!(Option<&str>, "NULL"),
        p_property_id: default!(Option<&str>, "NULL"),
    ) -> HoldRow {
        let row = run(move || {
            let opened = auth::open(Who::PersonAt(Permission::Redeem, p_staff_id), p_correlation_id)?;
            let (hold_id, player) = owner(&opened, p_hold_id, p_property_id)?;
            let auth::Opened { caller: person, correlation_id, .. } = opened;
            person.not_for_self(player, "redeem points")?;
            let (_, h) = lock_both(player, hold_id)?;
            if h.status == "CAPTURED" {
                if p_points.is_some() && p_points != h.captured_points {
                    return Err(LoyaltyError::new(
                        Code::IdempotencyConflict,
                        format!(
                            "hold {hold_id} was captured for {} points; this capture asks for {}",
                            h.captured_points.unwrap_or(0),
                            p_points.unwrap_or(0)
                        ),
                    ));
                }
                let available = Spi::connect(|c| unchanged(c, player))?;
                return Ok(h.row(available, true, &correlation_id));
            }
            if h.status != "ACTIVE" || h.past_due {
                return Err(h.not_active("captured"));
            }
            let person = person.uid().ok_or_else(|| LoyaltyError::validation("no person"))?;
            let (captured, available) = capture(&h, p_points, person, &correlation_id)?;
            Ok(captured.row(available, false, &correlation_id))
        });
        TableIterator::once(row)
    }
}

/// Release a live hold's points and give it its final `status` (VOIDED or
/// EXPIRED). The caller holds both locks.
#[allow(clippy::too_many_arguments)]
fn release(
    c: &pgrx::spi::SpiClient<'_>,
    locked: &Locked,
    h: &Hold,
    status: &str,
    by: Option<pgrx::Uuid>,
    void_reason: Option<&str>,
    event: Event,
    correlation_id: &str,
) -> Result<(Hold, Available)> {
    let available = held::change_held(c, locked, -h.points)?;
    let done = super::decode(spi::write(
        c,
        super::hold_row!(
                "UPDATE loyalty.hold
            SET status = $3, decided_at = pg_catalog.clock_timestamp(), decided_by = $4, void_reason = $5
          WHERE player_id = $1 AND hold_id = $2
             RETURNING",
                "true"
            ),
        &[
            h.player_id.into(),
            h.hold_id.into(),
            status.into(),
            by.into(),
            void_reason.into(),
        ],
    )?)?
    .ok_or_else(|| LoyaltyError::new(Code::HoldNotFound, "the hold vanished while releasing"))?;
    announce(c, event, &done, by, available.after, correlation_id)?;
    Ok((done, available))
}

row_fn! {
    /// Release an active or pending hold (the comp was not taken). Again: an
    /// idempotent hit; after a capture or an expiry: HOLD_NOT_ACTIVE.
    #[pg_extern(security_definer, volatile, parallel_unsafe)]
    #[search_path(pg_catalog, loyalty, pg_temp)]
    fn void_hold(
        p_hold_id: Option<pgrx::Uuid>,
        p_reason: Option<&str>,
        p_staff_id: default!(Option<pgrx::Uuid>, "NULL"),
        p_correlation_id: default!(Option<&str>, "NULL"),
        p_property_id: default!(Option<&str>, "NULL"),
    ) -> HoldRow {
        let row = run(move || {
            let opened = auth::open(Who::PersonAt(Permission::Redeem, p_staff_id), p_correlation_id)?;
            let (hold_id, player) = owner(&opened, p_hold_id, p_property_id)?;
            let auth::Opened { caller: person, correlation_id, .. } = opened;
            person.not_for_self(player, "redeem points")?;
            let reason = crate::domain::reason::check(p_reason)?;
            let (locked, h) = lock_both(player, hold_id)?;
            Spi::connect(|c| match h.status.as_str() {
                "VOIDED" => Ok(h.row(unchanged(c, player)?, true, &correlation_id)),
                _ if h.is_live() => {
                    let (done, available) = release(
                        c,
                        &locked,
                        &h,
                        "VOIDED",
                        person.uid(),
                        Some(&reason),
                        Event::HoldVoided,
                        &correlation_id,
                    )?;
                    Ok(done.row(available, false, &correlation_id))
                }
                _ => Err(h.not_active("voided")),
            })
        });
        TableIterator::once(row)
    }
}

/// `expire_holds(p_limit)` (pg_cron, every minute): mark up to `p_limit`
/// past-due live holds EXPIRED, oldest deadline first, and release their
/// points. Trusted back ends only. Each hold is decided under its player's
/// and its own lock, so a capture or void that got there first wins; busy
/// players are skipped and a call starts none once the sweep budget is
/// spent (the next run, a minute later, takes the rest).
#[pg_extern(security_definer, volatile, parallel_unsafe)]
#[search_path(pg_catalog, loyalty, pg_temp)]
fn expire_holds(
    p_limit: default!(Option<i32>, "1000"),
) -> TableIterator<
    'static,
    (
        name!(hold_id, pgrx::Uuid),
        name!(player_id, pgrx::Uuid),
        name!(points, i64),
        name!(expires_at, TimestampWithTimeZone),
    ),
> {
    let rows = run(move || {
        auth::open(Who::Trusted, None)?;
        let limit = required(p_limit, "p_limit")?;
        if !(1..=MAX_EXPIRE).contains(&limit) {
            return Err(LoyaltyError::validation(format!(
                "p_limit must be between 1 and {MAX_EXPIRE}"
            )));
        }
        let correlation_id = context::correlation_id(None)?;
        let due: Vec<(pgrx::Uuid, pgrx::Uuid)> = Spi::connect(|c| -> Result<_> {
            let rows = spi::write(
                c,
                // the oldest deadlines, then locked in player order, as a
                // batch completion locks its players: no two sweeps and no
                // sweep and batch wait for each other in a circle
                "SELECT player_id, hold_id FROM (
                     SELECT player_id, hold_id FROM loyalty.hold
                      WHERE status IN ('PENDING_APPROVAL', 'ACTIVE') AND expires_at <= pg_catalog.clock_timestamp()
                      ORDER BY expires_at LIMIT $1) due
                  ORDER BY player_id, hold_id",
                &[limit.into()],
            )?;
            Ok(rows
                .into_iter()
                .filter_map(|r| Some((r.get(1).ok()??, r.get(2).ok()??)))
                .collect())
        })?;
        let budget = Spi::connect(crate::ledger::casino::sweep_budget)?;
        let started = std::time::Instant::now();
        let mut expired = Vec::with_capacity(due.len());
        for (player, hold_id) in due {
            if started.elapsed() >= budget {
                break; // the rest waits for the next run
            }
            // a player busy in another transaction waits for the next run:
            // a sweep never makes a floor call wait behind it
            let Some((locked, h)) = Spi::connect(|c| -> Result<_> {
                let Some(locked) = crate::ledger::try_lock_player(c, player)? else {
                    return Ok(None);
                };
                let locked = crate::ledger::roll_if_due(c, locked)?;
                Ok(Some((locked, lock(c, player, hold_id)?)))
            })?
            else {
                continue;
            };
            if !(h.is_live() && h.past_due) {
                continue; // settled while we looked
            }
            let (done, _) = Spi::connect(|c| {
                release(
                    c,
                    &locked,
                    &h,
                    "EXPIRED",
                    None,
                    None,
                    Event::HoldExpired,
                    &correlation_id,
                )
            })?;
            expired.push((done.hold_id, done.player_id, done.points, done.expires_at));
        }
        Ok(expired)
    });
    TableIterator::new(rows)
}
