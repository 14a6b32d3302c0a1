//! casino_loyalty: player-loyalty points kept correct inside PostgreSQL.
//! This file only wires modules and SQL; docs/reference.md is the contract.

use pgrx::prelude::*;

// The rooms, from the bottom floor up; each may call only the rooms below
// it (CONTRIBUTING.md, "The house").
pub mod aging;
pub mod alert;
pub mod auth;
pub mod domain;
pub mod ledger;
pub mod ops;
pub mod pg;
pub mod play;
pub mod redeem;
pub mod rewards;

::pgrx::pg_module_magic!();

/// Runs once in each backend when PostgreSQL loads the library.
#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    // No Rust backtrace may reach a client: pgrx appends whatever std
    // captured at a panic to the error's DETAIL (which PostgREST hands to the
    // browser), and RUST_BACKTRACE in the server's environment turns capture
    // on. std reads RUST_LIB_BACKTRACE before RUST_BACKTRACE, once per
    // process, at the first capture, which comes after this. A backend is
    // single-threaded, so changing its environment here races nothing.
    std::env::set_var("RUST_LIB_BACKTRACE", "0");
}

extension_sql_file!("../sql/schema.sql", name = "schema", bootstrap);
extension_sql_file!("../sql/seed.sql", name = "seed", requires = ["schema"]);
extension_sql_file!(
    "../sql/redeem/hold.sql",
    name = "hold",
    requires = ["schema"]
);
extension_sql_file!(
    "../sql/play/partial_completion.sql",
    name = "partial_completion",
    requires = ["schema"]
);
extension_sql_file!(
    "../sql/ops/runbook.sql",
    name = "runbook",
    requires = [
        "schema",
        auth::require_caller,
        ops::runbook::list_partial_completions,
        ledger::standing::standing_check
    ]
);
extension_sql_file!(
    "../sql/alert/outbox.sql",
    name = "outbox",
    requires = ["schema", auth::require_caller, pg::standby::require_primary]
);
extension_sql_file!(
    "../sql/ops/health.sql",
    name = "health",
    requires = [
        "schema",
        "outbox",
        "partial_completion",
        auth::require_caller,
        ledger::chain::verify::verify_ledger_chain,
        ledger::chain::verify::verify_ledger_chain_since,
        ledger::ladder::player_tier,
        ledger::standing::standing_check
    ]
);
extension_sql_file!(
    "../sql/aging/statement.sql",
    name = "statement",
    requires = [
        "schema",
        "health",
        auth::require_caller,
        auth::caller_uid_sql,
        domain::kinds::lifetime_credit,
        ledger::ladder::player_tier
    ]
);
extension_sql_file!(
    "../sql/ops/exception_report.sql",
    name = "exception_report",
    requires = ["schema", "hold", auth::require_caller]
);
extension_sql_file!(
    "../sql/ops/admin.sql",
    name = "admin",
    requires = [
        "schema",
        auth::require_caller,
        pg::context::resolve_correlation_id,
        pg::standby::require_primary
    ]
);
extension_sql_file!(
    "../sql/api.sql",
    name = "api",
    requires = ["schema", "statement"]
);
extension_sql_file!("../sql/security.sql", name = "security", finalize);

/// In-database suites, one file per module under `pgrx-tests/`.
#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    use pgrx::prelude::*;
    include!("../pgrx-tests/support.rs");
    include!("../pgrx-tests/schema.rs");
    include!("../pgrx-tests/increment.rs");
    include!("../pgrx-tests/keys.rs");
    include!("../pgrx-tests/points.rs");
    include!("../pgrx-tests/slip.rs");
    include!("../pgrx-tests/rewards.rs");
    include!("../pgrx-tests/robustness.rs");
    include!("../pgrx-tests/operations.rs");
}

/// Required by `cargo pgrx test`.
#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    pub fn postgresql_conf_options() -> Vec<&'static str> {
        vec![]
    }
}
