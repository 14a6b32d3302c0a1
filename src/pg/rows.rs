//! The row shapes that more than one SQL function returns, or that code
//! builds away from the function that returns it: each declared once, here.
//!
//! pgrx reads a set-returning function's column names from the tokens of
//! its signature before any macro inside it is expanded, so a `type` alias
//! in the signature would lose them. Each shape is therefore one list of
//! tokens in [`row_shape!`]: `row_fn!` writes it into a function's
//! signature (`-> SlipRow`), and `rows::SlipRow` is the same list as the
//! Rust type the code that builds rows uses.

// A shape is a long tuple by nature.
#![allow(clippy::type_complexity)]

use pgrx::prelude::*;

/// The column lists (`@columns <Shape> <what to write>`) and what is written
/// with them: a Rust type (`type <Alias>`) or a SQL function (`row_fn!`).
#[macro_export]
macro_rules! row_shape {
    // A rating slip (open_rating_slip, update_rating_slip_bet).
    (@columns SlipRow $($what:tt)*) => { $crate::row_shape!(@write [$($what)*] (
        name!(id, pgrx::Uuid),
        name!(player_id, pgrx::Uuid),
        name!(visit_id, Option<pgrx::Uuid>),
        name!(session_id, Option<pgrx::Uuid>),
        name!(game_type, String),
        name!(average_bet, AnyNumeric),
        name!(start_time, TimestampWithTimeZone),
        name!(end_time, Option<TimestampWithTimeZone>),
        name!(status, String),
        name!(duration_seconds, Option<i32>),
        name!(points_owed, Option<i64>),
        name!(accrued_ledger_id, Option<i64>),
        name!(correlation_id, String),
    )); };
    // A slip's gameplay entry (accrue_points_from_slip, recover_slip_loyalty,
    // approve_slip): status PAID with the entry, or HELD_FOR_APPROVAL (the
    // daily four-eyes rule held the slip: no entry, nothing paid).
    (@columns AccrualRow $($what:tt)*) => { $crate::row_shape!(@write [$($what)*] (
        name!(ledger_entry_id, Option<i64>),
        name!(points_earned, i64),
        name!(balance_before, Option<i64>),
        name!(balance_after, Option<i64>),
        name!(tier_before, Option<String>),
        name!(tier_after, Option<String>),
        name!(idempotent_hit, bool),
        name!(rating_slip_id, pgrx::Uuid),
        name!(correlation_id, String),
        name!(status, String),
    )); };
    // One completion (complete_rating_slip; batch rows are built from it).
    (@columns CompleteRow $($what:tt)*) => { $crate::row_shape!(@write [$($what)*] (
        name!(status, String),
        name!(slip_id, pgrx::Uuid),
        name!(player_id, pgrx::Uuid),
        name!(visit_id, Option<pgrx::Uuid>),
        name!(session_id, Option<pgrx::Uuid>),
        name!(game_type, String),
        name!(average_bet, AnyNumeric),
        name!(start_time, TimestampWithTimeZone),
        name!(end_time, Option<TimestampWithTimeZone>),
        name!(duration_seconds, Option<i32>),
        name!(ledger_entry_id, Option<i64>),
        name!(points_earned, Option<i64>),
        name!(balance_before, Option<i64>),
        name!(balance_after, Option<i64>),
        name!(tier_before, Option<String>),
        name!(tier_after, Option<String>),
        name!(idempotent_hit, bool),
        name!(error_code, Option<String>),
        name!(error_message, Option<String>),
        name!(correlation_id, String),
        name!(recovery_needed, bool),
    )); };
    // One element of a batch close (complete_rating_slips).
    (@columns BatchRow $($what:tt)*) => { $crate::row_shape!(@write [$($what)*] (
        name!(ordinal, i32),
        name!(slip_id, Option<pgrx::Uuid>),
        name!(status, String),
        name!(player_id, Option<pgrx::Uuid>),
        name!(ledger_entry_id, Option<i64>),
        name!(points_earned, Option<i64>),
        name!(balance_after, Option<i64>),
        name!(tier_after, Option<String>),
        name!(idempotent_hit, bool),
        name!(error_code, Option<String>),
        name!(error_message, Option<String>),
        name!(recovery_needed, bool),
        name!(correlation_id, String),
    )); };
    // A hold after a call (hold_points, approve_hold, capture_hold,
    // void_hold, redeem_points).
    (@columns HoldRow $($what:tt)*) => { $crate::row_shape!(@write [$($what)*] (
        name!(hold_id, pgrx::Uuid),
        name!(player_id, pgrx::Uuid),
        name!(status, String),
        name!(points, i64),
        name!(captured_points, Option<i64>),
        name!(outlet, String),
        name!(comp_value_cents, i64),
        name!(expires_at, TimestampWithTimeZone),
        name!(ledger_entry_id, Option<i64>),
        name!(available_before, i64),
        name!(available_after, i64),
        name!(balance_after, i64),
        name!(idempotent_hit, bool),
        name!(correlation_id, String),
    )); };

    (@write [type $alias:ident] ($($columns:tt)*)) => {
        pub type $alias = ($($columns)*);
    };
    (@write [$(#[$($attr:tt)*])* fn $name:ident ($($arg:tt)*) {$($body:tt)*}] ($($columns:tt)*)) => {
        $(#[$($attr)*])*
        fn $name($($arg)*) -> TableIterator<'static, ($($columns)*)> {
            $($body)*
        }
    };
}

/// A SQL function returning rows of a shape above:
/// `row_fn! { #[pg_extern(...)] fn f(p: Option<i32>) -> SlipRow { ... } }`.
/// The body returns the `TableIterator`, as a plain `#[pg_extern]` does.
#[macro_export]
macro_rules! row_fn {
    ($(#[$($attr:tt)*])* fn $name:ident ($($arg:tt)*) -> $shape:ident {$($body:tt)*}) => {
        $crate::row_shape!(@columns $shape $(#[$($attr)*])* fn $name ($($arg)*) {$($body)*});
    };
}

row_shape!(@columns SlipRow type SlipRow);
row_shape!(@columns AccrualRow type AccrualRow);
row_shape!(@columns CompleteRow type CompleteRow);
row_shape!(@columns BatchRow type BatchRow);
row_shape!(@columns HoldRow type HoldRow);
