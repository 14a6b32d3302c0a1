-- Benchmark data, loaded once per run into database `bench`.
-- Players and slips are shared by number so both sides get the same work.
CREATE SCHEMA bench;
CREATE TABLE bench.player (n int PRIMARY KEY, id uuid NOT NULL);
INSERT INTO bench.player SELECT g, gen_random_uuid() FROM generate_series(1, 10000) g;

-- W1: 300,000 open slips over 10,000 players, identical on both sides.
CREATE TABLE bench.slip (n int PRIMARY KEY, id uuid NOT NULL);
INSERT INTO bench.slip SELECT g, gen_random_uuid() FROM generate_series(1, 300000) g;
INSERT INTO loyalty.rating_slip (id, player_id, game_type, house_edge, decisions_per_hour,
       points_conversion_rate, point_multiplier, average_bet, start_time)
SELECT s.id, p.id, 'BLACKJACK', 2.0, 70, 10, 1.0, 5 + s.n % 200, now() - interval '90 minutes'
  FROM bench.slip s JOIN bench.player p ON p.n = 1 + s.n % 10000;
INSERT INTO cmp.rating_slip SELECT * FROM loyalty.rating_slip;
CREATE SEQUENCE bench.w1_ext;
CREATE SEQUENCE bench.w1_cmp;

-- W5: 200,000 more open slips for the memory run.
CREATE TABLE bench.slip5 (n int PRIMARY KEY, id uuid NOT NULL);
INSERT INTO bench.slip5 SELECT g, gen_random_uuid() FROM generate_series(1, 200000) g;
INSERT INTO loyalty.rating_slip (id, player_id, game_type, house_edge, decisions_per_hour,
       points_conversion_rate, point_multiplier, average_bet, start_time)
SELECT s.id, p.id, 'ROULETTE', 5.26, 38, 10, 1.0, 10, now() - interval '45 minutes'
  FROM bench.slip5 s JOIN bench.player p ON p.n = 1 + s.n % 10000;

-- W2: one hot player, one staff member; limits raised so the rate limiter
-- admits the load (it still runs and counts on every call).
INSERT INTO loyalty.staff (staff_id, permissions) VALUES ('00000000-0000-4000-8000-00000000057a', '{loyalty:award}');
INSERT INTO cmp.staff SELECT * FROM loyalty.staff;
UPDATE loyalty.config SET rate_limit_count = 1000000000, alert_reward_count = 1000000000;
CREATE SEQUENCE bench.w2;

VACUUM ANALYZE;
