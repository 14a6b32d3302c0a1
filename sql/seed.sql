-- Seed data (docs/reference.md §4). Owners edit these rows; restores merge over them.
INSERT INTO loyalty.config DEFAULT VALUES;

INSERT INTO loyalty.tier (tier, threshold_points) VALUES
    ('BRONZE', 0),
    ('SILVER', 10000),
    ('GOLD', 50000),
    ('PLATINUM', 100000);

INSERT INTO loyalty.game_settings
    (game_type, house_edge, decisions_per_hour, points_conversion_rate, point_multiplier) VALUES
    ('BLACKJACK', 2.0,  70, 10, 1.0),
    ('BACCARAT',  1.2,  72, 10, 1.0),
    ('ROULETTE',  5.26, 38, 10, 1.0),
    ('CRAPS',     1.4,  48, 10, 1.0);
