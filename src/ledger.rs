//! The one write path for balances.
//!
//! [`increment`] is the row-locked balance primitive behind
//! `increment_player_loyalty`; [`post`] is every other balance change
//! (gameplay accrual, manual reward): it takes the same lock, checks the
//! idempotency key under it, applies the change and writes the ledger row,
//! all in the caller's transaction.

use crate::error::{Code, LoyaltyError, Result};
use crate::kinds::Kind;
use crate::ladder;
use crate::log::{self, Event};
use crate::points::{self, Tier};
use crate::spi;
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
    tid: pg_sys::ItemPointerData,
    pub balance: i64,
    pub lifetime: i64,
    pub tier: String,
    pub ladder: Rc<[Tier]>,
    /// The player's chain head (chain.rs): the last row's seq and hash.
    pub chain_seq: i64,
    pub chain_head: String,
}

/// Lock the player's row (creating it at BRONZE/0 if missing) and apply
/// `delta`. Refuses a result below zero and any overflow. This primitive
/// writes no ledger row, so its log line is its only trace; a [`post`]
/// logs its own event (accrual, reward) instead.
pub fn increment(player_id: pgrx::Uuid, delta: i64, correlation_id: &str) -> Result<BalanceChange> {
    let change = Spi::connect(|client| {
        let locked = lock_or_create(client, player_id)?;
        apply(client, player_id, locked, delta, correlation_id)
    })?;
    log::emit(
        Event::BalanceIncremented,
        correlation_id,
        Some(&player_id.to_string()),
        crate::fields! {
            "points_change" => delta,
            "balance_before" => change.balance_before,
            "balance_after" => change.balance_after,
            "lifetime_points" => change.lifetime_points,
        },
    );
    Ok(change)
}

/// One ledger entry to post.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    pub player_id: pgrx::Uuid,
    pub idempotency_key: String,
    pub kind: Kind,
    pub points: i64,
    pub rating_slip_id: Option<pgrx::Uuid>,
    pub visit_id: Option<pgrx::Uuid>,
    pub session_id: Option<pgrx::Uuid>,
    pub reason: Option<&'a str>,
    pub source: &'a str,
    pub staff_id: Option<pgrx::Uuid>,
    pub reward_id: Option<&'a str>,
    pub correlation_id: &'a str,
    /// Lifetime points after the entry, when they are not the running sum
    /// (a reconciliation sets them to what the ledger says).
    pub lifetime_after: Option<i64>,
}

/// A posted (or previously posted) ledger entry.
#[derive(Debug, Clone)]
pub struct Posted {
    pub entry_id: i64,
    pub points_change: i64,
    pub balance_before: i64,
    pub balance_after: i64,
    pub tier_before: String,
    pub tier_after: String,
    pub tier_progress: i16,
    /// True when the key was already posted: nothing changed, this is the
    /// first entry.
    pub idempotent_hit: bool,
}

/// Post `e`: lock the player, then append the ledger row and change the
/// balance in one statement. The ledger's unique key is the idempotency
/// gate: if the key is already posted, nothing changes and the first entry
/// is returned (IDEMPOTENCY_CONFLICT if it carried other points).
pub fn post(e: &Entry) -> Result<Posted> {
    Spi::connect(|client| {
        let locked = if e.kind == Kind::Gameplay {
            with_accrual_lock_timeout(client, || lock_or_create(client, e.player_id))?
        } else {
            lock_or_create(client, e.player_id)?
        };
        let computed = match e.lifetime_after {
            Some(lifetime) => compute_to(&locked, e.points, lifetime),
            None => compute(&locked, e.points),
        };
        let change = match computed {
            Ok(c) => c,
            // A replay of an entry that was posted is answered as a replay
            // even if the same change would no longer be allowed.
            Err(err) => return replay(client, e)?.ok_or(err),
        };
        // The row's id and time are taken first, so the hash can cover
        // them; the next seq and the hash chain from the head read under
        // the lock. A replay (ON CONFLICT) inserts nothing and leaves the
        // head alone, so it consumes no seq (only an id).
        let (id, created) = next_id_and_clock()?;
        let gaming_day = crate::casino::gaming_day(client, pg_sys::TimestampTz::from(created))?;
        let sealed = crate::chain::Sealed {
            id,
            player_id: e.player_id.to_string(),
            seq: locked.chain_seq + 1,
            transaction_type: e.kind.as_str().to_string(),
            event_type: e.kind.event_type().to_string(),
            points_change: e.points,
            balance_before: locked.balance,
            balance_after: change.balance_after,
            tier_before: locked.tier.clone(),
            tier_after: change.tier_after.clone(),
            idempotency_key: e.idempotency_key.clone(),
            rating_slip_id: e.rating_slip_id.map(|u| u.to_string()),
            visit_id: e.visit_id.map(|u| u.to_string()),
            session_id: e.session_id.map(|u| u.to_string()),
            staff_id: e.staff_id.map(|u| u.to_string()),
            reason: e.reason.map(str::to_string),
            reward_id: e.reward_id.map(str::to_string),
            source: Some(e.source.to_string()),
            correlation_id: e.correlation_id.to_string(),
            created_at: pg_sys::TimestampTz::from(created),
            gaming_day,
        };
        let row_hash = sealed.hash(&locked.chain_head);
        // Under the player's lock; ON CONFLICT also sees a concurrent
        // poster's committed row, whatever this statement's snapshot.
        let rows = spi::write(
            client,
            "WITH entry AS (
                INSERT INTO loyalty.loyalty_ledger
                    (player_id, rating_slip_id, visit_id, session_id, idempotency_key, transaction_type,
                     event_type, points_change, reason, source, staff_id, reward_id, balance_before,
                     balance_after, tier_before, tier_after, correlation_id, id, created_at, seq,
                     prev_hash, row_hash, gaming_day)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
                        $21, $22, $23, $24, $25, $26::date)
                ON CONFLICT (player_id, idempotency_key) DO NOTHING
                RETURNING id)
             UPDATE loyalty.player_loyalty
                SET current_balance = $14, lifetime_points = $18, tier = $16,
                    tier_progress = $19, updated_at = now(), chain_seq = $23, chain_head = $25
              WHERE ctid = $20 AND player_id = $1 AND EXISTS (SELECT FROM entry)
             RETURNING (SELECT id FROM entry)",
            &[
                e.player_id.into(),
                e.rating_slip_id.into(),
                e.visit_id.into(),
                e.session_id.into(),
                e.idempotency_key.as_str().into(),
                e.kind.as_str().into(),
                e.kind.event_type().into(),
                e.points.into(),
                e.reason.into(),
                e.source.into(),
                e.staff_id.into(),
                e.reward_id.into(),
                locked.balance.into(),
                change.balance_after.into(),
                locked.tier.as_str().into(),
                change.tier_after.as_str().into(),
                e.correlation_id.into(),
                change.lifetime.into(),
                change.progress.into(),
                locked.tid.into(),
                id.into(),
                created.into(),
                sealed.seq.into(),
                locked.chain_head.as_str().into(),
                row_hash.as_str().into(),
                sealed.gaming_day.as_str().into(),
            ],
        )?;
        if rows.is_empty() {
            return replay(client, e)?.ok_or_else(|| {
                LoyaltyError::new(Code::PlayerNotFound, "player row vanished while posting")
            });
        }
        let entry_id = rows
            .first()
            .get_one::<i64>()?
            .ok_or_else(|| LoyaltyError::validation("ledger insert returned no id"))?;
        announce_tier_change(client, &locked, &change, Some(entry_id), e.correlation_id)?;
        Ok(Posted {
            entry_id,
            points_change: e.points,
            balance_before: locked.balance,
            balance_after: change.balance_after,
            tier_before: locked.tier,
            tier_after: change.tier_after,
            tier_progress: change.progress,
            idempotent_hit: false,
        })
    })
}

/// The next ledger id and the clock: what `nextval` on the ledger's id
/// sequence and `clock_timestamp()` return, without a round trip through
/// SQL on every post.
fn next_id_and_clock() -> Result<(i64, TimestampWithTimeZone)> {
    unsafe extern "C-unwind" {
        // nextval(regclass) itself, as PostgreSQL's fmgr calls it
        fn nextval_oid(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum;
    }
    // SAFETY: catalog lookups and a sequence call in this backend, through
    // pgrx's guarded DirectFunctionCall1Coll, which turns a PostgreSQL ERROR
    // (no such schema) into a normal error.
    let (id, now) = unsafe {
        let nsp = pg_sys::get_namespace_oid(c"loyalty".as_ptr(), false);
        let seq = pg_sys::get_relname_relid(c"loyalty_ledger_id_seq".as_ptr(), nsp);
        let id = pg_sys::DirectFunctionCall1Coll(
            Some(nextval_oid),
            pg_sys::InvalidOid,
            pg_sys::Datum::from(seq),
        );
        (id.value() as i64, pg_sys::GetCurrentTimestamp())
    };
    let created = TimestampWithTimeZone::try_from(now)
        .map_err(|_| LoyaltyError::validation("the clock is out of timestamp range"))?;
    Ok((id, created))
}

/// The entry already posted under `e`'s key, as an idempotent hit; an
/// IDEMPOTENCY_CONFLICT if it carried other points.
pub fn replay(client: &SpiClient<'_>, e: &Entry) -> Result<Option<Posted>> {
    let Some(first) = find_entry(client, e.player_id, &e.idempotency_key)? else {
        return Ok(None);
    };
    if first.points_change != e.points {
        return Err(LoyaltyError::new(
            Code::IdempotencyConflict,
            format!(
                "key {} was already used for {} points; this request asks for {}",
                e.idempotency_key, first.points_change, e.points
            ),
        ));
    }
    log::emit(
        Event::IdempotencyHit,
        e.correlation_id,
        Some(&e.player_id.to_string()),
        crate::fields! {
            "idempotency_key" => e.idempotency_key,
            "ledger_entry_id" => first.entry_id,
            "source" => e.source,
        },
    );
    Ok(Some(first))
}

/// The ledger entry posted under `key` for this player, if any.
pub fn find_entry(
    client: &SpiClient<'_>,
    player_id: pgrx::Uuid,
    key: &str,
) -> Result<Option<Posted>> {
    // A fresh snapshot: under the player's lock this must see a concurrent
    // poster's committed entry.
    let rows = spi::write(
        client,
        "SELECT id, points_change, balance_before, balance_after, tier_before, tier_after
           FROM loyalty.loyalty_ledger WHERE player_id = $1 AND idempotency_key = $2",
        &[player_id.into(), key.into()],
    )?;
    if rows.is_empty() {
        return Ok(None);
    }
    let r = rows.first();
    Ok(Some(Posted {
        entry_id: r.get::<i64>(1)?.unwrap_or(0),
        points_change: r.get::<i64>(2)?.unwrap_or(0),
        balance_before: r.get::<i64>(3)?.unwrap_or(0),
        balance_after: r.get::<i64>(4)?.unwrap_or(0),
        tier_before: r.get::<String>(5)?.unwrap_or_default(),
        tier_after: r.get::<String>(6)?.unwrap_or_default(),
        tier_progress: 0,
        idempotent_hit: true,
    }))
}

/// Run `lock` with `lock_timeout` at most `loyalty.config.accrual_lock_timeout`
/// (the session's own, if shorter, still applies), then put the session's
/// value back. An accrual that cannot get the player's row in time fails
/// with 55P03, which the completion turns into PARTIAL_COMPLETION, instead
/// of waiting until an API's statement timeout kills the whole call. If the
/// wait fails, the aborting (sub)transaction restores the setting itself.
fn with_accrual_lock_timeout<T>(
    client: &SpiClient<'_>,
    lock: impl FnOnce() -> Result<T>,
) -> Result<T> {
    let cap = crate::casino::accrual_lock_timeout_ms(client)?;
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
fn lock_or_create(client: &SpiClient<'_>, player_id: pgrx::Uuid) -> Result<Locked> {
    if let Some(l) = lock_player(client, player_id)? {
        return Ok(l);
    }
    spi::write(
        client,
        "INSERT INTO loyalty.player_loyalty (player_id) VALUES ($1) ON CONFLICT (player_id) DO NOTHING",
        &[player_id.into()],
    )?;
    lock_player(client, player_id)?
        .ok_or_else(|| LoyaltyError::new(Code::PlayerNotFound, "player row vanished while locking"))
}

pub fn lock_player(client: &SpiClient<'_>, player_id: pgrx::Uuid) -> Result<Option<Locked>> {
    let ladder = ladder::get(client)?;
    let rows = spi::write(
        client,
        "SELECT ctid, current_balance, lifetime_points, tier, chain_seq, chain_head
           FROM loyalty.player_loyalty WHERE player_id = $1 FOR UPDATE",
        &[player_id.into()],
    )?;
    if rows.is_empty() {
        return Ok(None);
    }
    let row = rows.first();
    Ok(Some(Locked {
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
            .unwrap_or_else(|| crate::chain::GENESIS.to_string()),
    }))
}

/// A locked balance after `delta`.
struct Computed {
    balance_after: i64,
    lifetime: i64,
    tier_after: String,
    progress: i16,
}

/// Refuses a result below zero and any overflow.
fn compute(locked: &Locked, delta: i64) -> Result<Computed> {
    let balance_after = locked.balance.checked_add(delta).ok_or_else(|| {
        LoyaltyError::validation(format!(
            "a change of {delta} points would overflow the balance"
        ))
    })?;
    if balance_after < 0 {
        return Err(LoyaltyError::new(
            Code::InsufficientBalance,
            format!(
                "balance is {} points; a change of {delta} would take it below zero",
                locked.balance
            ),
        ));
    }
    let lifetime = locked.lifetime.checked_add(delta.max(0)).ok_or_else(|| {
        LoyaltyError::validation(format!(
            "a change of {delta} points would overflow lifetime points"
        ))
    })?;
    let (tier_after, progress) = points::tier_for(lifetime, &locked.ladder);
    Ok(Computed {
        balance_after,
        lifetime,
        tier_after,
        progress,
    })
}

/// A reconciliation: `delta` moves the balance to what the ledger says and
/// lifetime points are set to `lifetime` (the ledger's, not a running sum).
fn compute_to(locked: &Locked, delta: i64, lifetime: i64) -> Result<Computed> {
    let balance_after = locked
        .balance
        .checked_add(delta)
        .filter(|b| *b >= 0)
        .ok_or_else(|| {
            LoyaltyError::validation("a reconciliation must leave a balance of 0 or more")
        })?;
    if lifetime < 0 {
        return Err(LoyaltyError::validation(
            "lifetime points must be 0 or more",
        ));
    }
    let (tier_after, progress) = points::tier_for(lifetime, &locked.ladder);
    Ok(Computed {
        balance_after,
        lifetime,
        tier_after,
        progress,
    })
}

/// Log and notify a tier change, if the change computed for `locked` makes
/// one (notify only when a ledger entry records it).
fn announce_tier_change(
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

/// Apply `delta` to a locked player row; on a tier change, log and notify.
fn apply(
    client: &SpiClient<'_>,
    player_id: pgrx::Uuid,
    locked: Locked,
    delta: i64,
    correlation_id: &str,
) -> Result<BalanceChange> {
    let c = compute(&locked, delta)?;
    let updated_at = set_balance(
        client,
        &locked,
        c.balance_after,
        c.lifetime,
        &c.tier_after,
        c.progress,
    )?;
    announce_tier_change(client, &locked, &c, None, correlation_id)?;
    Ok(BalanceChange {
        player_id,
        balance_before: locked.balance,
        balance_after: c.balance_after,
        tier_before: locked.tier,
        tier_after: c.tier_after,
        tier_progress: c.progress,
        lifetime_points: c.lifetime,
        updated_at,
        row_locked: true,
    })
}

/// Write a locked player's balance, lifetime points and tier.
pub fn set_balance(
    client: &SpiClient<'_>,
    locked: &Locked,
    balance: i64,
    lifetime: i64,
    tier: &str,
    progress: i16,
) -> Result<TimestampWithTimeZone> {
    spi::write(
        client,
        "UPDATE loyalty.player_loyalty
            SET current_balance = $3, lifetime_points = $4, tier = $5,
                tier_progress = $6, updated_at = now()
          WHERE ctid = $2 AND player_id = $1
      RETURNING updated_at",
        &[
            locked.player_id.into(),
            locked.tid.into(),
            balance.into(),
            lifetime.into(),
            tier.into(),
            progress.into(),
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
