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

-- Permissions at one property (SPEC §22): what a staff member may do there
-- besides what staff.permissions lets them do at every property. Checked
-- by the same list and the same separation as staff.permissions, once the
-- list exists (src/domain/permissions.rs).
CREATE TABLE loyalty.staff_property (
    staff_id    uuid    NOT NULL,
    property_id loyalty.property_code NOT NULL,
    permissions text[]  NOT NULL,
    updated_at  loyalty.finite_timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT staff_property_pkey PRIMARY KEY (staff_id, property_id),
    CONSTRAINT staff_property_staff_id_fkey FOREIGN KEY (staff_id) REFERENCES loyalty.staff (staff_id),
    CONSTRAINT staff_property_property_id_fkey FOREIGN KEY (property_id) REFERENCES loyalty.property (property_id)
);
COMMENT ON TABLE loyalty.staff_property IS 'Permissions a staff member holds at one property only (staff.permissions hold at every property). Inactive staff hold none anywhere.';
COMMENT ON COLUMN loyalty.staff_property.staff_id IS 'The staff member (loyalty.staff).';
COMMENT ON COLUMN loyalty.staff_property.property_id IS 'Where these permissions hold.';
COMMENT ON COLUMN loyalty.staff_property.permissions IS 'Permissions held at this property, each one of loyalty.permissions(); with the enterprise-wide ones, a reviewer there neither grants nor receives.';
COMMENT ON COLUMN loyalty.staff_property.updated_at IS 'Audit: when the row last changed.';
CREATE INDEX staff_property_property_idx ON loyalty.staff_property (property_id);
