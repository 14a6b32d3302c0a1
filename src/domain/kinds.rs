//! Ledger transaction kinds: the one list of them, and what each means.
//! The ledger's CHECKs on `transaction_type` and `event_type` call
//! [`is_ledger_kind`] and [`is_ledger_event`], and every SQL that picks
//! kinds by what they are (the exception report, the health check, the
//! runbooks) asks [`kinds_that`], so this file is the only place the kinds
//! are listed. (A function call is also what PostgreSQL re-reads cheapest:
//! it parses every CHECK again for each insert, and a literal `IN (...)`
//! list is a serialized array it re-parses byte by byte.)
//!
//! Adding a kind is one line in [`ledger_kinds!`] below; the compiler then
//! asks for its answer in every rule of [`Kind`] (none has a catch-all
//! arm), and `loyalty.ledger_kinds()` shows the result to SQL.

use pgrx::prelude::*;

/// Defines [`Kind`], [`Kind::ALL`], [`Kind::as_str`] and
/// [`Kind::event_type`] from one table: a variant, its `transaction_type`,
/// and the `event_type` its entries record.
macro_rules! ledger_kinds {
    ($($(#[$doc:meta])* $variant:ident = $name:literal, records $event:literal;)+) => {
        /// What a ledger entry is.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Kind {
            $($(#[$doc])* $variant,)+
        }

        impl Kind {
            pub const ALL: [Kind; [$($name),+].len()] = [$(Kind::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Kind::$variant => $name,)+
                }
            }

            /// The event a ledger entry of this kind records.
            pub fn event_type(self) -> &'static str {
                match self {
                    $(Kind::$variant => $event,)+
                }
            }
        }
    };
}

ledger_kinds! {
    /// Points a rating slip earned (accrual, recovery, approval).
    Gameplay = "GAMEPLAY", records "RATING_SLIP_COMPLETED";
    /// A positive manual reward.
    ManualBonus = "MANUAL_BONUS", records "POINTS_UPDATE_REQUESTED";
    /// A negative manual reward.
    Adjustment = "ADJUSTMENT", records "POINTS_UPDATE_REQUESTED";
    /// An operator's repair of a drifted balance (`rebuild_player_balance`):
    /// moves the stored balance back to what the ledger sums to, so it is
    /// itself left out of that sum.
    Reconciliation = "RECONCILIATION", records "BALANCE_RECONCILED";
    /// Points spent on a comp: the capture of a hold (negative).
    Redemption = "REDEMPTION", records "POINTS_REDEEMED";
    /// A redemption given back (the comp was charged in cash instead):
    /// positive, linked to the entry it reverses.
    RedemptionReversal = "REDEMPTION_REVERSAL", records "REDEMPTION_REVERSED";
    /// Points that lapsed after a stretch with no earning (negative: the
    /// available points; held points stay held).
    Expiry = "EXPIRY", records "POINTS_EXPIRED";
    /// A trusted back end's direct change of a balance
    /// (`increment_player_loyalty`): positive earns like a manual bonus,
    /// negative takes tier credits like an adjustment.
    DirectIncrement = "DIRECT_INCREMENT", records "BALANCE_INCREMENTED";
}

/// Which way an entry of a kind moves points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sign {
    /// Adds points or none (earning, a reversal of a spend).
    Positive,
    /// Takes points away (spending, lapsing, an adjustment).
    Negative,
    /// Either way (a repair, a direct increment).
    Either,
}

impl Sign {
    pub fn as_str(self) -> &'static str {
        match self {
            Sign::Positive => "+",
            Sign::Negative => "-",
            Sign::Either => "+/-",
        }
    }
}

impl Kind {
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
        match self {
            Kind::ManualBonus | Kind::Adjustment => true,
            Kind::Gameplay
            | Kind::Reconciliation
            | Kind::Redemption
            | Kind::RedemptionReversal
            | Kind::Expiry
            | Kind::DirectIncrement => false,
        }
    }

    /// Whether entries of this kind are points the player gained or lost
    /// (summed into the balance the ledger says a player has). A
    /// reconciliation only brings the stored balance back to that sum.
    pub fn counts_in_balance(self) -> bool {
        match self {
            Kind::Reconciliation => false,
            Kind::Gameplay
            | Kind::ManualBonus
            | Kind::Adjustment
            | Kind::Redemption
            | Kind::RedemptionReversal
            | Kind::Expiry
            | Kind::DirectIncrement => true,
        }
    }

    /// Whether the regulator's exception report lists entries of this kind
    /// as they are: every change a person made by hand or decided, and
    /// every lapse. Gameplay is listed only when a second person approved
    /// its slip, and a redemption only when its comp needed an approval:
    /// the report finds those through the slip and the hold.
    pub fn is_exception(self) -> bool {
        match self {
            Kind::ManualBonus
            | Kind::Adjustment
            | Kind::Reconciliation
            | Kind::RedemptionReversal
            | Kind::Expiry
            | Kind::DirectIncrement => true,
            Kind::Gameplay | Kind::Redemption => false,
        }
    }

    /// Which way entries of this kind move points.
    pub fn sign(self) -> Sign {
        match self {
            Kind::Gameplay | Kind::ManualBonus | Kind::RedemptionReversal => Sign::Positive,
            Kind::Adjustment | Kind::Redemption | Kind::Expiry => Sign::Negative,
            Kind::Reconciliation | Kind::DirectIncrement => Sign::Either,
        }
    }

    /// Tier credits an entry of this kind and `points` is worth under the
    /// period basis (reference §16): earning adds, a negative adjustment
    /// takes away; spending, giving back, expiry and repairs never count.
    pub fn tier_credit(self, points: i64) -> i64 {
        match self {
            Kind::Gameplay | Kind::ManualBonus => points.max(0),
            Kind::Adjustment => points.min(0),
            Kind::DirectIncrement => points,
            Kind::Reconciliation | Kind::Redemption | Kind::RedemptionReversal | Kind::Expiry => 0,
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
            Kind::Adjustment
            | Kind::Reconciliation
            | Kind::Redemption
            | Kind::RedemptionReversal
            | Kind::Expiry => false,
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

    /// [`Kind::earns`] in words, read off the rule itself.
    pub fn earning_rule(self) -> &'static str {
        match (self.earns(1), self.earns(-1)) {
            (true, true) => "always",
            (true, false) => "when positive",
            (false, true) => "when negative",
            (false, false) => "never",
        }
    }

    /// [`Kind::tier_credit`] in words, read off the rule itself.
    pub fn tier_credit_rule(self) -> &'static str {
        match (self.tier_credit(1) != 0, self.tier_credit(-1) != 0) {
            (true, true) => "adds and takes",
            (true, false) => "adds",
            (false, true) => "takes",
            (false, false) => "none",
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

/// `loyalty.ledger_kinds()`: every kind and what it is, as rows: the
/// registry SQL reads (the exception report, the health check, the
/// runbooks pick kinds from it by what they are, never by a list of
/// names), and what auditors and the reference read.
#[allow(clippy::type_complexity)]
#[pg_extern(immutable, parallel_safe)]
pub fn ledger_kinds() -> TableIterator<
    'static,
    (
        name!(kind, String),
        name!(event_type, String),
        name!(sign, String),
        name!(earns, String),
        name!(tier_credits, String),
        name!(in_balance, bool),
        name!(manual_reward, bool),
        name!(exception, bool),
    ),
> {
    TableIterator::new(Kind::ALL.into_iter().map(|k| {
        (
            k.as_str().to_owned(),
            k.event_type().to_owned(),
            k.sign().as_str().to_owned(),
            k.earning_rule().to_owned(),
            k.tier_credit_rule().to_owned(),
            k.counts_in_balance(),
            k.is_manual_reward(),
            k.is_exception(),
        )
    }))
}

extension_sql!(
    r#"
ALTER DOMAIN loyalty.ledger_kind ADD CONSTRAINT ledger_kind_check CHECK (loyalty.is_ledger_kind(VALUE));
ALTER DOMAIN loyalty.ledger_event ADD CONSTRAINT ledger_event_check CHECK (loyalty.is_ledger_event(VALUE));
COMMENT ON FUNCTION loyalty.ledger_kinds() IS
    'The ledger kinds and what each is: its event, sign, whether it earns (lifetime points, the inactivity clock), what it does to tier credits, whether it counts in the balance, is a manual reward, and is listed as it is by the exception report. The one list (src/domain/kinds.rs); SQL picks kinds from it.';
"#,
    name = "ledger_kind_checks",
    requires = ["schema", is_ledger_kind, is_ledger_event, ledger_kinds]
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
pub(crate) mod unit {
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

    /// The rows of the markdown table under `header` in `doc`, each cell
    /// trimmed and stripped of backticks.
    pub(crate) fn doc_table(doc: &str, header: &str) -> Vec<Vec<String>> {
        doc.lines()
            .map(str::trim)
            .skip_while(|l| *l != header)
            .skip(2)
            .take_while(|l| l.starts_with('|'))
            .map(|l| {
                l.trim_matches('|')
                    .split('|')
                    .map(|c| c.trim().trim_matches('`').to_string())
                    .collect()
            })
            .collect()
    }

    #[test]
    fn the_reference_lists_every_kind_as_the_registry_says() {
        let yes = |b: bool| if b { "yes" } else { "no" }.to_string();
        let registry: Vec<Vec<String>> = Kind::ALL
            .into_iter()
            .map(|k| {
                vec![
                    k.as_str().to_string(),
                    k.event_type().to_string(),
                    k.sign().as_str().to_string(),
                    k.earning_rule().to_string(),
                    k.tier_credit_rule().to_string(),
                    yes(k.counts_in_balance()),
                    yes(k.is_manual_reward()),
                    yes(k.is_exception()),
                ]
            })
            .collect();
        assert_eq!(
            doc_table(
                include_str!("../../docs/reference.md"),
                "| kind | event | sign | earns | tier credits | in balance | manual reward | exception |"
            ),
            registry,
            "docs/reference.md §2's table of kinds differs from src/domain/kinds.rs"
        );
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
