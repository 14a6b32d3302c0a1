//! PostgreSQL plumbing: prepared statements (SPI), subtransactions,
//! per-backend copies of tables, the request context (correlation id,
//! clock), canonical log lines, `jsonb` datums, the row shapes that SQL
//! functions return, and the standby guard. It knows no loyalty rule; it calls only `domain`.

pub mod context;
pub mod jsonb;
pub mod log;
pub mod rows;
pub mod spi;
pub mod standby;
pub mod subxact;
pub mod watch;
