//! Ledger transaction kinds: the one list of them, and what each means.
//! The ledger's CHECKs on `transaction_type` and `event_type` call
//! [`is_ledger_kind`] and [`is_ledger_event`], so this file is the only
//! place the kinds are listed. (A function call is also what PostgreSQL
//! re-reads cheapest: it parses every CHECK again for each insert, and a
//! literal `IN (...)` list is a serialized array it re-parses byte by byte.)

use pgrx::prelude::*;

/// What a ledger entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Points a rating slip earned (accrual, recovery, approval).
    Gameplay,
    /// A positive manual reward.
    ManualBonus,
    /// A negative manual reward.
    Adjustment,
    /// An operator's repair of a drifted balance (`rebuild_player_balance`):
    /// moves the stored balance back to what the ledger sums to, so it is
    /// itself left out of that sum.
    Reconciliation,
    /// Points spent on a comp: the capture of a hold (negative).
    Redemption,
    /// A redemption given back (the comp was charged in cash instead):
    /// positive, linked to the entry it reverses.
    RedemptionReversal,
    /// Points that lapsed after a stretch with no earning (negative: the
    /// available points; held points stay held).
    Expiry,
    /// A trusted back end's direct change of a balance
    /// (`increment_player_loyalty`): positive earns like a manual bonus,
    /// negative takes tier credits like an adjustment.
    DirectIncrement,
}

impl Kind {
    pub const ALL: [Kind; 8] = [
        Kind::Gameplay,
        Kind::ManualBonus,
        Kind::Adjustment,
        Kind::Reconciliation,
        Kind::Redemption,
        Kind::RedemptionReversal,
        Kind::Expiry,
        Kind::DirectIncrement,
    ];

    /// The event a ledger entry of this kind records.
    pub fn event_type(self) -> &'static str {
        match self {
            Kind::Gameplay => "RATING_SLIP_COMPLETED",
            Kind::ManualBonus | Kind::Adjustment => "POINTS_UPDATE_REQUESTED",
            Kind::Reconciliation => "BALANCE_RECONCILED",
            Kind::Redemption => "POINTS_REDEEMED",
            Kind::RedemptionReversal => "REDEMPTION_REVERSED",
            Kind::Expiry => "POINTS_EXPIRED",
            Kind::DirectIncrement => "BALANCE_INCREMENTED",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Gameplay => "GAMEPLAY",
            Kind::ManualBonus => "MANUAL_BONUS",
            Kind::Adjustment => "ADJUSTMENT",
            Kind::Reconciliation => "RECONCILIATION",
            Kind::Redemption => "REDEMPTION",
            Kind::RedemptionReversal => "REDEMPTION_REVERSAL",
            Kind::Expiry => "EXPIRY",
            Kind::DirectIncrement => "DIRECT_INCREMENT",
        }
    }

    /// The kind a `transaction_type` names, if any.
    pub fn named(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// The kind of a manual reward of `points` (positive: bonus).
    pub fn manual(points: i64) -> Kind {
        if points > 0 {
            Kind::ManualBonus
        } else {
            Kind::Adjustment
        }
    }

    /// Whether entries of this kind count toward the manual-reward rate
    /// limit and frequency alert: what staff hand out by hand, whoever else
    /// (an approver, an operator) appears in `staff_id` on other kinds.
    pub fn is_manual_reward(self) -> bool {
        matches!(self, Kind::ManualBonus | Kind::Adjustment)
    }

    /// Whether entries of this kind are points the player gained or lost
    /// (summed into the balance the ledger says a player has). A
    /// reconciliation only brings the stored balance back to that sum.
    pub fn counts_in_balance(self) -> bool {
        !matches!(self, Kind::Reconciliation)
    }

    /// Tier credits an entry of this kind and `points` is worth under the
    /// period basis (reference §16): earning adds, a negative adjustment
    /// takes away; spending, giving back, expiry and repairs never count.
    pub fn tier_credit(self, points: i64) -> i64 {
        match self {
            Kind::Gameplay | Kind::ManualBonus => points.max(0),
            Kind::Adjustment => points.min(0),
            Kind::DirectIncrement => points,
            _ => 0,
        }
    }

    /// Whether an entry of this kind and `points` is points earned: it adds
    /// to lifetime points (and so to the tier) and restarts the inactivity
    /// clock. Spending, giving a spend back and repairs never do
    /// (reference §15).
    pub fn earns(self, points: i64) -> bool {
        match self {
            Kind::Gameplay | Kind::ManualBonus => true,
            Kind::DirectIncrement => points > 0,
            _ => false,
        }
    }

    /// Lifetime points an entry of this kind and `points` adds.
    pub fn lifetime_credit(self, points: i64) -> i64 {
        if self.earns(points) {
            points.max(0)
        } else {
            0
        }
    }
}

/// `loyalty.is_ledger_kind(text)`: whether a `transaction_type` is one of
/// the kinds (the `loyalty.ledger_kind` domain's CHECK).
#[pg_extern(immutable, parallel_safe, strict)]
pub fn is_ledger_kind(p_kind: &str) -> bool {
    Kind::named(p_kind).is_some()
}

/// `loyalty.is_ledger_event(text)`: whether an `event_type` is one a kind
/// records (the `loyalty.ledger_event` domain's CHECK).
#[pg_extern(immutable, parallel_safe, strict)]
pub fn is_ledger_event(p_event: &str) -> bool {
    Kind::ALL.iter().any(|k| k.event_type() == p_event)
}

/// `loyalty.lifetime_credit(kind, points)`: the lifetime points an entry
/// adds; the runbooks, the health check and statements sum lifetime points
/// with it, so the rule has one home.
#[pg_extern(immutable, parallel_safe, strict)]
pub fn lifetime_credit(p_kind: &str, p_points: i64) -> i64 {
    Kind::named(p_kind).map_or(0, |k| k.lifetime_credit(p_points))
}

extension_sql!(
    r#"
ALTER DOMAIN loyalty.ledger_kind ADD CONSTRAINT ledger_kind_check CHECK (loyalty.is_ledger_kind(VALUE));
ALTER DOMAIN loyalty.ledger_event ADD CONSTRAINT ledger_event_check CHECK (loyalty.is_ledger_event(VALUE));
"#,
    name = "ledger_kind_checks",
    requires = ["schema", is_ledger_kind, is_ledger_event]
);

/// The kinds left out of the ledger's balance sum, as SQL text values (the
/// verification runbooks and the health check filter on them).
pub fn outside_balance_kinds() -> Vec<&'static str> {
    Kind::ALL
        .iter()
        .filter(|k| !k.counts_in_balance())
        .map(|k| k.as_str())
        .collect()
}

/// The kinds counted by the manual-reward rate limit, as SQL text values.
pub fn manual_reward_kinds() -> Vec<&'static str> {
    Kind::ALL
        .iter()
        .filter(|k| k.is_manual_reward())
        .map(|k| k.as_str())
        .collect()
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn manual_rewards_are_bonus_and_adjustment_only() {
        assert_eq!(manual_reward_kinds(), vec!["MANUAL_BONUS", "ADJUSTMENT"]);
        assert_eq!(Kind::manual(5), Kind::ManualBonus);
        assert_eq!(Kind::manual(-5), Kind::Adjustment);
        assert!(!Kind::Gameplay.is_manual_reward());
        assert!(!Kind::Reconciliation.is_manual_reward());
        assert_eq!(outside_balance_kinds(), vec!["RECONCILIATION"]);
        assert!(!Kind::Redemption.is_manual_reward());
        assert!(!Kind::RedemptionReversal.is_manual_reward());
    }

    #[test]
    fn only_gameplay_bonuses_and_positive_increments_earn() {
        let earning: Vec<_> = Kind::ALL
            .iter()
            .filter(|k| k.earns(5))
            .map(|k| k.as_str())
            .collect();
        assert_eq!(
            earning,
            vec!["GAMEPLAY", "MANUAL_BONUS", "DIRECT_INCREMENT"]
        );
        assert_eq!(lifetime_credit("GAMEPLAY", 700), 700);
        assert_eq!(lifetime_credit("REDEMPTION_REVERSAL", 700), 0);
        assert_eq!(lifetime_credit("gameplay", 700), 0);
        assert_eq!(lifetime_credit("DIRECT_INCREMENT", 150_000), 150_000);
        assert_eq!(lifetime_credit("DIRECT_INCREMENT", -150_000), 0);
        // a negative increment takes tier credits, as an adjustment does
        assert_eq!(Kind::DirectIncrement.tier_credit(-150_000), -150_000);
        assert!(!Kind::DirectIncrement.earns(-1));
    }

    #[test]
    fn the_checks_accept_the_kinds_and_nothing_else() {
        for k in Kind::ALL {
            assert!(is_ledger_kind(k.as_str()));
            assert!(is_ledger_event(k.event_type()));
        }
        assert!(!is_ledger_kind("gameplay"));
        assert!(!is_ledger_kind(""));
        assert!(!is_ledger_event("RATING_SLIP_OPENED"));
        assert_eq!(
            Kind::ALL.map(Kind::event_type),
            [
                "RATING_SLIP_COMPLETED",
                "POINTS_UPDATE_REQUESTED",
                "POINTS_UPDATE_REQUESTED",
                "BALANCE_RECONCILED",
                "POINTS_REDEEMED",
                "REDEMPTION_REVERSED",
                "POINTS_EXPIRED",
                "BALANCE_INCREMENTED"
            ]
        );
    }
}
