//! `reverse_redemption`: the comp was moved to a cash charge, so its points
//! come back. One REDEMPTION_REVERSAL entry of +points under the key
//! `reversal:<entry>` (at most once per redemption), decided by a second
//! person: staff with loyalty:approve who are not the player and neither
//! made nor captured the hold. It is a positive entry, so it posts however
//! the balance moved since; it never changes lifetime points or the tier.

// pgrx reads a TableIterator's columns from the signature itself.
#![allow(clippy::type_complexity)]

use crate::auth::{self, Permission, Who};
use crate::domain::error::{required, run, Code, LoyaltyError, Result};
use crate::domain::kinds::Kind;
use crate::ledger::{self, Entry};
use crate::pg::log::{self, Event};
use crate::pg::spi;
use pgrx::prelude::*;

/// A captured redemption: whose, which hold, who made and captured it.
struct Redemption {
    player: pgrx::Uuid,
    hold_id: pgrx::Uuid,
    held_by: pgrx::Uuid,
    captured_by: Option<pgrx::Uuid>,
    points: i64,
    /// Where the comp was given (the hold's property).
    property: String,
}

fn find(entry_id: i64) -> Result<Redemption> {
    Spi::connect(|c| {
        let rows = spi::read(
            c,
            "SELECT h.player_id, h.hold_id, h.staff_id, l.staff_id, l.points_change, h.property_id::text
               FROM loyalty.hold h
               JOIN loyalty.loyalty_ledger l ON l.player_id = h.player_id AND l.id = h.ledger_entry_id
              WHERE h.ledger_entry_id = $1 AND l.transaction_type = 'REDEMPTION'",
            &[entry_id.into()],
        )?;
        if rows.is_empty() {
            return Err(LoyaltyError::new(
                Code::EntryNotFound,
                format!("no redemption entry {entry_id}"),
            ));
        }
        let r = rows.first();
        let missing = || LoyaltyError::validation("redemption without a player or hold");
        Ok(Redemption {
            player: r.get(1)?.ok_or_else(missing)?,
            hold_id: r.get(2)?.ok_or_else(missing)?,
            held_by: r.get(3)?.ok_or_else(missing)?,
            captured_by: r.get(4)?,
            points: r.get::<i64>(5)?.unwrap_or(0),
            property: r.get::<String>(6)?.unwrap_or_default(),
        })
    })
}

/// Give a captured redemption back (reference §15).
#[pg_extern(security_definer, volatile, parallel_unsafe)]
#[search_path(pg_catalog, loyalty, pg_temp)]
fn reverse_redemption(
    p_ledger_entry_id: Option<i64>,
    p_reason: Option<&str>,
    p_staff_id: default!(Option<pgrx::Uuid>, "NULL"),
    p_correlation_id: default!(Option<&str>, "NULL"),
    p_property_id: default!(Option<&str>, "NULL"),
) -> TableIterator<
    'static,
    (
        name!(ledger_entry_id, i64),
        name!(reverses_entry_id, i64),
        name!(hold_id, pgrx::Uuid),
        name!(player_id, pgrx::Uuid),
        name!(points_change, i64),
        name!(balance_before, i64),
        name!(balance_after, i64),
        name!(idempotent_hit, bool),
        name!(correlation_id, String),
    ),
> {
    let row = run(move || {
        let opened = auth::open(
            Who::PersonAt(Permission::Approve, p_staff_id),
            p_correlation_id,
        )?;
        let entry_id = required(p_ledger_entry_id, "p_ledger_entry_id")?;
        let reason = crate::domain::reason::check(p_reason)?;
        let r = find(entry_id)?;
        // given back where it was spent
        opened.at_started(&r.property, p_property_id)?;
        let auth::Opened {
            caller: person,
            correlation_id,
            ..
        } = opened;
        person.not_for_self(r.player, "reverse a redemption")?;
        let uid = person.uid();
        if uid == Some(r.held_by) || uid.is_some() && uid == r.captured_by {
            return Err(LoyaltyError::new(
                Code::Forbidden,
                "whoever made or captured a hold may not reverse its redemption",
            ));
        }
        let posted = ledger::post(&Entry {
            player_id: r.player,
            idempotency_key: format!("reversal:{entry_id}"),
            kind: Kind::RedemptionReversal,
            points: -r.points,
            rating_slip_id: None,
            visit_id: None,
            session_id: None,
            reason: Some(&reason),
            source: "reverse_redemption",
            staff_id: uid,
            reward_id: None,
            correlation_id: &correlation_id,
            restate: None,
            held_change: 0,
            reverses_entry_id: Some(entry_id),
            property: Some(&r.property),
            under_lock: None,
        })?;
        if !posted.idempotent_hit {
            log::emit(
                Event::RedemptionReversed,
                &correlation_id,
                Some(&r.player.to_string()),
                crate::fields! {
                    "ledger_entry_id" => posted.entry_id,
                    "reverses_entry_id" => entry_id,
                    "hold_id" => r.hold_id.to_string(),
                    "points" => posted.points_change,
                    "staff_id" => uid.map(|u| u.to_string()),
                    "balance_after" => posted.balance_after,
                },
            );
            Spi::connect(|c| {
                super::hold_notification(
                    c,
                    r.player,
                    Some(posted.entry_id),
                    &r.property,
                    serde_json::json!({
                        "event": Event::RedemptionReversed.name(),
                        "hold_id": r.hold_id.to_string(),
                        "points": posted.points_change,
                        "reverses_entry_id": entry_id,
                    }),
                )
            })?;
        }
        Ok((
            posted.entry_id,
            entry_id,
            r.hold_id,
            r.player,
            posted.points_change,
            posted.balance_before,
            posted.balance_after,
            posted.idempotent_hit,
            correlation_id,
        ))
    });
    TableIterator::once(row)
}
