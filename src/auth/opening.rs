//! The one opening of every operation that writes: a standby refuses
//! first, then who is calling and for whom (the permission, the person a
//! trusted back end acts for), then the correlation id every log line and
//! row of the call carries. An operation states only who may run it
//! ([`Who`]); the order lives here.

use super::{require, require_person, require_trusted, Caller, Permission};
use crate::domain::error::Result;
use crate::pg::context;

/// Who may run an operation.
#[derive(Debug, Clone, Copy)]
pub enum Who {
    /// Trusted back ends only (the balance primitive, the sweeps, the
    /// runbooks that change data).
    Trusted,
    /// A trusted back end, or active staff holding the permission.
    Staff(Permission),
    /// A person on the floor holding the permission: staff as themselves,
    /// or a trusted back end naming them (`p_staff_id`; reference §14).
    Person(Permission, Option<pgrx::Uuid>),
}

/// An operation that may go on: its caller and its correlation id.
#[derive(Debug)]
pub struct Opened {
    pub caller: Caller,
    pub correlation_id: String,
}

/// The opening, in its order. Each refusal leaves nothing behind: nothing
/// has been written yet.
pub fn open(who: Who, correlation_id: Option<&str>) -> Result<Opened> {
    crate::pg::standby::writable()?;
    let caller = match who {
        Who::Trusted => require_trusted().map(|()| Caller::Trusted)?,
        Who::Staff(permission) => require(permission)?,
        Who::Person(permission, staff_id) => require_person(permission, staff_id)?,
    };
    Ok(Opened {
        caller,
        correlation_id: context::correlation_id(correlation_id)?,
    })
}
