//! casino_loyalty: player-loyalty points kept correct inside PostgreSQL.
//! This file only wires modules and SQL; docs/reference.md is the contract.

use pgrx::prelude::*;

pub mod alert;
pub mod api;
pub mod approval;
pub mod auth;
pub mod context;
pub mod error;
pub mod jsonb;
pub mod keys;
pub mod kinds;
pub mod ladder;
pub mod ledger;
pub mod log;
pub mod points;
pub mod rate_limit;
pub mod reason;
pub mod rewards;
pub mod runbook;
pub mod settings;
pub mod slip;
pub mod spi;
pub mod subxact;

::pgrx::pg_module_magic!();

extension_sql_file!("../sql/schema.sql", name = "schema", bootstrap);
extension_sql_file!("../sql/seed.sql", name = "seed", requires = ["schema"]);
extension_sql_file!(
    "../sql/runbook.sql",
    name = "runbook",
    requires = ["schema", slip::slip_points, auth::require_caller]
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
}

/// Required by `cargo pgrx test`.
#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    pub fn postgresql_conf_options() -> Vec<&'static str> {
        vec![]
    }
}
