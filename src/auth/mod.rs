//! Caller identity, trust and permissions (docs/reference.md §6).
//!
//! Every SQL function asks here who is calling, so a blanket
//! `GRANT EXECUTE ... TO anon, authenticated` opens nothing: grants are a
//! second guard, never the only one.
//!
//! - **Identity** exists only when the current role (what `SET ROLE` or
//!   PostgREST's `SET LOCAL role` chose) *is* `authenticated`: then it is
//!   `auth.uid()` where the `auth` schema has it (Supabase), else the `sub` of
//!   `request.jwt.claims`. Under `anon` or any other role nobody is signed
//!   in, whatever claims a session left behind.
//! - **Trusted back ends** are the current role being `service_role`, the
//!   extension's owner, or a superuser. Membership does not count: a login
//!   role that merely inherits `service_role` is not trusted until it
//!   `SET ROLE service_role`.

use crate::domain::error::{Code, LoyaltyError, Result};
use crate::pg::context;
use pgrx::prelude::*;
use std::cell::Cell;
use std::ffi::CStr;

pub use crate::domain::permissions::Permission;
pub use opening::{open, Opened, Who};

pub mod opening;

thread_local! {
    /// Whether `auth.uid()` exists, looked up once and again after any
    /// function is created or dropped (a Supabase `auth` schema appearing
    /// or going away on a pooled backend).
    static HAS_AUTH_UID: Cell<Option<bool>> = const { Cell::new(None) };
    static WATCHING_PROCS: Cell<bool> = const { Cell::new(false) };
}

/// Who is calling a function, once the checks passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    /// service_role, the owner or a superuser: acts without a JWT.
    Trusted,
    /// A signed-in, active staff member holding the permission asked for.
    Staff(pgrx::Uuid),
}

impl Caller {
    /// The staff member's id (None for a trusted back end).
    pub fn uid(self) -> Option<pgrx::Uuid> {
        match self {
            Caller::Trusted => None,
            Caller::Staff(u) => Some(u),
        }
    }

    /// No self-dealing: FORBIDDEN when the caller is `player`.
    pub fn not_for_self(self, player: pgrx::Uuid, what: &str) -> Result<()> {
        if self.uid() == Some(player) {
            return Err(LoyaltyError::new(
                Code::Forbidden,
                format!("nobody may {what} for themselves"),
            ));
        }
        Ok(())
    }
}

/// The current role: what `SET ROLE` (or PostgREST's `SET LOCAL role`)
/// chose, unchanged inside SECURITY DEFINER functions.
fn current_role() -> pg_sys::Oid {
    // SAFETY: plain read of backend state.
    unsafe { pg_sys::GetOuterUserId() }
}

fn role_oid(name: &CStr) -> pg_sys::Oid {
    // SAFETY: syscache lookup; missing_ok returns InvalidOid.
    unsafe { pg_sys::get_role_oid(name.as_ptr(), true) }
}

pub fn current_role_name() -> String {
    role_name(current_role())
}

/// A role's name ("" if the role is gone).
fn role_name(role: pg_sys::Oid) -> String {
    // SAFETY: GetUserNameFromId returns a palloc'd copy (or NULL with noerr).
    unsafe {
        let p = pg_sys::GetUserNameFromId(role, true);
        if p.is_null() {
            String::new()
        } else {
            CStr::from_ptr(p).to_string_lossy().into_owned()
        }
    }
}

/// Whether the current role is a trusted back end. Call only from a
/// SECURITY DEFINER function: there `GetUserId()` is the extension's owner.
pub fn caller_is_trusted() -> bool {
    let role = current_role();
    // SAFETY: catalog lookup on a valid role OID; GetUserId reads backend state.
    let (superuser, owner) = unsafe { (pg_sys::superuser_arg(role), pg_sys::GetUserId()) };
    if superuser || role == owner {
        return true;
    }
    let service = role_oid(c"service_role");
    service != pg_sys::InvalidOid && role == service
}

/// The signed-in user's id: only under the `authenticated` role, and only
/// when the JWT's `sub` is a UUID (a third-party `sub` is nobody here).
pub fn caller_uid() -> Option<pgrx::Uuid> {
    let authenticated = role_oid(c"authenticated");
    if authenticated == pg_sys::InvalidOid || current_role() != authenticated {
        return None;
    }
    // Read the sub the way Supabase's auth.uid() does, so that a non-UUID
    // sub is refused here instead of failing inside auth.uid()'s cast.
    let sub = context::setting("request.jwt.claim.sub").or_else(|| {
        let claims = context::setting("request.jwt.claims")?;
        let v: serde_json::Value = serde_json::from_str(&claims).ok()?;
        Some(v.get("sub")?.as_str()?.to_string())
    })?;
    let uid = parse_uuid(&sub)?;
    if has_auth_uid() {
        return Spi::get_one::<pgrx::Uuid>("SELECT auth.uid()")
            .ok()
            .flatten();
    }
    Some(uid)
}

fn has_auth_uid() -> bool {
    if !WATCHING_PROCS.with(Cell::get) {
        // SAFETY: registered once per backend; the callback only resets a
        // cell and can neither fail nor panic.
        unsafe {
            pg_sys::CacheRegisterSyscacheCallback(
                pg_sys::SysCacheIdentifier::PROCOID as std::ffi::c_int,
                Some(on_proc_change),
                pg_sys::Datum::from(0),
            )
        };
        WATCHING_PROCS.with(|w| w.set(true));
    }
    HAS_AUTH_UID.with(|c| match c.get() {
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
    })
}

/// A function was created, changed or dropped (pg_proc invalidation, this
/// backend's or a committed one's): look `auth.uid()` up again next time.
unsafe extern "C-unwind" fn on_proc_change(
    _arg: pg_sys::Datum,
    _cache: std::ffi::c_int,
    _hash: u32,
) {
    HAS_AUTH_UID.with(|c| c.set(None));
}

pub fn parse_uuid(s: &str) -> Option<pgrx::Uuid> {
    if s.len() != 36 {
        return None;
    }
    let hex: String = s.chars().filter(|c| *c != '-').collect();
    if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut bytes = [0u8; 16];
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(pgrx::Uuid::from_bytes(bytes))
}

/// A staff member's row: active flag, the permissions held at every
/// property, and those held at one property only (`loyalty.staff_property`).
#[derive(Debug, Clone, Default)]
pub struct StaffRow {
    pub active: bool,
    pub permissions: Vec<String>,
    pub at: Vec<(String, Vec<String>)>,
}

/// Where a permission must be held.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    /// At every property (`staff.permissions`): what an act of no one
    /// property needs (an enterprise-wide report, a sweep).
    Enterprise,
    /// At this property, or at every property.
    At(&'a str),
    /// At some property: the opening of an act whose property is known
    /// only once its slip or hold is read; the act then checks `At`.
    Somewhere,
}

/// The staff row of `uid`, if any, as last committed: a deactivation or a
/// permission taken away applies to every call that starts after it
/// commits, whatever the caller's isolation level.
pub fn staff(uid: pgrx::Uuid) -> Result<Option<StaffRow>> {
    Spi::connect(|c| staff_in(c, uid))
}

/// [`staff`] inside an open SPI connection.
pub fn staff_in(c: &pgrx::spi::SpiClient<'_>, uid: pgrx::Uuid) -> Result<Option<StaffRow>> {
    let Some(json) = crate::pg::spi::read_latest(
        c,
        "SELECT pg_catalog.json_build_array(s.active, s.permissions,
                    (SELECT pg_catalog.json_agg(pg_catalog.json_build_array(g.property_id, g.permissions))
                       FROM loyalty.staff_property g WHERE g.staff_id = s.staff_id))::text
           FROM loyalty.staff s WHERE s.staff_id = $1",
        &[uid.into()],
    )?
    else {
        return Ok(None);
    };
    let v: serde_json::Value = serde_json::from_str(&json).unwrap_or_default();
    let names = |v: Option<&serde_json::Value>| -> Vec<String> {
        v.and_then(serde_json::Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|p| p.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let at = v
        .get(2)
        .and_then(serde_json::Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|g| Some((g.get(0)?.as_str()?.to_string(), names(g.get(1)))))
                .collect()
        })
        .unwrap_or_default();
    Ok(Some(StaffRow {
        active: v
            .get(0)
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(false),
        permissions: names(v.get(1)),
        at,
    }))
}

/// Whether a staff row is active and holds any of `permissions` at every
/// property.
pub fn holds_any(row: &Option<StaffRow>, permissions: &[Permission]) -> bool {
    holds(row, permissions, Scope::Enterprise)
}

/// Whether a staff row is active and holds any of `permissions` where
/// `scope` says.
pub fn holds(row: &Option<StaffRow>, permissions: &[Permission], scope: Scope<'_>) -> bool {
    let Some(row) = row.as_ref().filter(|r| r.active) else {
        return false;
    };
    let any = |perms: &[String]| {
        perms
            .iter()
            .any(|p| permissions.iter().any(|want| want.as_str() == p))
    };
    any(&row.permissions)
        || match scope {
            Scope::Enterprise => false,
            Scope::At(property) => row
                .at
                .iter()
                .any(|(id, perms)| id == property && any(perms)),
            Scope::Somewhere => row.at.iter().any(|(_, perms)| any(perms)),
        }
}

fn unauthorized() -> LoyaltyError {
    LoyaltyError::new(Code::Unauthorized, "sign in first")
}

/// A trusted back end, or a signed-in active staff member holding one of
/// `permissions`. UNAUTHORIZED for nobody, FORBIDDEN for anyone else.
pub fn require_any(permissions: &[Permission]) -> Result<Caller> {
    require_scoped(permissions, Scope::Enterprise).map(|(caller, _)| caller)
}

/// [`require_any`] where `scope` says; with the staff row it read (None
/// for a trusted back end).
pub fn require_scoped(
    permissions: &[Permission],
    scope: Scope<'_>,
) -> Result<(Caller, Option<StaffRow>)> {
    if caller_is_trusted() {
        return Ok((Caller::Trusted, None));
    }
    let uid = caller_uid().ok_or_else(unauthorized)?;
    let row = staff(uid)?;
    if holds(&row, permissions, scope) {
        return Ok((Caller::Staff(uid), row));
    }
    Err(LoyaltyError::new(
        Code::Forbidden,
        format!(
            "only active staff with {} may do this",
            permissions
                .iter()
                .map(|p| p.as_str())
                .collect::<Vec<_>>()
                .join(" or ")
        ),
    ))
}

/// See [`require_any`].
pub fn require(permission: Permission) -> Result<Caller> {
    require_any(&[permission])
}

/// FORBIDDEN unless `row` (a staff member's) holds `permission` where
/// `scope` says: an act at a property, or of the whole enterprise (SPEC
/// §22).
pub fn require_held(
    row: &Option<StaffRow>,
    permission: Permission,
    scope: Scope<'_>,
) -> Result<()> {
    if holds(row, &[permission], scope) {
        return Ok(());
    }
    let place = match scope {
        Scope::At(property) => format!("at property {property}"),
        Scope::Enterprise => "at every property".to_string(),
        Scope::Somewhere => "at any property".to_string(),
    };
    Err(LoyaltyError::new(
        Code::Forbidden,
        format!("the staff member holds no {} {place}", permission.as_str()),
    ))
}

/// A floor action (reference §14): always a person. A signed-in, active
/// staff member holding `permission`, who may name only themselves as
/// `staff_id` (INVALID_STAFF_ID otherwise); or a trusted back end acting for
/// `staff_id`, who must be active staff holding the permission (missing:
/// VALIDATION_ERROR). Either way the answer is `Caller::Staff(person)`:
/// the one recorded and compared by every four-eyes rule.
pub fn require_person(
    permission: Permission,
    staff_id: Option<pgrx::Uuid>,
    scope: Scope<'_>,
) -> Result<(Caller, Option<StaffRow>)> {
    if caller_is_trusted() {
        let person = staff_id.ok_or_else(|| {
            LoyaltyError::validation(
                "a trusted back end names the staff member it acts for in p_staff_id",
            )
        })?;
        let row = staff(person)?;
        if !holds(&row, &[permission], scope) {
            return Err(LoyaltyError::new(
                Code::Forbidden,
                format!(
                    "staff member {person} is not active staff with {}",
                    permission.as_str()
                ),
            ));
        }
        return Ok((Caller::Staff(person), row));
    }
    let (caller, row) = require_scoped(&[permission], scope)?;
    if staff_id.is_some_and(|s| Some(s) != caller.uid()) {
        return Err(LoyaltyError::new(
            Code::InvalidStaffId,
            "p_staff_id must be the caller's own id",
        ));
    }
    Ok((caller, row))
}

/// Trusted back ends only (the balance primitive, the runbooks).
pub fn require_trusted() -> Result<()> {
    if caller_is_trusted() {
        return Ok(());
    }
    match caller_uid() {
        None => Err(unauthorized()),
        Some(_) => Err(LoyaltyError::new(
            Code::Forbidden,
            "only trusted back ends (service_role, the owner) may do this",
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
        assert!(super::parse_uuid("+1111111-2222-4333-8444-555555555555").is_none());
        assert!(super::parse_uuid("google-oauth2|1234567890123456789012").is_none());
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
    let (Some(uid), Some(perm)) = (caller_uid(), p_permission.and_then(Permission::named)) else {
        return false;
    };
    matches!(staff(uid), Ok(row) if holds_any(&row, &[perm]))
}

/// `loyalty.require_caller(p_permissions)`: raises UNAUTHORIZED or
/// FORBIDDEN unless a trusted back end is calling or, when permissions are
/// named, an active staff member holding one of them; returns who is
/// calling ([`actor`]) for audit columns. The SQL runbooks call it first,
/// so they check their caller themselves, whatever the grants.
#[pg_extern(security_definer, stable, parallel_safe)]
#[search_path(pg_catalog, loyalty, pg_temp)]
fn require_caller(p_permissions: default!(Option<Vec<String>>, "NULL")) -> String {
    crate::domain::error::run(move || {
        let perms = named(p_permissions)?;
        if perms.is_empty() {
            require_trusted()?;
        } else {
            require_any(&perms)?;
        }
        Ok(actor())
    })
}

/// The permissions the calling SQL names: a name that is no permission is
/// a mistake in that SQL, said as one, not a refusal of everybody.
fn named(p_permissions: Option<Vec<String>>) -> Result<Vec<Permission>> {
    p_permissions
        .iter()
        .flatten()
        .map(|name| {
            Permission::named(name)
                .ok_or_else(|| LoyaltyError::validation(format!("{name:?} is not a permission")))
        })
        .collect()
}

/// `loyalty.require_caller_at(p_permissions, p_property_id)`: as
/// [`require_caller`] with permissions named, held at `p_property_id` (or
/// at every property); with no property, held at every property (SPEC §22:
/// an auditor scoped to properties reads only theirs). The reports that
/// take a property call it first.
#[pg_extern(security_definer, stable, parallel_safe)]
#[search_path(pg_catalog, loyalty, pg_temp)]
fn require_caller_at(p_permissions: Option<Vec<String>>, p_property_id: Option<&str>) -> String {
    crate::domain::error::run(move || {
        let perms = named(p_permissions)?;
        if perms.is_empty() {
            return Err(LoyaltyError::validation("name the permissions asked for"));
        }
        let scope = match p_property_id {
            Some(p) => Scope::At(p),
            None => Scope::Enterprise,
        };
        require_scoped(&perms, scope)?;
        Ok(actor())
    })
}

/// Who is calling, for audit columns: the signed-in staff member's id, or
/// the current role of a trusted back end (with the session user when a
/// login role switched to it with SET ROLE).
pub fn actor() -> String {
    if let Some(uid) = caller_uid() {
        return uid.to_string();
    }
    let role = current_role_name();
    // SAFETY: plain read of backend state.
    let session = role_name(unsafe { pg_sys::GetSessionUserId() });
    if session.is_empty() || session == role {
        role
    } else {
        format!("{role} (session {session})")
    }
}
