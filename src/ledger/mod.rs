//! The ledger: the one write path for balances and everything it keeps
//! true. `post` is every balance change (gameplay, rewards, and from 0.3.0
//! holds, expiry and reversals): it locks the player, checks the
//! idempotency key under the lock, appends the ledger row, seals it into the
//! player's hash chain (`chain`) and changes the balance in one statement.
//! `balance` is that row under its lock; `held` is what holds reserve; `casino`, `ladder` and `settings`
//! are the configuration the write path and its limits read; `rate_limit`
//! counts manual rewards per staff member; `api` is the SQL surface of the
//! primitive itself. Calls `auth`, the plumbing and the core; never a floor
//! capability.

pub mod api;
pub mod balance;
pub mod casino;
pub mod chain;
pub mod held;
pub mod ladder;
mod post;
pub mod rate_limit;
pub mod settings;
pub mod standing;

pub use balance::{
    lock_player, restated, roll_if_due, set_balance, tier_changed, try_lock_player, BalanceChange,
    Computed, Locked, TIER_CHANNEL,
};
pub use post::{
    find_entry, increment, post, post_along, replay, Along, Entry, Here, Posted, Restate, UnderLock,
};
