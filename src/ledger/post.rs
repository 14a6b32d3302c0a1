//! The one write path for balances.
//!
//! [`increment`] is the row-locked balance primitive behind
//! `increment_player_loyalty`; [`post`] is every other balance change
//! (gameplay accrual, manual reward): it takes the same lock, checks the
//! idempotency key under it, applies the change and writes the ledger row,
//! all in the caller's transaction.

use crate::domain::error::{Code, LoyaltyError, Result};
use crate::domain::kinds::Kind;
use crate::domain::replay::FIRST_PROPERTY;
use crate::ledger::balance::{
    announce_tier_change, compute, compute_to, lock_or_create, with_accrual_lock_timeout,
    BalanceChange,
};
use crate::pg::log::{self, Event};
use crate::pg::spi;
use pgrx::datum::DatumWithOid;
use pgrx::prelude::*;
use pgrx::spi::SpiClient;
use std::cell::RefCell;
use std::collections::HashMap;

/// `increment_player_loyalty`: a trusted back end's direct change of a
/// balance, posted like every other change: a DIRECT_INCREMENT entry under
/// a key of its own (every call is a new change), with the caller
/// recorded, so the balance equals its ledger at every commit and the
/// exception report lists it. The row is created at BRONZE/0 if missing;
/// a result below the held points is INSUFFICIENT_BALANCE.
pub fn increment(player_id: pgrx::Uuid, delta: i64, correlation_id: &str) -> Result<BalanceChange> {
    let source = format!("increment_player_loyalty by {}", crate::auth::actor());
    let posted = post(&Entry {
        player_id,
        idempotency_key: format!("direct:{}", crate::pg::context::generate_uuid()),
        kind: Kind::DirectIncrement,
        points: delta,
        rating_slip_id: None,
        visit_id: None,
        session_id: None,
        reason: None,
        source: &source,
        staff_id: None,
        reward_id: None,
        correlation_id,
        restate: None,
        held_change: 0,
        reverses_entry_id: None,
        property: None,
        under_lock: None,
    })?;
    log::emit(
        Event::BalanceIncremented,
        correlation_id,
        Some(&player_id.to_string()),
        crate::fields! {
            "points_change" => delta,
            "balance_before" => posted.balance_before,
            "balance_after" => posted.balance_after,
            "lifetime_points" => posted.lifetime_after,
            "ledger_entry_id" => posted.entry_id,
        },
    );
    Ok(BalanceChange {
        player_id,
        balance_before: posted.balance_before,
        balance_after: posted.balance_after,
        tier_before: posted.tier_before,
        tier_after: posted.tier_after,
        tier_progress: posted.tier_progress,
        lifetime_points: posted.lifetime_after.unwrap_or(0),
        updated_at: crate::pg::context::now(),
        row_locked: true,
    })
}

/// The posting statement: the ledger row (`entry`; nothing on a replay, ON
/// CONFLICT) and the balance, changed only if the row was written.
macro_rules! posting_head {
    () => {
        "WITH entry AS (
                INSERT INTO loyalty.loyalty_ledger
                    (player_id, rating_slip_id, visit_id, session_id, idempotency_key, transaction_type,
                     event_type, points_change, reason, source, staff_id, reward_id, balance_before,
                     balance_after, tier_before, tier_after, correlation_id, id, created_at, seq,
                     prev_hash, row_hash, gaming_day, reverses_entry_id, property_id)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
                        $21, $22, $23, $24, $25, $26::date, $29, $34)
                ON CONFLICT (player_id, idempotency_key) DO NOTHING
                RETURNING id)"
    };
}
macro_rules! posting_tail {
    () => {
        "
             UPDATE loyalty.player_loyalty
                SET current_balance = $14, lifetime_points = $18, tier = $16,
                    tier_progress = $19, updated_at = now(), chain_seq = $23, chain_head = $25,
                    gameplay_day = CASE WHEN $27 THEN $26::date ELSE gameplay_day END,
                    gameplay_day_points = CASE WHEN $27 THEN $35 ELSE gameplay_day_points END,
                    gameplay_property = CASE WHEN $27 THEN $34 ELSE gameplay_property END,
                    held_points = $28,
                    last_earned_at = CASE WHEN $30 THEN $22 ELSE last_earned_at END,
                    tier_credits = $31, tier_period = $32::date, retained_tier = $33,
                    chain_head_at = $22
              WHERE ctid = $20 AND player_id = $1 AND EXISTS (SELECT FROM entry)
             RETURNING (SELECT id FROM entry)"
    };
}

/// A write that belongs with a new entry, made in the posting's own
/// statement (one round trip fewer): one CTE, `name AS (...)`, that may
/// read `entry`'s id and refer to the posting's parameters ($1 is the
/// player, $2 the rating slip, $11 the staff member, $17 the correlation
/// id, $34 the property) and to its own, numbered from $36.
/// It must do nothing unless `EXISTS (SELECT FROM entry)`: a replay writes
/// nothing, and its caller writes what it needs itself.
pub struct Along<'a> {
    pub cte: &'static str,
    pub args: Vec<DatumWithOid<'a>>,
}

/// The posting statement, with `along`'s CTE if there is one. Each text is
/// built once per backend and kept (the plan cache keys on it).
fn posting_sql(along: Option<&'static str>) -> &'static str {
    thread_local! {
        static WITH: RefCell<HashMap<&'static str, &'static str>> = RefCell::new(HashMap::new());
    }
    match along {
        None => concat!(posting_head!(), posting_tail!()),
        Some(cte) => WITH.with(|m| {
            *m.borrow_mut().entry(cte).or_insert_with(|| {
                Box::leak(format!("{}, {cte}{}", posting_head!(), posting_tail!()).into_boxed_str())
            })
        }),
    }
}

/// A rule the caller checks under the player's lock, before anything is
/// written (a completion's daily four-eyes threshold). An error from it
/// refuses the post.
pub type UnderLock<'a> = &'a dyn Fn(&SpiClient<'_>, &crate::ledger::Locked, &Here) -> Result<()>;

/// Where and on which gaming day an entry posts, and the player's GAMEPLAY
/// points already posted there that day (what the daily four-eyes rule
/// counts; SPEC §22: per property, on its gaming day).
#[derive(Debug, Clone)]
pub struct Here {
    pub property: Option<String>,
    pub gaming_day: String,
    pub gameplay_today: i64,
}

/// One ledger entry to post.
#[derive(Clone)]
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
    /// Lifetime points and tier credits after the entry, when they are not
    /// the running sums (a reconciliation sets them to what the ledger says).
    pub restate: Option<Restate>,
    /// Held points released (negative) in the same change: a capture posts
    /// the comp and frees its whole hold at once.
    pub held_change: i64,
    /// The entry this one gives back (a redemption's reversal).
    pub reverses_entry_id: Option<i64>,
    /// Where it happened (None: an enterprise event).
    pub property: Option<&'a str>,
    /// Checked under the player's lock before the entry is written; a
    /// replay of a posted key skips it (what was posted stays posted).
    pub under_lock: Option<UnderLock<'a>>,
}

/// What a reconciliation sets from the ledger (its replay).
#[derive(Debug, Clone)]
pub struct Restate {
    pub lifetime: i64,
    pub standing: crate::domain::points::Standing,
    pub tier: String,
    pub progress: i16,
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
    /// The player's held points after a new entry (None on a replay).
    pub held_after: Option<i64>,
    /// The player's lifetime points after a new entry (None on a replay).
    pub lifetime_after: Option<i64>,
}

/// Post `e`: lock the player, then append the ledger row and change the
/// balance in one statement. The ledger's unique key is the idempotency
/// gate: if the key is already posted, nothing changes and the first entry
/// is returned (IDEMPOTENCY_CONFLICT if it carried other points).
pub fn post(e: &Entry) -> Result<Posted> {
    post_along(e, None)
}

/// [`post`], with `along` written in the same statement when the entry is new.
pub fn post_along(e: &Entry, along: Option<Along<'_>>) -> Result<Posted> {
    Spi::connect(|client| {
        let locked = if e.kind == Kind::Gameplay {
            with_accrual_lock_timeout(client, || lock_or_create(client, e.player_id))?
        } else if e.restate.is_some() {
            // a reconciliation sets the whole standing from the ledger: no
            // roll of the row it replaces
            crate::ledger::lock_player(client, e.player_id)?.ok_or_else(|| {
                LoyaltyError::new(Code::PlayerNotFound, "no balance row to reconcile")
            })?
        } else {
            lock_or_create(client, e.player_id)?
        };
        let here = here(client, &locked, e)?;
        if let Some(check) = e.under_lock {
            if let Err(err) = check(client, &locked, &here) {
                return replay(client, e)?.ok_or(err);
            }
        }
        let computed = match e.restate {
            Some(ref truth) => compute_to(&locked, e.points, truth),
            None => compute(
                &locked,
                e.points,
                e.kind.lifetime_credit(e.points),
                e.kind.tier_credit(e.points),
                e.held_change,
            ),
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
        let id = next_id()?;
        let created = locked.at;
        let gaming_day = here.gaming_day.clone();
        let sealed = crate::ledger::chain::Sealed {
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
            reverses_entry_id: e.reverses_entry_id,
            property_id: e.property.map(str::to_string),
        };
        let row_hash = sealed.hash(&locked.chain_head);
        // Under the player's lock; ON CONFLICT also sees a concurrent
        // poster's committed row, whatever this statement's snapshot.
        let sql = posting_sql(along.as_ref().map(|a| a.cte));
        let mut args = vec![
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
            (e.kind == Kind::Gameplay).into(),
            change.held_after.into(),
            e.reverses_entry_id.into(),
            e.kind.earns(e.points).into(),
            change.standing.credits.into(),
            change.standing.period.as_deref().into(),
            change.standing.retained.as_deref().into(),
            e.property.into(),
            here.gameplay_today.saturating_add(e.points).into(),
        ];
        if let Some(a) = along {
            args.extend(a.args);
        }
        let rows = spi::write(client, sql, &args)?;
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
            held_after: Some(change.held_after),
            lifetime_after: Some(change.lifetime),
        })
    })
}

/// Where `e` posts: its property's gaming day of the lock's instant (the
/// enterprise's for an enterprise event) and, for GAMEPLAY, the points
/// already posted at that property that day: the stored counter when it
/// counts there, else the ledger's sum (a player who played at another
/// property last). Entries from before properties existed count at
/// [`FIRST_PROPERTY`].
fn here(client: &SpiClient<'_>, locked: &crate::ledger::Locked, e: &Entry) -> Result<Here> {
    let gaming_day = match e.property {
        None => locked.gaming_day.clone(),
        Some(p) => crate::ledger::casino::gaming_day_at(
            client,
            Some(p),
            pg_sys::TimestampTz::from(locked.at),
        )?,
    };
    let gameplay_today = if e.kind != Kind::Gameplay {
        0
    } else {
        let at = e.property.unwrap_or(FIRST_PROPERTY);
        let g = &locked.gameplay;
        let last_at = g.property.as_deref().unwrap_or(FIRST_PROPERTY);
        if g.day.is_none() {
            // no gameplay yet
            0
        } else if last_at == at {
            // the last gameplay was here: on this day, or on an earlier one
            // (none here since)
            if g.day.as_deref() == Some(gaming_day.as_str()) {
                g.points
            } else {
                0
            }
        } else {
            spi::write(
                client,
                "SELECT coalesce(sum(points_change), 0)::bigint FROM loyalty.loyalty_ledger
                  WHERE player_id = $1 AND transaction_type = 'GAMEPLAY' AND gaming_day = $3::date
                    AND coalesce(property_id, $4) = $2",
                &[
                    locked.player_id.into(),
                    at.into(),
                    gaming_day.as_str().into(),
                    FIRST_PROPERTY.into(),
                ],
            )?
            .first()
            .get_one::<i64>()?
            .unwrap_or(0)
        }
    };
    Ok(Here {
        property: e.property.map(str::to_string),
        gaming_day,
        gameplay_today,
    })
}

/// The next ledger id: what `nextval` on the ledger's id sequence returns,
/// without a round trip through SQL on every post.
fn next_id() -> Result<i64> {
    unsafe extern "C-unwind" {
        // nextval(regclass) itself, as PostgreSQL's fmgr calls it
        fn nextval_oid(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum;
    }
    // SAFETY: catalog lookups and a sequence call in this backend, through
    // pgrx's guarded DirectFunctionCall1Coll, which turns a PostgreSQL ERROR
    // (no such schema) into a normal error.
    let id = unsafe {
        let nsp = pg_sys::get_namespace_oid(c"loyalty".as_ptr(), false);
        let seq = pg_sys::get_relname_relid(c"loyalty_ledger_id_seq".as_ptr(), nsp);
        pg_sys::DirectFunctionCall1Coll(
            Some(nextval_oid),
            pg_sys::InvalidOid,
            pg_sys::Datum::from(seq),
        )
    };
    Ok(id.value() as i64)
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
        held_after: None,
        lifetime_after: None,
    }))
}
