//! Caller identity and permissions (docs/reference.md §6).
//!
//! Identity: `auth.uid()` where the `auth` schema has it (Supabase), else
//! the `sub` of the `request.jwt.claims` setting (what PostgREST sets per
//! request). Trust: the role that called us (the *outer* role, not the
//! SECURITY DEFINER owner) is trusted when it is a superuser, has the
//! owner's privileges, or has `service_role`'s.

use crate::context;
use crate::error::{Code, LoyaltyError, Result};
use pgrx::prelude::*;
use std::cell::Cell;
use std::ffi::CStr;

pub const PERM_AWARD: &str = "loyalty:award";
pub const PERM_VIEW_ALL: &str = "loyalty:view_all";
pub const PERM_RECOVER: &str = "loyalty:recover";

thread_local! {
    /// Whether `auth.uid()` exists, looked up once per backend.
    static HAS_AUTH_UID: Cell<Option<bool>> = const { Cell::new(None) };
}

/// The role that called the current function from outside (what `SET ROLE`
/// or PostgREST's `SET LOCAL role` chose).
fn outer_role() -> pg_sys::Oid {
    // SAFETY: plain read of backend state.
    unsafe { pg_sys::GetOuterUserId() }
}

pub fn outer_role_name() -> String {
    // SAFETY: GetUserNameFromId returns a palloc'd copy (or NULL with noerr).
    unsafe {
        let p = pg_sys::GetUserNameFromId(outer_role(), true);
        if p.is_null() {
            String::new()
        } else {
            CStr::from_ptr(p).to_string_lossy().into_owned()
        }
    }
}

/// Superuser, the extension's owner, or service_role: trusted back ends and
/// operators, who act without a JWT.
pub fn caller_is_trusted() -> bool {
    let outer = outer_role();
    // SAFETY: catalog lookups on valid role OIDs; inside a SECURITY DEFINER
    // function GetUserId() is the owner.
    unsafe {
        if pg_sys::superuser_arg(outer) || pg_sys::has_privs_of_role(outer, pg_sys::GetUserId()) {
            return true;
        }
        let service = pg_sys::get_role_oid(c"service_role".as_ptr(), true);
        service != pg_sys::InvalidOid && pg_sys::has_privs_of_role(outer, service)
    }
}

/// The caller's auth user id, if the request carries one.
pub fn caller_uid() -> Option<pgrx::Uuid> {
    let has_auth = HAS_AUTH_UID.with(|c| match c.get() {
        Some(b) => b,
        None => {
            let b =
                Spi::get_one::<bool>("SELECT pg_catalog.to_regprocedure('auth.uid()') IS NOT NULL")
                    .ok()
                    .flatten()
                    .unwrap_or(false);
            c.set(Some(b));
            b
        }
    });
    if has_auth {
        return Spi::get_one::<pgrx::Uuid>("SELECT auth.uid()")
            .ok()
            .flatten();
    }
    let claims = context::setting("request.jwt.claims")?;
    let v: serde_json::Value = serde_json::from_str(&claims).ok()?;
    parse_uuid(v.get("sub")?.as_str()?)
}

pub fn parse_uuid(s: &str) -> Option<pgrx::Uuid> {
    let hex: String = s.chars().filter(|c| *c != '-').collect();
    if hex.len() != 32 || s.len() != 36 {
        return None;
    }
    let mut bytes = [0u8; 16];
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(pgrx::Uuid::from_bytes(bytes))
}

/// A staff member's row: active flag and permissions.
pub type StaffRow = (bool, Vec<String>);

/// The staff row of `uid`, if any.
pub fn staff(uid: pgrx::Uuid) -> Result<Option<StaffRow>> {
    Spi::connect(|c| {
        let rows = crate::spi::read(
            c,
            "SELECT active, permissions FROM loyalty.staff WHERE staff_id = $1",
            &[uid.into()],
        )?;
        if rows.is_empty() {
            return Ok(None);
        }
        let r = rows.first();
        Ok(Some((
            r.get::<bool>(1)?.unwrap_or(false),
            r.get::<Vec<String>>(2)?.unwrap_or_default(),
        )))
    })
}

/// Floor operations (slips, recovery): trusted roles pass; anyone else must
/// be signed in as active staff, holding `permission` if one is named.
pub fn require_floor_staff(permission: Option<&str>) -> Result<()> {
    if caller_is_trusted() {
        return Ok(());
    }
    let uid = caller_uid().ok_or_else(|| LoyaltyError::new(Code::Unauthorized, "sign in first"))?;
    match staff(uid)? {
        Some((true, perms)) if permission.is_none_or(|p| perms.iter().any(|x| x == p)) => Ok(()),
        Some((true, _)) => Err(LoyaltyError::new(
            Code::Forbidden,
            format!("staff member lacks {}", permission.unwrap_or_default()),
        )),
        _ => Err(LoyaltyError::new(
            Code::Forbidden,
            "only active staff may do this",
        )),
    }
}

#[cfg(test)]
mod unit {
    #[test]
    fn uuid_parsing() {
        assert!(super::parse_uuid("11111111-2222-4333-8444-555555555555").is_some());
        assert!(super::parse_uuid("not-a-uuid").is_none());
        assert!(super::parse_uuid("11111111222243338444555555555555").is_none());
        assert!(super::parse_uuid("1111111g-2222-4333-8444-555555555555").is_none());
    }
}

/// `loyalty.caller_uid()`: the caller's auth user id, for RLS policies.
#[pg_extern(name = "caller_uid", stable, parallel_safe)]
#[search_path(pg_catalog, loyalty, pg_temp)]
fn caller_uid_sql() -> Option<pgrx::Uuid> {
    caller_uid()
}

/// `loyalty.caller_has_permission(p)`: whether the caller is active staff
/// holding permission `p`, for RLS policies.
#[pg_extern(security_definer, stable, parallel_safe)]
#[search_path(pg_catalog, loyalty, pg_temp)]
fn caller_has_permission(p_permission: Option<&str>) -> bool {
    let (Some(uid), Some(perm)) = (caller_uid(), p_permission) else {
        return false;
    };
    matches!(staff(uid), Ok(Some((true, perms))) if perms.iter().any(|p| p == perm))
}
