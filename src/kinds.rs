//! Ledger transaction kinds: the one list of them, and what each means.
//! `sql/schema.sql`'s CHECK on `loyalty_ledger.transaction_type` must name
//! the same kinds (a `#[pg_test]` compares the two).

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
}

impl Kind {
    pub const ALL: [Kind; 4] = [
        Kind::Gameplay,
        Kind::ManualBonus,
        Kind::Adjustment,
        Kind::Reconciliation,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Gameplay => "GAMEPLAY",
            Kind::ManualBonus => "MANUAL_BONUS",
            Kind::Adjustment => "ADJUSTMENT",
            Kind::Reconciliation => "RECONCILIATION",
        }
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
}

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
    }
}
