//! Operations: the runbooks that change data (bulk recovery, balance
//! rebuild, re-tiering). Health checks, metrics, the outbox, the admin API
//! and the read-only runbooks are SQL (`sql/ops/`). Everything here may
//! call every room below; nothing below calls it.

pub mod runbook;
