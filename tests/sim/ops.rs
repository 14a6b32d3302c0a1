//! Every public operation, as a value: generated from the seed, run as one
//! of every kind of caller (anon, a player, staff with and without the
//! permission, staff for themselves, a trusted back end naming a person or
//! nobody), sometimes under REPEATABLE READ or a short timeout, and judged:
//! an operation its caller may not make must be refused with the code the
//! contract names for it.

use crate::model::{Acked, Model, Outcome};
use crate::rng::Rng;
use crate::world::World;
use postgres::types::ToSql;
use postgres::{Client, IsolationLevel, Row};

/// Who makes a call.
#[derive(Debug, Clone, Copy)]
pub enum Who {
    Anon,
    /// A signed-in player (index into the world's players).
    Player(usize),
    /// A signed-in staff member (index into the world's staff).
    Staff(usize),
    /// A trusted back end (`service_role`), naming a staff member or nobody.
    Trusted(Option<usize>),
}

#[derive(Debug, Clone)]
pub enum Op {
    Open {
        player: usize,
        game: &'static str,
        bet: i64,
        minutes: i64,
        property: usize,
        who: Who,
    },
    Complete {
        slip: usize,
        atomic: bool,
        who: Who,
    },
    Batch {
        slips: Vec<usize>,
        who: Who,
    },
    Reward {
        player: usize,
        points: i64,
        voucher: String,
        property: usize,
        who: Who,
    },
    Hold {
        player: usize,
        points: i64,
        request: Option<String>,
        ttl: i64,
        property: usize,
        who: Who,
    },
    Capture {
        hold: usize,
        points: Option<i64>,
        who: Who,
    },
    Void {
        hold: usize,
        who: Who,
    },
    Redeem {
        player: usize,
        points: i64,
        property: usize,
        who: Who,
    },
    Reverse {
        redemption: usize,
        who: Who,
    },
    ApproveSlip {
        slip: usize,
        who: Who,
    },
    RejectSlip {
        slip: usize,
        who: Who,
    },
    ApproveHold {
        hold: usize,
        who: Who,
    },
    Recover {
        slip: usize,
        who: Who,
    },
    RecoverBulk {
        who: Who,
    },
    Sweep {
        name: &'static str,
    },
    Increment {
        player: usize,
        delta: i64,
    },
    Statement {
        player: usize,
        who: Who,
    },
    Bad {
        which: u64,
        who: Who,
    },
}

impl Op {
    pub fn kind(&self) -> &'static str {
        match self {
            Op::Open { .. } => "open_rating_slip",
            Op::Complete { .. } => "complete_rating_slip",
            Op::Batch { .. } => "complete_rating_slips",
            Op::Reward { .. } => "manual_reward",
            Op::Hold { .. } => "hold_points",
            Op::Capture { .. } => "capture_hold",
            Op::Void { .. } => "void_hold",
            Op::Redeem { .. } => "redeem_points",
            Op::Reverse { .. } => "reverse_redemption",
            Op::ApproveSlip { .. } => "approve_slip",
            Op::RejectSlip { .. } => "reject_slip",
            Op::ApproveHold { .. } => "approve_hold",
            Op::Recover { .. } => "recover_slip_loyalty",
            Op::RecoverBulk { .. } => "recover_partial_completions",
            Op::Sweep { name } => name,
            Op::Increment { .. } => "increment_player_loyalty",
            Op::Statement { .. } => "player_statement",
            Op::Bad { .. } => "malformed call",
        }
    }

    /// The permission the operation's person needs, if it needs one.
    fn permission(&self) -> Option<&'static str> {
        match self {
            Op::Open { .. } | Op::Complete { .. } | Op::Batch { .. } => Some("loyalty:rate"),
            Op::Reward { .. } => Some("loyalty:award"),
            Op::Hold { .. } | Op::Capture { .. } | Op::Void { .. } | Op::Redeem { .. } => {
                Some("loyalty:redeem")
            }
            Op::Reverse { .. }
            | Op::ApproveSlip { .. }
            | Op::RejectSlip { .. }
            | Op::ApproveHold { .. } => Some("loyalty:approve"),
            Op::Recover { .. } | Op::RecoverBulk { .. } => Some("loyalty:recover"),
            _ => None,
        }
    }

    /// Where the operation acts (an index into world::PROPERTIES): where a
    /// new slip, reward or hold is made, or where the slip, hold or
    /// redemption it acts on is. None when the model does not know, or for
    /// an act of no one property.
    fn place(&self, m: &Model) -> Option<usize> {
        let of_slip = |s: &usize| {
            m.slips
                .get(*s)
                .and_then(|(id, _)| m.places.get(id))
                .copied()
        };
        let of_hold = |h: &usize| {
            m.holds
                .get(*h)
                .and_then(|(id, _)| m.places.get(id))
                .copied()
        };
        match self {
            Op::Open { property, .. }
            | Op::Reward { property, .. }
            | Op::Hold { property, .. }
            | Op::Redeem { property, .. } => Some(*property),
            Op::Complete { slip, .. }
            | Op::ApproveSlip { slip, .. }
            | Op::RejectSlip { slip, .. }
            | Op::Recover { slip, .. } => of_slip(slip),
            Op::Capture { hold, .. } | Op::Void { hold, .. } | Op::ApproveHold { hold, .. } => {
                of_hold(hold)
            }
            Op::Reverse { redemption, .. } => m
                .redemptions
                .get(*redemption)
                .and_then(|e| m.places.get(&e.to_string()))
                .copied(),
            _ => None,
        }
    }

    fn who(&self) -> Option<Who> {
        match self {
            Op::Open { who, .. }
            | Op::Complete { who, .. }
            | Op::Batch { who, .. }
            | Op::Reward { who, .. }
            | Op::Hold { who, .. }
            | Op::Capture { who, .. }
            | Op::Void { who, .. }
            | Op::Redeem { who, .. }
            | Op::Reverse { who, .. }
            | Op::ApproveSlip { who, .. }
            | Op::RejectSlip { who, .. }
            | Op::ApproveHold { who, .. }
            | Op::Recover { who, .. }
            | Op::RecoverBulk { who }
            | Op::Statement { who, .. }
            | Op::Bad { who, .. } => Some(*who),
            Op::Sweep { .. } | Op::Increment { .. } => Some(Who::Trusted(None)),
        }
    }
}

const GAMES: [&str; 4] = ["BLACKJACK", "BACCARAT", "ROULETTE", "CRAPS"];
const SWEEPS: [&str; 5] = [
    "expire_holds",
    "expire_inactive_points",
    "roll_tier_period",
    "retier_players",
    "health_check",
];

/// Operations in proportion, in the order `next` matches them.
const WEIGHTS: [u64; 18] = [
    14, // open
    14, // complete
    3,  // batch
    12, // reward
    8,  // hold
    6,  // capture
    3,  // void
    5,  // redeem
    2,  // reverse
    3,  // approve slip
    1,  // reject slip
    2,  // approve hold
    6,  // recover
    2,  // bulk recovery
    3,  // sweeps
    1,  // increment
    2,  // statement
    3,  // malformed
];
const FLOOR_WEIGHTS: [u64; 18] = [30, 36, 3, 2, 1, 1, 1, 1, 1, 2, 1, 1, 4, 1, 1, 1, 1, 2];

/// The generator of one session: operations in proportion, callers mostly
/// the right person and sometimes every wrong kind.
pub fn next(rng: &mut Rng, world: &World, m: &Model, session: usize, n: u64) -> Op {
    // the slow session is a floor back end: slips, batches and recovery
    // (a payment sent after a setting changed is what its pauses test)
    let weights = if session == SLOW_SESSION {
        FLOOR_WEIGHTS
    } else {
        WEIGHTS
    };
    // the slow session plays its own players (a row another session
    // changed after its snapshot would only make its payments partial)
    let player = match session == SLOW_SESSION {
        true => rng.below(SLOW_PLAYERS as u64) as usize,
        false => SLOW_PLAYERS + rng.below((world.players.len() - SLOW_PLAYERS) as u64) as usize,
    };
    let slip = |rng: &mut Rng| {
        if m.slips.is_empty() {
            0
        } else {
            // mostly the newest slips: those are still open (but the slow
            // session's open tables, which it completes itself)
            let len = m.slips.len();
            let mut s = len - 1 - (rng.below(len.min(24) as u64) as usize);
            while s > 0 && session != SLOW_SESSION && m.slow_slips.contains(&s) {
                s -= 1;
            }
            s
        }
    };
    let hold = |rng: &mut Rng| {
        if m.holds.is_empty() {
            0
        } else {
            let len = m.holds.len();
            len - 1 - (rng.below(len.min(16) as u64) as usize)
        }
    };
    // where a new slip, reward or hold is made; where a slip or hold is
    let property = rng.below(crate::world::PROPERTIES.len() as u64) as usize;
    let slip_place = |s: usize| m.slips.get(s).and_then(|(id, _)| m.places.get(id)).copied();
    let hold_place = |h: usize| m.holds.get(h).and_then(|(id, _)| m.places.get(id)).copied();
    let mut pick = rng.weighted(&weights);
    if session == SLOW_SESSION && pick == 1 && m.slow_slips.is_empty() {
        pick = 0; // the slow session opens a table before it closes one
    }
    match pick {
        0 => Op::Open {
            player,
            game: GAMES[rng.below(GAMES.len() as u64) as usize],
            bet: *rng.pick(&[25, 100, 500, 1_000, 2_500, 20_000]),
            minutes: rng.between(5, 240),
            property,
            who: caller(rng, world, "floor", player, Some(property)),
        },
        1 if !m.slips.is_empty() => {
            // mostly a slip still open at the session's own tables; now
            // and then any (a retry)
            let own: Vec<usize> = match session == SLOW_SESSION {
                true => m.slow_slips.clone(),
                false => m
                    .open_slips
                    .iter()
                    .filter(|s| !m.slow_slips.contains(s))
                    .copied()
                    .collect(),
            };
            let s = if !own.is_empty() && rng.chance(85) {
                *rng.pick(&own)
            } else {
                slip(rng)
            };
            Op::Complete {
                slip: s,
                atomic: rng.chance(10),
                who: caller(rng, world, "floor", m.slips[s].1, slip_place(s)),
            }
        }
        2 if !m.slips.is_empty() => Op::Batch {
            slips: (0..rng.between(2, 5)).map(|_| slip(rng)).collect(),
            who: caller(rng, world, "floor", usize::MAX, None),
        },
        3 => Op::Reward {
            player,
            points: if rng.chance(85) {
                rng.between(1, 3_000)
            } else {
                -rng.between(1, 800)
            },
            // a fresh voucher, or now and then one already presented (a
            // retry, or another player's: a conflict)
            voucher: if !m.vouchers.is_empty() && rng.chance(8) {
                rng.pick(&m.vouchers).0.clone()
            } else {
                format!("sim-{session}-{n}")
            },
            property,
            who: caller(rng, world, "awarder", player, Some(property)),
        },
        4 => Op::Hold {
            player,
            points: *rng.pick(&[50, 400, 2_000, 5_000, 30_000]),
            request: rng
                .chance(30)
                .then(|| format!("req-{}-{}", session, rng.below(6))),
            ttl: *rng.pick(&[1, 5, 600]),
            property,
            who: caller(rng, world, "cashier", player, Some(property)),
        },
        5 if !m.holds.is_empty() => {
            let h = hold(rng);
            Op::Capture {
                hold: h,
                points: rng.chance(30).then(|| rng.between(1, 3_000)),
                who: caller(rng, world, "cashier", usize::MAX, hold_place(h)),
            }
        }
        6 if !m.holds.is_empty() => {
            let h = hold(rng);
            Op::Void {
                hold: h,
                who: caller(rng, world, "cashier", usize::MAX, hold_place(h)),
            }
        }
        7 => Op::Redeem {
            player,
            points: *rng.pick(&[10, 200, 1_500, 4_000]),
            property,
            who: caller(rng, world, "cashier", player, Some(property)),
        },
        8 if !m.redemptions.is_empty() => {
            let r = rng.below(m.redemptions.len() as u64) as usize;
            let place = m.places.get(&m.redemptions[r].to_string()).copied();
            Op::Reverse {
                redemption: r,
                who: caller(rng, world, "approver", usize::MAX, place),
            }
        }
        9 if !m.slips.is_empty() => {
            let s = rng.below(m.slips.len() as u64) as usize;
            Op::ApproveSlip {
                slip: s,
                who: caller(rng, world, "approver", usize::MAX, slip_place(s)),
            }
        }
        10 if !m.slips.is_empty() => {
            let s = rng.below(m.slips.len() as u64) as usize;
            Op::RejectSlip {
                slip: s,
                who: caller(rng, world, "approver", usize::MAX, slip_place(s)),
            }
        }
        11 if !m.holds.is_empty() => {
            let h = hold(rng);
            Op::ApproveHold {
                hold: h,
                who: caller(rng, world, "approver", usize::MAX, hold_place(h)),
            }
        }
        12 if !m.slips.is_empty() => {
            let s = rng.below(m.slips.len() as u64) as usize;
            Op::Recover {
                slip: s,
                who: caller(rng, world, "recoverer", usize::MAX, slip_place(s)),
            }
        }
        13 => Op::RecoverBulk {
            who: caller(rng, world, "recoverer", usize::MAX, None),
        },
        14 => Op::Sweep {
            name: SWEEPS[rng.below(SWEEPS.len() as u64) as usize],
        },
        15 => Op::Increment {
            player,
            delta: if rng.chance(70) {
                rng.between(1, 5_000)
            } else {
                -rng.between(1, 2_000)
            },
        },
        16 => Op::Statement {
            player,
            who: if rng.chance(70) {
                Who::Player(player)
            } else {
                caller(rng, world, "viewer", player, None)
            },
        },
        _ => Op::Bad {
            which: rng.below(6),
            who: caller(rng, world, "floor", player, None),
        },
    }
}

/// The right person for the job (`role`) at `property` (if the job is at
/// one), or now and then every kind of wrong one: anon, a player, staff of
/// the role at another property, staff without the permission, inactive
/// staff, staff for themselves, a trusted back end naming nobody.
fn caller(rng: &mut Rng, world: &World, role: &str, player: usize, property: Option<usize>) -> Who {
    let all = world.with_role(role);
    let at = |here: bool| -> Vec<usize> {
        all.iter()
            .copied()
            .filter(|s| match (world.staff[*s].home, property) {
                (Some(h), Some(p)) => (h == p) == here,
                _ => here,
            })
            .collect()
    };
    let (right, elsewhere) = (at(true), at(false));
    let right = if right.is_empty() { all.clone() } else { right };
    match rng.below(100) {
        0..=49 => Who::Trusted(Some(*rng.pick(&right))),
        50..=74 => Who::Staff(*rng.pick(&right)),
        75..=79 if !elsewhere.is_empty() => match rng.chance(50) {
            true => Who::Trusted(Some(*rng.pick(&elsewhere))),
            false => Who::Staff(*rng.pick(&elsewhere)),
        },
        75..=79 => Who::Staff(*rng.pick(&right)),
        80..=83 => Who::Anon,
        84..=87 => Who::Player(player.min(world.players.len() - 1)),
        88..=91 => Who::Staff(*rng.pick(&world.with_role("nobody"))),
        92..=94 => Who::Staff(*rng.pick(&world.with_role("inactive"))),
        95..=97 => Who::Staff(*rng.pick(&world.with_role("player-staff"))),
        _ => Who::Trusted(None),
    }
}

/// What the contract says the caller gets, when it is certain from the
/// caller alone: the codes of the refusal (an acknowledgement would be a
/// violation), or None when the call may go through.
fn must_refuse(
    op: &Op,
    world: &World,
    m: &Model,
    target_player: Option<usize>,
) -> Option<&'static [&'static str]> {
    let who = op.who()?;
    if matches!(op, Op::Bad { .. }) {
        // malformed: refused, by whoever it reaches first
        return Some(&["PT401", "PT403", "PT404", "PT409", "PT422", "42501"]);
    }
    let perm = op.permission();
    match (who, op) {
        (Who::Anon, Op::Reward { .. }) => Some(&["PT401"]),
        (Who::Anon, _) => Some(&["PT401", "42501"]),
        (Who::Trusted(None), _) if matches!(op, Op::Reward { .. }) => Some(&["PT403"]),
        (Who::Trusted(None), _)
            if perm.is_some() && !matches!(op, Op::Recover { .. } | Op::RecoverBulk { .. }) =>
        {
            Some(&["PT422"])
        }
        (Who::Trusted(Some(s)), _) | (Who::Staff(s), _) => {
            let staff = &world.staff[s];
            if let Some(p) = perm {
                // at the op's property when the model knows it (SPEC §22)
                let holds = match op.place(m) {
                    Some(place) => staff.holds_at(p, place),
                    None => staff.holds(p),
                };
                if !holds {
                    return Some(&["PT403", "42501"]);
                }
            }
            // a statement: the player's own, or view_all staff's
            if matches!(op, Op::Statement { .. }) && matches!(who, Who::Staff(_)) {
                let own = target_player.is_some_and(|p| world.players[p] == staff.id);
                return (!own && !staff.holds("loyalty:view_all")).then_some(&["PT403"]);
            }
            // nobody acts on their own play or points
            if target_player.is_some_and(|p| world.players[p] == staff.id) {
                return Some(&["PT403"]);
            }
            None
        }
        (Who::Player(_), Op::Statement { .. }) => None,
        (Who::Player(p), _) if perm.is_some() => {
            // a player is staff only if they are on the roster
            if world.staff.iter().any(|s| s.id == world.players[p]) {
                None
            } else {
                Some(&["PT403", "42501"])
            }
        }
        (Who::Player(_), _) => Some(&["PT401", "PT403", "42501"]),
        _ => None,
    }
}

/// Refusals any call may meet for reasons outside the caller: a
/// serialization failure under REPEATABLE READ, a lock or statement
/// timeout the schedule set, a backend terminated by the fault schedule.
/// The session that holds its transactions open before calling, and how
/// many players (the first) only it plays.
const SLOW_SESSION: usize = 0;
const SLOW_PLAYERS: usize = 4;

const FAULT_CODES: [&str; 4] = ["40001", "55P03", "57014", "57P01"];

/// The spec code each SQLSTATE may carry (docs/reference.md §5).
fn code_fits(state: &str, msg: &str) -> bool {
    match state {
        "PT401" => msg == "UNAUTHORIZED",
        "PT403" => matches!(msg, "FORBIDDEN" | "INVALID_STAFF_ID"),
        "PT404" => msg.ends_with("_NOT_FOUND"),
        "PT409" => matches!(
            msg,
            "SLIP_NOT_CLOSED"
                | "SLIP_ALREADY_OPEN"
                | "SLIP_NOT_APPROVED"
                | "SLIP_OVERLAP"
                | "IDEMPOTENCY_CONFLICT"
                | "INSUFFICIENT_BALANCE"
                | "HOLD_NOT_ACTIVE"
        ),
        "PT422" => matches!(
            msg,
            "VALIDATION_ERROR" | "REWARD_EXCEEDS_LIMIT" | "REDEMPTION_EXCEEDS_LIMIT"
        ),
        "PT429" => msg == "RATE_LIMIT_EXCEEDED",
        "42501" | "40001" | "55P03" | "57014" | "57P01" => true,
        _ => false,
    }
}

pub struct Call<'a> {
    pub sql: String,
    pub params: Vec<Box<dyn ToSql + Sync + 'a>>,
}

/// How a call's transaction runs: REPEATABLE READ or not, a pause after
/// its snapshot is taken (milliseconds: an application holding a
/// transaction open while settings change), a statement or lock timeout.
struct Manner {
    rr: bool,
    pause: Option<i64>,
    timeout: Option<String>,
}

/// Run `sql` as `who`, in a transaction of its own run as `manner` says;
/// `sending` is called just before the call itself is sent.
fn run(
    c: &mut Client,
    world: &World,
    who: Who,
    manner: Manner,
    call: &Call<'_>,
    sending: &mut dyn FnMut(),
    trail: &mut Trail,
) -> Result<Vec<Row>, postgres::Error> {
    // A refused call's transaction is rolled back when it is dropped, and
    // that ROLLBACK runs under the call's own SET LOCAL statement_timeout
    // (1 to 40 ms): on a busy machine the timeout can cancel it, the client
    // ignores the answer, and the connection stays in the aborted block, so
    // the next BEGIN is answered 25P02. The failed BEGIN sends a ROLLBACK of
    // its own; the harness counts it and begins again. (A 25P02 from the
    // call itself is still a violation.)
    trail.step = "begin";
    match begin(c, manner.rr) {
        Ok(tx) => return call_in(tx, world, who, manner, call, sending, &mut trail.step),
        Err(e) if e.code().map(|s| s.code()) == Some("25P02") => trail.leftover = true,
        Err(e) => return Err(e),
    }
    let tx = begin(c, manner.rr)?;
    call_in(tx, world, who, manner, call, sending, &mut trail.step)
}

/// Where a call's transaction got to, and whether it found the previous
/// one's aborted block still open (see [`run`]).
struct Trail {
    step: &'static str,
    leftover: bool,
}

fn begin(c: &mut Client, rr: bool) -> Result<postgres::Transaction<'_>, postgres::Error> {
    if rr {
        c.build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .start()
    } else {
        c.transaction()
    }
}

/// The call in its transaction, as [`run`] says.
fn call_in(
    mut tx: postgres::Transaction<'_>,
    world: &World,
    who: Who,
    manner: Manner,
    call: &Call<'_>,
    sending: &mut dyn FnMut(),
    step: &mut &'static str,
) -> Result<Vec<Row>, postgres::Error> {
    *step = "pause";
    if let Some(ms) = manner.pause {
        tx.execute("SELECT pg_sleep($1::int / 1000.0)", &[&(ms as i32)])?;
    }
    *step = "timeout";
    if let Some(t) = manner.timeout {
        tx.batch_execute(&t)?;
    }
    let (role, sub) = match who {
        Who::Anon => ("anon", None),
        Who::Player(p) => ("authenticated", Some(world.players[p].clone())),
        Who::Staff(s) => ("authenticated", Some(world.staff[s].id.clone())),
        Who::Trusted(_) => ("service_role", None),
    };
    *step = "role";
    tx.batch_execute(&format!("SET LOCAL ROLE {role}"))?;
    let claims = match &sub {
        Some(s) => format!(r#"{{"role":"{role}","sub":"{s}"}}"#),
        None => format!(r#"{{"role":"{role}"}}"#),
    };
    *step = "claims";
    tx.execute(
        "SELECT set_config('request.jwt.claims', $1, true)",
        &[&claims],
    )?;
    let params: Vec<&(dyn ToSql + Sync)> = call.params.iter().map(|p| p.as_ref() as _).collect();
    sending();
    *step = "call";
    let rows = tx.query(call.sql.as_str(), &params)?;
    *step = "commit";
    tx.commit()?;
    Ok(rows)
}

/// The person a call names in `p_staff_id`: the trusted back end's person,
/// or the signed-in staff member themselves.
fn person(world: &World, who: Who) -> Option<String> {
    match who {
        Who::Trusted(Some(s)) | Who::Staff(s) => Some(world.staff[s].id.clone()),
        _ => None,
    }
}

/// Run `op` (session `session`, call number `n`) and record what became of
/// it. Returns false when the connection was lost.
pub fn execute(
    c: &mut Client,
    world: &World,
    m: &std::sync::Mutex<Model>,
    op: &Op,
    rng: &mut Rng,
    session: usize,
    n: u64,
) -> bool {
    // the handles the op refers to, resolved now
    let (call, target, what) = {
        let model = m.lock().unwrap();
        match build(op, world, &model) {
            Some(b) => b,
            None => return true,
        }
    };
    let who = op.who().unwrap_or(Who::Trusted(None));
    // the first session is a floor back end that holds its REPEATABLE READ
    // transactions open a while before it pays (its snapshot older than
    // the settings, ladder and games changed meanwhile); the others use
    // REPEATABLE READ now and then
    let pays = matches!(
        op,
        Op::Complete { .. } | Op::Batch { .. } | Op::Recover { .. }
    );
    let slow = session == SLOW_SESSION && pays && rng.chance(90);
    let rr = slow || rng.chance(8);
    let pause = slow.then(|| rng.between(100, 700));
    let timeout = if rng.chance(4) {
        Some(format!(
            "SET LOCAL statement_timeout = {}",
            rng.between(1, 40)
        ))
    } else if rng.chance(4) {
        Some(format!("SET LOCAL lock_timeout = {}", rng.between(1, 40)))
    } else {
        None
    };
    // the settings the harness had seen committed when the call was sent
    let mut sent = 1;
    let mut trail = Trail {
        step: "begin",
        leftover: false,
    };
    let manner = Manner { rr, pause, timeout };
    let result = run(
        c,
        world,
        who,
        manner,
        &call,
        &mut || sent = m.lock().unwrap().thresholds.len(),
        &mut trail,
    );
    let outcome = match &result {
        Ok(rows) => Outcome::Ok(summary(rows)),
        Err(e) => match e.as_db_error() {
            Some(db) => Outcome::Refused(db.code().code().to_string(), db.message().to_string()),
            None => Outcome::Lost,
        },
    };
    let mut model = m.lock().unwrap();
    if trail.leftover {
        model.fault("rollback cancelled by the call's statement timeout (next BEGIN: 25P02)");
    }
    let refuse = must_refuse(op, world, &model, target);
    match (&outcome, refuse) {
        (Outcome::Ok(_), Some(codes)) => model.violation(
            n,
            format!("{what} as {who:?} must be refused ({codes:?}) but was acknowledged"),
        ),
        (Outcome::Refused(state, msg), Some(codes))
            if !codes.contains(&state.as_str()) && !FAULT_CODES.contains(&state.as_str()) =>
        {
            model.violation(
                n,
                format!("{what} as {who:?}: {state} {msg}, the contract says {codes:?}"),
            )
        }
        _ => {}
    }
    if let Outcome::Refused(state, msg) = &outcome {
        if state == "40P01" {
            model.violation(n, format!("{what}: a deadlock (40P01)"));
        } else if !code_fits(state, msg) {
            model.violation(
                n,
                format!(
                    "{what}: an undocumented refusal {state} {msg} (at the harness's {})",
                    trail.step
                ),
            );
        }
    }
    if let Ok(rows) = &result {
        let ceiling = model.thresholds[sent - 1..]
            .iter()
            .copied()
            .max()
            .unwrap_or(i64::MAX);
        acknowledge(op, world, &mut model, rows, session, ceiling);
    } else if let Op::Reward { voucher, .. } = op {
        // A backend terminated (57P01, 57P02) may have committed before it
        // reported the termination, which then answers the COMMIT: like a
        // lost connection, the call's outcome is unknown, not a refusal.
        let unknown = match &outcome {
            Outcome::Lost => true,
            Outcome::Refused(state, _) => state.starts_with("57P"),
            Outcome::Ok(_) => false,
        };
        match outcome {
            _ if unknown => model.refused_vouchers.retain(|v| v != voucher),
            _ if !model.vouchers.iter().any(|(v, _)| v == voucher) => {
                model.refused_vouchers.push(voucher.clone())
            }
            _ => {}
        }
        if unknown {
            // its outcome is unknown: neither present nor absent is proven
            model.vouchers.push((voucher.clone(), usize::MAX));
        }
    }
    let lost = outcome == Outcome::Lost;
    model.record(n, session, op.kind(), format!("{what} as {who:?}"), outcome);
    !lost
}

fn summary(rows: &[Row]) -> String {
    rows.first()
        .map(|r| {
            (0..r.len())
                .map(|i| {
                    r.try_get::<_, Option<String>>(i)
                        .ok()
                        .flatten()
                        .or_else(|| {
                            r.try_get::<_, Option<i64>>(i)
                                .ok()
                                .flatten()
                                .map(|v| v.to_string())
                        })
                        .or_else(|| {
                            r.try_get::<_, Option<bool>>(i)
                                .ok()
                                .flatten()
                                .map(|v| v.to_string())
                        })
                        .unwrap_or_else(|| "-".into())
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}

/// The SQL of `op`, the player it acts on (if one), and how the trace names
/// it. None when a handle it needs does not exist.
fn build<'a>(op: &Op, world: &World, m: &Model) -> Option<(Call<'a>, Option<usize>, String)> {
    let staff = |who: Who| person(world, who);
    let p = |i: usize| world.players[i].clone();
    Some(match op {
        Op::Open { player, game, bet, minutes, property, who } => (
            Call {
                // after the player's last slip the harness saw end (else
                // SLIP_OVERLAP: play is rated once)
                sql: "SELECT id::text FROM loyalty.open_rating_slip($1::text::uuid, $2::text, $3::bigint::numeric,
                        p_start_time => least(now(), greatest(now() - make_interval(mins => $4::int),
                                                              $6::text::timestamptz + interval '1 second')),
                        p_staff_id => $5::text::uuid, p_property_id => $7::text)"
                    .into(),
                params: vec![
                    Box::new(p(*player)),
                    Box::new(game.to_string()),
                    Box::new(*bet),
                    Box::new(*minutes as i32),
                    Box::new(staff(*who)),
                    Box::new(m.last_end.get(player).cloned()),
                    Box::new(world.property(*property)),
                ],
            },
            Some(*player),
            format!("open {game} {bet} {minutes}m for {} at {}", p(*player), world.property(*property)),
        ),
        Op::Complete { slip, atomic, who } => {
            let (id, player) = m.slips.get(*slip)?.clone();
            (
                Call {
                    sql: "SELECT status, ledger_entry_id, idempotent_hit, slip_id::text, end_time::text
                            FROM loyalty.complete_rating_slip($1::text::uuid, p_atomic => $2, p_staff_id => $3::text::uuid)"
                        .into(),
                    params: vec![Box::new(id.clone()), Box::new(*atomic), Box::new(staff(*who))],
                },
                Some(player),
                format!("complete slip {id} of {}", p(player)),
            )
        }
        Op::Batch { slips, who } => {
            let ids: Vec<String> = slips.iter().filter_map(|s| m.slips.get(*s).map(|x| x.0.clone())).collect();
            (
                Call {
                    sql: "SELECT status, ledger_entry_id, idempotent_hit, slip_id::text
                            FROM loyalty.complete_rating_slips($1::text[]::uuid[], p_staff_id => $2::text::uuid)"
                        .into(),
                    params: vec![Box::new(ids.clone()), Box::new(staff(*who))],
                },
                None,
                format!("batch {}", ids.join(",")),
            )
        }
        Op::Reward { player, points, voucher, property, who } => (
            Call {
                sql: "SELECT ledger_entry_id, idempotent_hit FROM loyalty.manual_reward($1::text::uuid,
                        $2::bigint, 'sim reward at the table', $3::text::uuid, NULL, $4::text,
                        p_property_id => $5::text)"
                    .into(),
                params: vec![
                    Box::new(p(*player)),
                    Box::new(*points),
                    Box::new(staff(*who)),
                    Box::new(voucher.clone()),
                    Box::new(world.property(*property)),
                ],
            },
            Some(*player),
            format!("reward {points} to {} voucher {voucher} at {}", p(*player), world.property(*property)),
        ),
        Op::Hold { player, points, request, ttl, property, who } => (
            Call {
                sql: "SELECT hold_id::text, status FROM loyalty.hold_points($1::text::uuid, $2::bigint, 'restaurant',
                        'sim comp for dinner', $3::text::uuid, $4::text, make_interval(secs => $5::int),
                        p_property_id => $6::text)"
                    .into(),
                params: vec![
                    Box::new(p(*player)),
                    Box::new(*points),
                    Box::new(staff(*who)),
                    Box::new(request.clone()),
                    Box::new(*ttl as i32),
                    Box::new(world.property(*property)),
                ],
            },
            Some(*player),
            format!("hold {points} of {} at {}", p(*player), world.property(*property)),
        ),
        Op::Capture { hold, points, who } => {
            let (id, player) = m.holds.get(*hold)?.clone();
            (
                Call {
                    sql: "SELECT status, ledger_entry_id, idempotent_hit, hold_id::text
                            FROM loyalty.capture_hold($1::text::uuid, $2::bigint, $3::text::uuid)"
                        .into(),
                    params: vec![Box::new(id.clone()), Box::new(*points), Box::new(staff(*who))],
                },
                Some(player),
                format!("capture hold {id} of {}", p(player)),
            )
        }
        Op::Void { hold, who } => {
            let (id, player) = m.holds.get(*hold)?.clone();
            (
                Call {
                    sql: "SELECT status, hold_id::text FROM loyalty.void_hold($1::text::uuid, 'sim void of the comp',
                            $2::text::uuid)"
                        .into(),
                    params: vec![Box::new(id.clone()), Box::new(staff(*who))],
                },
                Some(player),
                format!("void hold {id} of {}", p(player)),
            )
        }
        Op::Redeem { player, points, property, who } => (
            Call {
                sql: "SELECT status, ledger_entry_id, idempotent_hit, hold_id::text FROM loyalty.redeem_points(
                        $1::text::uuid, $2::bigint, 'free play', 'sim kiosk free play', $3::text::uuid,
                        p_property_id => $4::text)"
                    .into(),
                params: vec![
                    Box::new(p(*player)),
                    Box::new(*points),
                    Box::new(staff(*who)),
                    Box::new(world.property(*property)),
                ],
            },
            Some(*player),
            format!("redeem {points} of {} at {}", p(*player), world.property(*property)),
        ),
        Op::Reverse { redemption, who } => {
            let entry = *m.redemptions.get(*redemption)?;
            (
                Call {
                    sql: "SELECT ledger_entry_id, idempotent_hit FROM loyalty.reverse_redemption($1::bigint,
                            'sim moved to a cash charge', $2::text::uuid)"
                        .into(),
                    params: vec![Box::new(entry), Box::new(staff(*who))],
                },
                None,
                format!("reverse entry {entry}"),
            )
        }
        Op::ApproveSlip { slip, who } => {
            let (id, player) = m.slips.get(*slip)?.clone();
            (
                Call {
                    sql: "SELECT status, ledger_entry_id, idempotent_hit, rating_slip_id::text
                            FROM loyalty.approve_slip($1::text::uuid, p_staff_id => $2::text::uuid)"
                        .into(),
                    params: vec![Box::new(id.clone()), Box::new(staff(*who))],
                },
                Some(player),
                format!("approve slip {id} of {}", p(player)),
            )
        }
        Op::RejectSlip { slip, who } => {
            let (id, player) = m.slips.get(*slip)?.clone();
            (
                Call {
                    sql: "SELECT approval_status FROM loyalty.reject_slip($1::text::uuid, 'sim rejected on camera review',
                            p_staff_id => $2::text::uuid)"
                        .into(),
                    params: vec![Box::new(id.clone()), Box::new(staff(*who))],
                },
                Some(player),
                format!("reject slip {id} of {}", p(player)),
            )
        }
        Op::ApproveHold { hold, who } => {
            let (id, player) = m.holds.get(*hold)?.clone();
            (
                Call {
                    sql: "SELECT status FROM loyalty.approve_hold($1::text::uuid, $2::text::uuid)".into(),
                    params: vec![Box::new(id.clone()), Box::new(staff(*who))],
                },
                Some(player),
                format!("approve hold {id} of {}", p(player)),
            )
        }
        Op::Recover { slip, .. } => {
            let (id, player) = m.slips.get(*slip)?.clone();
            (
                Call {
                    sql: "SELECT status, ledger_entry_id, idempotent_hit, rating_slip_id::text
                            FROM loyalty.recover_slip_loyalty($1::text::uuid)"
                        .into(),
                    params: vec![Box::new(id.clone())],
                },
                Some(player),
                format!("recover slip {id} of {}", p(player)),
            )
        }
        Op::RecoverBulk { .. } => (
            Call {
                sql: "SELECT attempted::bigint, recovered::bigint, correlation_id FROM loyalty.recover_partial_completions(50)"
                    .into(),
                params: vec![],
            },
            None,
            "bulk recovery".into(),
        ),
        Op::Sweep { name } => (
            Call {
                sql: format!("SELECT count(*) FROM loyalty.{name}()"),
                params: vec![],
            },
            None,
            format!("sweep {name}"),
        ),
        Op::Increment { player, delta } => (
            Call {
                sql: "SELECT balance_after FROM loyalty.increment_player_loyalty($1::text::uuid, $2::bigint)".into(),
                params: vec![Box::new(p(*player)), Box::new(*delta)],
            },
            Some(*player),
            format!("increment {delta} for {}", p(*player)),
        ),
        Op::Statement { player, .. } => (
            Call {
                sql: "SELECT count(*) FROM loyalty.player_statement($1::text::uuid, now() - interval '400 days')".into(),
                params: vec![Box::new(p(*player))],
            },
            Some(*player),
            format!("statement of {}", p(*player)),
        ),
        Op::Bad { which, who } => {
            let (sql, what): (&str, &str) = match which {
                0 => ("SELECT status FROM loyalty.complete_rating_slip(NULL, p_staff_id => $1::text::uuid)", "complete NULL"),
                1 => (
                    "SELECT id::text FROM loyalty.open_rating_slip(gen_random_uuid(), 'NO_SUCH_GAME', 25, p_staff_id => $1::text::uuid)",
                    "open an unknown game",
                ),
                2 => (
                    "SELECT status FROM loyalty.capture_hold(gen_random_uuid(), NULL, $1::text::uuid)",
                    "capture no hold",
                ),
                3 => (
                    "SELECT id::text FROM loyalty.open_rating_slip(gen_random_uuid(), 'BLACKJACK', -5, p_staff_id => $1::text::uuid)",
                    "open a negative bet",
                ),
                4 => (
                    "SELECT status FROM loyalty.hold_points(gen_random_uuid(), 100, repeat(E'\\u200B', 3), 'sim comp for dinner', $1::text::uuid)",
                    "hold at an invisible outlet",
                ),
                _ => (
                    "SELECT status FROM loyalty.complete_rating_slip(gen_random_uuid(), p_staff_id => $1::text::uuid)",
                    "complete no slip",
                ),
            };
            (
                Call {
                    sql: sql.into(),
                    params: vec![Box::new(staff(*who))],
                },
                None,
                what.to_string(),
            )
        }
    })
}

/// The gameplay entries a completion, batch, approval or recovery says it
/// posted, each under a threshold of at most `ceiling`.
fn paid(m: &mut Model, rows: &[Row], ceiling: i64) {
    for r in rows {
        let status: Option<String> = r.try_get(0).ok().flatten();
        let entry: Option<i64> = r.try_get(1).ok().flatten();
        let hit: bool = r
            .try_get::<_, Option<bool>>(2)
            .ok()
            .flatten()
            .unwrap_or(false);
        let slip: Option<String> = r.try_get(3).ok().flatten();
        if let (Some(entry), false, Some(slip)) = (entry, hit, slip) {
            if matches!(status.as_deref(), Some("COMPLETED" | "PAID")) {
                m.acked.push(Acked::Paid {
                    slip,
                    entry,
                    ceiling,
                });
            }
        }
    }
}

/// What an acknowledged call says is now in the rows.
fn acknowledge(op: &Op, world: &World, m: &mut Model, rows: &[Row], session: usize, ceiling: i64) {
    let text = |r: &Row, i: usize| r.try_get::<_, Option<String>>(i).ok().flatten();
    let int = |r: &Row, i: usize| r.try_get::<_, Option<i64>>(i).ok().flatten();
    let flag = |r: &Row, i: usize| {
        r.try_get::<_, Option<bool>>(i)
            .ok()
            .flatten()
            .unwrap_or(false)
    };
    match op {
        Op::Open {
            player, property, ..
        } => {
            if let Some(id) = rows.first().and_then(|r| text(r, 0)) {
                m.places.insert(id.clone(), *property);
                m.slips.push((id, *player));
                m.open_slips.push(m.slips.len() - 1);
                if session == SLOW_SESSION {
                    m.slow_slips.push(m.slips.len() - 1);
                }
            }
        }
        Op::Complete { slip, .. } => {
            m.open_slips.retain(|s| s != slip);
            m.slow_slips.retain(|s| s != slip);
            if let (Some(end), Some((_, player))) =
                (rows.first().and_then(|r| text(r, 4)), m.slips.get(*slip))
            {
                let player = *player;
                m.last_end.insert(player, end);
            }
            paid(m, rows, ceiling);
        }
        Op::Batch { slips, .. } => {
            m.open_slips.retain(|s| !slips.contains(s));
            m.slow_slips.retain(|s| !slips.contains(s));
            paid(m, rows, ceiling)
        }
        Op::ApproveSlip { .. } | Op::Recover { .. } => paid(m, rows, ceiling),
        Op::RecoverBulk { .. } => {
            if let (Some(correlation), Some(recovered)) = (
                rows.first().and_then(|r| text(r, 2)),
                rows.first().and_then(|r| int(r, 1)),
            ) {
                m.acked.push(Acked::Recovered {
                    correlation,
                    recovered,
                    ceiling,
                });
            }
        }

        Op::Reward {
            player,
            points,
            voucher,
            ..
        } => {
            if let Some(r) = rows.first() {
                if let (Some(entry), false) = (int(r, 0), flag(r, 1)) {
                    m.acked.push(Acked::Reward {
                        entry,
                        reward_id: voucher.clone(),
                        points: *points,
                    });
                }
                m.vouchers.push((voucher.clone(), *player));
                m.refused_vouchers.retain(|v| v != voucher);
            }
        }
        Op::Hold {
            player, property, ..
        } => {
            if let Some(id) = rows.first().and_then(|r| text(r, 0)) {
                m.places.insert(id.clone(), *property);
                m.holds.push((id, *player));
            }
        }
        Op::Capture { .. } | Op::Redeem { .. } => {
            if let Some(r) = rows.first() {
                if let (
                    Some(hold),
                    Op::Redeem {
                        player, property, ..
                    },
                ) = (text(r, 3), op)
                {
                    m.places.insert(hold.clone(), *property);
                    m.holds.push((hold, *player));
                }
                if let (Some(entry), Some(hold)) = (int(r, 1), text(r, 3)) {
                    if text(r, 0).as_deref() == Some("CAPTURED") {
                        // a redemption is where its hold is
                        if let Some(place) = m.places.get(&hold).copied() {
                            m.places.insert(entry.to_string(), place);
                        }
                        if !flag(r, 2) {
                            m.acked.push(Acked::Captured { hold, entry });
                        }
                        if !m.redemptions.contains(&entry) {
                            m.redemptions.push(entry);
                        }
                    }
                }
            }
        }
        Op::Void { .. } => {
            if let Some(r) = rows.first() {
                if let (Some(status), Some(hold)) = (text(r, 0), text(r, 1)) {
                    if status == "VOIDED" {
                        m.acked.push(Acked::Voided { hold });
                    }
                }
            }
        }
        _ => {}
    }
    let _ = world;
}
