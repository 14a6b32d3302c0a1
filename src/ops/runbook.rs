//! Operator runbooks that change data: recover partial completions in bulk,
//! rebuild a player's balance from the ledger. The read-only runbooks
//! (list, verify, export, look-up) are plain SQL in `sql/ops/runbook.sql`.

// pgrx reads a TableIterator's columns from the signature itself, so the
// row tuples must be spelled out there rather than named with `type`.
#![allow(clippy::type_complexity)]

use crate::auth::{self, Permission, Who};
use crate::domain::error::{run, Code, LoyaltyError, Result};
use crate::ledger;
use crate::pg::context;
use crate::pg::log::{self, Event};
use crate::pg::spi;
use crate::pg::subxact;
use crate::play::{accrual, slip};
use pgrx::prelude::*;
use pgrx::spi::SpiClient;
use serde_json::json;

/// Most slips one bulk recovery call will attempt: every player it pays
/// stays locked until the caller commits, so batches stay small; call again
/// until `attempted` is 0.
pub const MAX_BULK_RECOVERY: i32 = 1_000;
/// Most rows one listing returns.
pub const MAX_LIST: i32 = 100_000;

/// Partial completions, oldest first, as the view `loyalty.partial_completion`
/// (the rule's one home: sql/play/partial_completion.sql) defines them. With
/// `lock`, the slips are locked in that order and slips a floor call is busy
/// with are skipped, so bulk recovery never waits on a slip while it holds a
/// player: the floor's order is slip, then player.
fn owed_slips(
    client: &SpiClient<'_>,
    limit: i32,
    lock: bool,
) -> Result<Vec<(pgrx::Uuid, pgrx::Uuid)>> {
    macro_rules! owed {
        ($tail:literal) => {
            concat!(
                "SELECT o.rating_slip_id, o.player_id FROM loyalty.partial_completion o
                  ORDER BY o.end_time, o.rating_slip_id LIMIT $1",
                $tail
            )
        };
    }
    let rows = if lock {
        spi::write(
            client,
            owed!(" FOR UPDATE OF o SKIP LOCKED"),
            &[limit.into()],
        )?
    } else {
        spi::read(client, owed!(""), &[limit.into()])?
    };
    let mut ids = Vec::with_capacity(rows.len());
    for r in rows {
        if let (Some(id), Some(player)) = (r.get::<pgrx::Uuid>(1)?, r.get::<pgrx::Uuid>(2)?) {
            ids.push((id, player));
        }
    }
    Ok(ids)
}

/// Closed slips whose points were never posted, oldest first, with what
/// each would post and its last recorded failure. A slip whose points
/// cannot be computed is listed with `points_owed` NULL and the error it
/// raises, never stopping the listing.
#[pg_extern(security_definer, stable, parallel_safe)]
#[search_path(pg_catalog, loyalty, pg_temp)]
fn list_partial_completions(
    p_limit: default!(Option<i32>, "100"),
) -> TableIterator<
    'static,
    (
        name!(rating_slip_id, pgrx::Uuid),
        name!(player_id, pgrx::Uuid),
        name!(game_type, String),
        name!(end_time, Option<TimestampWithTimeZone>),
        name!(points_owed, Option<i64>),
        name!(pending, bool),
        name!(error_code, Option<String>),
        name!(error_message, Option<String>),
        name!(attempts, Option<i32>),
        name!(failed_at, Option<TimestampWithTimeZone>),
        name!(correlation_id, Option<String>),
    ),
> {
    let rows = run(move || {
        crate::auth::require_any(&[
            crate::auth::Permission::Recover,
            crate::auth::Permission::ViewAll,
        ])?;
        let limit = p_limit.unwrap_or(100);
        if !(0..=MAX_LIST).contains(&limit) {
            return Err(LoyaltyError::validation(format!(
                "p_limit must be between 0 and {MAX_LIST}"
            )));
        }
        Spi::connect(|c| -> Result<Vec<_>> {
            let mut out = Vec::new();
            for (id, _) in owed_slips(c, limit, false)? {
                let s = slip::load_read_only(c, id)?;
                let p = spi::read(
                    c,
                    "SELECT p.rating_slip_id IS NOT NULL, p.error_code, p.error_message, p.attempts, p.failed_at,
                            coalesce(p.correlation_id, s.correlation_id)
                       FROM loyalty.rating_slip s LEFT JOIN loyalty.pending_accrual p ON p.rating_slip_id = s.id
                      WHERE s.id = $1",
                    &[id.into()],
                )?;
                let r = p.first();
                let pending = r.get::<bool>(1)?.unwrap_or(false);
                let (mut code, mut message) = (r.get::<String>(2)?, r.get::<String>(3)?);
                let (attempts, failed_at) = (r.get::<i32>(4)?, r.get::<TimestampWithTimeZone>(5)?);
                let corr = r.get::<String>(6)?;
                let owed = match s.points() {
                    Ok(points) => Some(points),
                    Err(e) => {
                        code = Some(e.code.sqlstate());
                        message = Some(e.detail);
                        None
                    }
                };
                out.push((
                    s.id,
                    s.player_id,
                    s.game_type.clone(),
                    s.end_time,
                    owed,
                    pending,
                    code,
                    message,
                    attempts,
                    failed_at,
                    corr,
                ));
            }
            Ok(out)
        })
    });
    TableIterator::new(rows)
}

/// Recover up to `p_limit` partial completions, oldest first. The slips
/// are locked first, in one statement, skipping any a floor call holds;
/// then each is paid in its own savepoint under the accrual lock timeout.
/// A slip that fails (a busy player, points that cannot be computed) is
/// recorded in pending_accrual with its own SQLSTATE, reported in
/// `failures`, and the rest go on. A slip refused to this caller (their
/// own play) is reported and left exactly as it was.
///
/// Every player paid stays locked until the call commits, so a floor call
/// for one of them waits for the whole batch: the call starts no further
/// slip once half the accrual lock timeout has passed (`attempted` says how
/// many it tried; call again for the rest).
#[pg_extern(security_definer, volatile, parallel_unsafe)]
#[search_path(pg_catalog, loyalty, pg_temp)]
fn recover_partial_completions(
    p_limit: default!(Option<i32>, "100"),
    p_correlation_id: default!(Option<&str>, "NULL"),
) -> TableIterator<
    'static,
    (
        name!(attempted, i32),
        name!(recovered, i32),
        name!(failed, i32),
        name!(points_posted, i64),
        name!(correlation_id, String),
        name!(failures, pgrx::JsonB),
    ),
> {
    let row = run(move || {
        let opened = auth::open(Who::Staff(Permission::Recover), p_correlation_id)?;
        let correlation_id = opened.correlation_id.clone();
        let limit = p_limit.unwrap_or(100);
        if !(1..=MAX_BULK_RECOVERY).contains(&limit) {
            return Err(LoyaltyError::validation(format!(
                "p_limit must be between 1 and {MAX_BULK_RECOVERY}; call again for more"
            )));
        }
        // the oldest owed slips, locked (busy ones skipped); paid in player
        // order, the order every call that locks several players takes
        let mut owed = Spi::connect(|c| owed_slips(c, limit, true))?;
        owed.sort_unstable_by_key(|(s, p)| (*p.as_bytes(), *s.as_bytes()));
        let budget = Spi::connect(ledger::casino::sweep_budget)?;
        let started = std::time::Instant::now();
        let (mut attempted, mut recovered, mut points) = (0, 0, 0i64);
        let mut failed = 0;
        let mut failures = Vec::new();
        for (id, player) in &owed {
            if attempted > 0 && started.elapsed() >= budget {
                break;
            }
            // a player busy in another transaction is not waited for: the
            // slip stays owed for the next call
            if Spi::connect(|c| player_busy(c, *player))? {
                continue;
            }
            attempted += 1;
            match subxact::run(|| {
                accrual::accrue_by_id(*id, &opened, "recover_slip_loyalty")
            }) {
                Ok(accrual::Accrued::Paid(p)) => {
                    recovered += 1;
                    if !p.idempotent_hit {
                        points = points.saturating_add(p.points_change);
                    }
                }
                // the daily four-eyes rule held it: a second person decides
                Ok(accrual::Accrued::Held { points: held }) => failures.push(json!({
                    "rating_slip_id": id.to_string(),
                    "sqlstate": null,
                    "error_code": "HELD_FOR_APPROVAL",
                    "error_message": format!("held for approval: {held} points would pass the daily threshold"),
                })),
                Err(f) => {
                    failed += 1;
                    if !refused_to_caller(&f) {
                        let s = Spi::connect(|c| slip::load(c, *id, false))?;
                        accrual::record_pending(&s, &f, &correlation_id)?;
                    }
                    failures.push(json!({
                        "rating_slip_id": id.to_string(),
                        "sqlstate": f.sqlstate(),
                        "error_code": f.code(),
                        "error_message": f.message(),
                    }));
                }
            }
        }
        Ok((
            attempted,
            recovered,
            failed,
            points,
            correlation_id,
            pgrx::JsonB(serde_json::Value::Array(failures)),
        ))
    });
    TableIterator::once(row)
}

/// A failure that says who may not do this, not that the payment failed:
/// the slip's pending row keeps its own error and nothing is logged.
fn refused_to_caller(f: &subxact::Failure) -> bool {
    matches!(f, subxact::Failure::Spec(e)
        if matches!(e.code, Code::Forbidden | Code::Unauthorized | Code::InvalidStaffId))
}

/// Whether another transaction holds the player's row: locks it when it is
/// free (the payment that follows finds it held already); a player with no
/// row yet is not busy (the payment creates it).
fn player_busy(c: &SpiClient<'_>, player: pgrx::Uuid) -> Result<bool> {
    if ledger::try_lock_player(c, player)?.is_some() {
        return Ok(false);
    }
    Ok(!spi::write(
        c,
        "SELECT 1 FROM loyalty.player_loyalty WHERE player_id = $1",
        &[player.into()],
    )?
    .is_empty())
}

/// Balance drift, repaired in the open: bring a player's stored balance,
/// lifetime points, tier and tier standing (credits, period, retained
/// tier) back to what the ledger says (its replay, ledger/standing.rs:
/// a tier no entry justifies does not survive it), by appending a
/// RECONCILIATION entry for the difference (its operator, reason and
/// correlation id with it) through the one write path. The entry's
/// `balance_before` is the stored balance it found, so the before/after
/// chain continues from it; `verify_player_balance` counts breaks only
/// after the last reconciliation. Nothing to repair: no entry.
#[pg_extern(security_definer, volatile, parallel_unsafe)]
#[search_path(pg_catalog, loyalty, pg_temp)]
fn rebuild_player_balance(
    p_player_id: Option<pgrx::Uuid>,
    p_correlation_id: default!(Option<&str>, "NULL"),
    p_reason: default!(Option<&str>, "NULL"),
) -> TableIterator<
    'static,
    (
        name!(player_id, pgrx::Uuid),
        name!(balance_before, i64),
        name!(balance_after, i64),
        name!(lifetime_before, i64),
        name!(lifetime_after, i64),
        name!(tier_before, String),
        name!(tier_after, String),
        name!(correlation_id, String),
        name!(ledger_entry_id, Option<i64>),
    ),
> {
    let row = run(move || {
        let correlation_id = auth::open(Who::Trusted, p_correlation_id)?.correlation_id;
        let player_id = crate::domain::error::required(p_player_id, "p_player_id")?;
        let reason = crate::domain::reason::check(p_reason)?;
        let operator = crate::auth::actor();
        let before = Spi::connect(|c| ledger::lock_player(c, player_id))?.ok_or_else(|| {
            LoyaltyError::new(
                Code::PlayerNotFound,
                format!("no balance row for player {player_id}"),
            )
        })?;
        let (bal, life, tier) = (before.balance, before.lifetime, before.tier.clone());
        let truth =
            Spi::connect(|c| ledger::standing::derived(c, player_id))?.ok_or_else(|| {
                LoyaltyError::new(
                    Code::PlayerNotFound,
                    format!("no balance row for player {player_id}"),
                )
            })?;
        let breaks = Spi::connect(|c| chain_breaks(c, player_id))?;
        if truth.balance < 0 {
            return Err(LoyaltyError::validation(
                "the ledger sums to a negative balance; investigate before rebuilding",
            ));
        }
        if truth.balance == bal
            && truth.lifetime == life
            && truth.standing == before.standing
            && breaks == 0
            && truth.tier == tier
        {
            return Ok((
                player_id,
                bal,
                bal,
                life,
                life,
                tier.clone(),
                tier,
                correlation_id,
                None,
            ));
        }
        let source = format!("rebuild_player_balance by {operator}");
        let posted = ledger::post(&ledger::Entry {
            player_id,
            idempotency_key: format!("reconciliation:{correlation_id}"),
            kind: crate::domain::kinds::Kind::Reconciliation,
            points: truth.balance - bal,
            rating_slip_id: None,
            visit_id: None,
            session_id: None,
            reason: Some(&reason),
            source: &source,
            staff_id: None,
            reward_id: None,
            correlation_id: &correlation_id,
            restate: Some(ledger::Restate {
                lifetime: truth.lifetime,
                standing: truth.standing.clone(),
                tier: truth.tier.clone(),
                progress: truth.progress,
            }),
            held_change: 0,
            reverses_entry_id: None,
            property: None,
            under_lock: None,
        })?;
        let pid = player_id.to_string();
        log::emit(
            Event::BalanceRebuilt,
            &correlation_id,
            Some(&pid),
            crate::fields! {
                "balance_before" => bal, "balance_after" => posted.balance_after,
                "lifetime_before" => life, "lifetime_after" => truth.lifetime,
                "tier_before" => tier.as_str(), "tier_after" => posted.tier_after.as_str(),
                "ledger_entry_id" => posted.entry_id, "operator" => operator.as_str(),
            },
        );
        Ok((
            player_id,
            bal,
            posted.balance_after,
            life,
            truth.lifetime,
            tier,
            posted.tier_after,
            correlation_id,
            Some(posted.entry_id),
        ))
    });
    TableIterator::once(row)
}

/// How many before/after breaks follow the player's last reconciliation
/// (the rows before it an operator already reviewed).
fn chain_breaks(c: &SpiClient<'_>, player_id: pgrx::Uuid) -> Result<i64> {
    Ok(spi::read(
        c,
        "SELECT count(*) FILTER (WHERE seq > coalesce(last_reconciled, 0)
                                   AND prev_after IS NOT NULL AND prev_after <> balance_before)
           FROM (SELECT balance_before, seq,
                        lag(balance_after) OVER (ORDER BY seq) AS prev_after,
                        max(seq) FILTER (WHERE transaction_type = ANY ($2)) OVER () AS last_reconciled
                   FROM loyalty.loyalty_ledger WHERE player_id = $1) e",
        &[player_id.into(), crate::domain::kinds::outside_balance_kinds().into()],
    )?
    .first()
    .get_one::<i64>()?
    .unwrap_or(0))
}

/// After a ladder edit: give every player whose stored tier disagrees with
/// the ladder the tier their lifetime points now earn. Each such player is
/// logged (`loyalty_tier_changed`) and notified (outbox); the call is
/// audited. Players busy in another transaction are skipped (their next
/// post applies the new ladder anyway); at most `p_limit` players per call,
/// so no call holds many players' rows: call again until it returns none.
#[pg_extern(security_definer, volatile, parallel_unsafe)]
#[search_path(pg_catalog, loyalty, pg_temp)]
fn retier_players(
    p_limit: default!(Option<i32>, "1000"),
    p_correlation_id: default!(Option<&str>, "NULL"),
) -> TableIterator<
    'static,
    (
        name!(player_id, pgrx::Uuid),
        name!(tier_before, String),
        name!(tier_after, String),
        name!(lifetime_points, i64),
        name!(correlation_id, String),
    ),
> {
    let rows = run(move || {
        auth::open(Who::Trusted, None)?;
        let limit = p_limit.unwrap_or(1000);
        if !(1..=MAX_BULK_RECOVERY).contains(&limit) {
            return Err(LoyaltyError::validation(format!(
                "p_limit must be between 1 and {MAX_BULK_RECOVERY}"
            )));
        }
        let correlation_id = context::correlation_id(p_correlation_id)?;
        let ids: Vec<pgrx::Uuid> = Spi::connect_mut(|c| -> Result<Vec<pgrx::Uuid>> {
            let rows = spi::write(
                c,
                "SELECT p.player_id FROM loyalty.player_loyalty p
                  WHERE p.tier IS DISTINCT FROM loyalty.player_tier(p.lifetime_points, p.tier_credits, p.retained_tier, p.tier)
                  ORDER BY p.player_id LIMIT $1",
                &[limit.into()],
            )?;
            let mut ids = Vec::with_capacity(rows.len());
            for r in rows {
                if let Some(id) = r.get::<pgrx::Uuid>(1)? {
                    ids.push(id);
                }
            }
            Ok(ids)
        })?;
        let mut out = Vec::with_capacity(ids.len());
        Spi::connect_mut(|c| -> Result<()> {
            let budget = ledger::casino::sweep_budget(c)?;
            let started = std::time::Instant::now();
            for id in ids {
                if started.elapsed() >= budget {
                    break; // call again for the rest
                }
                let Some(locked) = ledger::try_lock_player(c, id)? else {
                    continue;
                };
                let restated = ledger::restated(&locked)?;
                if restated.tier_after == locked.tier {
                    continue; // a post retiered them while we looked
                }
                ledger::set_balance(c, &locked, &restated)?;
                let tier = restated.tier_after;
                let pid = id.to_string();
                ledger::tier_changed(
                    c,
                    &pid,
                    &locked.tier,
                    &tier,
                    locked.lifetime,
                    None,
                    &correlation_id,
                )?;
                out.push((
                    id,
                    locked.tier.clone(),
                    tier,
                    locked.lifetime,
                    correlation_id.clone(),
                ));
            }
            let moved: Vec<serde_json::Value> = out
                .iter()
                .take(100)
                .map(|(p, b, a, _, _)| json!({"player_id": p.to_string(), "before": b, "after": a}))
                .collect();
            spi::write(
                c,
                "INSERT INTO loyalty.admin_audit (actor, action, target, before, after, correlation_id)
                 VALUES ($1, 'retier_players', 'player_loyalty.tier', NULL, $2::text::jsonb, $3)",
                &[
                    crate::auth::actor().as_str().into(),
                    json!({"players_retiered": out.len(), "first_100": moved})
                        .to_string()
                        .into(),
                    correlation_id.as_str().into(),
                ],
            )?;
            Ok(())
        })?;
        Ok(out)
    });
    TableIterator::new(rows)
}
