//! Points, tiers and progress (pure, reference §4).
//!
//! Theoretical win and points are computed exactly: every factor is a
//! decimal held as an integer mantissa and a scale, the product is exact, and
//! the one division (by 100 for the percent and by 3600 for hours) is an
//! integer floor division. No float, no rounded intermediate.

use crate::domain::error::{LoyaltyError, Result};

/// Longest slip (docs/reference.md §4): more than 24 hours is a VALIDATION_ERROR.
pub const MAX_DURATION_SECONDS: i64 = 24 * 3600;

/// A non-negative decimal: `mantissa × 10^-scale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decimal {
    pub mantissa: u128,
    pub scale: u32,
}

impl Decimal {
    /// Parse PostgreSQL numeric output (`123.4500`, `0`, `1e3` never occurs).
    /// Refuses NaN, infinities, negatives and anything beyond 38 digits.
    pub fn parse(what: &str, text: &str) -> Result<Decimal> {
        let bad = |why: &str| {
            LoyaltyError::validation(format!(
                "{what} {why} (got {})",
                crate::domain::error::echo(text)
            ))
        };
        let t = text.trim();
        if t.starts_with('-') {
            return Err(bad("must not be negative"));
        }
        let (int, frac) = t.split_once('.').unwrap_or((t, ""));
        if int.is_empty()
            || !int.bytes().all(|b| b.is_ascii_digit())
            || !frac.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(bad("must be a finite number"));
        }
        let frac = frac.trim_end_matches('0');
        let digits = format!("{int}{frac}");
        let digits = digits.trim_start_matches('0');
        if digits.len() > 38 {
            return Err(bad("has too many digits"));
        }
        let mantissa = if digits.is_empty() {
            0
        } else {
            digits.parse::<u128>().map_err(|_| bad("is out of range"))?
        };
        Ok(Decimal {
            mantissa,
            scale: frac.len() as u32,
        })
    }

    pub fn from_int(v: u64) -> Decimal {
        Decimal {
            mantissa: v as u128,
            scale: 0,
        }
    }

    pub fn is_zero(&self) -> bool {
        self.mantissa == 0
    }
}

/// The per-game figures a slip snapshots when it opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GameSettings {
    pub house_edge_percent: Decimal,
    pub decisions_per_hour: u32,
    pub points_conversion_rate: Decimal,
    pub point_multiplier: Decimal,
}

/// Whole seconds from start to end; negative or longer than 24 h is invalid.
pub fn duration_seconds(start_micros: i64, end_micros: i64) -> Result<i64> {
    let diff = end_micros
        .checked_sub(start_micros)
        .ok_or_else(|| LoyaltyError::validation("slip times are out of range"))?;
    if diff < 0 {
        return Err(LoyaltyError::validation(
            "a slip cannot end before it started",
        ));
    }
    let secs = diff / 1_000_000;
    if secs > MAX_DURATION_SECONDS {
        return Err(LoyaltyError::validation(format!(
            "a slip cannot last longer than 24 hours (got {secs} seconds)"
        )));
    }
    Ok(secs)
}

/// floor(average_bet × house_edge/100 × decisions/h × seconds/3600 × rate × multiplier)
pub fn points(settings: &GameSettings, average_bet: Decimal, duration_seconds: i64) -> Result<i64> {
    if average_bet.is_zero() {
        return Err(LoyaltyError::validation(
            "average bet must be greater than 0",
        ));
    }
    if !(0..=MAX_DURATION_SECONDS).contains(&duration_seconds) {
        return Err(LoyaltyError::validation(format!(
            "duration must be between 0 and {MAX_DURATION_SECONDS} seconds (got {duration_seconds})"
        )));
    }
    let too_big =
        || LoyaltyError::validation("the award is too large to compute; check the average bet");
    let factors = [
        average_bet,
        settings.house_edge_percent,
        Decimal::from_int(settings.decisions_per_hour as u64),
        Decimal::from_int(duration_seconds as u64),
        settings.points_conversion_rate,
        settings.point_multiplier,
    ];
    // 256 bits: the six mantissas of allowed settings multiply to below
    // 10^42, past u128 but far inside this; nested floor divisions equal
    // one floor division by their product.
    let mut product = Wide::ONE;
    let mut scale: u32 = 0;
    for f in factors {
        let m = u64::try_from(f.mantissa).map_err(|_| too_big())?;
        product = product.mul(m).ok_or_else(too_big)?;
        scale += f.scale;
    }
    for _ in 0..scale {
        product = product.div(10);
    }
    // percent and seconds per hour
    i64::try_from(product.div(360_000).to_u128().ok_or_else(too_big)?).map_err(|_| too_big())
}

/// An unsigned 256-bit integer (four 64-bit limbs, least significant
/// first): just the multiply and divide `points` needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Wide([u64; 4]);

impl Wide {
    const ONE: Wide = Wide([1, 0, 0, 0]);

    /// `self × m`, or None past 256 bits.
    fn mul(self, m: u64) -> Option<Wide> {
        let mut out = [0u64; 4];
        let mut carry: u128 = 0;
        for (o, limb) in out.iter_mut().zip(self.0) {
            let v = u128::from(limb) * u128::from(m) + carry;
            *o = v as u64;
            carry = v >> 64;
        }
        (carry == 0).then_some(Wide(out))
    }

    /// `floor(self / d)`, d > 0.
    fn div(self, d: u64) -> Wide {
        let mut out = [0u64; 4];
        let mut rem: u128 = 0;
        for i in (0..4).rev() {
            let v = (rem << 64) | u128::from(self.0[i]);
            out[i] = (v / u128::from(d)) as u64;
            rem = v % u128::from(d);
        }
        Wide(out)
    }

    fn to_u128(self) -> Option<u128> {
        (self.0[2] == 0 && self.0[3] == 0)
            .then(|| u128::from(self.0[0]) | (u128::from(self.0[1]) << 64))
    }
}

/// One rung of the tier ladder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tier {
    pub name: String,
    pub threshold: i64,
}

/// Tier and progress (0–100) for lifetime points. `ladder` is sorted by
/// threshold ascending and non-empty; below the lowest threshold a player
/// still holds the lowest tier.
pub fn tier_for(lifetime: i64, ladder: &[Tier]) -> (String, i16) {
    let Some(first) = ladder.first() else {
        return (String::from("BRONZE"), 0);
    };
    let idx = ladder
        .iter()
        .rposition(|t| t.threshold <= lifetime)
        .unwrap_or(0);
    let this = if lifetime < first.threshold {
        first
    } else {
        &ladder[idx]
    };
    let progress = match ladder.get(idx + 1) {
        None => 100,
        Some(next) => {
            let span = (next.threshold - this.threshold) as i128;
            let done = (lifetime as i128 - this.threshold as i128).max(0);
            // round half up of 100 × done / span, in integers
            let p = (200 * done + span) / (2 * span);
            p.clamp(0, 100) as i16
        }
    };
    (this.name.clone(), progress)
}

/// What decides the tier (`config.tier_basis`, reference §16).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Basis {
    /// Lifetime points (0.2.0's rule): a tier never falls.
    Lifetime,
    /// Tier credits of the qualification period, with the tier the previous
    /// period reached kept through this one.
    Period,
}

impl Basis {
    pub fn parse(text: &str) -> Basis {
        if text == "PERIOD" {
            Basis::Period
        } else {
            Basis::Lifetime
        }
    }
}

/// A player's standing in the qualification periods: the current period's
/// tier credits and the tier kept from the previous one. Kept under both
/// bases, so a casino that turns `PERIOD` on mid-period counts what was
/// earned since the period began.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Standing {
    /// Credits earned in `period` (never below 0).
    pub credits: i64,
    /// First gaming day (`YYYY-MM-DD`) of the period the credits count in;
    /// None before the first post.
    pub period: Option<String>,
    /// The tier the previous period's credits reached; None: the lowest.
    pub retained: Option<String>,
}

impl Standing {
    /// The standing in `current` (a period's first gaming day): unchanged
    /// inside it (a stored period after it, left by a start moved earlier,
    /// is it); at its start, the tier the last period's credits reached
    /// is kept and the credits start again at 0. A player who earned nothing
    /// in the period just ended (or whose standing is older) keeps nothing.
    pub fn rolled(&self, current: &str, ladder: &[Tier]) -> Standing {
        match self.period.as_deref() {
            // a later stored period: the casino moved the start earlier, and
            // what was earned since counts in the period that holds it now
            _ if self.is_in(current) => Standing {
                period: Some(current.to_string()),
                ..self.clone()
            },
            Some(p) if p >= year_before(current).as_str() => Standing {
                credits: 0,
                period: Some(current.to_string()),
                retained: Some(tier_for(self.credits, ladder).0),
            },
            _ => Standing {
                credits: 0,
                period: Some(current.to_string()),
                retained: None,
            },
        }
    }

    /// [`Standing::rolled`], except into a period no later than `kept_through`
    /// (the period in which the casino turned the PERIOD basis on): there the
    /// tier held under the LIFETIME basis, kept as the retained tier, stays
    /// retained, so turning the basis on takes no tier away before the next
    /// rollover (and no call has to visit every player to say so).
    pub fn rolled_keeping(
        &self,
        current: &str,
        ladder: &[Tier],
        kept_through: Option<&str>,
    ) -> Standing {
        match kept_through {
            Some(k) if current <= k && !self.is_in(current) => Standing {
                credits: 0,
                period: Some(current.to_string()),
                retained: self.retained.clone(),
            },
            _ => self.rolled(current, ladder),
        }
    }

    /// The credits a roll into `current` judges: those of the period just
    /// before it (0 when the stored period is older).
    pub fn credits_before(&self, current: &str) -> i64 {
        match self.period.as_deref() {
            Some(p) if p >= year_before(current).as_str() && p < current => self.credits,
            _ => 0,
        }
    }

    /// Whether the credits count in `current` (a period's first gaming day),
    /// nothing having to roll: stored for it, or for a later one.
    pub fn is_in(&self, current: &str) -> bool {
        self.period.as_deref() >= Some(current)
    }

    /// After a change worth `credit` tier credits (negative: a deduction),
    /// never below 0.
    pub fn credited(mut self, credit: i64) -> Standing {
        self.credits = add_credit(self.credits, credit);
        self
    }
}

/// Tier credits after a change worth `credit` (negative: a deduction):
/// never below 0.
pub fn add_credit(credits: i64, credit: i64) -> i64 {
    credits.saturating_add(credit).max(0)
}

/// The first gaming day of the year-long period that contains `gaming_day`
/// (both `YYYY-MM-DD`), for periods starting each year on `start` (`MM-DD`).
pub fn period_of(gaming_day: &str, start: &str) -> String {
    let (year, month_day) = gaming_day.split_at(4.min(gaming_day.len()));
    let month_day = month_day.trim_start_matches('-');
    let year: i32 = year.parse().unwrap_or(2000);
    let first = if month_day >= start { year } else { year - 1 };
    format!("{first:04}-{start}")
}

/// The same day one year earlier (`YYYY-MM-DD`).
fn year_before(day: &str) -> String {
    let (year, rest) = day.split_at(4.min(day.len()));
    let year: i32 = year.parse().unwrap_or(2000);
    format!("{:04}{rest}", year - 1)
}

/// The tier and progress a player holds: from lifetime points, or under
/// `Period` the highest of what the credits reach, the retained tier and
/// `held` (the tier already held in this period: a tier never falls inside
/// a period, only when the next one starts). While a kept tier is the
/// higher, progress is how far the credits are toward keeping it (its
/// threshold) for the next period.
pub fn tier_of(
    basis: Basis,
    lifetime: i64,
    standing: &Standing,
    held: Option<&str>,
    ladder: &[Tier],
) -> (String, i16) {
    if basis == Basis::Lifetime {
        return tier_for(lifetime, ladder);
    }
    let earned = tier_for(standing.credits, ladder);
    let rung = |name: &str| ladder.iter().position(|t| t.name == name);
    let kept = [standing.retained.as_deref(), held]
        .into_iter()
        .flatten()
        .filter_map(rung)
        .max();
    match kept {
        Some(k) if Some(k) > rung(&earned.0) => {
            let threshold = ladder[k].threshold;
            let progress = if threshold <= 0 {
                100
            } else {
                let done = standing.credits.clamp(0, threshold) as i128;
                ((200 * done + threshold as i128) / (2 * threshold as i128)).clamp(0, 100) as i16
            };
            (ladder[k].name.clone(), progress)
        }
        _ => earned,
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::parse("x", s).unwrap()
    }

    fn blackjack() -> GameSettings {
        GameSettings {
            house_edge_percent: d("2.0"),
            decisions_per_hour: 70,
            points_conversion_rate: d("10"),
            point_multiplier: d("1.0"),
        }
    }

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

    #[test]
    fn spec_example_blackjack_25_for_two_hours_is_700() {
        assert_eq!(points(&blackjack(), d("25"), 7200).unwrap(), 700);
    }

    /// The most game_settings_points_fit_check allows (tests/pg_regress
    /// integrity.sql shows the next multiplier refused): the largest bet for
    /// 24 hours, every factor at its widest. The mantissas multiply to about
    /// 3.3e39, past u128; the points are exact and fit a bigint.
    #[test]
    fn the_settings_bound_at_its_edge_computes_exactly() {
        let edge = GameSettings {
            house_edge_percent: d("99.9999"),
            decisions_per_hour: 10_000,
            points_conversion_rate: d("9999.9999"),
            point_multiplier: d("3.8430"),
        };
        assert_eq!(
            points(&edge, d("999999999.9999"), MAX_DURATION_SECONDS).unwrap(),
            9_223_190_684_567_169_912
        );
        // one step further no longer fits a bigint: refused, never wrapped
        let beyond = GameSettings {
            point_multiplier: d("3.8431"),
            ..edge
        };
        assert!(points(&beyond, d("999999999.9999"), MAX_DURATION_SECONDS).is_err());
    }

    #[test]
    fn points_floor_exactly() {
        // roulette: 10 × 5.26/100 × 38 × 1800/3600 × 10 = 99.94 → 99
        let roulette = GameSettings {
            house_edge_percent: d("5.26"),
            decisions_per_hour: 38,
            points_conversion_rate: d("10"),
            point_multiplier: d("1"),
        };
        assert_eq!(points(&roulette, d("10"), 1800).unwrap(), 99);
        // 1 second of blackjack at 25: 0.0972… points → 0
        assert_eq!(points(&blackjack(), d("25"), 1).unwrap(), 0);
        assert_eq!(points(&blackjack(), d("25"), 0).unwrap(), 0);
    }

    #[test]
    fn bad_inputs_are_validation_errors() {
        assert!(points(&blackjack(), d("0"), 60).is_err());
        assert!(points(&blackjack(), d("25"), -1).is_err());
        assert!(points(&blackjack(), d("25"), 86_401).is_err());
        assert!(points(&blackjack(), d("99999999999999999999999999999999"), 86_400).is_err());
        assert!(Decimal::parse("bet", "-1").is_err());
        assert!(Decimal::parse("bet", "NaN").is_err());
        assert!(Decimal::parse("bet", "Infinity").is_err());
        assert_eq!(
            d("025.500"),
            Decimal {
                mantissa: 255,
                scale: 1
            }
        );
    }

    #[test]
    fn durations() {
        assert_eq!(duration_seconds(0, 7_200_999_999).unwrap(), 7200);
        assert!(duration_seconds(10, 5).is_err());
        assert_eq!(duration_seconds(0, 86_400_000_000).unwrap(), 86_400);
        assert!(duration_seconds(0, 86_401_000_000).is_err());
        assert!(duration_seconds(i64::MIN, i64::MAX).is_err());
    }

    #[test]
    fn tiers_at_and_around_thresholds() {
        let l = ladder();
        assert_eq!(tier_for(0, &l), ("BRONZE".into(), 0));
        assert_eq!(tier_for(9_999, &l), ("BRONZE".into(), 100));
        assert_eq!(tier_for(9_949, &l), ("BRONZE".into(), 99));
        assert_eq!(tier_for(5_000, &l), ("BRONZE".into(), 50));
        assert_eq!(tier_for(10_000, &l), ("SILVER".into(), 0));
        assert_eq!(tier_for(49_999, &l), ("SILVER".into(), 100));
        assert_eq!(tier_for(50_000, &l), ("GOLD".into(), 0));
        assert_eq!(tier_for(75_000, &l), ("GOLD".into(), 50));
        assert_eq!(tier_for(99_999, &l), ("GOLD".into(), 100));
        assert_eq!(tier_for(100_000, &l), ("PLATINUM".into(), 100));
        assert_eq!(tier_for(i64::MAX, &l), ("PLATINUM".into(), 100));
    }

    #[test]
    fn periods() {
        assert_eq!(period_of("2027-09-30", "10-01"), "2026-10-01");
        assert_eq!(period_of("2027-10-01", "10-01"), "2027-10-01");
        assert_eq!(period_of("2027-12-31", "10-01"), "2027-10-01");
        assert_eq!(period_of("2027-01-01", "01-01"), "2027-01-01");
        assert_eq!(period_of("2026-12-31", "01-01"), "2026-01-01");
    }

    #[test]
    fn standings_roll_and_tiers_are_kept_one_period() {
        let l = ladder();
        let gold = Standing {
            credits: 60_000,
            period: Some("2026-10-01".into()),
            retained: None,
        };
        // inside the period nothing moves
        assert_eq!(gold.rolled("2026-10-01", &l), gold);
        // the next period keeps GOLD with no credits
        let next = gold.rolled("2027-10-01", &l);
        assert_eq!(next.credits, 0);
        assert_eq!(next.retained.as_deref(), Some("GOLD"));
        assert_eq!(
            tier_of(Basis::Period, 0, &next, None, &l),
            ("GOLD".into(), 0)
        );
        assert_eq!(next.rolled("2027-10-01", &l), next);
        // earning 1,000 in it: still GOLD, 2% of the way to keeping it
        let some = next.clone().credited(1_000);
        assert_eq!(
            tier_of(Basis::Period, 0, &some, None, &l),
            ("GOLD".into(), 2)
        );
        // a deduction never takes credits below 0
        assert_eq!(some.clone().credited(-5_000).credits, 0);
        // nor a tier held in the period: credits of SILVER, GOLD held
        let fell = Standing {
            credits: 10_000,
            period: Some("2026-10-01".into()),
            retained: None,
        };
        assert_eq!(
            tier_of(Basis::Period, 0, &fell, None, &l),
            ("SILVER".into(), 0)
        );
        assert_eq!(
            tier_of(Basis::Period, 0, &fell, Some("GOLD"), &l),
            ("GOLD".into(), 20)
        );
        // the second rollover keeps what the credits reached: BRONZE
        let after = some.rolled("2028-10-01", &l);
        assert_eq!(after.retained.as_deref(), Some("BRONZE"));
        assert_eq!(tier_of(Basis::Period, 0, &after, None, &l).0, "BRONZE");
        // the start moved earlier: the credits stay, in the period now current
        let moved = Standing {
            credits: 7,
            period: Some("2027-01-01".into()),
            retained: None,
        };
        assert_eq!(moved.rolled("2026-10-01", &l).credits, 7);
        assert_eq!(
            moved.rolled("2026-10-01", &l).period.as_deref(),
            Some("2026-10-01")
        );
        // a standing two periods old keeps nothing
        let stale = gold.rolled("2028-10-01", &l);
        assert_eq!(stale.retained, None);
        assert_eq!(tier_of(Basis::Period, 0, &stale, None, &l).0, "BRONZE");
        // credits above the retained tier decide
        let up = next.credited(100_000);
        assert_eq!(
            tier_of(Basis::Period, 0, &up, None, &l),
            ("PLATINUM".into(), 100)
        );
        // lifetime basis ignores the standing
        assert_eq!(
            tier_of(Basis::Lifetime, 10_000, &stale, Some("GOLD"), &l).0,
            "SILVER"
        );
        // a retained tier the ladder lost counts as none
        let gone = Standing {
            credits: 0,
            period: Some("2027-10-01".into()),
            retained: Some("DIAMOND".into()),
        };
        assert_eq!(tier_of(Basis::Period, 0, &gone, None, &l).0, "BRONZE");
    }
}
