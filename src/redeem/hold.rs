//! Reserving points: `hold_points`, `redeem_points` (hold and capture in
//! one call) and `approve_hold` (the second person above the approval
//! threshold).

// pgrx reads a TableIterator's columns from the signature itself.
#![allow(clippy::type_complexity)]

use super::{announce, decode, lock, owner, select_hold, settle, unchanged, Hold};
use crate::alert::{self, AlertKind};
use crate::auth::{self, Caller, Permission, Who};
use crate::domain::error::{echo, required, run, Code, LoyaltyError, Result};
use crate::ledger::held::{self, Available};
use crate::pg::context;
use crate::pg::log::Event;
use crate::pg::spi;
use crate::row_fn;
use pgrx::datum::Interval;
use pgrx::prelude::*;
use serde_json::json;

/// Longest outlet name and request id (characters / bytes).
pub const MAX_OUTLET_CHARS: usize = 100;
pub const MAX_REQUEST_ID_BYTES: usize = 200;
/// A hold lives between one second and seven days.
const MIN_TTL_MICROS: i64 = 1_000_000;
const MAX_TTL_MICROS: i64 = 7 * 86_400 * 1_000_000;
/// A one-call redemption's hold is captured at once; this only bounds it
/// if the capture never happens (it is pending approval).
const REDEEM_TTL_MICROS: i64 = 30 * 60 * 1_000_000;

/// What a hold asks for, checked.
struct Ask {
    player: pgrx::Uuid,
    points: i64,
    outlet: String,
    reason: String,
    key: String,
    ttl_micros: i64,
    person: pgrx::Uuid,
}

/// The redemption limits and a point's comp value at the property the
/// comp is given, from the cached settings (its own, else the
/// enterprise's: ledger/casino.rs).
struct Limits {
    property: String,
    max_points: i64,
    approval_above: i64,
    cents_per_point: String,
}

/// Where a new hold is made (`given`, or the only property) and its
/// limits, once `opened` may redeem there.
fn limits(opened: &auth::Opened, given: Option<&str>) -> Result<Limits> {
    let p = Spi::connect(|c| crate::ledger::casino::where_new(c, given))?;
    opened.at(&p.id)?;
    Ok(Limits {
        property: p.id,
        max_points: p.max_redemption_points,
        approval_above: p.redemption_approval_points,
        cents_per_point: p.cents_per_point,
    })
}

fn printable(s: &str) -> bool {
    !s.trim().is_empty() && !s.chars().any(char::is_control)
}

/// Whether the hold may be made (reference §15), once the opening found
/// `person` (staff with loyalty:redeem): not for themselves, within the
/// per-redemption cap, with an outlet, a reason and a sane lifetime.
/// `prefix` keeps the keys of `hold_points` and `redeem_points` apart.
#[allow(clippy::too_many_arguments)]
fn ask(
    person: Caller,
    limits: Limits,
    player: Option<pgrx::Uuid>,
    points: Option<i64>,
    outlet: Option<&str>,
    reason: Option<&str>,
    request_id: Option<&str>,
    ttl_micros: i64,
    prefix: &str,
) -> Result<(Ask, Limits)> {
    let player = required(player, "p_player_id")?;
    person.not_for_self(player, "redeem points")?;
    let points = required(points, "p_points")?;
    if points <= 0 {
        return Err(LoyaltyError::validation("p_points must be positive"));
    }
    if points > limits.max_points {
        return Err(LoyaltyError::new(
            Code::RedemptionExceedsLimit,
            format!(
                "one redemption may take at most {} points",
                limits.max_points
            ),
        ));
    }
    let outlet = crate::domain::reason::text(
        Some(required(outlet, "p_outlet")?),
        "p_outlet",
        1,
        MAX_OUTLET_CHARS,
    )?;
    let reason = crate::domain::reason::check(reason)?;
    if !(MIN_TTL_MICROS..=MAX_TTL_MICROS).contains(&ttl_micros) {
        return Err(LoyaltyError::validation(
            "p_ttl must be between 1 second and 7 days",
        ));
    }
    let key = match request_id.map(str::trim) {
        Some(r) if !printable(r) || r.len() > MAX_REQUEST_ID_BYTES => {
            return Err(LoyaltyError::validation(format!(
                "p_request_id must be 1 to {MAX_REQUEST_ID_BYTES} printable bytes"
            )))
        }
        Some(r) => format!("{prefix}:req:{r}"),
        None => format!("{prefix}:id:{}", context::generate_uuid()),
    };
    let Caller::Staff(person) = person else {
        return Err(LoyaltyError::validation(
            "a hold is always made by a person",
        ));
    };
    Ok((
        Ask {
            player,
            points,
            outlet,
            reason,
            key,
            ttl_micros,
            person,
        },
        limits,
    ))
}

/// A TTL as microseconds; months have no fixed length and are refused.
fn ttl_micros(ttl: Option<Interval>) -> Result<i64> {
    let ttl = required(ttl, "p_ttl")?;
    if ttl.months() != 0 {
        return Err(LoyaltyError::validation(
            "p_ttl must be between 1 second and 7 days",
        ));
    }
    Ok(i64::from(ttl.days())
        .saturating_mul(86_400_000_000)
        .saturating_add(ttl.micros()))
}

/// Reserve the points under the player's lock, or find the hold this key
/// already made (then nothing changes; another payload is
/// IDEMPOTENCY_CONFLICT). Returns the hold, available points, and whether
/// it was a retry.
fn reserve(a: &Ask, limits: &Limits, correlation_id: &str) -> Result<(Hold, Available, bool)> {
    let (hold, available, hit) = Spi::connect(|c| -> Result<(Hold, Available, bool)> {
        let locked = held::lock_holder(c, a.player)?;
        // A fresh statement under the lock: sees a first call that committed
        // while this one waited.
        let first = decode(spi::write(
            c,
            select_hold!("WHERE player_id = $1 AND idempotency_key = $2"),
            &[a.player.into(), a.key.as_str().into()],
        )?)?;
        if let Some(h) = first {
            // the same request at another property is another request
            if h.points != a.points
                || h.outlet != a.outlet
                || h.reason != a.reason
                || h.property_id != limits.property
            {
                return Err(LoyaltyError::new(
                    Code::IdempotencyConflict,
                    format!(
                        "request {} already made hold {} of {} points at {}",
                        echo(&a.key),
                        h.hold_id,
                        h.points,
                        echo(&h.outlet)
                    ),
                ));
            }
            return Ok((h, unchanged(c, a.player)?, true));
        }
        let available = held::change_held(c, &locked, a.points)?;
        let status = if a.points > limits.approval_above {
            "PENDING_APPROVAL"
        } else {
            "ACTIVE"
        };
        let hold_id = auth::parse_uuid(&context::generate_uuid())
            .ok_or_else(|| LoyaltyError::validation("could not make a hold id"))?;
        let h = decode(spi::write(
            c,
            super::hold_row!(
                "INSERT INTO loyalty.hold (hold_id, player_id, points, outlet, comp_value_cents, status, expires_at,
                                       staff_id, reason, idempotency_key, correlation_id, property_id)
             VALUES ($1, $2, $3, $10, floor($3 * $11::numeric)::bigint, $4,
                    pg_catalog.clock_timestamp() + $5 * interval '1 microsecond', $6, $7, $8, $9, $12)
             RETURNING",
                "false"
            ),
            &[
                hold_id.into(),
                a.player.into(),
                a.points.into(),
                status.into(),
                a.ttl_micros.into(),
                a.person.into(),
                a.reason.as_str().into(),
                a.key.as_str().into(),
                correlation_id.into(),
                a.outlet.as_str().into(),
                limits.cents_per_point.as_str().into(),
                limits.property.as_str().into(),
            ],
        )?)?
        .ok_or_else(|| LoyaltyError::validation("the hold was not written"))?;
        announce(
            c,
            Event::PointsHeld,
            &h,
            Some(a.person),
            available.after,
            correlation_id,
        )?;
        Ok((h, available, false))
    })?;
    if !hit && hold.status == "PENDING_APPROVAL" {
        alert::raise(
            AlertKind::HoldNeedsApproval,
            Some(a.person),
            Some(a.player),
            Some(&hold.property_id),
            &json!({
                "hold_id": hold.hold_id.to_string(),
                "points": hold.points,
                "threshold": limits.approval_above,
                "outlet": hold.outlet,
                "correlation_id": correlation_id,
            }),
        )?;
    }
    Ok((hold, available, hit))
}

row_fn! {
    /// Reserve points for a comp (reference §15). Above
    /// `config.redemption_approval_points` the hold starts PENDING_APPROVAL.
    #[allow(clippy::too_many_arguments)]
    #[pg_extern(security_definer, volatile, parallel_unsafe)]
    #[search_path(pg_catalog, loyalty, pg_temp)]
    fn hold_points(
        p_player_id: Option<pgrx::Uuid>,
        p_points: Option<i64>,
        p_outlet: Option<&str>,
        p_reason: Option<&str>,
        p_staff_id: default!(Option<pgrx::Uuid>, "NULL"),
        p_request_id: default!(Option<&str>, "NULL"),
        p_ttl: default!(Option<Interval>, "'30 minutes'"),
        p_correlation_id: default!(Option<&str>, "NULL"),
        p_property_id: default!(Option<&str>, "NULL"),
    ) -> HoldRow {
        let row = run(move || {
            let opened = auth::open(Who::PersonAt(Permission::Redeem, p_staff_id), p_correlation_id)?;
            let limits = limits(&opened, p_property_id)?;
            let auth::Opened { caller, correlation_id, .. } = opened;
            let ttl = ttl_micros(p_ttl)?;
            let (a, limits) = ask(
                caller, limits, p_player_id, p_points, p_outlet, p_reason, p_request_id, ttl, "hold",
            )?;
            let (hold, available, hit) = reserve(&a, &limits, &correlation_id)?;
            Ok(hold.row(available, hit, &correlation_id))
        });
        TableIterator::once(row)
    }
}

row_fn! {
    /// Hold and capture in one call (a kiosk's free play). Above the
    /// approval threshold the hold waits PENDING_APPROVAL and nothing is
    /// spent until it is approved and captured.
    #[allow(clippy::too_many_arguments)]
    #[pg_extern(security_definer, volatile, parallel_unsafe)]
    #[search_path(pg_catalog, loyalty, pg_temp)]
    fn redeem_points(
        p_player_id: Option<pgrx::Uuid>,
        p_points: Option<i64>,
        p_outlet: Option<&str>,
        p_reason: Option<&str>,
        p_staff_id: default!(Option<pgrx::Uuid>, "NULL"),
        p_request_id: default!(Option<&str>, "NULL"),
        p_correlation_id: default!(Option<&str>, "NULL"),
        p_property_id: default!(Option<&str>, "NULL"),
    ) -> HoldRow {
        let row = run(move || {
            let opened = auth::open(Who::PersonAt(Permission::Redeem, p_staff_id), p_correlation_id)?;
            let limits = limits(&opened, p_property_id)?;
            let auth::Opened { caller, correlation_id, .. } = opened;
            let (a, limits) = ask(
                caller,
                limits,
                p_player_id,
                p_points,
                p_outlet,
                p_reason,
                p_request_id,
                REDEEM_TTL_MICROS,
                "redeem",
            )?;
            let (hold, available, hit) = reserve(&a, &limits, &correlation_id)?;
            if hit || hold.status != "ACTIVE" {
                return Ok(hold.row(available, hit, &correlation_id));
            }
            let (captured, after) = settle::capture(&hold, None, a.person, &correlation_id)?;
            Ok(captured.row(
                Available {
                    before: available.before,
                    after: after.after,
                    balance: after.balance,
                },
                false,
                &correlation_id,
            ))
        });
        TableIterator::once(row)
    }
}

row_fn! {
    /// The second person: make a PENDING_APPROVAL hold ACTIVE. Staff with
    /// loyalty:approve who are neither the player nor whoever made the hold.
    #[pg_extern(security_definer, volatile, parallel_unsafe)]
    #[search_path(pg_catalog, loyalty, pg_temp)]
    fn approve_hold(
        p_hold_id: Option<pgrx::Uuid>,
        p_staff_id: default!(Option<pgrx::Uuid>, "NULL"),
        p_correlation_id: default!(Option<&str>, "NULL"),
        p_property_id: default!(Option<&str>, "NULL"),
    ) -> HoldRow {
        let row = run(move || {
            let opened = auth::open(Who::PersonAt(Permission::Approve, p_staff_id), p_correlation_id)?;
            let (hold_id, player) = owner(&opened, p_hold_id, p_property_id)?;
            let auth::Opened { caller: person, correlation_id, .. } = opened;
            person.not_for_self(player, "approve a comp")?;
            Spi::connect(|c| {
                let h = lock(c, player, hold_id)?;
                if person.uid() == Some(h.staff_id) {
                    return Err(LoyaltyError::new(
                        Code::Forbidden,
                        "whoever made a hold may not approve it",
                    ));
                }
                let available = unchanged(c, player)?;
                match h.status.as_str() {
                    "ACTIVE" if h.approved_by.is_some() => {
                        Ok(h.row(available, true, &correlation_id))
                    }
                    "PENDING_APPROVAL" if !h.past_due => {
                        spi::write(
                            c,
                            "UPDATE loyalty.hold
                                SET status = 'ACTIVE', approved_by = $3, approved_at = pg_catalog.clock_timestamp()
                              WHERE player_id = $1 AND hold_id = $2",
                            &[player.into(), hold_id.into(), person.uid().into()],
                        )?;
                        let h = lock(c, player, hold_id)?;
                        announce(c, Event::HoldApproved, &h, person.uid(), available.after, &correlation_id)?;
                        Ok(h.row(available, false, &correlation_id))
                    }
                    _ => Err(h.not_active("approved")),
                }
            })
        });
        TableIterator::once(row)
    }
}
