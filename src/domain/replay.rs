//! What a player's ledger says their standing is: the write path's rules
//! (ledger/balance.rs, with `tier_of` and `Standing` of points.rs) applied
//! to their entries in chain order. One home for "derived from the
//! ledger": the health check and `verify_player_balance` compare a stored
//! row with it (a forged tier, credit or retained tier is a finding),
//! `rebuild_player_balance` restores a row to it, and a row the write path
//! has not derived yet (one an upgrade brought) is derived with it.
//!
//! It replays under the settings in force now (ladder, period start,
//! basis): after a ladder or period-start edit a stored standing may
//! differ until the player's next post or a rebuild.

use crate::domain::kinds::Kind;
use crate::domain::points::{period_of, tier_of, Basis, Standing, Tier};
use std::collections::HashMap;

/// The property the upgrade to 0.4.0 made of a one-casino database (and a
/// fresh install seeds): entries written before properties existed carry
/// none, and their gameplay counts there.
pub const FIRST_PROPERTY: &str = "MAIN";

/// One ledger entry, as the replay reads it.
#[derive(Debug, Clone)]
pub struct Entry {
    pub kind: Kind,
    pub points: i64,
    /// `YYYY-MM-DD`: the entry's own gaming day (its property's).
    pub gaming_day: String,
    /// `YYYY-MM-DD`: the enterprise's gaming day of the entry, which
    /// decides its qualification period (the tier rules are the
    /// enterprise's).
    pub period_day: String,
    /// Where it happened (None: an enterprise event, or an entry from
    /// before properties existed).
    pub property: Option<String>,
    /// Microseconds since 2000-01-01 UTC.
    pub created_at: i64,
}

/// The settings the replay applies.
#[derive(Debug, Clone)]
pub struct Rules<'a> {
    pub ladder: &'a [Tier],
    /// The basis in force now.
    pub basis: Basis,
    /// `MM-DD`.
    pub period_start: &'a str,
    /// When the casino last turned the PERIOD basis on (microseconds), and
    /// that instant's period: entries before it were posted under LIFETIME,
    /// and a roll into a period no later than it keeps the tier held then.
    pub switched: Option<(i64, String)>,
    /// The first gaming day of the period the clock is in now.
    pub current_period: String,
    /// The stored row's period: a roll (`roll_tier_period`) may have moved
    /// it past the last entry's without writing one.
    pub stored_period: Option<String>,
}

/// A standing as the ledger gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replayed {
    pub balance: i64,
    pub lifetime: i64,
    pub standing: Standing,
    pub tier: String,
    pub progress: i16,
    /// When the player last earned (microseconds).
    pub last_earned_at: Option<i64>,
    /// The last entry's time (microseconds).
    pub chain_head_at: Option<i64>,
    /// The gaming day and property of the last GAMEPLAY entry, and the
    /// GAMEPLAY points posted at that property on that day.
    pub gameplay_day: Option<String>,
    pub gameplay_property: Option<String>,
    pub gameplay_day_points: i64,
}

/// Replay `entries` (in chain order) under `rules`.
pub fn replay(entries: &[Entry], rules: &Rules) -> Replayed {
    let keep = rules.switched.as_ref().map(|(_, p)| p.as_str());
    let lowest = rules
        .ladder
        .first()
        .map_or_else(|| "BRONZE".to_string(), |t| t.name.clone());
    let mut r = Replayed {
        balance: 0,
        lifetime: 0,
        standing: Standing {
            credits: 0,
            period: None,
            retained: None,
        },
        tier: lowest,
        progress: 0,
        last_earned_at: None,
        chain_head_at: None,
        gameplay_day: None,
        gameplay_property: None,
        gameplay_day_points: 0,
    };
    // GAMEPLAY points per property and gaming day
    let mut played: HashMap<(String, String), i64> = HashMap::new();
    for e in entries {
        let basis = match (&rules.basis, &rules.switched) {
            (Basis::Period, Some((at, _))) if e.created_at < *at => Basis::Lifetime,
            (b, _) => *b,
        };
        let period = period_of(&e.period_day, rules.period_start);
        // Under PERIOD a year that ended rolls in a step of its own first.
        if basis == Basis::Period && !r.standing.is_in(&period) {
            r.standing = r.standing.rolled_keeping(&period, rules.ladder, keep);
            (r.tier, r.progress) = tier_of(basis, r.lifetime, &r.standing, None, rules.ladder);
        }
        let held = r.standing.is_in(&period).then(|| r.tier.clone());
        r.standing = r
            .standing
            .rolled_keeping(&period, rules.ladder, keep)
            .credited(e.kind.tier_credit(e.points));
        r.lifetime = r.lifetime.saturating_add(e.kind.lifetime_credit(e.points));
        (r.tier, r.progress) = tier_of(
            basis,
            r.lifetime,
            &r.standing,
            held.as_deref(),
            rules.ladder,
        );
        if basis == Basis::Lifetime {
            r.standing.retained = Some(r.tier.clone());
        }
        if e.kind.counts_in_balance() {
            r.balance = r.balance.saturating_add(e.points);
        }
        if e.kind.earns(e.points) {
            r.last_earned_at = Some(e.created_at);
        }
        if e.kind == Kind::Gameplay {
            let here = e.property.as_deref().unwrap_or(FIRST_PROPERTY).to_string();
            let sum = played
                .entry((here.clone(), e.gaming_day.clone()))
                .or_insert(0);
            *sum = sum.saturating_add(e.points);
            r.gameplay_day_points = *sum;
            r.gameplay_day = Some(e.gaming_day.clone());
            r.gameplay_property = Some(here);
        }
        r.chain_head_at = Some(e.created_at);
    }
    // A roll since the last entry (roll_tier_period) moved the stored period
    // on; one later than the clock's period is no roll's.
    if let Some(p) = rules.stored_period.as_deref() {
        if r.standing.period.as_deref().is_some_and(|last| last < p)
            && p <= rules.current_period.as_str()
        {
            let held = None;
            r.standing = r.standing.rolled_keeping(p, rules.ladder, keep);
            (r.tier, r.progress) =
                tier_of(rules.basis, r.lifetime, &r.standing, held, rules.ladder);
            if rules.basis == Basis::Lifetime {
                r.standing.retained = Some(r.tier.clone());
            }
        }
    }
    r
}

#[cfg(test)]
mod unit {
    use super::*;

    fn ladder() -> Vec<Tier> {
        [
            ("BRONZE", 0),
            ("SILVER", 10_000),
            ("GOLD", 50_000),
            ("PLATINUM", 100_000),
        ]
        .into_iter()
        .map(|(n, t)| Tier {
            name: n.into(),
            threshold: t,
        })
        .collect()
    }

    fn e(kind: Kind, points: i64, day: &str, at: i64) -> Entry {
        Entry {
            kind,
            points,
            gaming_day: day.into(),
            period_day: day.into(),
            property: None,
            created_at: at,
        }
    }

    fn rules<'a>(l: &'a [Tier], basis: Basis, current: &str) -> Rules<'a> {
        Rules {
            ladder: l,
            basis,
            period_start: "01-01",
            switched: None,
            current_period: current.into(),
            stored_period: None,
        }
    }

    #[test]
    fn lifetime_basis_keeps_the_tier_held_as_retained() {
        let l = ladder();
        let r = replay(
            &[
                e(Kind::Gameplay, 60_000, "2026-03-01", 1),
                e(Kind::Redemption, -50_000, "2026-03-02", 2),
            ],
            &rules(&l, Basis::Lifetime, "2026-01-01"),
        );
        assert_eq!(r.balance, 10_000);
        assert_eq!(r.lifetime, 60_000);
        assert_eq!(r.tier, "GOLD");
        assert_eq!(r.standing.credits, 60_000);
        assert_eq!(r.standing.retained.as_deref(), Some("GOLD"));
        assert_eq!(r.last_earned_at, Some(1));
        assert_eq!(r.chain_head_at, Some(2));
        assert_eq!(r.gameplay_day.as_deref(), Some("2026-03-01"));
    }

    #[test]
    fn a_negative_increment_takes_the_credits_back() {
        let l = ladder();
        let r = replay(
            &[
                e(Kind::DirectIncrement, 150_000, "2026-03-01", 1),
                e(Kind::DirectIncrement, -150_000, "2026-03-01", 2),
            ],
            &rules(&l, Basis::Period, "2026-01-01"),
        );
        assert_eq!(r.balance, 0);
        assert_eq!(r.standing.credits, 0);
        // inside the period the tier held is kept; the roll takes it
        assert_eq!(r.tier, "PLATINUM");
        let next = Rules {
            stored_period: Some("2027-01-01".into()),
            current_period: "2027-01-01".into(),
            ..rules(&l, Basis::Period, "2027-01-01")
        };
        let rolled = replay(
            &[
                e(Kind::DirectIncrement, 150_000, "2026-03-01", 1),
                e(Kind::DirectIncrement, -150_000, "2026-03-01", 2),
            ],
            &next,
        );
        assert_eq!(rolled.tier, "BRONZE");
        assert_eq!(rolled.standing.retained.as_deref(), Some("BRONZE"));
    }

    #[test]
    fn a_spend_after_the_year_rolls_first_and_records_no_fall() {
        let l = ladder();
        let r = replay(
            &[
                e(Kind::Gameplay, 60_000, "2026-03-01", 1),
                e(Kind::Redemption, -1_000, "2027-02-01", 2),
            ],
            &rules(&l, Basis::Period, "2027-01-01"),
        );
        // the roll kept GOLD (last year's credits), the spend changed nothing
        assert_eq!(r.tier, "GOLD");
        assert_eq!(r.standing.credits, 0);
        assert_eq!(r.standing.period.as_deref(), Some("2027-01-01"));
        assert_eq!(r.standing.retained.as_deref(), Some("GOLD"));
    }

    #[test]
    fn turning_period_on_keeps_the_lifetime_tier_through_that_year() {
        let l = ladder();
        // GOLD by lifetime points earned in 2024; 2025 earned only 100
        let history = [
            e(Kind::Gameplay, 60_000, "2024-03-01", 0),
            e(Kind::Gameplay, 100, "2025-03-01", 1),
            e(Kind::Gameplay, 100, "2026-03-01", 3),
        ];
        // switched at instant 2, in 2026
        let switched = Rules {
            switched: Some((2, "2026-01-01".into())),
            ..rules(&l, Basis::Period, "2026-01-01")
        };
        let r = replay(&history, &switched);
        // GOLD stays through 2026 (the 2025 credits alone reach BRONZE)
        assert_eq!(r.tier, "GOLD");
        assert_eq!(r.standing.credits, 100);
        assert_eq!(r.standing.retained.as_deref(), Some("GOLD"));
        // a year later the 100 credits of 2026 keep BRONZE
        let later = Rules {
            stored_period: Some("2027-01-01".into()),
            current_period: "2027-01-01".into(),
            ..switched
        };
        assert_eq!(replay(&history, &later).tier, "BRONZE");
    }

    #[test]
    fn no_entries_is_the_lowest_tier_and_nothing_else() {
        let l = ladder();
        let r = replay(&[], &rules(&l, Basis::Lifetime, "2026-01-01"));
        assert_eq!(r.tier, "BRONZE");
        assert_eq!(r.standing.period, None);
        assert_eq!(r.standing.retained, None);
        assert_eq!(r.last_earned_at, None);
    }

    #[test]
    fn reconciliations_stay_out_of_the_balance() {
        let l = ladder();
        let r = replay(
            &[
                e(Kind::ManualBonus, 500, "2026-03-01", 1),
                e(Kind::Reconciliation, 77, "2026-03-01", 2),
            ],
            &rules(&l, Basis::Lifetime, "2026-01-01"),
        );
        assert_eq!(r.balance, 500);
        assert_eq!(r.lifetime, 500);
    }
}
