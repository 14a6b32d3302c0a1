//! The invariants (SPEC §21), from the rows and from the model, at every
//! checkpoint (with the sessions paused) and at the end.

use crate::model::{Acked, Model};
use postgres::Client;

/// One invariant's result: its name, and what breaks it (empty: holds).
pub struct Verdict {
    pub name: &'static str,
    pub broken: Vec<String>,
}

fn rows(c: &mut Client, sql: &str) -> Vec<String> {
    match c.query(sql, &[]) {
        Ok(rows) => rows.iter().map(|r| r.get::<_, String>(0)).collect(),
        Err(e) => vec![format!("the check itself failed: {e}")],
    }
}

/// Every invariant that the rows alone decide.
pub fn from_rows(c: &mut Client) -> Vec<Verdict> {
    let q = |c: &mut Client, name: &'static str, sql: &str| Verdict {
        name,
        broken: rows(c, sql),
    };
    vec![
        q(
            c,
            "balance = ledger, lifetime = earned (every player)",
            "SELECT player_id::text || ' balance ' || current_balance || ' ledger ' || ledger_balance
               FROM loyalty.verify_all_balances()",
        ),
        q(
            c,
            "available >= 0",
            "SELECT player_id::text FROM loyalty.player_loyalty WHERE held_points > current_balance",
        ),
        q(
            c,
            "held points = the live holds",
            "SELECT p.player_id::text || ' held ' || p.held_points || ' live ' || coalesce(h.live, 0)
               FROM loyalty.player_loyalty p
               LEFT JOIN (SELECT player_id, sum(points) AS live FROM loyalty.hold
                           WHERE status IN ('PENDING_APPROVAL', 'ACTIVE') GROUP BY player_id) h
                 ON h.player_id = p.player_id
              WHERE p.held_points <> coalesce(h.live, 0)",
        ),
        q(
            c,
            "tier and tier standing = the ledger's replay",
            "SELECT p.player_id::text || ' ' || s.standing::text || ' ledger ' || s.ledger_standing::text
               FROM loyalty.player_loyalty p, loyalty.standing_check(p.player_id) s WHERE NOT s.ok",
        ),
        q(
            c,
            "each slip paid at most once",
            "SELECT rating_slip_id::text FROM loyalty.loyalty_ledger WHERE transaction_type = 'GAMEPLAY'
              GROUP BY rating_slip_id HAVING count(*) > 1",
        ),
        q(
            c,
            "a held or rejected slip never paid, except through its approval",
            "SELECT s.id::text FROM loyalty.rating_slip s
              WHERE s.approval_status IN ('HELD', 'REJECTED')
                AND EXISTS (SELECT 1 FROM loyalty.loyalty_ledger l
                             WHERE l.player_id = s.player_id AND l.idempotency_key = 'gameplay:' || s.id)",
        ),
        q(
            c,
            "each voucher paid to one player at most",
            "SELECT reward_id FROM loyalty.loyalty_ledger WHERE reward_id IS NOT NULL
              GROUP BY reward_id HAVING count(DISTINCT player_id) > 1 OR count(*) > 1",
        ),
        q(
            c,
            "each hold posts at most once; a voided or expired hold never",
            "SELECT h.hold_id::text FROM loyalty.hold h
              WHERE (SELECT count(*) FROM loyalty.loyalty_ledger l
                      WHERE l.player_id = h.player_id AND l.idempotency_key = 'redemption:' || h.hold_id)
                    > CASE WHEN h.status = 'CAPTURED' THEN 1 ELSE 0 END",
        ),
        q(
            c,
            "each redemption reversed at most once",
            "SELECT reverses_entry_id::text FROM loyalty.loyalty_ledger WHERE reverses_entry_id IS NOT NULL
              GROUP BY reverses_entry_id HAVING count(*) > 1",
        ),
        q(
            c,
            "no payment but an approval takes a player's gameplay day above the daily threshold in force",
            // the threshold in force when the entry was written: the last
            // change before it, and any made within two seconds around it (a
            // call that began just before a change commits may judge by
            // either value)
            "WITH t AS (SELECT a.at, (a.after ->> 'daily_approval_threshold_points')::bigint AS thr
                          FROM loyalty.admin_audit a WHERE a.action = 'configure'),
                  e AS (SELECT l.id, l.player_id, l.source, l.created_at, l.points_change, l.gaming_day,
                               l.correlation_id,
                               sum(l.points_change) OVER (PARTITION BY l.player_id, l.property_id, l.gaming_day
                                                          ORDER BY l.seq) AS day
                          FROM loyalty.loyalty_ledger l WHERE l.transaction_type = 'GAMEPLAY')
             SELECT e.id || ' of ' || e.player_id || ': ' || e.day || ' in the day (' || e.points_change
                    || ' by ' || e.source || ' ' || e.correlation_id || ', day ' || e.gaming_day
                    || ' at ' || e.created_at || ')'
               FROM e
              WHERE e.source <> 'approve_slip'
                AND e.day > (SELECT max(t.thr) FROM t
                              WHERE t.at <= e.created_at + interval '2 seconds'
                                AND t.at >= coalesce((SELECT max(p.at) FROM t p
                                                       WHERE p.at <= e.created_at - interval '2 seconds'),
                                                     '-infinity'))",
        ),
        q(
            c,
            "every slip, hold and entry of a floor operation names the property it happened at",
            "SELECT 'entry ' || l.id || ' ' || l.transaction_type FROM loyalty.loyalty_ledger l
              WHERE l.property_id IS NULL
                AND l.transaction_type IN ('GAMEPLAY', 'MANUAL_BONUS', 'ADJUSTMENT', 'REDEMPTION', 'REDEMPTION_REVERSAL')
             UNION ALL
             SELECT 'slip ' || s.id FROM loyalty.rating_slip s WHERE s.property_id = 'MAIN'
             UNION ALL
             SELECT 'hold ' || h.hold_id FROM loyalty.hold h WHERE h.property_id = 'MAIN'",
        ),
        q(
            c,
            "every hash chain verifies",
            "SELECT player_id::text || ' ' || coalesce(break_kind, '') FROM loyalty.verify_all_chains()",
        ),
    ]
}

/// Each ledger entry's gaming day is its property's, in the property's time
/// zone (the enterprise's for an entry with none). Run as the owner: the
/// settings behind the day are the owner's to read.
pub fn gaming_days(c: &mut Client) -> Verdict {
    let broken = match c.batch_execute("RESET ROLE") {
        Ok(()) => rows(
            c,
            "SELECT l.id || ' at ' || coalesce(l.property_id, '-') || ': ' || l.gaming_day || ', not '
                    || coalesce(loyalty.property_gaming_day(l.property_id, l.created_at),
                                loyalty.gaming_day(l.created_at))
               FROM loyalty.loyalty_ledger l
              WHERE l.gaming_day <> coalesce(loyalty.property_gaming_day(l.property_id, l.created_at),
                                             loyalty.gaming_day(l.created_at))",
        ),
        Err(e) => vec![format!("the check itself failed: {e}")],
    };
    let _ = c.batch_execute("SET ROLE service_role");
    Verdict {
        name:
            "each entry's gaming day is its property's (the enterprise's for an enterprise event)",
        broken,
    }
}

/// Every acknowledged call is in the rows exactly as it said; every refused
/// reward (a voucher no call acknowledged) left no row.
pub fn from_model(c: &mut Client, m: &Model) -> Verdict {
    let mut broken = Vec::new();
    for a in &m.acked {
        let (sql, args): (&str, Vec<String>) = match a {
            Acked::Paid { slip, entry, .. } => (
                "SELECT count(*)::text FROM loyalty.loyalty_ledger
                  WHERE rating_slip_id = $1::text::uuid AND transaction_type = 'GAMEPLAY' AND id = $2::text::bigint",
                vec![slip.clone(), entry.to_string()],
            ),
            Acked::Reward {
                entry,
                reward_id,
                points,
            } => (
                "SELECT count(*)::text FROM loyalty.loyalty_ledger
                  WHERE id = $1::text::bigint AND reward_id = $2 AND points_change = $3::text::bigint",
                vec![entry.to_string(), reward_id.clone(), points.to_string()],
            ),
            Acked::Captured { hold, entry } => (
                "SELECT count(*)::text FROM loyalty.hold
                  WHERE hold_id = $1::text::uuid AND status = 'CAPTURED' AND ledger_entry_id = $2::text::bigint",
                vec![hold.clone(), entry.to_string()],
            ),
            Acked::Recovered {
                correlation,
                recovered,
                ..
            } => (
                "SELECT (count(*) = $2::text::bigint)::int::text FROM loyalty.loyalty_ledger
                  WHERE correlation_id = $1 AND transaction_type = 'GAMEPLAY'",
                vec![correlation.clone(), recovered.to_string()],
            ),
            Acked::Voided { hold } => (
                "SELECT count(*)::text FROM loyalty.hold WHERE hold_id = $1::text::uuid AND status = 'VOIDED'",
                vec![hold.clone()],
            ),
        };
        let params: Vec<&(dyn postgres::types::ToSql + Sync)> = args
            .iter()
            .map(|a| a as &(dyn postgres::types::ToSql + Sync))
            .collect();
        let found: String = c
            .query_one(sql, &params)
            .map(|r| r.get(0))
            .unwrap_or_else(|e| e.to_string());
        if found != "1" {
            broken.push(format!("acknowledged but not in the rows: {a:?}"));
        }
    }
    for v in &m.refused_vouchers {
        let n: i64 = c
            .query_one(
                "SELECT count(*) FROM loyalty.loyalty_ledger WHERE reward_id = $1",
                &[v],
            )
            .map(|r| r.get(0))
            .unwrap_or(-1);
        if n != 0 {
            broken.push(format!(
                "refused, yet the ledger pays voucher {v} ({n} rows)"
            ));
        }
    }
    Verdict {
        name: "every acknowledged call present as acknowledged, every refused one absent",
        broken,
    }
}

/// A setting changed is in force for every call sent after the change was
/// acknowledged: each acknowledged payment (but an approval's) leaves its
/// player's gameplay day at most the highest threshold the harness had
/// seen committed between sending the call and its answer. (The rows'
/// own times cannot say this: an entry's time is its transaction's start,
/// and a transaction may be held open while a setting changes.)
pub fn thresholds_followed(c: &mut Client, m: &Model) -> Verdict {
    let (mut entries, mut ceilings) = (Vec::new(), Vec::new());
    let (mut correlations, mut bulk_ceilings) = (Vec::new(), Vec::new());
    for a in &m.acked {
        match a {
            Acked::Paid { entry, ceiling, .. } => {
                entries.push(*entry);
                ceilings.push(*ceiling);
            }
            Acked::Recovered {
                correlation,
                ceiling,
                ..
            } => {
                correlations.push(correlation.clone());
                bulk_ceilings.push(*ceiling);
            }
            _ => {}
        }
    }
    let broken = c
        .query(
            "WITH a AS (SELECT l.id, a.ceiling
                          FROM unnest($1::bigint[], $2::bigint[]) AS a(entry, ceiling)
                          JOIN loyalty.loyalty_ledger l ON l.id = a.entry
                        UNION ALL
                        SELECT l.id, b.ceiling
                          FROM unnest($3::text[], $4::bigint[]) AS b(correlation, ceiling)
                          JOIN loyalty.loyalty_ledger l ON l.correlation_id = b.correlation
                                                       AND l.transaction_type = 'GAMEPLAY')
             SELECT l.id || ' of ' || l.player_id || ': ' || d.day || ' in the day, above ' || a.ceiling
                    || ' (' || l.points_change || ' by ' || l.source || ' ' || l.correlation_id
                    || ', day ' || l.gaming_day || ' at ' || l.created_at || '; slip '
                    || coalesce((SELECT r.start_time || ' to ' || r.end_time || ' ' || coalesce(r.approval_status, '-')
                                   FROM loyalty.rating_slip r WHERE r.id = l.rating_slip_id), '-')
                    || '; the day so far, seq:points:source:time: '
                    || (SELECT string_agg(g.seq || ':' || g.points_change || ':' || g.source || ':' || g.created_at::time,
                                          ' ' ORDER BY g.seq)
                          FROM loyalty.loyalty_ledger g
                         WHERE g.player_id = l.player_id AND g.gaming_day = l.gaming_day
                           AND g.property_id IS NOT DISTINCT FROM l.property_id
                           AND g.transaction_type = 'GAMEPLAY' AND g.seq <= l.seq)
                    || '; threshold changes: '
                    || coalesce((SELECT string_agg((x.after ->> 'daily_approval_threshold_points') || '@' || x.at::time,
                                                   ' ' ORDER BY x.at)
                                   FROM loyalty.admin_audit x
                                  WHERE x.action = 'configure'
                                    AND x.at BETWEEN l.created_at - interval '5 seconds' AND l.created_at + interval '5 seconds'),
                                '-') || ')'
               FROM a JOIN loyalty.loyalty_ledger l ON l.id = a.id
              CROSS JOIN LATERAL (SELECT sum(g.points_change) AS day FROM loyalty.loyalty_ledger g
                                   WHERE g.player_id = l.player_id AND g.gaming_day = l.gaming_day
                                     AND g.property_id IS NOT DISTINCT FROM l.property_id
                                     AND g.transaction_type = 'GAMEPLAY' AND g.seq <= l.seq) d
              WHERE l.source <> 'approve_slip' AND d.day > a.ceiling
              ORDER BY l.id",
            &[&entries, &ceilings, &correlations, &bulk_ceilings],
        )
        .map(|rows| rows.iter().map(|r| r.get::<_, String>(0)).collect())
        .unwrap_or_else(|e| vec![e.to_string()]);
    Verdict {
        name: "a payment sent after a threshold change obeys it (or a later one)",
        broken,
    }
}
