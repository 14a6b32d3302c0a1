-- Seed data (docs/reference.md §4). Owners edit these rows; an edit clears
-- `seeded`, and deleting a seeded row leaves a tombstone (sql/ops/restore.sql
-- says how restores keep the owner's configuration exactly).
INSERT INTO loyalty.config (seeded) VALUES (true);

-- The enterprise's one property until the owner adds more: every setting is
-- the enterprise's (NULL falls back to loyalty.config).
INSERT INTO loyalty.property (property_id, name, seeded) VALUES ('MAIN', 'Main', true);

INSERT INTO loyalty.tier (tier, threshold_points, seeded) VALUES
    ('BRONZE', 0, true),
    ('SILVER', 10000, true),
    ('GOLD', 50000, true),
    ('PLATINUM', 100000, true);

INSERT INTO loyalty.game_settings
    (game_type, house_edge, decisions_per_hour, points_conversion_rate, point_multiplier, seeded) VALUES
    ('BLACKJACK', 2.0,  70, 10, 1.0, true),
    ('BACCARAT',  1.2,  72, 10, 1.0, true),
    ('ROULETTE',  5.26, 38, 10, 1.0, true),
    ('CRAPS',     1.4,  48, 10, 1.0, true);
