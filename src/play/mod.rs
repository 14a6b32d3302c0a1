//! Play on the floor: rating slips (open, re-rate, complete), their
//! accrual and pending rows, four-eyes approval of large slips, and a whole
//! table closed in one call. Top-down inside the room: `batch` calls
//! `complete`; `approval` calls `accrual` and `slip`; `complete` calls
//! `accrual` and `slip`; `accrual` calls `slip`; `slip` calls `game`, which
//! calls nothing of the room. Below
//! it: the ledger, alerts, auth, the plumbing and the core.

pub mod accrual;
pub mod approval;
pub mod batch;
pub mod complete;
pub mod game;
pub mod slip;
