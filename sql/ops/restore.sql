-- A restore keeps every setting (SPEC §20): the seeded rows of config,
-- tier, game_settings and property merge with the dumped ones.

-- The owner's configuration survives pg_dump / pg_restore exactly. During
-- a restore CREATE EXTENSION seeds config, tier and game_settings again
-- before the dumped rows arrive, so:
--   * every row is dumped; a dumped row whose key exists replaces the
--     seeded row whole (edits kept, untouched seeds unchanged);
--   * seeded rows carry seeded = true until the owner changes them;
--   * a seeded row the owner deleted leaves a tombstone in seed_removed
--     (dumped), whose restore deletes the re-seeded row again;
--   * the tier threshold key is deferred, so merges may pass through a
--     moment where two tiers share a threshold.
-- (pg_dump writes table data in name order: seed_removed before tier.)
CREATE TABLE loyalty.seed_removed (
    table_name text        NOT NULL CONSTRAINT seed_removed_table_name_check
                           CHECK (table_name IN ('tier', 'game_settings')),
    key        text        NOT NULL,
    removed_at loyalty.finite_timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT seed_removed_pkey PRIMARY KEY (table_name, key)
);
COMMENT ON TABLE loyalty.seed_removed IS 'Seeded tiers and games the owner deleted, so a restore deletes them again after CREATE EXTENSION re-seeds them.';
COMMENT ON COLUMN loyalty.seed_removed.table_name IS 'tier or game_settings.';
COMMENT ON COLUMN loyalty.seed_removed.key IS 'The deleted row''s key (tier name or game type).';
COMMENT ON COLUMN loyalty.seed_removed.removed_at IS 'Audit: when the owner deleted the seeded row.';

CREATE FUNCTION loyalty.merge_seeded_row() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    -- The dumped row replaces the seeded one whole: every column, including
    -- those a later version adds, with nothing to list here.
    IF TG_TABLE_NAME = 'tier' THEN
        DELETE FROM loyalty.tier WHERE tier = NEW.tier;
    ELSIF TG_TABLE_NAME = 'game_settings' THEN
        DELETE FROM loyalty.game_settings WHERE game_type = NEW.game_type;
    ELSIF TG_TABLE_NAME = 'config' THEN
        DELETE FROM loyalty.config WHERE singleton = NEW.singleton;
    ELSIF TG_TABLE_NAME = 'property' THEN
        DELETE FROM loyalty.property WHERE property_id = NEW.property_id;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER tier_merge_seeded BEFORE INSERT ON loyalty.tier
    FOR EACH ROW EXECUTE FUNCTION loyalty.merge_seeded_row();
CREATE TRIGGER game_settings_merge_seeded BEFORE INSERT ON loyalty.game_settings
    FOR EACH ROW EXECUTE FUNCTION loyalty.merge_seeded_row();
CREATE TRIGGER config_merge_seeded BEFORE INSERT ON loyalty.config
    FOR EACH ROW EXECUTE FUNCTION loyalty.merge_seeded_row();
CREATE TRIGGER property_merge_seeded BEFORE INSERT ON loyalty.property
    FOR EACH ROW EXECUTE FUNCTION loyalty.merge_seeded_row();

-- An owner's edit makes a seeded row the owner's. A restore writes its
-- rows with INSERT (merge_seeded_row), which keeps the flag the dump
-- carried; an UPDATE from inside another trigger (depth 2) is not an edit.
CREATE FUNCTION loyalty.seeded_row_edited() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF pg_trigger_depth() = 1 AND NEW IS DISTINCT FROM OLD THEN
        NEW.seeded := false;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER tier_seeded_row_edited BEFORE UPDATE ON loyalty.tier
    FOR EACH ROW EXECUTE FUNCTION loyalty.seeded_row_edited();
CREATE TRIGGER game_settings_seeded_row_edited BEFORE UPDATE ON loyalty.game_settings
    FOR EACH ROW EXECUTE FUNCTION loyalty.seeded_row_edited();
CREATE TRIGGER config_seeded_row_edited BEFORE UPDATE ON loyalty.config
    FOR EACH ROW EXECUTE FUNCTION loyalty.seeded_row_edited();
CREATE TRIGGER property_seeded_row_edited BEFORE UPDATE ON loyalty.property
    FOR EACH ROW EXECUTE FUNCTION loyalty.seeded_row_edited();

-- Deleting a seeded row leaves a tombstone; adding the key back removes it.
-- A delete made by a restore's trigger (a merge, a restored tombstone)
-- leaves none: it is not the owner's.
CREATE FUNCTION loyalty.seeded_row_removed() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF TG_OP = 'DELETE' AND pg_trigger_depth() > 1 THEN
        RETURN OLD;
    END IF;
    IF TG_OP = 'DELETE' THEN
        IF OLD.seeded AND TG_TABLE_NAME = 'tier' THEN
            INSERT INTO loyalty.seed_removed (table_name, key) VALUES ('tier', OLD.tier) ON CONFLICT DO NOTHING;
        ELSIF OLD.seeded AND TG_TABLE_NAME = 'game_settings' THEN
            INSERT INTO loyalty.seed_removed (table_name, key) VALUES ('game_settings', OLD.game_type)
                ON CONFLICT DO NOTHING;
        END IF;
        RETURN OLD;
    END IF;
    IF TG_TABLE_NAME = 'tier' THEN
        DELETE FROM loyalty.seed_removed WHERE table_name = 'tier' AND key = NEW.tier;
    ELSE
        DELETE FROM loyalty.seed_removed WHERE table_name = 'game_settings' AND key = NEW.game_type;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER tier_seeded_row_removed AFTER INSERT OR DELETE ON loyalty.tier
    FOR EACH ROW EXECUTE FUNCTION loyalty.seeded_row_removed();
CREATE TRIGGER game_settings_seeded_row_removed AFTER INSERT OR DELETE ON loyalty.game_settings
    FOR EACH ROW EXECUTE FUNCTION loyalty.seeded_row_removed();

-- A restored tombstone deletes the seed CREATE EXTENSION just wrote back
-- (the deletion's own tombstone gives way to the restored one).
CREATE FUNCTION loyalty.apply_seed_removal() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NEW.table_name = 'tier' THEN
        DELETE FROM loyalty.tier WHERE tier = NEW.key AND seeded;
    ELSE
        DELETE FROM loyalty.game_settings WHERE game_type = NEW.key AND seeded;
    END IF;
    DELETE FROM loyalty.seed_removed WHERE table_name = NEW.table_name AND key = NEW.key;
    RETURN NEW;
END
$$;
CREATE TRIGGER seed_removed_apply BEFORE INSERT ON loyalty.seed_removed
    FOR EACH ROW EXECUTE FUNCTION loyalty.apply_seed_removal();
