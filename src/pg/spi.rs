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

thread_local! {
    static LATEST_PLANS: RefCell<HashMap<&'static str, usize>> = RefCell::new(HashMap::new());
}

/// The first column of the first row of `sql`, as text, read under a
/// snapshot of the latest committed rows: never the calling statement's or
/// a REPEATABLE READ transaction's older snapshot. The per-backend copies
/// of settings are refilled with it (pg/watch.rs): a copy read under an
/// older snapshot would be marked current while the change it misses had
/// already been announced, and kept for good. `_client` proves an SPI
/// connection is open.
pub fn read_latest(
    _client: &SpiClient<'_>,
    sql: &'static str,
    args: &[DatumWithOid<'_>],
) -> Result<Option<String>> {
    use pgrx::{pg_sys, FromDatum};
    let plan = match LATEST_PLANS.with(|m| m.borrow().get(sql).copied()) {
        Some(p) => p as pg_sys::SPIPlanPtr,
        None => {
            let text = std::ffi::CString::new(sql).map_err(|_| {
                crate::domain::error::LoyaltyError::validation("a statement holds a NUL")
            })?;
            let mut types: Vec<pg_sys::Oid> = args.iter().map(|a| a.oid()).collect();
            // SAFETY: inside an SPI connection (the client); SPI_prepare
            // copies the text and types; a NULL plan is reported below,
            // and SPI_keepplan moves a valid plan out of the procedure's
            // memory for the backend's lifetime (as pgrx's `keep` does).
            let p = unsafe {
                let p = pg_sys::SPI_prepare(text.as_ptr(), types.len() as i32, types.as_mut_ptr());
                if p.is_null() {
                    pgrx::error!("casino_loyalty: could not prepare a settings read");
                }
                pg_sys::SPI_keepplan(p);
                p
            };
            LATEST_PLANS.with(|m| m.borrow_mut().insert(sql, p as usize));
            p
        }
    };
    let (mut values, nulls): (Vec<pg_sys::Datum>, Vec<std::os::raw::c_char>) = args
        .iter()
        .map(|a| match a.datum() {
            Some(d) => (d.sans_lifetime(), b' ' as std::os::raw::c_char),
            None => (pg_sys::Datum::from(0usize), b'n' as std::os::raw::c_char),
        })
        .unzip();
    // SAFETY: a kept plan of this backend with args of its declared types;
    // read_only with an explicit snapshot runs exactly under that
    // snapshot (GetLatestSnapshot, copied by SPI's executor). The result
    // is read before any other SPI call can replace SPI_tuptable, and the
    // text is copied into a Rust String.
    unsafe {
        pg_sys::SPI_tuptable = std::ptr::null_mut();
        let rc = pg_sys::SPI_execute_snapshot(
            plan,
            values.as_mut_ptr(),
            nulls.as_ptr(),
            pg_sys::GetLatestSnapshot(),
            std::ptr::null_mut(),
            true,
            false,
            1,
        );
        if rc < 0 {
            pgrx::error!("casino_loyalty: a settings read failed (SPI code {rc})");
        }
        let table = pg_sys::SPI_tuptable;
        if table.is_null() || (*table).numvals == 0 {
            return Ok(None);
        }
        let mut is_null = false;
        let d = pg_sys::SPI_getbinval(*(*table).vals, (*table).tupdesc, 1, &mut is_null);
        Ok(String::from_datum(d, is_null))
    }
}
