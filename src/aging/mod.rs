//! Points that age (docs/reference.md §3, "Inactivity expiry"): after
//! `config.points_inactivity_expiry` without an earning entry, a player's
//! available points lapse in one EXPIRY entry (held points stay held), with
//! one POINTS_EXPIRING warning `config.expiry_warning` before. The
//! statements and balances as of a time are SQL (sql/aging/statement.sql).
//! Tiers age too: under `config.tier_basis = PERIOD` `roll_tier_period`
//! starts each qualification year (tier.rs).
//! Calls the ledger, auth and the plumbing.

pub mod expiry;
pub mod tier;
