//! Rating slips as stored, opened and re-rated; what a slip earns.
//!
//! Lock order everywhere: the slip's row, then the player's row. Every
//! function here takes them in that order, and the balance functions take
//! only the player's, so no two of our calls can deadlock.
//!
//! Rating (open, re-rate, complete) needs `loyalty:rate`, accrual and
//! recovery `loyalty:recover`; nobody rates or recovers their own play.
//! Completion is `complete.rs`, payment `accrual.rs`.

use crate::auth::{self, Permission, Who};
use crate::domain::error::{required, run, Code, LoyaltyError, Result};
use crate::domain::points::{self, Decimal, GameSettings};
use crate::ledger::{casino, Here, Locked};
use crate::pg::context;
use crate::pg::rows::SlipRow;
use crate::pg::spi;
use crate::play::game;
use crate::row_fn;
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
    /// The points its close decided (`rating_slip.points`; None while open).
    pub decided_points: Option<i64>,
    /// Where the play happened (`rating_slip.property_id`).
    pub property_id: String,
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
        select_slip!("s.property_id", $tail)
    };
    ($property:literal, $tail:literal) => {
        concat!(
            "SELECT s.id, s.player_id, s.visit_id, s.session_id, s.game_type, s.house_edge::text,
                    s.decisions_per_hour, s.points_conversion_rate::text, s.point_multiplier::text,
                    s.average_bet, s.start_time, s.end_time, s.status, s.duration_seconds,
                    s.accrued_ledger_id, s.approval_threshold_points, s.approval_status, s.opened_by,
                    s.closed_by, s.rerated_by, s.points, ",
            $property,
            " FROM loyalty.rating_slip s WHERE s.id = $1",
            $tail
        )
    };
}

/// A slip to close, locked.
pub fn load_for_closing(client: &SpiClient<'_>, id: pgrx::Uuid) -> Result<Slip> {
    decode(
        spi::write(client, select_slip!(" FOR UPDATE"), &[id.into()])?,
        id,
    )
}

/// The daily four-eyes rule (reference §14), checked under the player's
/// lock by the post that would pay `points` for slip `slip`: the player's
/// GAMEPLAY points at the slip's property on the property's gaming day the
/// entry posts in (SPEC §22: velocity is per property), posted (`here`)
/// and owed (slips there closed that day and not yet paid, whose points
/// the close recorded), plus these, must not pass the property's daily
/// threshold. Under the lock two payments of one player cannot both pass;
/// over it, the caller holds the slip.
pub fn daily_rule(
    slip: &Slip,
    points: i64,
) -> impl Fn(&SpiClient<'_>, &Locked, &Here) -> Result<()> {
    let (slip_id, property) = (slip.id, slip.property_id.clone());
    move |client, locked, here| {
        let threshold = casino::property(client, &property)?.daily_approval_threshold;
        let (start, end) = casino::day_bounds(client, Some(&property), &here.gaming_day)?;
        let owed = spi::write(
            client,
            "SELECT coalesce(sum(o.points), 0)::bigint FROM loyalty.rating_slip o
              WHERE o.status = 'CLOSED' AND o.accrued_ledger_id IS NULL AND o.approval_status IS NULL
                AND o.end_time >= $3 AND o.end_time < $4 AND o.player_id = $1 AND o.id <> $2
                AND o.property_id = $5",
            &[
                locked.player_id.into(),
                slip_id.into(),
                start.into(),
                end.into(),
                property.as_str().into(),
            ],
        )?
        .first()
        .get_one::<i64>()?
        .unwrap_or(0);
        // i128: no sum of these can overflow
        let day = i128::from(here.gameplay_today) + i128::from(owed) + i128::from(points);
        if day > i128::from(threshold) {
            return Err(LoyaltyError::new(
                Code::OverDailyThreshold,
                format!(
                    "{points} points would take the player's gameplay at {property} for gaming day {} to {day}, above its daily threshold of {threshold}",
                    here.gaming_day
                ),
            ));
        }
        Ok(())
    }
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

/// Load a slip from a STABLE (parallel-safe) function. The 0.3.0 upgrade
/// script computes every closed slip's points through `slip_points` before
/// the 0.4.0 step adds `property_id`, so it is read from the row as JSON
/// (empty while the column does not exist yet).
pub fn load_read_only(client: &SpiClient<'_>, id: pgrx::Uuid) -> Result<Slip> {
    decode(
        spi::read(
            client,
            select_slip!("pg_catalog.to_jsonb(s) ->> 'property_id'", ""),
            &[id.into()],
        )?,
        id,
    )
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
        decided_points: r.get(21)?,
        property_id: text(22)?,
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

pub(crate) fn micros(t: TimestampWithTimeZone) -> i64 {
    pg_sys::TimestampTz::from(t)
}

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

row_fn! {
    /// Open a slip for a player, snapshotting the game's current settings.
    // one argument per SQL parameter
    #[allow(clippy::too_many_arguments)]
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
        p_staff_id: default!(Option<pgrx::Uuid>, "NULL"),
        p_property_id: default!(Option<&str>, "NULL"),
    ) -> SlipRow {
        let row = run(move || {
            let opened = auth::open(Who::PersonAt(Permission::Rate, p_staff_id), p_correlation_id)?;
            let property = Spi::connect(|c| casino::where_new(c, p_property_id))?;
            opened.at(&property.id)?;
            let auth::Opened { caller, correlation_id, .. } = opened;
            let player_id = required(p_player_id, "p_player_id")?;
            caller.not_for_self(player_id, "rate play")?;
            let game_type = required(p_game_type, "p_game_type")?;
            let bet = check_bet(p_average_bet)?;
            let start = context::finite(required(p_start_time, "p_start_time")?, "p_start_time")?;
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
                let game = game::check_table_limits(client, game_type, &bet, &property.id)?;
                // One seat: the partial unique index on OPEN slips decides, so two
                // racing opens for one player cannot both succeed. The game's
                // settings are the ones last committed (game.rs), snapshotted here.
                let rows = spi::write(
                        client,
                        "INSERT INTO loyalty.rating_slip
                            (player_id, visit_id, session_id, game_type, house_edge, decisions_per_hour,
                             points_conversion_rate, point_multiplier, approval_threshold_points, average_bet,
                             start_time, opened_by, correlation_id, property_id)
                         VALUES ($1, $2, $3, $4, $9::numeric, $10, $11::numeric, $12::numeric, $13, $5,
                                 $6, $7, $8, $14)
                         ON CONFLICT (player_id) WHERE status = 'OPEN' DO NOTHING
                         RETURNING id",
                        &[
                            player_id.into(),
                            p_visit_id.into(),
                            p_session_id.into(),
                            game.game_type.as_str().into(),
                            bet.into(),
                            start.into(),
                            caller.uid().into(),
                            correlation_id.as_str().into(),
                            game.house_edge.as_str().into(),
                            game.decisions_per_hour.into(),
                            game.points_conversion_rate.as_str().into(),
                            game.point_multiplier.as_str().into(),
                            game.approval_threshold_points.into(),
                            property.id.as_str().into(),
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
                refuse_overlap(client, player_id, id, start)?;
                load(client, id, false)
            })?;
            Ok(slip_row(slip, correlation_id))
        });
        TableIterator::once(row)
    }
}

/// No overlapping play: SLIP_OVERLAP when another slip of the player ends
/// after `start` (a rejected slip paid nothing and does not count). It runs
/// after the insert, as its own statement: the insert waited for any
/// completion racing it, so at READ COMMITTED this sees that slip's end;
/// under REPEATABLE READ the row lock on a slip changed since the snapshot
/// is a serialization failure, never a silent pass.
fn refuse_overlap(
    client: &SpiClient<'_>,
    player_id: pgrx::Uuid,
    id: pgrx::Uuid,
    start: TimestampWithTimeZone,
) -> Result<()> {
    let rows = spi::write(
        client,
        "SELECT id FROM loyalty.rating_slip
          WHERE player_id = $1 AND id <> $2 AND approval_status IS DISTINCT FROM 'REJECTED'
            AND (end_time IS NULL OR end_time > $3)
          LIMIT 1 FOR SHARE",
        &[player_id.into(), id.into(), start.into()],
    )?;
    if rows.is_empty() {
        return Ok(());
    }
    let other = rows.first().get_one::<pgrx::Uuid>()?;
    Err(LoyaltyError::new(
        Code::SlipOverlap,
        format!(
            "slip {} of this player ends after this slip's start; the same play cannot be rated twice",
            other.map(|u| u.to_string()).unwrap_or_default()
        ),
    ))
}

row_fn! {
    /// Change the average bet of an OPEN slip (a floor supervisor's re-rating).
    #[pg_extern(security_definer, volatile, parallel_unsafe)]
    #[search_path(pg_catalog, loyalty, pg_temp)]
    fn update_rating_slip_bet(
        p_slip_id: Option<pgrx::Uuid>,
        p_average_bet: Option<AnyNumeric>,
        p_correlation_id: default!(Option<&str>, "NULL"),
        p_staff_id: default!(Option<pgrx::Uuid>, "NULL"),
        p_property_id: default!(Option<&str>, "NULL"),
    ) -> SlipRow {
        let row = run(move || {
            let opened = auth::open(Who::PersonAt(Permission::Rate, p_staff_id), p_correlation_id)?;
            let slip_id = required(p_slip_id, "p_slip_id")?;
            let bet = check_bet(p_average_bet)?;
            let (caller, correlation_id) = (opened.caller, opened.correlation_id.clone());
            let slip = Spi::connect_mut(|client| -> Result<Slip> {
                let slip = load(client, slip_id, true)?;
                opened.at_started(&slip.property_id, p_property_id)?;
                caller.not_for_self(slip.player_id, "rate play")?;
                if slip.is_closed() {
                    return Err(LoyaltyError::validation(
                        "the slip is closed; its average bet can no longer change",
                    ));
                }
                game::check_table_limits(client, &slip.game_type, &bet, &slip.property_id)?;
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
}
/// Points a slip earns (or earned), from its snapshot. Answers trusted back
/// ends, staff with loyalty:rate or loyalty:view_all at the slip's property,
/// and the slip's player.
#[pg_extern(security_definer, stable, parallel_safe)]
#[search_path(pg_catalog, loyalty, pg_temp)]
fn slip_points(p_slip_id: Option<pgrx::Uuid>) -> Option<i64> {
    run(move || {
        let trusted = auth::caller_is_trusted();
        let uid = auth::caller_uid();
        if !trusted && uid.is_none() {
            return Err(LoyaltyError::new(Code::Unauthorized, "sign in first"));
        }
        let id = required(p_slip_id, "p_slip_id")?;
        let slip = Spi::connect(|client| load_read_only(client, id))?;
        if let Some(uid) = uid.filter(|u| !trusted && *u != slip.player_id) {
            if !auth::holds(
                &auth::staff(uid)?,
                &[Permission::Rate, auth::Permission::ViewAll],
                auth::Scope::At(&slip.property_id),
            ) {
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

/// Log that `slip` is held for approval and raise the alert a second person
/// answers (the slip row already says HELD). `rule` is which threshold held
/// it: "slip" (its own, snapshotted at open) or "daily" (the player's day).
pub(crate) fn announce_held(
    slip: &Slip,
    points: i64,
    rule: &str,
    correlation_id: &str,
) -> Result<()> {
    let threshold = if rule == "daily" {
        Spi::connect(|c| casino::property(c, &slip.property_id))?.daily_approval_threshold
    } else {
        slip.approval_threshold_points
    };
    let alert_id = crate::alert::raise(
        crate::alert::AlertKind::SlipNeedsApproval,
        slip.closed_by,
        Some(slip.player_id),
        Some(&slip.property_id),
        &serde_json::json!({
            "rating_slip_id": slip.id.to_string(),
            "points": points,
            "threshold": threshold,
            "rule": rule,
            "correlation_id": correlation_id,
        }),
    )?;
    crate::pg::log::emit(
        crate::pg::log::Event::SlipHeld,
        correlation_id,
        Some(&slip.player_id.to_string()),
        crate::fields! {
            "rating_slip_id" => slip.id.to_string(),
            "points" => points,
            "threshold" => threshold,
            "rule" => rule,
            "alert_id" => alert_id,
        },
    );
    Ok(())
}
