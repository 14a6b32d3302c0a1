//! Rating slips: open, re-rate, accrue and the complete-slip saga.
//!
//! Lock order everywhere: the slip's row, then the player's row. Every
//! function here takes them in that order, and the balance functions take
//! only the player's, so no two of our calls can deadlock.
//!
//! Rating (open, re-rate, complete) needs `loyalty:rate`, accrual and
//! recovery `loyalty:recover`; nobody rates or recovers their own play. A
//! completion above the slip's approval threshold is held (approval.rs).

// pgrx reads a TableIterator's columns from the signature itself, so the
// row tuples must be spelled out there rather than named with `type`.
#![allow(clippy::type_complexity)]

use crate::auth::{self, Caller, PERM_RATE, PERM_RECOVER};
use crate::context;
use crate::error::{required, run, Code, LoyaltyError, Result};
use crate::kinds::Kind;
use crate::ledger::{self, Entry, Posted};
use crate::log::{self, Event};
use crate::points::{self, Decimal, GameSettings};
use crate::spi;
use crate::subxact::{self, Failure};
use pgrx::prelude::*;
use pgrx::spi::SpiClient;

/// Largest average bet a slip may carry.
pub const MAX_AVERAGE_BET: u128 = 1_000_000_000;

/// A rating slip as stored.
#[derive(Debug, Clone)]
pub struct Slip {
    pub id: pgrx::Uuid,
    pub player_id: pgrx::Uuid,
    pub visit_id: Option<pgrx::Uuid>,
    pub session_id: Option<pgrx::Uuid>,
    pub game_type: String,
    pub settings: GameSettings,
    pub average_bet: AnyNumeric,
    pub start_time: TimestampWithTimeZone,
    pub end_time: Option<TimestampWithTimeZone>,
    pub status: String,
    pub duration_seconds: Option<i32>,
    pub accrued_ledger_id: Option<i64>,
    pub approval_threshold_points: i64,
    /// None, HELD, APPROVED or REJECTED.
    pub approval_status: Option<String>,
    pub opened_by: Option<pgrx::Uuid>,
    pub closed_by: Option<pgrx::Uuid>,
    pub rerated_by: Vec<pgrx::Uuid>,
}

impl Slip {
    pub fn is_closed(&self) -> bool {
        self.status == "CLOSED"
    }

    /// Whether the slip waits for, or was refused, approval: then no
    /// accrual or recovery posts it (only approve_slip does).
    pub fn refuse_unapproved(&self) -> Result<()> {
        match self.approval_status.as_deref() {
            Some("HELD") => Err(LoyaltyError::new(
                Code::SlipNotApproved,
                "the slip is held for approval; approve_slip posts its points",
            )),
            Some("REJECTED") => Err(LoyaltyError::new(
                Code::SlipNotApproved,
                "the slip was rejected; it earns no points",
            )),
            _ => Ok(()),
        }
    }

    /// Points this slip earns, from its snapshot only.
    pub fn points(&self) -> Result<i64> {
        let bet = Decimal::parse("average_bet", &self.average_bet.to_string())?;
        let duration = self.duration_seconds.ok_or_else(|| {
            LoyaltyError::new(Code::SlipNotClosed, "an open slip has no duration yet")
        })?;
        points::points(&self.settings, bet, i64::from(duration))
    }
}

macro_rules! select_slip {
    ($tail:literal) => {
        concat!(
            "SELECT id, player_id, visit_id, session_id, game_type, house_edge::text, decisions_per_hour,
                    points_conversion_rate::text, point_multiplier::text, average_bet, start_time, end_time,
                    status, duration_seconds, accrued_ledger_id, approval_threshold_points, approval_status,
                    opened_by, closed_by, rerated_by
               FROM loyalty.rating_slip WHERE id = $1",
            $tail
        )
    };
}

/// Load a slip, optionally locking it; SLIP_NOT_FOUND if there is none.
pub fn load(client: &SpiClient<'_>, id: pgrx::Uuid, lock: bool) -> Result<Slip> {
    let rows = if lock {
        spi::write(client, select_slip!(" FOR UPDATE"), &[id.into()])?
    } else {
        spi::write(client, select_slip!(""), &[id.into()])?
    };
    decode(rows, id)
}

/// Load a slip from a STABLE (parallel-safe) function.
pub fn load_read_only(client: &SpiClient<'_>, id: pgrx::Uuid) -> Result<Slip> {
    decode(spi::read(client, select_slip!(""), &[id.into()])?, id)
}

fn decode(rows: pgrx::spi::SpiTupleTable<'_>, id: pgrx::Uuid) -> Result<Slip> {
    if rows.is_empty() {
        return Err(LoyaltyError::new(
            Code::SlipNotFound,
            format!("no rating slip {id}"),
        ));
    }
    let r = rows.first();
    let text = |i: usize| -> Result<String> { Ok(r.get::<String>(i)?.unwrap_or_default()) };
    Ok(Slip {
        id: r.get(1)?.unwrap_or(id),
        player_id: r.get(2)?.unwrap_or(id),
        visit_id: r.get(3)?,
        session_id: r.get(4)?,
        game_type: text(5)?,
        settings: GameSettings {
            house_edge_percent: Decimal::parse("house_edge", &text(6)?)?,
            decisions_per_hour: r.get::<i32>(7)?.unwrap_or(0).max(0) as u32,
            points_conversion_rate: Decimal::parse("points_conversion_rate", &text(8)?)?,
            point_multiplier: Decimal::parse("point_multiplier", &text(9)?)?,
        },
        average_bet: r.get(10)?.unwrap_or_default(),
        start_time: r
            .get(11)?
            .ok_or_else(|| LoyaltyError::validation("slip has no start time"))?,
        end_time: r.get(12)?,
        status: text(13)?,
        duration_seconds: r.get(14)?,
        accrued_ledger_id: r.get(15)?,
        approval_threshold_points: r.get(16)?.unwrap_or(0),
        approval_status: r.get(17)?,
        opened_by: r.get(18)?,
        closed_by: r.get(19)?,
        rerated_by: r.get::<Vec<pgrx::Uuid>>(20)?.unwrap_or_default(),
    })
}

/// A positive, sane average bet with at most 4 decimal places.
fn check_bet(bet: Option<AnyNumeric>) -> Result<AnyNumeric> {
    let bet = required(bet, "p_average_bet")?;
    let d = Decimal::parse("p_average_bet", &bet.to_string())?;
    if d.is_zero() {
        return Err(LoyaltyError::validation(
            "average bet must be greater than 0",
        ));
    }
    if d.scale > 4 {
        return Err(LoyaltyError::validation(
            "average bet has more than 4 decimal places",
        ));
    }
    if d.mantissa / 10u128.pow(d.scale) >= MAX_AVERAGE_BET {
        return Err(LoyaltyError::validation(format!(
            "average bet must be below {MAX_AVERAGE_BET}"
        )));
    }
    Ok(bet)
}

/// The game's table limits: VALIDATION_ERROR for a bet outside them (or
/// an unknown game).
fn check_table_limits(client: &SpiClient<'_>, game_type: &str, bet: &AnyNumeric) -> Result<()> {
    let rows = spi::read(
        client,
        "SELECT $2 BETWEEN min_average_bet AND max_average_bet, min_average_bet::text, max_average_bet::text
           FROM loyalty.game_settings WHERE game_type = $1",
        &[game_type.into(), bet.clone().into()],
    )?;
    if rows.is_empty() {
        return Err(LoyaltyError::validation(format!(
            "unknown game type {:?}",
            crate::error::echo(game_type)
        )));
    }
    let r = rows.first();
    if r.get::<bool>(1)? != Some(true) {
        return Err(LoyaltyError::validation(format!(
            "average bet must be between {} and {} at {game_type}",
            r.get::<String>(2)?.unwrap_or_default(),
            r.get::<String>(3)?.unwrap_or_default()
        )));
    }
    Ok(())
}

fn micros(t: TimestampWithTimeZone) -> i64 {
    pg_sys::TimestampTz::from(t)
}

type SlipRow = (
    name!(id, pgrx::Uuid),
    name!(player_id, pgrx::Uuid),
    name!(visit_id, Option<pgrx::Uuid>),
    name!(session_id, Option<pgrx::Uuid>),
    name!(game_type, String),
    name!(average_bet, AnyNumeric),
    name!(start_time, TimestampWithTimeZone),
    name!(end_time, Option<TimestampWithTimeZone>),
    name!(status, String),
    name!(duration_seconds, Option<i32>),
    name!(points_owed, Option<i64>),
    name!(accrued_ledger_id, Option<i64>),
    name!(correlation_id, String),
);

fn slip_row(s: Slip, correlation_id: String) -> SlipRow {
    let owed = if s.is_closed() && s.accrued_ledger_id.is_none() {
        s.points().ok()
    } else {
        None
    };
    (
        s.id,
        s.player_id,
        s.visit_id,
        s.session_id,
        s.game_type,
        s.average_bet,
        s.start_time,
        s.end_time,
        s.status,
        s.duration_seconds,
        owed,
        s.accrued_ledger_id,
        correlation_id,
    )
}

/// Open a slip for a player, snapshotting the game's current settings.
#[pg_extern(security_definer, volatile, parallel_unsafe)]
#[search_path(pg_catalog, loyalty, pg_temp)]
fn open_rating_slip(
    p_player_id: Option<pgrx::Uuid>,
    p_game_type: Option<&str>,
    p_average_bet: Option<AnyNumeric>,
    p_visit_id: default!(Option<pgrx::Uuid>, "NULL"),
    p_session_id: default!(Option<pgrx::Uuid>, "NULL"),
    p_start_time: default!(Option<TimestampWithTimeZone>, "now()"),
    p_correlation_id: default!(Option<&str>, "NULL"),
) -> TableIterator<
    'static,
    (
        name!(id, pgrx::Uuid),
        name!(player_id, pgrx::Uuid),
        name!(visit_id, Option<pgrx::Uuid>),
        name!(session_id, Option<pgrx::Uuid>),
        name!(game_type, String),
        name!(average_bet, AnyNumeric),
        name!(start_time, TimestampWithTimeZone),
        name!(end_time, Option<TimestampWithTimeZone>),
        name!(status, String),
        name!(duration_seconds, Option<i32>),
        name!(points_owed, Option<i64>),
        name!(accrued_ledger_id, Option<i64>),
        name!(correlation_id, String),
    ),
> {
    let row = run(|| {
        let caller = auth::require(PERM_RATE)?;
        let player_id = required(p_player_id, "p_player_id")?;
        caller.not_for_self(player_id, "rate play")?;
        let game_type = required(p_game_type, "p_game_type")?;
        let bet = check_bet(p_average_bet)?;
        let start = context::finite(required(p_start_time, "p_start_time")?, "p_start_time")?;
        let correlation_id = context::correlation_id(p_correlation_id)?;
        let now = context::now();
        if micros(start) > micros(now) {
            return Err(LoyaltyError::validation(
                "a slip cannot start in the future",
            ));
        }
        if micros(now) - micros(start) > points::MAX_DURATION_SECONDS * 1_000_000 {
            return Err(LoyaltyError::validation(
                "a slip cannot start more than 24 hours ago",
            ));
        }
        let slip = Spi::connect(|client| -> Result<Slip> {
            check_table_limits(client, game_type, &bet)?;
            // One seat: the partial unique index on OPEN slips decides, so two
            // racing opens for one player cannot both succeed.
            let rows = spi::write(
                    client,
                    "INSERT INTO loyalty.rating_slip
                        (player_id, visit_id, session_id, game_type, house_edge, decisions_per_hour,
                         points_conversion_rate, point_multiplier, approval_threshold_points, average_bet,
                         start_time, opened_by, correlation_id)
                     SELECT $1, $2, $3, g.game_type, g.house_edge, g.decisions_per_hour,
                            g.points_conversion_rate, g.point_multiplier, g.approval_threshold_points, $5,
                            $6, $7, $8
                       FROM loyalty.game_settings g WHERE g.game_type = $4
                     ON CONFLICT (player_id) WHERE status = 'OPEN' DO NOTHING
                     RETURNING id",
                    &[
                        player_id.into(),
                        p_visit_id.into(),
                        p_session_id.into(),
                        game_type.into(),
                        bet.into(),
                        start.into(),
                        caller.uid().into(),
                        correlation_id.as_str().into(),
                    ],
                )?;
            let id = if rows.is_empty() {
                None
            } else {
                rows.first().get_one::<pgrx::Uuid>()?
            };
            let Some(id) = id else {
                return Err(LoyaltyError::new(
                    Code::SlipAlreadyOpen,
                    format!("player {player_id} already has an OPEN slip; complete it first"),
                ));
            };
            load(client, id, false)
        })?;
        Ok(slip_row(slip, correlation_id))
    });
    TableIterator::once(row)
}

/// Change the average bet of an OPEN slip (a floor supervisor's re-rating).
#[pg_extern(security_definer, volatile, parallel_unsafe)]
#[search_path(pg_catalog, loyalty, pg_temp)]
fn update_rating_slip_bet(
    p_slip_id: Option<pgrx::Uuid>,
    p_average_bet: Option<AnyNumeric>,
    p_correlation_id: default!(Option<&str>, "NULL"),
) -> TableIterator<
    'static,
    (
        name!(id, pgrx::Uuid),
        name!(player_id, pgrx::Uuid),
        name!(visit_id, Option<pgrx::Uuid>),
        name!(session_id, Option<pgrx::Uuid>),
        name!(game_type, String),
        name!(average_bet, AnyNumeric),
        name!(start_time, TimestampWithTimeZone),
        name!(end_time, Option<TimestampWithTimeZone>),
        name!(status, String),
        name!(duration_seconds, Option<i32>),
        name!(points_owed, Option<i64>),
        name!(accrued_ledger_id, Option<i64>),
        name!(correlation_id, String),
    ),
> {
    let row = run(|| {
        let caller = auth::require(PERM_RATE)?;
        let slip_id = required(p_slip_id, "p_slip_id")?;
        let bet = check_bet(p_average_bet)?;
        let correlation_id = context::correlation_id(p_correlation_id)?;
        let slip = Spi::connect_mut(|client| -> Result<Slip> {
            let slip = load(client, slip_id, true)?;
            caller.not_for_self(slip.player_id, "rate play")?;
            if slip.is_closed() {
                return Err(LoyaltyError::validation(
                    "the slip is closed; its average bet can no longer change",
                ));
            }
            check_table_limits(client, &slip.game_type, &bet)?;
            client.update(
                "UPDATE loyalty.rating_slip
                    SET average_bet = $2, correlation_id = $3, updated_at = now(),
                        rerated_by = CASE WHEN $4::uuid IS NULL OR $4 = ANY (rerated_by) THEN rerated_by
                                          ELSE array_append(rerated_by, $4) END
                  WHERE id = $1",
                None,
                &[
                    slip_id.into(),
                    bet.into(),
                    correlation_id.as_str().into(),
                    caller.uid().into(),
                ],
            )?;
            load(client, slip_id, false)
        })?;
        Ok(slip_row(slip, correlation_id))
    });
    TableIterator::once(row)
}

/// Points a slip earns (or earned), from its snapshot. Answers trusted back
/// ends, staff with loyalty:rate or loyalty:view_all, and the slip's player.
#[pg_extern(security_definer, stable, parallel_safe)]
#[search_path(pg_catalog, loyalty, pg_temp)]
fn slip_points(p_slip_id: Option<pgrx::Uuid>) -> Option<i64> {
    run(|| {
        let trusted = auth::caller_is_trusted();
        let uid = auth::caller_uid();
        if !trusted && uid.is_none() {
            return Err(LoyaltyError::new(Code::Unauthorized, "sign in first"));
        }
        let id = required(p_slip_id, "p_slip_id")?;
        let slip = Spi::connect(|client| load_read_only(client, id))?;
        if let Some(uid) = uid.filter(|u| !trusted && *u != slip.player_id) {
            if !auth::holds_any(&auth::staff(uid)?, &[PERM_RATE, auth::PERM_VIEW_ALL]) {
                return Err(LoyaltyError::new(
                    Code::Forbidden,
                    "only the slip's player and staff with loyalty:rate or loyalty:view_all may see its points",
                ));
            }
        }
        if !slip.is_closed() {
            return Ok(None);
        }
        slip.points().map(Some)
    })
}

/// The ledger entry that pays a CLOSED slip: key `gameplay:<slip id>`,
/// points from its snapshot.
fn gameplay_entry<'a>(
    slip: &Slip,
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
        idempotency_key: crate::keys::gameplay_key(&slip.id.to_string()),
        kind: Kind::Gameplay,
        points: slip.points()?,
        rating_slip_id: Some(slip.id),
        visit_id: slip.visit_id,
        session_id: slip.session_id,
        reason: None,
        source,
        staff_id: None,
        reward_id: None,
        correlation_id,
        lifetime_after: None,
    })
}

/// Post a CLOSED slip's gameplay points. Does not touch the slip's row.
fn post_gameplay(slip: &Slip, source: &'static str, correlation_id: &str) -> Result<Posted> {
    let posted = ledger::post(&gameplay_entry(slip, source, correlation_id)?)?;
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

/// Accrual and recovery of a CLOSED, locked slip: never of one held for,
/// or refused, approval. See [`pay`].
pub fn accrue(slip: &Slip, source: &'static str, correlation_id: &str) -> Result<Posted> {
    slip.refuse_unapproved()?;
    pay(slip, source, correlation_id)
}

/// Post a CLOSED, locked slip's points, mark the slip accrued and resolve
/// its pending_accrual row. Whenever the gameplay entry exists, new or
/// replayed, the pending row ends resolved.
pub fn pay(slip: &Slip, source: &'static str, correlation_id: &str) -> Result<Posted> {
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
        None => post_gameplay(slip, source, correlation_id)?,
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

pub(crate) type AccrualRow = (
    name!(ledger_entry_id, i64),
    name!(points_earned, i64),
    name!(balance_before, i64),
    name!(balance_after, i64),
    name!(tier_before, String),
    name!(tier_after, String),
    name!(idempotent_hit, bool),
    name!(rating_slip_id, pgrx::Uuid),
    name!(correlation_id, String),
);

pub(crate) fn accrual_row(p: Posted, slip_id: pgrx::Uuid, correlation_id: String) -> AccrualRow {
    (
        p.entry_id,
        p.points_change,
        p.balance_before,
        p.balance_after,
        p.tier_before,
        p.tier_after,
        p.idempotent_hit,
        slip_id,
        correlation_id,
    )
}

/// Accrue a closed slip's points (needs loyalty:recover: it is recovery by
/// another name); a replay returns the first entry with `idempotent_hit = true`.
#[pg_extern(security_definer, volatile, parallel_unsafe)]
#[search_path(pg_catalog, loyalty, pg_temp)]
fn accrue_points_from_slip(
    p_slip_id: Option<pgrx::Uuid>,
    p_correlation_id: default!(Option<&str>, "NULL"),
) -> TableIterator<
    'static,
    (
        name!(ledger_entry_id, i64),
        name!(points_earned, i64),
        name!(balance_before, i64),
        name!(balance_after, i64),
        name!(tier_before, String),
        name!(tier_after, String),
        name!(idempotent_hit, bool),
        name!(rating_slip_id, pgrx::Uuid),
        name!(correlation_id, String),
    ),
> {
    let row = run(|| {
        let caller = auth::require(PERM_RECOVER)?;
        let slip_id = required(p_slip_id, "p_slip_id")?;
        let correlation_id = context::correlation_id(p_correlation_id)?;
        let posted = accrue_by_id(slip_id, caller, "accrue_points_from_slip", &correlation_id)?;
        Ok(accrual_row(posted, slip_id, correlation_id))
    });
    TableIterator::once(row)
}

/// Replay a closed slip's accrual (SLIP_NOT_CLOSED for an open one). Any
/// number of calls leave one ledger entry.
#[pg_extern(security_definer, volatile, parallel_unsafe)]
#[search_path(pg_catalog, loyalty, pg_temp)]
fn recover_slip_loyalty(
    p_slip_id: Option<pgrx::Uuid>,
    p_correlation_id: default!(Option<&str>, "NULL"),
) -> TableIterator<
    'static,
    (
        name!(ledger_entry_id, i64),
        name!(points_earned, i64),
        name!(balance_before, i64),
        name!(balance_after, i64),
        name!(tier_before, String),
        name!(tier_after, String),
        name!(idempotent_hit, bool),
        name!(rating_slip_id, pgrx::Uuid),
        name!(correlation_id, String),
    ),
> {
    let row = run(|| {
        let caller = auth::require(PERM_RECOVER)?;
        let slip_id = required(p_slip_id, "p_slip_id")?;
        let correlation_id = context::correlation_id(p_correlation_id)?;
        let posted = accrue_by_id(slip_id, caller, "recover_slip_loyalty", &correlation_id)?;
        Ok(accrual_row(posted, slip_id, correlation_id))
    });
    TableIterator::once(row)
}

/// Lock a slip by id and [`accrue`] it, unless it is the caller's own play.
pub fn accrue_by_id(
    slip_id: pgrx::Uuid,
    caller: Caller,
    source: &'static str,
    correlation_id: &str,
) -> Result<Posted> {
    let slip = Spi::connect(|client| load(client, slip_id, true))?;
    caller.not_for_self(slip.player_id, "recover points")?;
    accrue(&slip, source, correlation_id)
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

pub(crate) type CompleteRow = (
    name!(status, String),
    name!(slip_id, pgrx::Uuid),
    name!(player_id, pgrx::Uuid),
    name!(visit_id, Option<pgrx::Uuid>),
    name!(session_id, Option<pgrx::Uuid>),
    name!(game_type, String),
    name!(average_bet, AnyNumeric),
    name!(start_time, TimestampWithTimeZone),
    name!(end_time, Option<TimestampWithTimeZone>),
    name!(duration_seconds, Option<i32>),
    name!(ledger_entry_id, Option<i64>),
    name!(points_earned, Option<i64>),
    name!(balance_before, Option<i64>),
    name!(balance_after, Option<i64>),
    name!(tier_before, Option<String>),
    name!(tier_after, Option<String>),
    name!(idempotent_hit, bool),
    name!(error_code, Option<String>),
    name!(error_message, Option<String>),
    name!(correlation_id, String),
    name!(recovery_needed, bool),
);

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
) -> TableIterator<
    'static,
    (
        name!(status, String),
        name!(slip_id, pgrx::Uuid),
        name!(player_id, pgrx::Uuid),
        name!(visit_id, Option<pgrx::Uuid>),
        name!(session_id, Option<pgrx::Uuid>),
        name!(game_type, String),
        name!(average_bet, AnyNumeric),
        name!(start_time, TimestampWithTimeZone),
        name!(end_time, Option<TimestampWithTimeZone>),
        name!(duration_seconds, Option<i32>),
        name!(ledger_entry_id, Option<i64>),
        name!(points_earned, Option<i64>),
        name!(balance_before, Option<i64>),
        name!(balance_after, Option<i64>),
        name!(tier_before, Option<String>),
        name!(tier_after, Option<String>),
        name!(idempotent_hit, bool),
        name!(error_code, Option<String>),
        name!(error_message, Option<String>),
        name!(correlation_id, String),
        name!(recovery_needed, bool),
    ),
> {
    let row = run(|| {
        let caller = auth::require(PERM_RATE)?;
        let slip_id = required(p_slip_id, "p_slip_id")?;
        let correlation_id = context::correlation_id(p_correlation_id)?;
        complete(
            slip_id,
            caller,
            p_atomic.unwrap_or(false),
            p_end_time,
            correlation_id,
        )
    });
    TableIterator::once(row)
}

pub(crate) fn complete(
    slip_id: pgrx::Uuid,
    caller: Caller,
    atomic: bool,
    end_time: Option<TimestampWithTimeZone>,
    correlation_id: String,
) -> Result<CompleteRow> {
    let slip = Spi::connect(|client| load(client, slip_id, true))?;
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
                ledger::find_entry(
                    c,
                    slip.player_id,
                    &crate::keys::gameplay_key(&slip.id.to_string()),
                )
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

    // Four eyes: above the threshold the slip closes with no points posted
    // and waits for approve_slip.
    if let Ok(points) = closed.points() {
        if points > closed.approval_threshold_points {
            let held = Slip {
                approval_status: Some("HELD".to_string()),
                ..closed
            };
            store_closed(&held, None, &correlation_id)?;
            crate::approval::announce_hold(&held, points, &correlation_id)?;
            return Ok(complete_row(
                "HELD_FOR_APPROVAL",
                held,
                None,
                None,
                correlation_id,
                false,
            ));
        }
    }

    // The accrual runs first, against the slip as it will be stored; the one
    // UPDATE below then closes the slip and records the entry together.
    let outcome = if atomic {
        Ok(post_gameplay(
            &closed,
            "complete_rating_slip",
            &correlation_id,
        )?)
    } else {
        subxact::run(|| post_gameplay(&closed, "complete_rating_slip", &correlation_id))
    };
    let accrued = outcome.as_ref().ok().map(|p| p.entry_id);
    store_closed(&closed, accrued, &correlation_id)?;
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

/// Write a slip's closing: end, duration, who closed it, approval state
/// and the entry that paid it (if one did).
fn store_closed(s: &Slip, accrued: Option<i64>, correlation_id: &str) -> Result<()> {
    Spi::connect(|client| {
        spi::write(
            client,
            "UPDATE loyalty.rating_slip
                SET status = 'CLOSED', end_time = $2, duration_seconds = $3, closed_by = $4,
                    correlation_id = $5, accrued_ledger_id = $6, approval_status = $7, updated_at = now()
              WHERE id = $1",
            &[
                s.id.into(),
                s.end_time.into(),
                s.duration_seconds.into(),
                s.closed_by.into(),
                correlation_id.into(),
                accrued.into(),
                s.approval_status.as_deref().into(),
            ],
        )
        .map(|_| ())
    })
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
