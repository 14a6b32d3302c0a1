//! A player's balance row under its lock: lock (or create) it, compute a
//! change with every bound checked, write it, and announce a tier change.
//! Only the write path (`post.rs`) and the runbooks that reconcile a balance
//! to its ledger use these; nothing else writes `player_loyalty`.

use crate::domain::error::{Code, LoyaltyError, Result};
use crate::domain::points::{self, Basis, Standing, Tier};
use crate::ledger::ladder;
use crate::pg::log::{self, Event};
use crate::pg::spi;
use pgrx::prelude::*;
use pgrx::spi::SpiClient;
use std::rc::Rc;

/// Channel for tier-change notifications (sent on commit only). The payload
/// is `{"ledger_entry_id": n}` and nothing else: any role may LISTEN (and
/// any role may NOTIFY), so a listener reads the entry through RLS, and a
/// notification by itself proves nothing.
pub const TIER_CHANNEL: &str = "loyalty_tier_changed";

/// The outcome of one balance change, as `increment_player_loyalty` returns it.
#[derive(Debug, Clone)]
pub struct BalanceChange {
    pub player_id: pgrx::Uuid,
    pub balance_before: i64,
    pub balance_after: i64,
    pub tier_before: String,
    pub tier_after: String,
    pub tier_progress: i16,
    pub lifetime_points: i64,
    pub updated_at: TimestampWithTimeZone,
    /// Always true: the player's row was held `FOR UPDATE` while changing it.
    pub row_locked: bool,
}

/// A player's row as locked `FOR UPDATE`.
pub struct Locked {
    pub player_id: pgrx::Uuid,
    /// Where the locked version lives. While we hold the lock nobody else
    /// can update or move it, so the UPDATE finds it by TID instead of
    /// descending the primary key again.
    pub(super) tid: pg_sys::ItemPointerData,
    pub balance: i64,
    /// Points reserved by pending and active holds (redeem/): available is
    /// `balance - held`, never below 0.
    pub held: i64,
    pub lifetime: i64,
    pub tier: String,
    pub ladder: Rc<[Tier]>,
    /// The player's chain head (chain/): the last row's seq and hash.
    pub chain_seq: i64,
    pub chain_head: String,
    /// Credits and retained tier as stored (maybe of a period since ended).
    pub standing: Standing,
    /// The instant the lock was granted (or the chain's last row's, if the
    /// clock is behind it): a ledger row posted under it is dated then, and
    /// the gaming day and qualification period are its.
    pub at: TimestampWithTimeZone,
    pub gaming_day: String,
    pub basis: Basis,
    /// First gaming day of the qualification period `at` falls in.
    pub period: String,
    /// The stored gameplay counter: the last GAMEPLAY entry's gaming day
    /// and property, and the points posted there that day (the write path
    /// reads it for the entry's own property and day, ledger/post.rs).
    pub gameplay: Gameplay,
    /// The first gaming day of the period in which the casino turned the
    /// PERIOD basis on, if it is on: through it the tier held then is kept.
    pub kept_through: Option<String>,
}

/// A player's stored gameplay counter (`player_loyalty.gameplay_*`).
#[derive(Debug, Clone)]
pub struct Gameplay {
    pub day: Option<String>,
    pub property: Option<String>,
    pub points: i64,
}

impl Locked {
    /// The tier (and progress) this player holds with `lifetime` points and
    /// `standing`, under the casino's basis and ladder. Inside the stored
    /// period the tier held is kept (it falls only when a period starts).
    pub fn tier_with(&self, lifetime: i64, standing: &Standing) -> (String, i16) {
        let held = self
            .standing
            .is_in(&self.period)
            .then_some(self.tier.as_str());
        points::tier_of(self.basis, lifetime, standing, held, &self.ladder)
    }

    /// The stored standing, rolled into the period of the lock's instant.
    pub fn current_standing(&self) -> Standing {
        self.standing
            .rolled_keeping(&self.period, &self.ladder, self.kept_through.as_deref())
    }

    /// Whether a year ended since the stored standing's, under the PERIOD
    /// basis: the player rolls into the new year in a step of its own
    /// (ledger::roll) before anything posts, so a spend never records the
    /// fall and the fall gets its own notification.
    pub fn due_to_roll(&self) -> bool {
        self.basis == Basis::Period && !self.standing.is_in(&self.period)
    }

    /// `tier` and `standing` after a change: under the LIFETIME basis the
    /// tier held is kept as the retained tier, so that turning the PERIOD
    /// basis on needs no pass over every player (Standing::rolled_keeping).
    fn settle(
        &self,
        (tier, progress): (String, i16),
        mut standing: Standing,
    ) -> (String, i16, Standing) {
        if self.basis == Basis::Lifetime {
            standing.retained = Some(tier.clone());
        }
        (tier, progress, standing)
    }
}

/// Run `lock` with `lock_timeout` at most `loyalty.config.accrual_lock_timeout`
/// (the session's own, if shorter, still applies), then put the session's
/// value back. An accrual that cannot get the player's row in time fails
/// with 55P03, which the completion turns into PARTIAL_COMPLETION, instead
/// of waiting until an API's statement timeout kills the whole call. If the
/// wait fails, the aborting (sub)transaction restores the setting itself.
pub(super) fn with_accrual_lock_timeout<T>(
    client: &SpiClient<'_>,
    lock: impl FnOnce() -> Result<T>,
) -> Result<T> {
    let cap = crate::ledger::casino::accrual_lock_timeout_ms(client)?;
    // SAFETY: reads the variable behind the lock_timeout GUC (milliseconds,
    // 0 = none); this backend's own state.
    let previous = unsafe { pg_sys::LockTimeout };
    let effective = if previous == 0 || previous > cap {
        cap
    } else {
        previous
    };
    set_local_lock_timeout(effective);
    let locked = lock();
    set_local_lock_timeout(previous);
    locked
}

/// `SET LOCAL lock_timeout` through the GUC machinery (what `set_config(...,
/// true)` does, without a query): a subtransaction that aborts puts the
/// value back itself.
fn set_local_lock_timeout(ms: i32) {
    let value = std::ffi::CString::new(format!("{ms}ms")).unwrap_or_default();
    // SAFETY: a valid GUC name and value; PGC_USERSET/PGC_S_SESSION as a
    // user's SET LOCAL; elevel ERROR reports a bad value the usual way.
    unsafe {
        pg_sys::set_config_option(
            c"lock_timeout".as_ptr(),
            value.as_ptr(),
            pg_sys::GucContext::PGC_USERSET,
            pg_sys::GucSource::PGC_S_SESSION,
            pg_sys::GucAction::GUC_ACTION_LOCAL,
            true,
            PgLogLevel::ERROR as i32,
            false,
        );
    }
}

/// Lock the player's row `FOR UPDATE`, creating it at BRONZE/0 first if
/// missing. Two sessions may both find no row: `ON CONFLICT` makes the loser
/// wait for the winner's row, which it then locks.
pub(super) fn lock_or_create(client: &SpiClient<'_>, player_id: pgrx::Uuid) -> Result<Locked> {
    if let Some(l) = lock_player(client, player_id)? {
        return roll_if_due(client, l);
    }
    spi::write(
        client,
        "INSERT INTO loyalty.player_loyalty (player_id) VALUES ($1) ON CONFLICT (player_id) DO NOTHING",
        &[player_id.into()],
    )?;
    lock_player(client, player_id)?
        .ok_or_else(|| LoyaltyError::new(Code::PlayerNotFound, "player row vanished while locking"))
}

/// A locked player as the write path must find them before it changes
/// anything: derived from their ledger if an upgrade brought the row
/// ([`derive_if_needed`]), then, if a year ended under the PERIOD basis,
/// rolled into the new one in a step of its own (its own tier change,
/// logged and in the outbox): only the roll moves a tier down, never the
/// spend, reversal or expiry that follows. Returns the row as it now stands.
pub fn roll_if_due(client: &SpiClient<'_>, locked: Locked) -> Result<Locked> {
    let locked = derive_if_needed(client, locked)?;
    if !locked.due_to_roll() {
        return Ok(locked);
    }
    let rolled = restated(&locked)?;
    set_balance(client, &locked, &rolled)?;
    announce_tier_change(
        client,
        &locked,
        &rolled,
        None,
        &crate::pg::context::correlation_id(None)?,
    )?;
    lock_player(client, locked.player_id)?
        .ok_or_else(|| LoyaltyError::new(Code::PlayerNotFound, "player row vanished while rolling"))
}

/// A row an upgrade brought (entries in its chain, no qualification period
/// yet): the values the write path derives from the ledger are set from
/// its replay (domain/replay.rs): tier credits, period and retained tier,
/// the last earning, the last entry's time, the last gameplay day and its
/// points. Balance, lifetime points and tier stay as stored (the checks
/// compare those). An upgrade does this for no row itself, so it stops
/// writers for no longer than its schema steps: a row is derived when the
/// write path first locks it, or by the rollover sweep.
pub fn derive_if_needed(client: &SpiClient<'_>, locked: Locked) -> Result<Locked> {
    if locked.standing.period.is_some() || locked.chain_seq == 0 {
        return Ok(locked);
    }
    let Some(r) = crate::ledger::standing::derived(client, locked.player_id)? else {
        return Ok(locked);
    };
    let instant = |t: Option<i64>| t.and_then(|t| TimestampWithTimeZone::try_from(t).ok());
    spi::write(
        client,
        "UPDATE loyalty.player_loyalty
            SET tier_credits = $3, tier_period = $4::date, retained_tier = $5, last_earned_at = $6,
                chain_head_at = $7, gameplay_day = $8::date, gameplay_day_points = $9,
                gameplay_property = $10
          WHERE ctid = $2 AND player_id = $1",
        &[
            locked.player_id.into(),
            locked.tid.into(),
            r.standing.credits.into(),
            r.standing.period.as_deref().into(),
            r.standing.retained.as_deref().into(),
            instant(r.last_earned_at).into(),
            instant(r.chain_head_at).into(),
            r.gameplay_day.as_deref().into(),
            r.gameplay_day_points.into(),
            r.gameplay_property.as_deref().into(),
        ],
    )?;
    lock_player(client, locked.player_id)?.ok_or_else(|| {
        LoyaltyError::new(Code::PlayerNotFound, "player row vanished while deriving")
    })
}

/// Lock the player's row `FOR UPDATE`, waiting for it; None if there is none.
pub fn lock_player(client: &SpiClient<'_>, player_id: pgrx::Uuid) -> Result<Option<Locked>> {
    lock(client, player_id, false)
}

/// For sweeps: lock the player's row unless another transaction holds it
/// (None then, as for a missing row): a sweep never makes a floor call wait
/// behind it, and the busy player is picked up later or by their own next
/// post.
pub fn try_lock_player(client: &SpiClient<'_>, player_id: pgrx::Uuid) -> Result<Option<Locked>> {
    lock(client, player_id, true)
}

macro_rules! select_locked {
    ($tail:literal) => {
        concat!(
            "SELECT ctid, current_balance, lifetime_points, tier, chain_seq, chain_head, held_points,
                    tier_credits, to_char(tier_period, 'YYYY-MM-DD'), retained_tier, chain_head_at,
                    to_char(gameplay_day, 'YYYY-MM-DD'), gameplay_day_points, gameplay_property
               FROM loyalty.player_loyalty WHERE player_id = $1 FOR UPDATE",
            $tail
        )
    };
}

fn lock(client: &SpiClient<'_>, player_id: pgrx::Uuid, skip_busy: bool) -> Result<Option<Locked>> {
    let ladder = ladder::get(client)?;
    let rows = if skip_busy {
        spi::write(client, select_locked!(" SKIP LOCKED"), &[player_id.into()])?
    } else {
        spi::write(client, select_locked!(""), &[player_id.into()])?
    };
    if rows.is_empty() {
        return Ok(None);
    }
    let row = rows.first();
    // SAFETY: reads the clock, as clock_timestamp() does.
    let clock = unsafe { pg_sys::GetCurrentTimestamp() };
    // Never before the chain's last row (a clock stepped back): a chain's
    // times stay in order, which statements search by (sql/aging).
    let head_at = row
        .get::<TimestampWithTimeZone>(11)?
        .map(pg_sys::TimestampTz::from);
    let now = head_at.map_or(clock, |h| h.max(clock));
    let at = TimestampWithTimeZone::try_from(now)
        .map_err(|_| LoyaltyError::validation("the clock is out of timestamp range"))?;
    let gaming_day = crate::ledger::casino::gaming_day(client, now)?;
    let (basis, period) = crate::ledger::casino::tier_rules(client, &gaming_day)?;
    let kept_through = crate::ledger::casino::basis_switch(client)?.map(|(_, p)| p);
    Ok(Some(Locked {
        gameplay: Gameplay {
            day: row.get::<String>(12)?,
            points: row.get::<i64>(13)?.unwrap_or(0),
            property: row.get::<String>(14)?,
        },
        kept_through,
        standing: Standing {
            credits: row.get::<i64>(8)?.unwrap_or(0),
            period: row.get::<String>(9)?,
            retained: row.get::<String>(10)?,
        },
        at,
        gaming_day,
        basis,
        period,
        player_id,
        tid: row
            .get::<pg_sys::ItemPointerData>(1)?
            .ok_or_else(|| LoyaltyError::validation("locked row has no ctid"))?,
        balance: row.get::<i64>(2)?.unwrap_or(0),
        lifetime: row.get::<i64>(3)?.unwrap_or(0),
        tier: row.get::<String>(4)?.unwrap_or_default(),
        ladder,
        chain_seq: row.get::<i64>(5)?.unwrap_or(0),
        chain_head: row
            .get::<String>(6)?
            .unwrap_or_else(|| crate::ledger::chain::GENESIS.to_string()),
        held: row.get::<i64>(7)?.unwrap_or(0),
    }))
}

/// A locked balance after `delta`.
pub struct Computed {
    pub balance_after: i64,
    pub held_after: i64,
    pub lifetime: i64,
    pub tier_after: String,
    pub progress: i16,
    /// In the period of the lock's instant, after the change's credits.
    pub standing: Standing,
}

/// Refuses a result that leaves fewer than zero points available
/// (balance − held after the change) and any overflow. The change adds
/// `earned` to lifetime points and `credit` to tier credits (domain/kinds.rs);
/// `held_delta` moves points into (positive) or out of (negative) the
/// player's holds. A standing of an ended period rolls first, so the
/// change's credits count in the period it is posted in.
pub(super) fn compute(
    locked: &Locked,
    delta: i64,
    earned: i64,
    credit: i64,
    held_delta: i64,
) -> Result<Computed> {
    let balance_after = locked.balance.checked_add(delta).ok_or_else(|| {
        LoyaltyError::validation(format!(
            "a change of {delta} points would overflow the balance"
        ))
    })?;
    let held_after = locked
        .held
        .checked_add(held_delta)
        .filter(|h| *h >= 0)
        .ok_or_else(|| LoyaltyError::validation("held points would leave 0..=i64::MAX"))?;
    if balance_after < held_after {
        let available = locked.balance - locked.held;
        return Err(LoyaltyError::new(
            Code::InsufficientBalance,
            if held_delta > 0 && delta == 0 {
                format!("{available} points are available; the hold asks for {held_delta}")
            } else if locked.held == 0 {
                format!(
                    "balance is {} points; a change of {delta} would take it below zero",
                    locked.balance
                )
            } else {
                format!(
                    "{available} points are available ({} held); a change of {delta} would take them below zero",
                    locked.held
                )
            },
        ));
    }
    let lifetime = locked.lifetime.checked_add(earned).ok_or_else(|| {
        LoyaltyError::validation(format!(
            "a change of {delta} points would overflow lifetime points"
        ))
    })?;
    let standing = locked.current_standing().credited(credit);
    let (tier_after, progress, standing) =
        locked.settle(locked.tier_with(lifetime, &standing), standing);
    Ok(Computed {
        balance_after,
        held_after,
        lifetime,
        tier_after,
        progress,
        standing,
    })
}

/// The locked row with no change but the tier rules applied: a new period
/// rolled in (`roll_tier_period`), a new ladder (`retier_players`).
pub fn restated(locked: &Locked) -> Result<Computed> {
    compute(locked, 0, 0, 0, 0)
}

/// A reconciliation: `delta` moves the balance to what the ledger says, and
/// lifetime points, the standing and the tier are set to `truth`, the
/// ledger's replay (domain/replay.rs): a tier no entry justifies does not
/// survive it.
pub(super) fn compute_to(
    locked: &Locked,
    delta: i64,
    truth: &crate::ledger::Restate,
) -> Result<Computed> {
    let balance_after = locked
        .balance
        .checked_add(delta)
        .filter(|b| *b >= locked.held)
        .ok_or_else(|| {
            LoyaltyError::validation(format!(
                "a reconciliation must leave at least the {} held points; void holds first",
                locked.held
            ))
        })?;
    if truth.lifetime < 0 || truth.standing.credits < 0 {
        return Err(LoyaltyError::validation(
            "lifetime points and tier credits must be 0 or more",
        ));
    }
    Ok(Computed {
        balance_after,
        held_after: locked.held,
        lifetime: truth.lifetime,
        tier_after: truth.tier.clone(),
        progress: truth.progress,
        standing: truth.standing.clone(),
    })
}

/// Log and notify a tier change, if the change computed for `locked` makes
/// one (notify only when a ledger entry records it).
pub(super) fn announce_tier_change(
    client: &SpiClient<'_>,
    locked: &Locked,
    c: &Computed,
    entry_id: Option<i64>,
    correlation_id: &str,
) -> Result<()> {
    if locked.tier == c.tier_after {
        return Ok(());
    }
    tier_changed(
        client,
        &locked.player_id.to_string(),
        &locked.tier,
        &c.tier_after,
        c.lifetime,
        entry_id,
        correlation_id,
    )
}

/// Write a locked player's balance, lifetime points, tier and standing as
/// computed (held points are the write path's and held.rs's alone).
pub fn set_balance(
    client: &SpiClient<'_>,
    locked: &Locked,
    c: &Computed,
) -> Result<TimestampWithTimeZone> {
    spi::write(
        client,
        "UPDATE loyalty.player_loyalty
            SET current_balance = $3, lifetime_points = $4, tier = $5,
                tier_progress = $6, updated_at = now(),
                tier_credits = $7, tier_period = $8::date, retained_tier = $9
          WHERE ctid = $2 AND player_id = $1
      RETURNING updated_at",
        &[
            locked.player_id.into(),
            locked.tid.into(),
            c.balance_after.into(),
            c.lifetime.into(),
            c.tier_after.as_str().into(),
            c.progress.into(),
            c.standing.credits.into(),
            c.standing.period.as_deref().into(),
            c.standing.retained.as_deref().into(),
        ],
    )?
    .first()
    .get_one::<TimestampWithTimeZone>()?
    .ok_or_else(|| LoyaltyError::new(Code::PlayerNotFound, "player row vanished while updating"))
}

/// Log `loyalty_tier_changed`; when a ledger entry records the change,
/// notify listeners of its id on commit.
pub fn tier_changed(
    client: &SpiClient<'_>,
    player_id: &str,
    before: &str,
    after: &str,
    lifetime: i64,
    entry_id: Option<i64>,
    correlation_id: &str,
) -> Result<()> {
    let fields = crate::fields! {
        "tier_before" => before,
        "tier_after" => after,
        "lifetime_points" => lifetime,
        "ledger_entry_id" => entry_id,
    };
    log::emit(Event::TierChanged, correlation_id, Some(player_id), fields);
    // The durable outbox row, in this transaction (the player reads it
    // through RLS; workers claim it); the NOTIFY below only wakes them up.
    spi::write(
        client,
        "INSERT INTO loyalty.notification (kind, player_id, ledger_entry_id, payload)
         VALUES ('TIER_CHANGED', $1::uuid, $2,
                 pg_catalog.jsonb_build_object('tier_before', $3::text, 'tier_after', $4::text,
                                               'lifetime_points', $5::bigint))",
        &[
            player_id.into(),
            entry_id.into(),
            before.into(),
            after.into(),
            lifetime.into(),
        ],
    )?;
    if let Some(id) = entry_id {
        spi::write(
            client,
            "SELECT pg_catalog.pg_notify($1, $2)",
            &[
                TIER_CHANNEL.into(),
                format!(r#"{{"ledger_entry_id":{id}}}"#).into(),
            ],
        )?;
    }
    Ok(())
}
