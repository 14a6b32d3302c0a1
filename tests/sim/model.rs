//! The harness's reference model: what every acknowledged call said it did
//! (checked against the rows at the end), what every refused call asked for
//! (which must be absent), the handles later operations refer to, and the
//! trace.

use std::collections::BTreeMap;

/// What became of one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The server answered; a short summary of the row(s).
    Ok(String),
    /// The server refused: SQLSTATE and message (the spec code).
    Refused(String, String),
    /// The connection was lost (a fault): the outcome is unknown.
    Lost,
}

impl Outcome {
    pub fn label(&self) -> String {
        match self {
            // a status the call answered with (COMPLETED, PAID, HELD_FOR_APPROVAL, ...)
            Outcome::Ok(s) => match s.split(' ').next() {
                Some(w) if w.len() > 3 && w.chars().all(|c| c.is_ascii_uppercase() || c == '_') => {
                    format!("ok {w}")
                }
                _ => "ok".into(),
            },
            Outcome::Refused(state, msg) => format!("{state} {msg}"),
            Outcome::Lost => "lost".into(),
        }
    }
}

/// One line of the trace.
#[derive(Debug, Clone)]
pub struct Step {
    pub n: u64,
    pub session: usize,
    pub what: String,
    pub outcome: Outcome,
}

/// Something an acknowledged call says is in the rows now.
#[derive(Debug, Clone)]
pub enum Acked {
    /// A COMPLETED slip paid by this gameplay entry, under a daily
    /// threshold of at most `ceiling` (the highest in force between the
    /// call's sending and its answer).
    Paid {
        slip: String,
        entry: i64,
        ceiling: i64,
    },
    /// A bulk recovery that paid `recovered` slips, whose entries carry its
    /// correlation id, each under a daily threshold of at most `ceiling`.
    Recovered {
        correlation: String,
        recovered: i64,
        ceiling: i64,
    },
    /// A manual reward's entry: its reward id and points.
    Reward {
        entry: i64,
        reward_id: String,
        points: i64,
    },
    /// A capture's REDEMPTION entry for this hold.
    Captured { hold: String, entry: i64 },
    /// A void.
    Voided { hold: String },
}

#[derive(Default)]
pub struct Model {
    /// Slips opened: (id, player index).
    pub slips: Vec<(String, usize)>,
    /// Of those, the ones no completion has closed yet (indexes).
    pub open_slips: Vec<usize>,
    /// Of those, the ones the slow session opened: its tables, which it
    /// completes itself (a payment, not a retry, after its pause).
    pub slow_slips: Vec<usize>,
    /// Each player's last slip end the harness saw (server time, as text):
    /// the next slip starts after it, or it would be SLIP_OVERLAP.
    pub last_end: std::collections::HashMap<usize, String>,
    /// Holds made: (id, player index).
    pub holds: Vec<(String, usize)>,
    /// REDEMPTION entries acknowledged (for reversals).
    pub redemptions: Vec<i64>,
    /// Where each slip and hold (by id) and each REDEMPTION entry (by id,
    /// as text) is: an index into world::PROPERTIES.
    pub places: std::collections::HashMap<String, usize>,
    /// Reward ids acknowledged (a voucher presented again is a retry or a
    /// conflict, never a second payment).
    pub vouchers: Vec<(String, usize)>,
    pub acked: Vec<Acked>,
    /// Every daily approval threshold set, in order of the harness seeing
    /// its change committed (the world's first): a call sent after the
    /// n-th was acknowledged is judged by it or a later one.
    pub thresholds: Vec<i64>,
    /// Reward ids of refused calls that no call ever acknowledged: no
    /// ledger row may carry them.
    pub refused_vouchers: Vec<String>,
    pub trace: Vec<Step>,
    /// Calls per kind and outcome.
    pub tally: BTreeMap<String, u64>,
    /// Faults injected, per kind.
    pub faults: BTreeMap<String, u64>,
    /// Outcomes no rule allows (undocumented codes, deadlocks, wrong
    /// successes): each is a failed invariant.
    pub violations: Vec<String>,
}

impl Model {
    pub fn record(&mut self, n: u64, session: usize, kind: &str, what: String, outcome: Outcome) {
        *self
            .tally
            .entry(format!("{kind}: {}", outcome.label()))
            .or_default() += 1;
        self.trace.push(Step {
            n,
            session,
            what,
            outcome,
        });
    }

    pub fn fault(&mut self, kind: &str) {
        *self.faults.entry(kind.to_string()).or_default() += 1;
    }

    pub fn violation(&mut self, n: u64, text: String) {
        self.violations.push(format!("call {n}: {text}"));
    }
}
