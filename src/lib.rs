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

// What every capability shares, then each capability's tables, closed by
// sql/tables.sql ("tables"): everything after the tables requires it.
extension_sql_file!("../sql/schema.sql", name = "schema", bootstrap);
extension_sql_file!(
    "../sql/ledger/tables.sql",
    name = "ledger_tables",
    requires = ["schema"]
);
extension_sql_file!(
    "../sql/play/tables.sql",
    name = "play_tables",
    requires = ["schema"]
);
extension_sql_file!(
    "../sql/auth/staff.sql",
    name = "staff",
    requires = ["schema"]
);
extension_sql_file!(
    "../sql/alert/tables.sql",
    name = "alert_tables",
    requires = ["schema"]
);
extension_sql_file!(
    "../sql/rewards/tables.sql",
    name = "rewards_tables",
    requires = ["schema"]
);
extension_sql_file!(
    "../sql/ops/tables.sql",
    name = "ops_tables",
    requires = ["schema", "ledger_tables"]
);
extension_sql_file!(
    "../sql/ops/restore.sql",
    name = "restore",
    requires = ["schema", "ledger_tables", "play_tables"]
);
extension_sql_file!(
    "../sql/tables.sql",
    name = "tables",
    requires = [
        "schema",
        "ledger_tables",
        "play_tables",
        "staff",
        "alert_tables",
        "rewards_tables",
        "ops_tables",
        "restore"
    ]
);
extension_sql_file!("../sql/seed.sql", name = "seed", requires = ["tables"]);
extension_sql_file!(
    "../sql/redeem/hold.sql",
    name = "hold",
    requires = ["tables"]
);
extension_sql_file!(
    "../sql/play/partial_completion.sql",
    name = "partial_completion",
    requires = ["tables"]
);
extension_sql_file!(
    "../sql/ops/runbook.sql",
    name = "runbook",
    requires = [
        "tables",
        auth::require_caller,
        auth::require_caller_at,
        ops::runbook::list_partial_completions,
        ledger::standing::standing_check,
        domain::kinds::ledger_kinds,
        domain::kinds::lifetime_credit
    ]
);
extension_sql_file!(
    "../sql/alert/outbox.sql",
    name = "outbox",
    requires = ["tables", auth::require_caller, pg::standby::require_primary]
);
extension_sql_file!(
    "../sql/ops/health.sql",
    name = "health",
    requires = [
        "tables",
        "outbox",
        "partial_completion",
        auth::require_caller,
        auth::require_caller_at,
        ledger::chain::verify::verify_ledger_chain,
        ledger::chain::verify::verify_ledger_chain_since,
        ledger::ladder::player_tier,
        ledger::standing::standing_check,
        domain::kinds::ledger_kinds,
        domain::kinds::lifetime_credit
    ]
);
extension_sql_file!(
    "../sql/aging/statement.sql",
    name = "statement",
    requires = [
        "tables",
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
    requires = [
        "tables",
        "hold",
        auth::require_caller_at,
        domain::kinds::ledger_kinds
    ]
);
extension_sql_file!(
    "../sql/ops/property_summary.sql",
    name = "property_summary",
    requires = [
        "tables",
        "hold",
        auth::require_caller,
        domain::kinds::lifetime_credit
    ]
);
extension_sql_file!(
    "../sql/ops/admin.sql",
    name = "admin",
    requires = [
        "tables",
        domain::permissions::permissions,
        auth::require_caller,
        pg::context::resolve_correlation_id,
        pg::standby::require_primary
    ]
);
extension_sql_file!(
    "../sql/api.sql",
    name = "api",
    requires = ["tables", "statement"]
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
