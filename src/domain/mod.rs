//! The pure core: points and tiers, idempotency keys and canonical JSON, the
//! ledger's kinds, staff permissions, free-text reasons and the one error
//! type. No SPI and no session state: everything here is a function of its
//! arguments, so the unit tests (`cargo test --lib`) cover it without a
//! database. It calls nothing else in the crate. (Not named `core`, which
//! would shadow Rust's own `core` crate in every path.)

pub mod error;
pub mod keys;
pub mod kinds;
pub mod permissions;
pub mod points;
pub mod reason;
pub mod replay;
