//! Manual rewards (docs/reference.md §3): checked against the caller's identity and
//! permissions, exactly-once per gaming day, rate-limited in the database,
//! audited, and alerted on when one staff member issues too many.

use crate::auth::{self, PERM_AWARD};
use crate::context;
use crate::error::{required, run, Code, LoyaltyError, Result};
use crate::keys;
use crate::ledger::{self, Entry, Posted};
use crate::log::{self, Event};
use crate::settings::{self, Settings};
use crate::spi;
use pgrx::prelude::*;
use serde_json::json;

/// Shortest and longest reason (characters).
pub const MIN_REASON_CHARS: usize = 10;
pub const MAX_REASON_CHARS: usize = 1000;
/// Longest external reward id (bytes).
pub const MAX_REWARD_ID_BYTES: usize = 200;
/// Channel for alerts (sent on commit only).
pub const ALERT_CHANNEL: &str = "loyalty_alert";
/// Advisory-lock class for the per-staff rate limit ("LOYA").
const RATE_LOCK_CLASS: i32 = 0x4C4F_5941;

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
    run(|| {
        let player = required(p_player_id, "p_player_id")?;
        let staff = required(p_staff_id, "p_staff_id")?;
        let points = required(p_points, "p_points")?;
        let reason = required(p_reason, "p_reason")?;
        let at = required(p_at, "p_at")?;
        let day = Spi::connect(|c| settings::gaming_day(c, at))?;
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

/// Checks 2 to 5 of docs/reference.md §3, in order; returns player, points and reason.
fn check(
    req: &Request,
    caller: pgrx::Uuid,
    staff_row: Option<auth::StaffRow>,
    cfg: &Settings,
) -> Result<(pgrx::Uuid, i64, String)> {
    // 2. may award
    match staff_row {
        Some((true, perms)) if perms.iter().any(|p| p == PERM_AWARD) => {}
        _ => {
            return Err(LoyaltyError::new(
                Code::Forbidden,
                format!("caller is not active staff with {PERM_AWARD}"),
            ))
        }
    }
    // 3. acting as themselves
    if req.staff_id != Some(caller) {
        return Err(LoyaltyError::new(
            Code::InvalidStaffId,
            "p_staff_id must be the caller's own id",
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
    let reason = req.reason.map(str::trim).unwrap_or_default();
    let chars = reason.chars().count();
    if chars < MIN_REASON_CHARS {
        return Err(LoyaltyError::validation(format!(
            "reason must be at least {MIN_REASON_CHARS} characters"
        )));
    }
    if chars > MAX_REASON_CHARS {
        return Err(LoyaltyError::validation(format!(
            "reason must be at most {MAX_REASON_CHARS} characters"
        )));
    }
    if let Some(r) = req.reward_id {
        if r.trim().is_empty() || r.len() > MAX_REWARD_ID_BYTES || r.chars().any(char::is_control) {
            return Err(LoyaltyError::validation(format!(
                "p_reward_id must be 1 to {MAX_REWARD_ID_BYTES} printable bytes"
            )));
        }
    }
    Ok((player, points, reason.to_string()))
}

/// Issue a manual reward (positive: MANUAL_BONUS) or adjustment (negative:
/// ADJUSTMENT). Same inputs on the same gaming day post one entry.
#[allow(clippy::type_complexity)]
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
    let row = run(|| {
        let correlation_id = context::correlation_id(p_correlation_id)?;
        let req = Request {
            player_id: p_player_id,
            points: p_points,
            reason: p_reason,
            staff_id: p_staff_id,
            rating_slip_id: p_rating_slip_id,
            reward_id: p_reward_id.map(str::trim),
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

fn issue(
    req: &Request,
    correlation_id: &str,
) -> Result<(Posted, pgrx::Uuid, &'static str, String)> {
    let staff = acting_staff(req)?;
    // Settings, the staff row and this staff member's lock in one statement.
    let (cfg, staff_row) = Spi::connect(|c| settings::load_for_staff(c, staff, RATE_LOCK_CLASS))?;
    let (player, points, reason) = check(req, staff, staff_row, &cfg)?;
    let key = reward_key(
        &player.to_string(),
        &staff.to_string(),
        points,
        &reason,
        req.reward_id,
        &cfg.gaming_day,
    )?;
    let ttype = if points > 0 {
        "MANUAL_BONUS"
    } else {
        "ADJUSTMENT"
    };
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
    // Counted under the staff lock, which serializes this staff member's
    // rewards, and before the player's row is locked, so the count adds
    // nothing to a busy player's critical section. Over the limit, a retry
    // of a reward already issued is still answered as an idempotent hit.
    let (recent, earlier_in_alert_window) = count_recent(staff, &cfg)?;
    if recent >= cfg.rate_limit_count
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
    let posted = ledger::post(&Entry {
        player_id: player,
        idempotency_key: key.clone(),
        transaction_type: ttype,
        event_type: "POINTS_UPDATE_REQUESTED",
        points,
        rating_slip_id: req.rating_slip_id,
        visit_id: None,
        session_id: None,
        reason: Some(&reason),
        source: "manual_reward",
        staff_id: Some(staff),
        reward_id: req.reward_id,
        correlation_id,
    })?;
    if !posted.idempotent_hit {
        log::emit(
            Event::ManualRewardIssued,
            correlation_id,
            Some(&player.to_string()),
            crate::fields! {
                "ledger_entry_id" => posted.entry_id,
                "staff_id" => staff.to_string(),
                "points" => points,
                "transaction_type" => ttype,
                "reward_id" => req.reward_id,
                "balance_after" => posted.balance_after,
            },
        );
        // This reward is the (earlier + 1)th in the window.
        if earlier_in_alert_window == cfg.alert_reward_count {
            raise_alert(
                staff,
                player,
                &cfg,
                earlier_in_alert_window + 1,
                correlation_id,
            )?;
        }
    }
    Ok((posted, player, ttype, key))
}

/// This staff member's earlier rewards within the rate-limit window and
/// within the alert window, each counted only as far as its check needs, so
/// the cost stays bounded however busy they are.
fn count_recent(staff: pgrx::Uuid, cfg: &Settings) -> Result<(i64, i64)> {
    Spi::connect(|c| -> Result<(i64, i64)> {
        let rows = spi::write(
            c,
            "SELECT (SELECT count(*) FROM (SELECT 1 FROM loyalty.loyalty_ledger
                                            WHERE staff_id = $1 AND created_at > now() - make_interval(secs => $2)
                                            LIMIT $3) r),
                    (SELECT count(*) FROM (SELECT 1 FROM loyalty.loyalty_ledger
                                            WHERE staff_id = $1 AND created_at > now() - make_interval(secs => $4)
                                            LIMIT $5) a)",
            &[
                staff.into(),
                cfg.rate_limit_window_s.into(),
                cfg.rate_limit_count.into(),
                cfg.alert_window_s.into(),
                cfg.alert_reward_count.saturating_add(1).into(),
            ],
        )?;
        let r = rows.first();
        Ok((r.get::<i64>(1)?.unwrap_or(0), r.get::<i64>(2)?.unwrap_or(0)))
    })
}

/// The reward that takes a staff member past the alert threshold within the
/// window raises one alert row and one notification (on commit).
fn raise_alert(
    staff: pgrx::Uuid,
    player: pgrx::Uuid,
    cfg: &Settings,
    count: i64,
    correlation_id: &str,
) -> Result<()> {
    let details = json!({
        "rewards_in_window": count,
        "threshold": cfg.alert_reward_count,
        "window_seconds": cfg.alert_window_s,
        "correlation_id": correlation_id,
    });
    Spi::connect(|c| -> Result<()> {
        let id = spi::write(
            c,
            "INSERT INTO loyalty.alert (kind, staff_id, player_id, details)
             VALUES ('MANUAL_REWARD_FREQUENCY', $1, $2, $3::text::jsonb) RETURNING id",
            &[staff.into(), player.into(), details.to_string().into()],
        )?
        .first()
        .get_one::<i64>()?;
        let payload = json!({
            "alert_id": id,
            "kind": "MANUAL_REWARD_FREQUENCY",
            "staff_id": staff.to_string(),
            "player_id": player.to_string(),
            "details": details,
        });
        spi::write(
            c,
            "SELECT pg_catalog.pg_notify($1, $2)",
            &[ALERT_CHANNEL.into(), payload.to_string().into()],
        )?;
        Ok(())
    })
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
