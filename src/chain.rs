//! A tamper-evident ledger: one hash chain per player (docs/reference.md §9).
//!
//! Every ledger row carries `seq` (1, 2, 3, … per player, no gaps),
//! `prev_hash` (the previous row's `row_hash`, or 64 zeros for the first)
//! and `row_hash` = SHA-256 of `prev_hash` followed by the RFC 8785 canonical
//! JSON of the row's immutable fields. `ledger::post` computes them under the
//! player's row lock, which it holds anyway, and keeps the player's head
//! (`player_loyalty.chain_seq`, `chain_head`) in the same statement.
//!
//! The chain detects; it does not prevent: a superuser can still write. The
//! next verification says where, and heads stored outside the database
//! (`ledger_chain_heads`) catch even a consistent rewrite of a whole chain.

// pgrx reads a TableIterator's columns from the signature itself.
#![allow(clippy::type_complexity)]

use crate::auth;
use crate::error::{required, run, LoyaltyError, Result};
use crate::keys;
use crate::spi;
use pgrx::prelude::*;
use pgrx::spi::SpiClient;
use serde_json::{json, Value};
use std::collections::HashSet;

/// `prev_hash` of a player's first row.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Microseconds between the Unix epoch and PostgreSQL's (2000-01-01).
const PG_EPOCH_UNIX_MICROS: i64 = 946_684_800_000_000;

/// A ledger row's immutable fields, as hashed. Integers and times are
/// written as decimal strings (times: microseconds since 1970-01-01 UTC), so
/// any language recomputes the hash exactly, whatever its JSON numbers hold.
#[derive(Debug, Clone, Default)]
pub struct Sealed {
    pub id: i64,
    pub player_id: String,
    pub seq: i64,
    pub transaction_type: String,
    pub event_type: String,
    pub points_change: i64,
    pub balance_before: i64,
    pub balance_after: i64,
    pub tier_before: String,
    pub tier_after: String,
    pub idempotency_key: String,
    pub rating_slip_id: Option<String>,
    pub visit_id: Option<String>,
    pub session_id: Option<String>,
    pub staff_id: Option<String>,
    pub reason: Option<String>,
    pub reward_id: Option<String>,
    pub source: Option<String>,
    pub correlation_id: String,
    /// Microseconds since PostgreSQL's epoch (a timestamptz's own value).
    pub created_at: i64,
    /// The casino's gaming day of the entry, `YYYY-MM-DD`.
    pub gaming_day: String,
}

impl Sealed {
    /// The canonical JSON that `row_hash` covers (docs/reference.md §9).
    /// Every value is a string or null, so RFC 8785 reduces to these members
    /// in key order with JSON string escaping; written straight into one
    /// buffer, because it runs on every post (`keys::canonical_json` over
    /// the same object is the reference the unit tests hold it to).
    pub fn canonical(&self) -> String {
        let ints = [
            self.balance_after.to_string(),
            self.balance_before.to_string(),
            (self.created_at + PG_EPOCH_UNIX_MICROS).to_string(),
            self.id.to_string(),
            self.points_change.to_string(),
            self.seq.to_string(),
        ];
        let [balance_after, balance_before, created_at, id, points_change, seq] = &ints;
        // sorted by key (ASCII keys: byte order is RFC 8785 order)
        let members: [(&str, Option<&str>); 21] = [
            ("balance_after", Some(balance_after)),
            ("balance_before", Some(balance_before)),
            ("correlation_id", Some(&self.correlation_id)),
            ("created_at_unix_micros", Some(created_at)),
            ("event_type", Some(&self.event_type)),
            ("gaming_day", Some(&self.gaming_day)),
            ("id", Some(id)),
            ("idempotency_key", Some(&self.idempotency_key)),
            ("player_id", Some(&self.player_id)),
            ("points_change", Some(points_change)),
            ("rating_slip_id", self.rating_slip_id.as_deref()),
            ("reason", self.reason.as_deref()),
            ("reward_id", self.reward_id.as_deref()),
            ("seq", Some(seq)),
            ("session_id", self.session_id.as_deref()),
            ("source", self.source.as_deref()),
            ("staff_id", self.staff_id.as_deref()),
            ("tier_after", Some(&self.tier_after)),
            ("tier_before", Some(&self.tier_before)),
            ("transaction_type", Some(&self.transaction_type)),
            ("visit_id", self.visit_id.as_deref()),
        ];
        let mut out = String::with_capacity(768);
        out.push('{');
        for (i, (key, value)) in members.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            keys::write_string(&mut out, key);
            out.push(':');
            match value {
                Some(v) => keys::write_string(&mut out, v),
                None => out.push_str("null"),
            }
        }
        out.push('}');
        out
    }

    /// SHA-256 hex of `prev_hash` followed by the canonical JSON.
    pub fn hash(&self, prev_hash: &str) -> String {
        let mut text = String::with_capacity(64 + 768);
        text.push_str(prev_hash);
        text.push_str(&self.canonical());
        keys::sha256_hex(text.as_bytes())
    }
}

/// A stored row: what was hashed, and the links it carries.
struct Stored {
    row: Sealed,
    prev_hash: String,
    row_hash: String,
}

/// The first place a player's chain breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Break {
    pub seq: i64,
    /// edited, missing, inserted or reordered.
    pub kind: &'static str,
    pub detail: String,
}

macro_rules! select_rows {
    ($tail:literal) => {
        concat!(
            "SELECT id, player_id::text, seq, transaction_type, event_type, points_change, balance_before,
                    balance_after, tier_before, tier_after, idempotency_key, rating_slip_id::text,
                    visit_id::text, session_id::text, staff_id::text, reason, reward_id, source,
                    correlation_id, created_at, prev_hash, row_hash,
                    pg_catalog.to_char(gaming_day, 'YYYY-MM-DD')
               FROM loyalty.loyalty_ledger WHERE player_id = $1",
            $tail
        )
    };
}

fn load(client: &SpiClient<'_>, player: pgrx::Uuid, up_to: Option<i64>) -> Result<Vec<Stored>> {
    let rows = match up_to {
        None => spi::read(client, select_rows!(" ORDER BY seq, id"), &[player.into()])?,
        Some(n) => spi::read(
            client,
            select_rows!(" AND seq <= $2 ORDER BY seq, id"),
            &[player.into(), n.into()],
        )?,
    };
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let text = |i: usize| -> Result<String> { Ok(r.get::<String>(i)?.unwrap_or_default()) };
        let created: TimestampWithTimeZone = r
            .get(20)?
            .ok_or_else(|| LoyaltyError::validation("ledger row without created_at"))?;
        out.push(Stored {
            row: Sealed {
                id: r.get(1)?.unwrap_or(0),
                player_id: text(2)?,
                seq: r.get(3)?.unwrap_or(0),
                transaction_type: text(4)?,
                event_type: text(5)?,
                points_change: r.get(6)?.unwrap_or(0),
                balance_before: r.get(7)?.unwrap_or(0),
                balance_after: r.get(8)?.unwrap_or(0),
                tier_before: text(9)?,
                tier_after: text(10)?,
                idempotency_key: text(11)?,
                rating_slip_id: r.get(12)?,
                visit_id: r.get(13)?,
                session_id: r.get(14)?,
                staff_id: r.get(15)?,
                reason: r.get(16)?,
                reward_id: r.get(17)?,
                source: r.get(18)?,
                correlation_id: text(19)?,
                created_at: pg_sys::TimestampTz::from(created),
                gaming_day: text(23)?,
            },
            prev_hash: text(21)?,
            row_hash: text(22)?,
        });
    }
    Ok(out)
}

/// Walk rows in `seq` order and find the first break. `head_seq` is the
/// player's head as the write path last set it: a row beyond it was not
/// written by the write path; a head beyond the last row means rows are gone.
fn first_break(rows: &[Stored], head_seq: Option<i64>) -> Result<Option<Break>> {
    let hashes: HashSet<&str> = rows.iter().map(|s| s.row_hash.as_str()).collect();
    let (mut expected_seq, mut prev, mut prev_id) = (1i64, GENESIS.to_string(), i64::MIN);
    for s in rows {
        let seq = s.row.seq;
        let beyond_head = head_seq.is_some_and(|h| seq > h);
        if seq > expected_seq {
            return Ok(Some(Break {
                seq: expected_seq,
                kind: "missing",
                detail: format!("no row with seq {expected_seq}; the next is {seq}"),
            }));
        }
        if seq < expected_seq {
            return Ok(Some(Break {
                seq,
                kind: "inserted",
                detail: format!("a second row with seq {seq} (id {})", s.row.id),
            }));
        }
        if s.prev_hash != prev {
            let kind = if beyond_head {
                "inserted"
            } else if hashes.contains(s.prev_hash.as_str()) {
                "reordered"
            } else {
                "edited"
            };
            return Ok(Some(Break {
                seq,
                kind,
                detail: format!("prev_hash does not link to row {}", seq - 1),
            }));
        }
        if s.row.hash(&s.prev_hash) != s.row_hash {
            return Ok(Some(Break {
                seq,
                kind: if beyond_head { "inserted" } else { "edited" },
                detail: format!("row id {} does not match its row_hash", s.row.id),
            }));
        }
        if s.row.id < prev_id {
            return Ok(Some(Break {
                seq,
                kind: if beyond_head { "inserted" } else { "reordered" },
                detail: format!("row id {} comes after id {prev_id} in the chain", s.row.id),
            }));
        }
        if beyond_head {
            return Ok(Some(Break {
                seq,
                kind: "inserted",
                detail: format!("the player's head is seq {}", head_seq.unwrap_or(0)),
            }));
        }
        prev = s.row_hash.clone();
        prev_id = s.row.id;
        expected_seq += 1;
    }
    if let Some(h) = head_seq.filter(|h| *h >= expected_seq) {
        return Ok(Some(Break {
            seq: expected_seq,
            kind: "missing",
            detail: format!(
                "the player's head is seq {h}; the chain ends at {}",
                expected_seq - 1
            ),
        }));
    }
    Ok(None)
}

/// (entries, head seq from player_loyalty, first break) of one player.
pub fn verify(
    client: &SpiClient<'_>,
    player: pgrx::Uuid,
) -> Result<(i64, Option<i64>, Option<Break>)> {
    let rows = load(client, player, None)?;
    let head = spi::read(
        client,
        "SELECT chain_seq FROM loyalty.player_loyalty WHERE player_id = $1",
        &[player.into()],
    )?;
    let head_seq = if head.is_empty() {
        None
    } else {
        head.first().get_one::<i64>()?
    };
    let found = first_break(&rows, head_seq)?;
    Ok((rows.len() as i64, head_seq, found))
}

/// One player's chain: the first break (seq, kind, detail), or ok.
#[pg_extern(security_definer, stable, parallel_safe)]
#[search_path(pg_catalog, loyalty, pg_temp)]
fn verify_ledger_chain(
    p_player_id: Option<pgrx::Uuid>,
) -> TableIterator<
    'static,
    (
        name!(player_id, pgrx::Uuid),
        name!(entries, i64),
        name!(ok, bool),
        name!(break_seq, Option<i64>),
        name!(break_kind, Option<String>),
        name!(detail, Option<String>),
    ),
> {
    let row = run(|| {
        auth::require_trusted()?;
        let player = required(p_player_id, "p_player_id")?;
        let (entries, _, found) = Spi::connect(|c| verify(c, player))?;
        Ok((
            player,
            entries,
            found.is_none(),
            found.as_ref().map(|b| b.seq),
            found.as_ref().map(|b| b.kind.to_string()),
            found.map(|b| b.detail),
        ))
    });
    TableIterator::once(row)
}

/// Most players one `verify_all_chains` call checks.
pub const MAX_PLAYERS: i32 = 1_000_000;

/// The chains of up to `p_limit` players (in player order, from
/// `p_after` on): one row per broken chain; none means all verify.
#[pg_extern(security_definer, stable, parallel_safe)]
#[search_path(pg_catalog, loyalty, pg_temp)]
fn verify_all_chains(
    p_limit: default!(Option<i32>, "10000"),
    p_after: default!(Option<pgrx::Uuid>, "NULL"),
) -> TableIterator<
    'static,
    (
        name!(player_id, pgrx::Uuid),
        name!(break_seq, i64),
        name!(break_kind, String),
        name!(detail, String),
    ),
> {
    let rows = run(|| {
        auth::require_trusted()?;
        let limit = p_limit.unwrap_or(10_000);
        if !(1..=MAX_PLAYERS).contains(&limit) {
            return Err(LoyaltyError::validation(format!(
                "p_limit must be between 1 and {MAX_PLAYERS}"
            )));
        }
        Spi::connect(|c| -> Result<Vec<_>> {
            let players = spi::read(
                c,
                "SELECT player_id FROM (SELECT player_id FROM loyalty.player_loyalty
                                        UNION SELECT DISTINCT player_id FROM loyalty.loyalty_ledger) p
                  WHERE $2::uuid IS NULL OR player_id > $2 ORDER BY player_id LIMIT $1",
                &[limit.into(), p_after.into()],
            )?;
            let mut out = Vec::new();
            for r in players {
                let Some(p) = r.get::<pgrx::Uuid>(1)? else {
                    continue;
                };
                if let (_, _, Some(b)) = verify(c, p)? {
                    out.push((p, b.seq, b.kind.to_string(), b.detail));
                }
            }
            Ok(out)
        })
    });
    TableIterator::new(rows)
}

/// The heads of every chain, from the ledger itself, in player order.
fn heads(client: &SpiClient<'_>) -> Result<Vec<Value>> {
    let rows = spi::read(
        client,
        "SELECT DISTINCT ON (player_id) player_id::text, seq, row_hash
           FROM loyalty.loyalty_ledger ORDER BY player_id, seq DESC",
        &[],
    )?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        out.push(json!({
            "player_id": r.get::<String>(1)?,
            "seq": r.get::<i64>(2)?.unwrap_or(0).to_string(),
            "row_hash": r.get::<String>(3)?,
        }));
    }
    Ok(out)
}

/// SHA-256 of the canonical JSON of the heads list.
fn digest(heads: &Value) -> Result<String> {
    Ok(keys::sha256_hex(keys::canonical_json(heads)?.as_bytes()))
}

/// Every player's chain head and one digest over them all: an anchor an
/// operator stores outside the database, to check later with
/// `verify_chain_heads`.
#[pg_extern(security_definer, stable, parallel_safe)]
#[search_path(pg_catalog, loyalty, pg_temp)]
fn ledger_chain_heads() -> pgrx::JsonB {
    let doc = run(|| {
        auth::require_trusted()?;
        let heads = Value::Array(Spi::connect(heads)?);
        let digest = digest(&heads)?;
        Ok(json!({
            "taken_at": crate::log::iso8601_now(),
            "players": heads.as_array().map(Vec::len).unwrap_or(0),
            "heads": heads,
            "digest": digest,
        }))
    });
    pgrx::JsonB(doc)
}

/// Prove that nothing before the given heads changed: each player's chain
/// up to the anchored `seq` verifies and ends in the anchored `row_hash`,
/// and the document's digest matches its heads. One row per problem.
#[pg_extern(security_definer, stable, parallel_safe)]
#[search_path(pg_catalog, loyalty, pg_temp)]
fn verify_chain_heads(
    p_heads: Option<pgrx::JsonB>,
) -> TableIterator<
    'static,
    (
        name!(player_id, Option<pgrx::Uuid>),
        name!(seq, Option<i64>),
        name!(problem, String),
    ),
> {
    let rows = run(|| {
        auth::require_trusted()?;
        let doc = required(p_heads, "p_heads")?.0;
        let Some(heads) = doc.get("heads").filter(|h| h.is_array()) else {
            return Err(LoyaltyError::validation(
                "p_heads must be a document from ledger_chain_heads()",
            ));
        };
        let mut out = Vec::new();
        if doc.get("digest").and_then(Value::as_str) != Some(digest(heads)?.as_str()) {
            out.push((
                None,
                None,
                "the digest does not match the heads: the anchor itself was altered".to_string(),
            ));
        }
        Spi::connect(|c| -> Result<()> {
            for h in heads.as_array().into_iter().flatten() {
                let player = h
                    .get("player_id")
                    .and_then(Value::as_str)
                    .and_then(auth::parse_uuid);
                let seq = h
                    .get("seq")
                    .and_then(Value::as_str)
                    .and_then(|s| s.parse::<i64>().ok());
                let (Some(player), Some(seq)) = (player, seq) else {
                    out.push((
                        None,
                        None,
                        format!("malformed head: {}", crate::error::echo(&h.to_string())),
                    ));
                    continue;
                };
                let rows = load(c, player, Some(seq))?;
                if let Some(b) = first_break(&rows, None)? {
                    out.push((
                        Some(player),
                        Some(b.seq),
                        format!("{}: {}", b.kind, b.detail),
                    ));
                    continue;
                }
                let anchored = h.get("row_hash").and_then(Value::as_str);
                match rows.last() {
                    Some(last)
                        if last.row.seq == seq && Some(last.row_hash.as_str()) == anchored => {}
                    Some(last) if last.row.seq == seq => out.push((
                        Some(player),
                        Some(seq),
                        "changed: the row at the anchored seq no longer has the anchored hash"
                            .to_string(),
                    )),
                    _ => out.push((
                        Some(player),
                        Some(seq),
                        "missing: the anchored row is gone".to_string(),
                    )),
                }
            }
            Ok(())
        })?;
        Ok(out)
    });
    TableIterator::new(rows)
}

/// Seal rows written before the chain existed (the 0.1.0 upgrade): each
/// player's rows in id order get seq 1.. and their hashes, and the player's
/// head is set. Not part of the installed API (`sql = false`): the upgrade
/// script creates it, calls it once and drops it again.
#[pg_extern(sql = false)]
fn seal_ledger_chains() -> i64 {
    run(|| {
        Spi::connect_mut(|c| -> Result<i64> {
            let players = spi::read(
                c,
                "SELECT DISTINCT player_id FROM loyalty.loyalty_ledger WHERE seq IS NULL ORDER BY player_id",
                &[],
            )?;
            let players: Vec<pgrx::Uuid> = players
                .into_iter()
                .filter_map(|r| r.get::<pgrx::Uuid>(1).ok().flatten())
                .collect();
            let mut sealed = 0i64;
            for p in players {
                let ids = spi::read(
                    c,
                    "SELECT id FROM loyalty.loyalty_ledger WHERE player_id = $1 ORDER BY id",
                    &[p.into()],
                )?;
                let ids: Vec<i64> = ids
                    .into_iter()
                    .filter_map(|r| r.get::<i64>(1).ok().flatten())
                    .collect();
                for (n, id) in ids.iter().enumerate() {
                    spi::write(
                        c,
                        "UPDATE loyalty.loyalty_ledger SET seq = $3 WHERE player_id = $1 AND id = $2",
                        &[p.into(), (*id).into(), (n as i64 + 1).into()],
                    )?;
                }
                let mut prev = GENESIS.to_string();
                for s in load(c, p, None)? {
                    let hash = s.row.hash(&prev);
                    spi::write(
                        c,
                        "UPDATE loyalty.loyalty_ledger SET prev_hash = $3, row_hash = $4
                          WHERE player_id = $1 AND id = $2",
                        &[
                            p.into(),
                            s.row.id.into(),
                            prev.as_str().into(),
                            hash.as_str().into(),
                        ],
                    )?;
                    prev = hash;
                    sealed += 1;
                }
                spi::write(
                    c,
                    "UPDATE loyalty.player_loyalty SET chain_seq = $2, chain_head = $3 WHERE player_id = $1",
                    &[p.into(), (ids.len() as i64).into(), prev.as_str().into()],
                )?;
            }
            Ok(sealed)
        })
    })
}

#[cfg(test)]
mod unit {
    use super::*;

    fn row(seq: i64, id: i64) -> Sealed {
        Sealed {
            id,
            player_id: "p".into(),
            seq,
            transaction_type: "MANUAL_BONUS".into(),
            event_type: "POINTS_UPDATE_REQUESTED".into(),
            points_change: 10,
            balance_before: 10 * (seq - 1),
            balance_after: 10 * seq,
            tier_before: "BRONZE".into(),
            tier_after: "BRONZE".into(),
            idempotency_key: format!("k{seq}"),
            correlation_id: "c".into(),
            created_at: 1_000_000 * seq,
            ..Default::default()
        }
    }

    fn chain(n: i64) -> Vec<Stored> {
        let mut prev = GENESIS.to_string();
        (1..=n)
            .map(|seq| {
                let r = row(seq, seq * 10);
                let h = r.hash(&prev);
                let s = Stored {
                    row: r,
                    prev_hash: prev.clone(),
                    row_hash: h.clone(),
                };
                prev = h;
                s
            })
            .collect()
    }

    #[test]
    fn an_intact_chain_verifies() {
        assert_eq!(first_break(&chain(5), Some(5)).unwrap(), None);
        assert_eq!(first_break(&[], Some(0)).unwrap(), None);
    }

    #[test]
    fn each_kind_of_break_is_named() {
        let mut edited = chain(5);
        edited[2].row.points_change = 1_000_000;
        assert_eq!(
            first_break(&edited, Some(5))
                .unwrap()
                .map(|b| (b.seq, b.kind)),
            Some((3, "edited"))
        );

        let mut missing = chain(5);
        missing.remove(1);
        assert_eq!(
            first_break(&missing, Some(5))
                .unwrap()
                .map(|b| (b.seq, b.kind)),
            Some((2, "missing"))
        );
        let last_gone = chain(4);
        assert_eq!(
            first_break(&last_gone, Some(5))
                .unwrap()
                .map(|b| (b.seq, b.kind)),
            Some((5, "missing"))
        );

        let mut reordered = chain(5);
        reordered.swap(1, 2);
        reordered[1].row.seq = 2;
        reordered[2].row.seq = 3;
        assert_eq!(
            first_break(&reordered, Some(5))
                .unwrap()
                .map(|b| (b.seq, b.kind)),
            Some((2, "reordered"))
        );

        // a well-formed row appended past the head the write path set
        let inserted = chain(6);
        assert_eq!(
            first_break(&inserted, Some(5))
                .unwrap()
                .map(|b| (b.seq, b.kind)),
            Some((6, "inserted"))
        );
    }

    #[test]
    fn the_hash_covers_every_field_and_the_previous_hash() {
        let r = row(1, 1);
        let h = r.hash(GENESIS);
        assert_eq!(h.len(), 64);
        assert_ne!(r.hash(&"1".repeat(64)), h);
        let mut other = r.clone();
        other.reason = Some("x".into());
        assert_ne!(other.hash(GENESIS), h);
        assert!(r.canonical().contains(r#""points_change":"10""#));
    }

    /// The straight writer is RFC 8785 of the row's object: the same bytes
    /// as `keys::canonical_json` over it, for rows with every optional field
    /// set or unset and with strings that need escaping or are not ASCII.
    #[test]
    fn canonical_is_rfc8785_of_the_row_object() {
        fn reference(r: &Sealed) -> String {
            keys::canonical_json(&json!({
                "id": r.id.to_string(),
                "player_id": r.player_id,
                "seq": r.seq.to_string(),
                "transaction_type": r.transaction_type,
                "event_type": r.event_type,
                "points_change": r.points_change.to_string(),
                "balance_before": r.balance_before.to_string(),
                "balance_after": r.balance_after.to_string(),
                "tier_before": r.tier_before,
                "tier_after": r.tier_after,
                "idempotency_key": r.idempotency_key,
                "rating_slip_id": r.rating_slip_id,
                "visit_id": r.visit_id,
                "session_id": r.session_id,
                "staff_id": r.staff_id,
                "reason": r.reason,
                "reward_id": r.reward_id,
                "source": r.source,
                "correlation_id": r.correlation_id,
                "created_at_unix_micros": (r.created_at + PG_EPOCH_UNIX_MICROS).to_string(),
                "gaming_day": r.gaming_day,
            }))
            .unwrap()
        }
        let plain = row(3, 30);
        let full = Sealed {
            id: i64::MAX,
            player_id: "00000000-0000-4000-8000-000000000001".into(),
            points_change: -5,
            balance_before: 0,
            balance_after: i64::MAX,
            rating_slip_id: Some("slip".into()),
            visit_id: Some("visit".into()),
            session_id: Some("session".into()),
            staff_id: Some("staff".into()),
            reason: Some("quote \" backslash \\ tab \t nl \n ctl \u{1} é 😀 \u{2028}".into()),
            reward_id: Some("r-1".into()),
            source: Some("manual_reward".into()),
            created_at: i64::MIN + PG_EPOCH_UNIX_MICROS,
            gaming_day: "2026-11-26".into(),
            ..row(7, 70)
        };
        for r in [plain, full] {
            assert_eq!(r.canonical(), reference(&r));
        }
    }
}
