-- Benchmark data, loaded once per run into database `bench`.
-- Players and slips are shared by number so both sides get the same work.
CREATE SCHEMA bench;
CREATE TABLE bench.player (n int PRIMARY KEY, id uuid NOT NULL);
INSERT INTO bench.player SELECT g, gen_random_uuid() FROM generate_series(1, 10000) g;

-- A floor with history: every player has 20 earlier ledger entries and a
-- balance that matches them (both sides), so plans are made for tables of
-- a real size, as they are in production. (Their hashes are placeholders:
-- the chain is verified after the run for the players the run created.)
INSERT INTO loyalty.loyalty_ledger (player_id, idempotency_key, transaction_type, event_type, points_change,
       balance_before, balance_after, tier_before, tier_after, correlation_id, source, created_at,
       seq, prev_hash, row_hash)
SELECT p.id, 'history:' || g, 'GAMEPLAY', 'RATING_SLIP_COMPLETED', 50,
       50 * (g - 1), 50 * g, 'BRONZE', 'BRONZE', 'history', 'bench', now() - interval '30 days' + g * interval '1 hour',
       g, repeat('0', 64), repeat('0', 64)
  FROM bench.player p, generate_series(1, 20) g;
INSERT INTO loyalty.player_loyalty (player_id, current_balance, lifetime_points, tier, tier_progress, chain_seq)
SELECT id, 1000, 1000, 'BRONZE', 10, 20 FROM bench.player;
INSERT INTO cmp.loyalty_ledger SELECT * FROM loyalty.loyalty_ledger;

-- W1: open slips identical on both sides, each for its own player (one
-- seat: a player has at most one OPEN slip), every player already known
-- (a balance row, as for a returning guest). Slips 1 to :w1_slips are
-- completed one per call, the next :w1b_slips eight per call (W1b); run.sh
-- sizes both from the rounds and seconds, and a workload that runs past its
-- range calls with NULL, which both sides refuse (pgbench counts errors).
CREATE TABLE bench.slip (n int PRIMARY KEY, id uuid NOT NULL, player uuid NOT NULL);
INSERT INTO bench.slip SELECT g, gen_random_uuid(), gen_random_uuid() FROM generate_series(1, :w1_slips + :w1b_slips) g;
INSERT INTO loyalty.player_loyalty (player_id) SELECT player FROM bench.slip;
INSERT INTO loyalty.rating_slip (id, player_id, game_type, house_edge, decisions_per_hour,
       points_conversion_rate, point_multiplier, average_bet, start_time, approval_threshold_points)
SELECT s.id, s.player, 'BLACKJACK', 2.0, 70, 10, 1.0, 5 + s.n % 200, now() - interval '90 minutes', 25000
  FROM bench.slip s;
CREATE SEQUENCE bench.w1_ext;
CREATE SEQUENCE bench.w1_cmp;
CREATE SEQUENCE bench.w1b_ext;
CREATE SEQUENCE bench.w1b_cmp;

-- W5: 200,000 more open slips for the memory run, each for its own player.
CREATE TABLE bench.slip5 (n int PRIMARY KEY, id uuid NOT NULL);
INSERT INTO bench.slip5 SELECT g, gen_random_uuid() FROM generate_series(1, 200000) g;
INSERT INTO loyalty.rating_slip (id, player_id, game_type, house_edge, decisions_per_hour,
       points_conversion_rate, point_multiplier, average_bet, start_time, approval_threshold_points)
SELECT s.id, gen_random_uuid(), 'ROULETTE', 5.26, 38, 10, 1.0, 10, now() - interval '45 minutes', 25000
  FROM bench.slip5 s;

-- W6: comps. 10,000 players with 1,000,000 points each (one ledger row
-- each, both sides), a cashier with loyalty:redeem; every call takes 1 point
-- from a random one of them, under its own request id.
CREATE TABLE bench.guest (n int PRIMARY KEY, id uuid NOT NULL);
INSERT INTO bench.guest SELECT g, gen_random_uuid() FROM generate_series(1, 10000) g;
INSERT INTO loyalty.loyalty_ledger (player_id, idempotency_key, transaction_type, event_type, points_change,
       balance_before, balance_after, tier_before, tier_after, correlation_id, source, seq, prev_hash, row_hash)
SELECT g.id, 'history:guest', 'GAMEPLAY', 'RATING_SLIP_COMPLETED', 1000000, 0, 1000000, 'BRONZE', 'PLATINUM',
       'history', 'bench', 1, repeat('0', 64), repeat('0', 64)
  FROM bench.guest g;
INSERT INTO cmp.loyalty_ledger SELECT * FROM loyalty.loyalty_ledger WHERE idempotency_key = 'history:guest';
INSERT INTO loyalty.player_loyalty (player_id, current_balance, lifetime_points, tier, tier_progress, chain_seq)
SELECT id, 1000000, 1000000, 'PLATINUM', 100, 1 FROM bench.guest;
CREATE SEQUENCE bench.w6;

-- The comparator's copies, after every slip and player exists.
INSERT INTO cmp.rating_slip SELECT * FROM loyalty.rating_slip;
INSERT INTO cmp.player_loyalty SELECT * FROM loyalty.player_loyalty;

-- W2: one hot player, one staff member. The rate limiter and the alert
-- check still run and count on every call, over windows short enough that
-- they count as few rows as production's 10-per-minute limit lets them.
INSERT INTO loyalty.staff (staff_id, permissions) VALUES ('00000000-0000-4000-8000-00000000057a', '{loyalty:award}'),
    ('00000000-0000-4000-8000-00000000f100', '{loyalty:rate}');
INSERT INTO loyalty.staff (staff_id, permissions) VALUES ('00000000-0000-4000-8000-00000000ca5e', '{loyalty:redeem}');
INSERT INTO cmp.staff SELECT * FROM loyalty.staff;
UPDATE loyalty.config SET rate_limit_count = 1000000000, rate_limit_window = '1 millisecond',
                          alert_reward_count = 1000000000, alert_window = '1 millisecond';

-- W3: 1,000 realistic key payloads (read from a table so no plan can fold
-- the immutable hash of a constant), with their canonical text for pgcrypto.
CREATE TABLE bench.payload (n int PRIMARY KEY, doc jsonb NOT NULL, canonical text NOT NULL);
INSERT INTO bench.payload
SELECT g, d, '{"gaming_day":"2026-11-24","player_id":"' || (d->>'player_id') || '","points":' || (d->>'points')
          || ',"reason":"birthday bonus for a loyal guest","reward_id":null,"source":{"app":"floor-ui","version":"4.2.1"},"staff_id":"5eaf0000-0000-4000-8000-000000000001"}'
  FROM generate_series(1, 1000) g,
       LATERAL (SELECT jsonb_build_object('staff_id', '5eaf0000-0000-4000-8000-000000000001',
                   'player_id', gen_random_uuid(), 'points', g * 5, 'reason', 'birthday bonus for a loyal guest',
                   'gaming_day', '2026-11-24', 'reward_id', NULL,
                   'source', jsonb_build_object('version', '4.2.1', 'app', 'floor-ui')) AS d) x;
CREATE SEQUENCE bench.w2;

VACUUM ANALYZE;
