//! The one opening of every operation that writes: a standby refuses
//! first, then who is calling and for whom (the permission, the person a
//! trusted back end acts for), then the correlation id every log line and
//! row of the call carries. An operation states only who may run it
//! ([`Who`]); the order lives here.

use super::{require_held, require_person, require_scoped, require_trusted, Caller, Permission};
use super::{Scope, StaffRow};
use crate::domain::error::{LoyaltyError, Result};
use crate::pg::context;

/// Who may run an operation.
#[derive(Debug, Clone, Copy)]
pub enum Who {
    /// Trusted back ends only (the balance primitive, the sweeps, the
    /// runbooks that change data).
    Trusted,
    /// A trusted back end, or active staff holding the permission.
    Staff(Permission),
    /// A person on the floor holding the permission at a property: staff as
    /// themselves, or a trusted back end naming them (`p_staff_id`;
    /// reference §14). The opening asks for the permission at some
    /// property, the act for it where it happens ([`Opened::at`]), once it
    /// knows where (SPEC §22).
    PersonAt(Permission, Option<pgrx::Uuid>),
    /// [`Who::Staff`] at a property, checked as [`Who::PersonAt`] is.
    StaffAt(Permission),
}

/// An operation that may go on: its caller and its correlation id.
#[derive(Debug)]
pub struct Opened {
    pub caller: Caller,
    pub correlation_id: String,
    /// The permission asked for and the staff row that holds it (None for
    /// a trusted back end acting as itself).
    held: Option<(Permission, Option<StaffRow>)>,
}

impl Opened {
    /// The act happens at `property`: FORBIDDEN unless the staff member
    /// holds the opening's permission there (or at every property). A
    /// trusted back end acting as itself may act anywhere.
    pub fn at(&self, property: &str) -> Result<()> {
        self.held_in(Scope::At(property))
    }

    /// [`Opened::at`] for something at `property`, or of the whole
    /// enterprise (None): then the permission must be held at every
    /// property.
    pub fn at_place(&self, property: Option<&str>) -> Result<()> {
        self.held_in(property.map_or(Scope::Enterprise, Scope::At))
    }

    /// [`Opened::at`] for something already started at `own` (a slip, a
    /// hold): a `given` property must be it (VALIDATION_ERROR otherwise: it
    /// is finished where it was started).
    pub fn at_started(&self, own: &str, given: Option<&str>) -> Result<()> {
        if let Some(g) = given.filter(|g| *g != own) {
            return Err(LoyaltyError::validation(format!(
                "this belongs to property {own}, not {g}"
            )));
        }
        self.at(own)
    }

    fn held_in(&self, scope: Scope<'_>) -> Result<()> {
        match (&self.held, self.caller) {
            (Some((permission, row)), Caller::Staff(_)) => require_held(row, *permission, scope),
            _ => Ok(()),
        }
    }
}

/// The opening, in its order. Each refusal leaves nothing behind: nothing
/// has been written yet.
pub fn open(who: Who, correlation_id: Option<&str>) -> Result<Opened> {
    crate::pg::standby::writable()?;
    let (caller, held) = match who {
        Who::Trusted => (require_trusted().map(|()| Caller::Trusted)?, None),
        Who::Staff(permission) => {
            let (caller, row) = require_scoped(&[permission], Scope::Enterprise)?;
            (caller, Some((permission, row)))
        }
        Who::StaffAt(permission) => {
            let (caller, row) = require_scoped(&[permission], Scope::Somewhere)?;
            (caller, Some((permission, row)))
        }
        Who::PersonAt(permission, staff_id) => {
            let (caller, row) = require_person(permission, staff_id, Scope::Somewhere)?;
            (caller, Some((permission, row)))
        }
    };
    Ok(Opened {
        caller,
        correlation_id: context::correlation_id(correlation_id)?,
        held,
    })
}
