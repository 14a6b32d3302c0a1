//! Statements prepared once per backend and reused, as PL/pgSQL caches its
//! plans. Kept plans are PostgreSQL cached plans: DDL on the tables they
//! use invalidates and re-plans them automatically.

use crate::domain::error::Result;
use pgrx::datum::DatumWithOid;
use pgrx::spi::{OwnedPreparedStatement, SpiClient, SpiTupleTable};
use pgrx::PgOid;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

thread_local! {
    static PLANS: RefCell<HashMap<(&'static str, bool), Rc<OwnedPreparedStatement>>> =
        RefCell::new(HashMap::new());
}

fn plan(
    client: &SpiClient<'_>,
    sql: &'static str,
    mutating: bool,
    args: &[DatumWithOid<'_>],
) -> Result<Rc<OwnedPreparedStatement>> {
    if let Some(p) = PLANS.with(|m| m.borrow().get(&(sql, mutating)).cloned()) {
        return Ok(p);
    }
    let types: Vec<PgOid> = args.iter().map(|a| PgOid::from(a.oid())).collect();
    let prepared = if mutating {
        client.prepare_mut(sql, &types)?
    } else {
        client.prepare(sql, &types)?
    };
    let p = Rc::new(prepared.keep());
    PLANS.with(|m| m.borrow_mut().insert((sql, mutating), p.clone()));
    Ok(p)
}

/// Run `sql` (a write, or a read that must see the latest committed rows,
/// e.g. a re-check under a lock) with a fresh snapshot per statement.
pub fn write<'c>(
    client: &SpiClient<'c>,
    sql: &'static str,
    args: &[DatumWithOid<'_>],
) -> Result<SpiTupleTable<'c>> {
    let p = plan(client, sql, true, args)?;
    Ok(client.select(&*p, None, args)?)
}

/// Run a read-only `sql`; safe in STABLE and parallel-safe functions.
pub fn read<'c>(
    client: &SpiClient<'c>,
    sql: &'static str,
    args: &[DatumWithOid<'_>],
) -> Result<SpiTupleTable<'c>> {
    let p = plan(client, sql, false, args)?;
    Ok(client.select(&*p, None, args)?)
}
