//! Manual rewards (docs/reference.md §3): checked against the caller's identity and
//! permissions, exactly-once per gaming day, rate-limited in the database,
//! audited, and alerted on when one staff member issues too many.

use crate::alert::{self, AlertKind};
use crate::auth::{self, Permission};
use crate::domain::error::{required, run, Code, LoyaltyError, Result};
use crate::domain::keys;
use crate::domain::kinds::Kind;
use crate::ledger::casino;
use crate::ledger::rate_limit;
use crate::ledger::settings::{self, Settings};
use crate::ledger::{self, Entry, Posted};
use crate::pg::context;
use crate::pg::log::{self, Event};
use crate::pg::spi;
use pgrx::prelude::*;
use serde_json::json;

/// Longest external reward id (bytes).
pub const MAX_REWARD_ID_BYTES: usize = 200;

/// The idempotency key of a manual reward: from the external reward id
/// alone when there is one, else from the request and its gaming day.
pub fn reward_key(
    player_id: &str,
    staff_id: &str,
    points: i64,
    reason: &str,
    reward_id: Option<&str>,
    gaming_day: &str,
) -> Result<String> {
    let payload = match reward_id {
        Some(r) => json!({ "reward_id": r }),
        None => json!({
            "player_id": player_id,
            "staff_id": staff_id,
            "points": points,
            "reason": reason,
            "gaming_day": gaming_day,
        }),
    };
    Ok(format!("manual:{}", keys::hash_payload(&payload)?))
}

/// `manual_reward_key(...)`: the key `manual_reward` would use.
#[pg_extern(security_definer, stable, parallel_safe)]
#[search_path(pg_catalog, loyalty, pg_temp)]
fn manual_reward_key(
    p_player_id: Option<pgrx::Uuid>,
    p_staff_id: Option<pgrx::Uuid>,
    p_points: Option<i64>,
    p_reason: Option<&str>,
    p_reward_id: default!(Option<&str>, "NULL"),
    p_at: default!(Option<TimestampWithTimeZone>, "now()"),
) -> String {
    run(move || {
        let player = required(p_player_id, "p_player_id")?;
        let staff = required(p_staff_id, "p_staff_id")?;
        let points = required(p_points, "p_points")?;
        let reason = required(p_reason, "p_reason")?;
        let at = context::finite(required(p_at, "p_at")?, "p_at")?;
        let day = Spi::connect(|c| casino::gaming_day(c, pg_sys::TimestampTz::from(at)))?;
        reward_key(
            &player.to_string(),
            &staff.to_string(),
            points,
            reason,
            p_reward_id,
            &day,
        )
    })
}

struct Request<'a> {
    player_id: Option<pgrx::Uuid>,
    points: Option<i64>,
    reason: Option<&'a str>,
    staff_id: Option<pgrx::Uuid>,
    rating_slip_id: Option<pgrx::Uuid>,
    reward_id: Option<&'a str>,
    property_id: Option<&'a str>,
}

/// Check 1 of docs/reference.md §3: who is acting. A JWT subject, or a trusted back end
/// (service_role, the owner) acting for `p_staff_id`.
fn acting_staff(req: &Request) -> Result<pgrx::Uuid> {
    match (auth::caller_uid(), auth::caller_is_trusted()) {
        (Some(u), _) => Ok(u),
        (None, true) => req
            .staff_id
            .ok_or_else(|| LoyaltyError::new(Code::InvalidStaffId, "p_staff_id is required")),
        (None, false) => Err(LoyaltyError::new(
            Code::Unauthorized,
            "sign in to issue rewards",
        )),
    }
}

/// Checks 2 to 5 of docs/reference.md §3, in order (with no self-rewards
/// after check 3); returns player, points and reason.
fn check(
    req: &Request,
    caller: pgrx::Uuid,
    staff_row: Option<auth::StaffRow>,
    cfg: &Settings,
    property: &str,
) -> Result<(pgrx::Uuid, i64, String)> {
    // 2. may award, at the property the reward is given
    if !auth::holds(&staff_row, &[Permission::Award], auth::Scope::At(property)) {
        return Err(LoyaltyError::new(
            Code::Forbidden,
            format!(
                "caller is not active staff with {} at property {property}",
                Permission::Award.as_str()
            ),
        ));
    }
    // 3. acting as themselves
    if req.staff_id != Some(caller) {
        return Err(LoyaltyError::new(
            Code::InvalidStaffId,
            "p_staff_id must be the caller's own id",
        ));
    }
    // 3b. nobody rewards themselves
    if req.player_id == Some(caller) {
        return Err(LoyaltyError::new(
            Code::Forbidden,
            "nobody may reward themselves",
        ));
    }
    // 4. within the limit
    let points = required(req.points, "p_points")?;
    if points.unsigned_abs() > cfg.max_reward_points.unsigned_abs() {
        return Err(LoyaltyError::new(
            Code::RewardExceedsLimit,
            format!("|points| may be at most {}", cfg.max_reward_points),
        ));
    }
    // 5. the rest of the input
    if points == 0 {
        return Err(LoyaltyError::validation("points must not be 0"));
    }
    let player = required(req.player_id, "p_player_id")?;
    let reason = crate::domain::reason::check(req.reason)?;
    if let Some(r) = req.reward_id {
        if r.trim().is_empty() || r.len() > MAX_REWARD_ID_BYTES || r.chars().any(char::is_control) {
            return Err(LoyaltyError::validation(format!(
                "p_reward_id must be 1 to {MAX_REWARD_ID_BYTES} printable bytes"
            )));
        }
    }
    Ok((player, points, reason))
}

/// Issue a manual reward (positive: MANUAL_BONUS) or adjustment (negative:
/// ADJUSTMENT). Same inputs on the same gaming day post one entry.
#[allow(clippy::type_complexity, clippy::too_many_arguments)]
#[pg_extern(security_definer, volatile, parallel_unsafe)]
#[search_path(pg_catalog, loyalty, pg_temp)]
fn manual_reward(
    p_player_id: Option<pgrx::Uuid>,
    p_points: Option<i64>,
    p_reason: Option<&str>,
    p_staff_id: Option<pgrx::Uuid>,
    p_rating_slip_id: default!(Option<pgrx::Uuid>, "NULL"),
    p_reward_id: default!(Option<&str>, "NULL"),
    p_correlation_id: default!(Option<&str>, "NULL"),
    p_property_id: default!(Option<&str>, "NULL"),
) -> TableIterator<
    'static,
    (
        name!(ledger_entry_id, i64),
        name!(player_id, pgrx::Uuid),
        name!(points_change, i64),
        name!(transaction_type, String),
        name!(balance_before, i64),
        name!(balance_after, i64),
        name!(tier_before, String),
        name!(tier_after, String),
        name!(idempotent_hit, bool),
        name!(row_locked, bool),
        name!(idempotency_key, String),
        name!(correlation_id, String),
    ),
> {
    let row = run(move || {
        crate::pg::standby::writable()?;
        let correlation_id = context::correlation_id(p_correlation_id)?;
        let req = Request {
            player_id: p_player_id,
            points: p_points,
            reason: p_reason,
            staff_id: p_staff_id,
            rating_slip_id: p_rating_slip_id,
            reward_id: p_reward_id.map(str::trim),
            property_id: p_property_id,
        };
        match issue(&req, &correlation_id) {
            Ok((p, player, ttype, key)) => Ok((
                p.entry_id,
                player,
                p.points_change,
                ttype.to_string(),
                p.balance_before,
                p.balance_after,
                p.tier_before,
                p.tier_after,
                p.idempotent_hit,
                true,
                key,
                correlation_id,
            )),
            Err(e) => {
                log::emit(
                    Event::ManualRewardRejected,
                    &correlation_id,
                    p_player_id.map(|p| p.to_string()).as_deref(),
                    crate::fields! {
                        "error_code" => e.code.as_str(),
                        "detail" => e.detail,
                        "staff_id" => p_staff_id.map(|s| s.to_string()),
                        "points" => p_points,
                    },
                );
                Err(e)
            }
        }
    });
    TableIterator::once(row)
}

/// A voucher pays once per enterprise, wherever it is presented (SPEC
/// §22): claim `reward_id` for `player` at `property`, or find
/// it already claimed for them (a retry, which the ledger then answers as an
/// idempotent hit). Claimed for anyone else: IDEMPOTENCY_CONFLICT. The
/// primary key serializes two presentations of one voucher: the second
/// waits for the first to commit or roll back.
fn claim_voucher(
    c: &pgrx::spi::SpiClient<'_>,
    reward_id: &str,
    player: pgrx::Uuid,
    property: &str,
) -> Result<()> {
    let claimed = spi::write(
        c,
        "INSERT INTO loyalty.voucher (reward_id, player_id, property_id) VALUES ($1, $2, $3)
         ON CONFLICT (reward_id) DO NOTHING RETURNING player_id",
        &[reward_id.into(), player.into(), property.into()],
    )?;
    if !claimed.is_empty() {
        return Ok(());
    }
    // Its own statement, so that (at READ COMMITTED) it sees the claim the
    // insert waited for.
    let owner = spi::write(
        c,
        "SELECT player_id FROM loyalty.voucher WHERE reward_id = $1",
        &[reward_id.into()],
    )?
    .first()
    .get_one::<pgrx::Uuid>()?;
    match owner {
        Some(p) if p == player => Ok(()),
        _ => Err(LoyaltyError::new(
            Code::IdempotencyConflict,
            format!(
                "reward id {} was already paid to another player",
                crate::domain::error::echo(reward_id)
            ),
        )),
    }
}

fn issue(
    req: &Request,
    correlation_id: &str,
) -> Result<(Posted, pgrx::Uuid, &'static str, String)> {
    let staff = acting_staff(req)?;
    let (cfg, staff_row, property) = Spi::connect(|c| {
        let (cfg, row) = settings::load_for_staff(c, staff)?;
        Ok::<_, LoyaltyError>((cfg, row, casino::where_new(c, req.property_id)?))
    })?;
    let (player, points, reason) = check(req, staff, staff_row, &cfg, &property.id)?;
    let key = reward_key(
        &player.to_string(),
        &staff.to_string(),
        points,
        &reason,
        req.reward_id,
        &cfg.gaming_day,
    )?;
    let kind = Kind::manual(points);
    if let Some(slip) = req.rating_slip_id {
        let owner = Spi::connect(|c| -> Result<Option<pgrx::Uuid>> {
            Ok(spi::read(
                c,
                "SELECT player_id FROM loyalty.rating_slip WHERE id = $1",
                &[slip.into()],
            )?
            .first()
            .get_one::<pgrx::Uuid>()
            .ok()
            .flatten())
        })?
        .ok_or_else(|| LoyaltyError::new(Code::SlipNotFound, format!("no rating slip {slip}")))?;
        if owner != player {
            return Err(LoyaltyError::validation(
                "the rating slip belongs to another player",
            ));
        }
    }
    // Counted under this staff member's window row lock, which serializes
    // their rewards at every isolation level, and before the player's row is
    // locked, so the count adds nothing to a busy player's critical section.
    // Over the limit, a retry of a reward already issued is still answered
    // as an idempotent hit.
    let windows = Spi::connect(|c| rate_limit::lock_and_count(c, staff, &cfg))?;
    if windows.in_rate_window >= cfg.rate_limit_count
        && Spi::connect(|c| ledger::find_entry(c, player, &key))?.is_none()
    {
        return Err(LoyaltyError::new(
            Code::RateLimitExceeded,
            format!(
                "at most {} manual rewards per {} seconds per staff member",
                cfg.rate_limit_count, cfg.rate_limit_window_s
            ),
        ));
    }
    if let Some(reward_id) = req.reward_id {
        Spi::connect(|c| claim_voucher(c, reward_id, player, &property.id))?;
    }
    let posted = ledger::post_along(
        &Entry {
            player_id: player,
            idempotency_key: key.clone(),
            kind,
            points,
            rating_slip_id: req.rating_slip_id,
            visit_id: None,
            session_id: None,
            reason: Some(&reason),
            source: "manual_reward",
            staff_id: Some(staff),
            reward_id: req.reward_id,
            correlation_id,
            restate: None,
            held_change: 0,
            reverses_entry_id: None,
            property: Some(&property.id),
            under_lock: None,
        },
        Some(rate_limit::record(&cfg, &windows)),
    )?;
    if !posted.idempotent_hit {
        log::emit(
            Event::ManualRewardIssued,
            correlation_id,
            Some(&player.to_string()),
            crate::fields! {
                "ledger_entry_id" => posted.entry_id,
                "staff_id" => staff.to_string(),
                "points" => points,
                "transaction_type" => kind.as_str(),
                "reward_id" => req.reward_id,
                "balance_after" => posted.balance_after,
            },
        );
        // This reward is the (earlier + 1)th in the alert window.
        if windows.in_alert_window == cfg.alert_reward_count {
            alert::raise(
                AlertKind::ManualRewardFrequency,
                Some(staff),
                Some(player),
                Some(&property.id),
                &json!({
                    "rewards_in_window": windows.in_alert_window + 1,
                    "threshold": cfg.alert_reward_count,
                    "window_seconds": cfg.alert_window_s,
                    "ledger_entry_id": posted.entry_id,
                    "correlation_id": correlation_id,
                }),
            )?;
        }
    } else {
        // A retry leaves no ledger row; keep a trace for reward_history.
        Spi::connect(|c| {
            spi::write(
                c,
                "INSERT INTO loyalty.reward_replay (ledger_entry_id, player_id, staff_id, correlation_id)
                 VALUES ($1, $2, $3, $4)",
                &[
                    posted.entry_id.into(),
                    player.into(),
                    staff.into(),
                    correlation_id.into(),
                ],
            )
            .map(|_| ())
        })?;
    }
    Ok((posted, player, kind.as_str(), key))
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn reward_id_alone_decides_the_key() {
        let a = reward_key("p", "s", 100, "reason one!", Some("R-1"), "2026-11-24").unwrap();
        let b = reward_key("q", "t", 999, "reason two!", Some("R-1"), "2026-11-25").unwrap();
        assert_eq!(a, b);
        assert!(a.starts_with("manual:"));
    }

    #[test]
    fn gaming_day_changes_the_key() {
        let a = reward_key("p", "s", 100, "birthday bonus", None, "2026-11-24").unwrap();
        let b = reward_key("p", "s", 100, "birthday bonus", None, "2026-11-25").unwrap();
        let c = reward_key("p", "s", 100, "birthday bonus", None, "2026-11-24").unwrap();
        assert_ne!(a, b);
        assert_eq!(a, c);
    }
}
