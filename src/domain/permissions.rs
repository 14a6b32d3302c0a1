//! Staff permissions: the one list of them, and what each lets a staff
//! member do. The `staff` table's CHECKs call [`are_permissions`] and
//! [`permissions_separated`], the admin API's refusal reads
//! [`permissions`], every check in Rust names a [`Permission`] and SQL's
//! `require_caller` refuses a name that is none, so this file is the only
//! place the permissions are listed.
//!
//! Adding a permission is one line in [`staff_permissions!`] below; the
//! compiler then asks for its answer in every rule of [`Permission`].

use pgrx::prelude::*;

/// Defines [`Permission`], [`Permission::ALL`], [`Permission::as_str`] and
/// [`Permission::lets`] from one table: a variant, its name in
/// `staff.permissions`, and what it lets a staff member do.
macro_rules! staff_permissions {
    ($($variant:ident = $name:literal, lets $lets:literal;)+) => {
        /// A permission a staff row may hold.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Permission {
            $($variant,)+
        }

        impl Permission {
            pub const ALL: [Permission; [$($name),+].len()] = [$(Permission::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Permission::$variant => $name,)+
                }
            }

            /// What the permission lets a staff member do.
            pub fn lets(self) -> &'static str {
                match self {
                    $(Permission::$variant => $lets,)+
                }
            }
        }
    };
}

staff_permissions! {
    Award = "loyalty:award", lets "manual rewards";
    Rate = "loyalty:rate", lets "open, re-rate and complete slips";
    Approve = "loyalty:approve", lets "approve or reject held slips, approve comps above the threshold, reverse redemptions";
    Recover = "loyalty:recover", lets "accrual and recovery of closed slips";
    ViewAll = "loyalty:view_all", lets "read everything";
    Redeem = "loyalty:redeem", lets "hold, capture and void comps";
    Audit = "loyalty:audit", lets "the exception report";
}

impl Permission {
    /// The permission `name` in `staff.permissions` names, if any.
    pub fn named(name: &str) -> Option<Permission> {
        Permission::ALL.into_iter().find(|p| p.as_str() == name)
    }

    /// Whether holding it grants points or lets its holder receive them
    /// through the floor: whoever reviews (audits) may hold none of these.
    pub fn grants_or_receives(self) -> bool {
        match self {
            Permission::Award | Permission::Rate | Permission::Approve | Permission::Redeem => true,
            Permission::Recover | Permission::ViewAll | Permission::Audit => false,
        }
    }

    /// Whether it is a reviewer's permission, never held with one that
    /// grants or receives points.
    pub fn reviews(self) -> bool {
        match self {
            Permission::Audit => true,
            Permission::Award
            | Permission::Rate
            | Permission::Approve
            | Permission::Recover
            | Permission::ViewAll
            | Permission::Redeem => false,
        }
    }
}

/// `loyalty.are_permissions(text[])`: whether every element names a
/// permission (`staff_permissions_check`).
#[pg_extern(immutable, parallel_safe, strict)]
pub fn are_permissions(p_permissions: Vec<Option<String>>) -> bool {
    p_permissions
        .iter()
        .all(|p| p.as_deref().and_then(Permission::named).is_some())
}

/// `loyalty.permissions_separated(text[])`: whether a set holds no
/// reviewer's permission beside one that grants or receives points
/// (`staff_audit_separation_check`).
#[pg_extern(immutable, parallel_safe, strict)]
pub fn permissions_separated(p_permissions: Vec<Option<String>>) -> bool {
    let held: Vec<Permission> = p_permissions
        .iter()
        .filter_map(|p| p.as_deref().and_then(Permission::named))
        .collect();
    !(held.iter().any(|p| p.reviews()) && held.iter().any(|p| p.grants_or_receives()))
}

/// `loyalty.permissions()`: every permission, what it lets a staff member
/// do, and its place in the separation rule, as rows (the admin API's
/// refusal says the rule from them; auditors and the reference read them).
#[allow(clippy::type_complexity)]
#[pg_extern(immutable, parallel_safe)]
pub fn permissions() -> TableIterator<
    'static,
    (
        name!(permission, String),
        name!(lets, String),
        name!(grants_or_receives, bool),
        name!(reviews, bool),
    ),
> {
    TableIterator::new(Permission::ALL.into_iter().map(|p| {
        (
            p.as_str().to_owned(),
            p.lets().to_owned(),
            p.grants_or_receives(),
            p.reviews(),
        )
    }))
}

// The staff table is created before any Rust function exists (the
// bootstrap file), so its checks are added once these functions are.
extension_sql!(
    r#"
ALTER TABLE loyalty.staff
    ADD CONSTRAINT staff_permissions_check CHECK (loyalty.are_permissions(permissions)),
    ADD CONSTRAINT staff_audit_separation_check CHECK (loyalty.permissions_separated(permissions));
ALTER TABLE loyalty.staff_property
    ADD CONSTRAINT staff_property_permissions_check CHECK (loyalty.are_permissions(permissions)),
    ADD CONSTRAINT staff_property_audit_separation_check CHECK (loyalty.permissions_separated(permissions));
COMMENT ON FUNCTION loyalty.permissions() IS
    'The staff permissions: what each lets a staff member do, whether it grants or receives points, whether it reviews (never held with one that grants or receives). The one list (src/domain/permissions.rs).';
"#,
    name = "staff_permission_checks",
    requires = [
        "tables",
        are_permissions,
        permissions_separated,
        permissions
    ]
);

#[cfg(test)]
mod unit {
    use super::*;

    fn set(names: &[&str]) -> Vec<Option<String>> {
        names.iter().map(|n| Some(n.to_string())).collect()
    }

    #[test]
    fn the_checks_accept_the_permissions_and_nothing_else() {
        assert!(are_permissions(set(&[])));
        assert!(are_permissions(set(
            &Permission::ALL.map(Permission::as_str)
        )));
        assert!(!are_permissions(set(&[
            "loyalty:award",
            "loyalty:everything"
        ])));
        assert!(!are_permissions(set(&["LOYALTY:AWARD"])));
        assert!(!are_permissions(vec![None]));
    }

    #[test]
    fn whoever_audits_neither_grants_nor_receives() {
        assert!(permissions_separated(set(&[
            "loyalty:audit",
            "loyalty:view_all",
            "loyalty:recover"
        ])));
        for p in [
            "loyalty:award",
            "loyalty:rate",
            "loyalty:approve",
            "loyalty:redeem",
        ] {
            assert!(!permissions_separated(set(&["loyalty:audit", p])), "{p}");
            assert!(permissions_separated(set(&[p, "loyalty:view_all"])), "{p}");
        }
    }

    #[test]
    fn the_reference_lists_every_permission_as_the_registry_says() {
        let yes = |b: bool| if b { "yes" } else { "no" }.to_string();
        let registry: Vec<Vec<String>> = Permission::ALL
            .into_iter()
            .map(|p| {
                vec![
                    p.as_str().to_string(),
                    p.lets().to_string(),
                    yes(p.grants_or_receives()),
                    yes(p.reviews()),
                ]
            })
            .collect();
        assert_eq!(
            crate::domain::kinds::unit::doc_table(
                include_str!("../../docs/reference.md"),
                "| permission | lets a staff member | grants or receives points | reviews |"
            ),
            registry,
            "docs/reference.md §6's table of permissions differs from src/domain/permissions.rs"
        );
    }
}
