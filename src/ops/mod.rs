//! Operations: the runbooks that change data (bulk recovery, balance
//! rebuild, re-tiering). Health checks, metrics, the admin API and the
//! read-only runbooks are SQL (`sql/ops/`); the outbox is `sql/alert/`. Everything here may
//! call every room below; nothing below calls it.

pub mod runbook;
