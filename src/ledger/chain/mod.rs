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

//!
//! Here: the row as hashed ([`Sealed`]) and the one-time sealing of rows
//! older than the chain. `verify` walks chains; `heads` anchors them.

use crate::domain::error::{run, Result};
use crate::domain::keys;
use crate::pg::spi;
use pgrx::prelude::*;

pub mod heads;
pub mod verify;

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
    /// The entry a reversal gives back. Hashed only when set, so the rows
    /// written before the column existed keep their hashes.
    pub reverses_entry_id: Option<i64>,
    /// Where the entry happened. Hashed only when set, so the rows written
    /// before properties existed keep their hashes.
    pub property_id: Option<String>,
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
        let reverses = self.reverses_entry_id.map(|r| r.to_string());
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
            // the members written only when set, in their key order
            if *key == "rating_slip_id" {
                if let Some(p) = &self.property_id {
                    keys::write_string(&mut out, "property_id");
                    out.push(':');
                    keys::write_string(&mut out, p);
                    out.push(',');
                }
            }
            if *key == "reward_id" {
                if let Some(r) = &reverses {
                    keys::write_string(&mut out, "reverses_entry_id");
                    out.push(':');
                    keys::write_string(&mut out, r);
                    out.push(',');
                }
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

/// Seal rows written before the chain existed (the 0.1.0 upgrade): each
/// player's rows in id order get seq 1.. and their hashes, and the player's
/// head is set. Not part of the installed API (`sql = false`): the upgrade
/// script creates it, calls it once and drops it again.
#[pg_extern(sql = false)]
fn seal_ledger_chains() -> i64 {
    run(move || {
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
                for s in verify::load_for_sealing(c, p)? {
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
    use super::verify::unit::row;
    use super::*;
    use serde_json::json;

    /// The straight writer is RFC 8785 of the row's object: the same bytes
    /// as `keys::canonical_json` over it, for rows with every optional field
    /// set or unset and with strings that need escaping or are not ASCII.
    #[test]
    fn canonical_is_rfc8785_of_the_row_object() {
        fn reference(r: &Sealed) -> String {
            let mut object = json!({
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
            });
            if let Some(rev) = r.reverses_entry_id {
                object["reverses_entry_id"] = json!(rev.to_string());
            }
            if let Some(p) = &r.property_id {
                object["property_id"] = json!(p);
            }
            keys::canonical_json(&object).unwrap()
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
        let reversal = Sealed {
            reverses_entry_id: Some(i64::MAX),
            ..full.clone()
        };
        let placed = Sealed {
            property_id: Some("LV-STRIP".into()),
            ..reversal.clone()
        };
        assert_ne!(reversal.canonical(), full.canonical());
        assert_ne!(placed.canonical(), reversal.canonical());
        for r in [plain, full, reversal, placed] {
            assert_eq!(r.canonical(), reference(&r));
        }
    }
}
