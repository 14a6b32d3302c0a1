-- Staff and their permissions (src/auth/; the permissions' one list is
-- src/domain/permissions.rs, whose checks are added once it exists).

CREATE TABLE loyalty.staff (
    staff_id    uuid    NOT NULL,
    -- staff_permissions_check and staff_audit_separation_check call the one
    -- list of permissions (src/domain/permissions.rs), added once it exists
    permissions text[]  NOT NULL DEFAULT '{}',
    active      boolean NOT NULL DEFAULT true,
    created_at  loyalty.finite_timestamptz NOT NULL DEFAULT now(),
    updated_at  loyalty.finite_timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT staff_pkey PRIMARY KEY (staff_id)
);
COMMENT ON TABLE loyalty.staff IS 'Staff members and what they may do. staff_id is the staff member''s auth user id.';
COMMENT ON COLUMN loyalty.staff.staff_id IS 'The staff member''s auth user id (auth.uid() / JWT sub).';
COMMENT ON COLUMN loyalty.staff.permissions IS 'Granted permissions, each one of loyalty.permissions() (what it lets a staff member do); one that reviews is never held with one that grants or receives points: whoever reviews neither grants nor receives.';
COMMENT ON COLUMN loyalty.staff.active IS 'Inactive staff may do nothing.';
COMMENT ON COLUMN loyalty.staff.created_at IS 'Audit: when the staff member was added.';
COMMENT ON COLUMN loyalty.staff.updated_at IS 'Audit: when the staff row last changed.';
