//! Chain heads: players' last `seq` and `row_hash`, a page at a time with
//! one digest per page, an anchor an operator stores outside the database,
//! and the check that nothing before an anchored head changed.

// pgrx reads a TableIterator's columns from the signature itself.
#![allow(clippy::type_complexity)]

use super::verify;
use crate::auth;
use crate::domain::error::{required, run, LoyaltyError, Result};
use crate::domain::keys;
use crate::pg::spi;
use pgrx::prelude::*;
use pgrx::spi::SpiClient;
use serde_json::{json, Value};

/// Most heads one page carries.
pub const MAX_PAGE: i32 = 100_000;

/// Up to `limit` chain heads after `after`, in player order: each player's
/// last ledger row (from the ledger itself, not the stored head).
fn heads(client: &SpiClient<'_>, after: Option<pgrx::Uuid>, limit: i32) -> Result<Vec<Value>> {
    let rows = spi::read(
        client,
        "SELECT p.player_id::text, l.seq, l.row_hash
           FROM loyalty.player_loyalty p
           CROSS JOIN LATERAL (SELECT seq, row_hash FROM loyalty.loyalty_ledger l
                                WHERE l.player_id = p.player_id ORDER BY seq DESC LIMIT 1) l
          WHERE $1::uuid IS NULL OR p.player_id > $1
          ORDER BY p.player_id LIMIT $2",
        &[after.into(), limit.into()],
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

/// One page of chain heads (players after `p_after`, at most `p_limit`)
/// with a digest over the page: an anchor an operator stores outside the
/// database, to check later with `verify_chain_heads`. `next_after` is the
/// `p_after` of the next page (null after the last), so no single value
/// grows with the number of players.
#[pg_extern(security_definer, stable, parallel_safe)]
#[search_path(pg_catalog, loyalty, pg_temp)]
fn ledger_chain_heads(
    p_after: default!(Option<pgrx::Uuid>, "NULL"),
    p_limit: default!(Option<i32>, "10000"),
) -> pgrx::JsonB {
    let doc = run(move || {
        auth::require_trusted()?;
        let limit = p_limit.unwrap_or(10_000);
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(LoyaltyError::validation(format!(
                "p_limit must be between 1 and {MAX_PAGE}"
            )));
        }
        let page = Spi::connect(|c| heads(c, p_after, limit))?;
        let next_after = match page.last() {
            Some(last) if page.len() == limit as usize => last.get("player_id").cloned(),
            _ => None,
        };
        let heads = Value::Array(page);
        let digest = digest(&heads)?;
        Ok(json!({
            "taken_at": crate::pg::log::iso8601_now(),
            "after": p_after.map(|u| u.to_string()),
            "players": heads.as_array().map(Vec::len).unwrap_or(0),
            "heads": heads,
            "digest": digest,
            "next_after": next_after,
        }))
    });
    pgrx::JsonB(doc)
}

/// Prove that nothing before the given heads changed: each player's chain
/// up to the anchored `seq` verifies and ends in the anchored `row_hash`,
/// and the page's digest matches its heads. Takes one page of
/// `ledger_chain_heads` at a time. One row per problem.
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
    let rows = run(move || {
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
                        format!(
                            "malformed head: {}",
                            crate::domain::error::echo(&h.to_string())
                        ),
                    ));
                    continue;
                };
                let rows = verify::load(c, player, Some(seq))?;
                if let Some(b) = verify::first_break(&rows, None)? {
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
