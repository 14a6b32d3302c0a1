//! Walking a player's chain from its first row and finding the first
//! break: an edited, missing, inserted or reordered row, or a head that
//! does not match the rows.

// pgrx reads a TableIterator's columns from the signature itself.
#![allow(clippy::type_complexity)]

use super::{Sealed, GENESIS};
use crate::auth;
use crate::domain::error::{required, run, LoyaltyError, Result};
use crate::pg::spi;
use pgrx::prelude::*;
use pgrx::spi::SpiClient;
use std::collections::HashSet;

/// A stored row: what was hashed, and the links it carries.
pub(super) struct Stored {
    pub(super) row: Sealed,
    pub(super) prev_hash: String,
    pub(super) row_hash: String,
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
        select_rows!("reverses_entry_id, property_id", $tail)
    };
    ($reverses:literal, $tail:literal) => {
        concat!(
            "SELECT id, player_id::text, seq, transaction_type, event_type, points_change, balance_before,
                    balance_after, tier_before, tier_after, idempotency_key, rating_slip_id::text,
                    visit_id::text, session_id::text, staff_id::text, reason, reward_id, source,
                    correlation_id, created_at, prev_hash, row_hash,
                    pg_catalog.to_char(gaming_day, 'YYYY-MM-DD'), ",
            $reverses,
            " FROM loyalty.loyalty_ledger WHERE player_id = $1",
            $tail
        )
    };
}

pub(super) fn load(
    client: &SpiClient<'_>,
    player: pgrx::Uuid,
    up_to: Option<i64>,
) -> Result<Vec<Stored>> {
    let rows = match up_to {
        None => spi::read(client, select_rows!(" ORDER BY seq, id"), &[player.into()])?,
        Some(n) => spi::read(
            client,
            select_rows!(" AND seq <= $2 ORDER BY seq, id"),
            &[player.into(), n.into()],
        )?,
    };
    decode(rows)
}

/// A player's rows as the 0.1.0 upgrade seals them: the ledger has no
/// `reverses_entry_id` or `property_id` yet (the 0.3.0 and 0.4.0 steps add
/// them), and no row reverses another or names a property.
pub(super) fn load_for_sealing(client: &SpiClient<'_>, player: pgrx::Uuid) -> Result<Vec<Stored>> {
    decode(spi::read(
        client,
        select_rows!("NULL::bigint, NULL::text", " ORDER BY seq, id"),
        &[player.into()],
    )?)
}

/// The rows from `seq` on.
fn load_from(client: &SpiClient<'_>, player: pgrx::Uuid, seq: i64) -> Result<Vec<Stored>> {
    decode(spi::read(
        client,
        select_rows!(" AND seq >= $2 ORDER BY seq, id"),
        &[player.into(), seq.into()],
    )?)
}

fn decode(rows: pgrx::spi::SpiTupleTable<'_>) -> Result<Vec<Stored>> {
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
                reverses_entry_id: r.get(24)?,
                property_id: r.get(25)?,
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
pub(super) fn first_break(rows: &[Stored], head_seq: Option<i64>) -> Result<Option<Break>> {
    walk(rows, head_seq, (1, GENESIS.to_string(), i64::MIN))
}

/// [`first_break`] from a verified position: `start` is the seq expected
/// first, the hash it must link to and the id it must follow.
fn walk(
    rows: &[Stored],
    head_seq: Option<i64>,
    start: (i64, String, i64),
) -> Result<Option<Break>> {
    let hashes: HashSet<&str> = rows.iter().map(|s| s.row_hash.as_str()).collect();
    let (mut expected_seq, mut prev, mut prev_id) = start;
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

/// The head the write path stored on player_loyalty (seq, hash), if the
/// player has a row.
fn stored_head(client: &SpiClient<'_>, player: pgrx::Uuid) -> Result<Option<(i64, String)>> {
    let head = spi::read(
        client,
        "SELECT chain_seq, chain_head FROM loyalty.player_loyalty WHERE player_id = $1",
        &[player.into()],
    )?;
    if head.is_empty() {
        return Ok(None);
    }
    let r = head.first();
    Ok(Some((
        r.get::<i64>(1)?.unwrap_or(0),
        r.get::<String>(2)?.unwrap_or_default(),
    )))
}

/// Where the rows verify but their last hash is not the head the write path
/// stored on player_loyalty: the last row was edited and re-hashed.
pub(super) fn head_mismatch(rows: &[Stored], head_seq: i64, head_hash: &str) -> Option<Break> {
    let last = rows.last().map_or(GENESIS, |s| s.row_hash.as_str());
    (last != head_hash).then(|| Break {
        seq: head_seq,
        kind: "edited",
        detail: format!("row seq {head_seq} does not match the head stored on player_loyalty"),
    })
}

/// (entries, head seq from player_loyalty, first break) of one player.
pub fn verify(
    client: &SpiClient<'_>,
    player: pgrx::Uuid,
) -> Result<(i64, Option<i64>, Option<Break>)> {
    let rows = load(client, player, None)?;
    let head = stored_head(client, player)?;
    let head_seq = head.as_ref().map(|(seq, _)| *seq);
    let found = match (first_break(&rows, head_seq)?, head) {
        (None, Some((seq, hash))) => head_mismatch(&rows, seq, &hash),
        (found, _) => found,
    };
    Ok((rows.len() as i64, head_seq, found))
}

/// A player's chain verified from a position an earlier run verified
/// (`seq`, `row_hash`): that row must still carry that hash, and every row
/// after it must link and hash as the write path wrote it, up to the head
/// stored on player_loyalty. Without a position, the whole chain. Returns
/// the first break, or the new position (the head's seq and hash).
pub fn verify_since(
    client: &SpiClient<'_>,
    player: pgrx::Uuid,
    from: Option<(i64, String)>,
) -> Result<std::result::Result<(i64, String), Break>> {
    let (head_seq, head_hash) =
        stored_head(client, player)?.unwrap_or_else(|| (0, GENESIS.to_string()));
    let (rows, found) = match from.filter(|(seq, _)| *seq > 0) {
        None => {
            let rows = load(client, player, None)?;
            let found = first_break(&rows, Some(head_seq))?;
            (rows, found)
        }
        Some((seq, hash)) => {
            let rows = load_from(client, player, seq)?;
            let found = match rows.first() {
                Some(s) if s.row.seq == seq && s.row_hash == hash => {
                    walk(&rows[1..], Some(head_seq), (seq + 1, hash, s.row.id))?
                }
                _ => Some(Break {
                    seq,
                    kind: "edited",
                    detail: format!("row seq {seq} no longer has the hash verified earlier"),
                }),
            };
            (rows, found)
        }
    };
    // the position row, if that is all there is, counts as the last row
    let found = found.or_else(|| head_mismatch(&rows, head_seq, &head_hash));
    Ok(match found {
        Some(b) => Err(b),
        None => Ok((head_seq, head_hash)),
    })
}

/// `verify_ledger_chain_since(p_player_id, p_seq, p_row_hash)`: the
/// incremental check health_check runs on changed players (see
/// [`verify_since`]): ok with the new position, or the first break.
#[pg_extern(security_definer, stable, parallel_safe)]
#[search_path(pg_catalog, loyalty, pg_temp)]
fn verify_ledger_chain_since(
    p_player_id: Option<pgrx::Uuid>,
    p_seq: default!(Option<i64>, "NULL"),
    p_row_hash: default!(Option<&str>, "NULL"),
) -> TableIterator<
    'static,
    (
        name!(ok, bool),
        name!(break_seq, Option<i64>),
        name!(break_kind, Option<String>),
        name!(detail, Option<String>),
        name!(head_seq, Option<i64>),
        name!(head_hash, Option<String>),
    ),
> {
    let row = run(move || {
        auth::require_trusted()?;
        let player = required(p_player_id, "p_player_id")?;
        let from = p_seq.zip(p_row_hash.map(str::to_string));
        Ok(match Spi::connect(|c| verify_since(c, player, from))? {
            Ok((seq, hash)) => (true, None, None, None, Some(seq), Some(hash)),
            Err(b) => (
                false,
                Some(b.seq),
                Some(b.kind.to_string()),
                Some(b.detail),
                None,
                None,
            ),
        })
    });
    TableIterator::once(row)
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
    let row = run(move || {
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
    let rows = run(move || {
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

#[cfg(test)]
pub(super) mod unit {
    use super::*;

    /// A plain row at `seq` (the canonical-JSON test in chain/mod.rs uses it too).
    pub(in crate::ledger::chain) fn row(seq: i64, id: i64) -> Sealed {
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

    /// The last row edited and re-hashed: the rows link, only the head
    /// stored on player_loyalty tells.
    #[test]
    fn a_rehashed_last_row_breaks_the_head() {
        let good = chain(3);
        let head = good[2].row_hash.clone();
        assert_eq!(head_mismatch(&good, 3, &head), None);
        assert_eq!(head_mismatch(&[], 0, GENESIS), None);
        let mut forged = chain(3);
        forged[2].row.points_change = 1_000_000;
        forged[2].row_hash = forged[2].row.hash(&forged[2].prev_hash);
        assert_eq!(first_break(&forged, Some(3)).unwrap(), None);
        assert_eq!(
            head_mismatch(&forged, 3, &head).map(|b| (b.seq, b.kind)),
            Some((3, "edited"))
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
}
