-- The lean way: what a Supabase user writes by hand from the seed's design
-- when they want it fast and nothing more. Close the slip (its RETURNING is
-- the read), lock the player, append the ledger row under its unique key,
-- update balance and tier. No caller check, no approval threshold, no
-- lock timeout, no hash chain, no outbox, no log line, no partial-completion
-- saga: the yardstick SPEC §19 sets complete_rating_slip against. Its own
-- schema and tables (only the keys the function needs), with open slips
-- like W1's, numbered for the workload (:w1_lean_slips of them: the lean
-- way completes about four times as many per second).
CREATE SCHEMA lean;
CREATE TABLE lean.tier (tier text PRIMARY KEY, threshold_points bigint NOT NULL UNIQUE);
INSERT INTO lean.tier SELECT tier, threshold_points FROM loyalty.tier;
CREATE TABLE lean.player_loyalty (
    player_id       uuid PRIMARY KEY,
    current_balance bigint NOT NULL DEFAULT 0 CHECK (current_balance >= 0),
    lifetime_points bigint NOT NULL DEFAULT 0,
    tier            text   NOT NULL DEFAULT 'BRONZE',
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE lean.rating_slip (
    id                     uuid PRIMARY KEY,
    n                      integer UNIQUE,
    player_id              uuid NOT NULL,
    house_edge             numeric NOT NULL,
    decisions_per_hour     integer NOT NULL,
    points_conversion_rate numeric NOT NULL,
    point_multiplier       numeric NOT NULL,
    average_bet            numeric NOT NULL,
    start_time             timestamptz NOT NULL,
    end_time               timestamptz,
    status                 text NOT NULL DEFAULT 'OPEN'
);
CREATE TABLE lean.loyalty_ledger (
    id              bigserial PRIMARY KEY,
    player_id       uuid NOT NULL,
    rating_slip_id  uuid,
    idempotency_key text NOT NULL,
    points_change   bigint NOT NULL,
    balance_after   bigint NOT NULL,
    tier_after      text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (player_id, idempotency_key)
);

CREATE FUNCTION lean.complete_rating_slip(p_slip_id uuid,
    OUT status text, OUT points bigint, OUT balance_after bigint, OUT tier_after text)
LANGUAGE plpgsql SET search_path = pg_catalog, lean, pg_temp AS $$
DECLARE
    v_player uuid;
    v_life   bigint;
BEGIN
    IF p_slip_id IS NULL THEN
        RAISE EXCEPTION 'p_slip_id is required';
    END IF;
    UPDATE lean.rating_slip s SET end_time = now(), status = 'CLOSED'
     WHERE s.id = p_slip_id AND s.status = 'OPEN'
    RETURNING s.player_id,
              floor(s.average_bet * s.house_edge / 100 * s.decisions_per_hour
                    * floor(extract(epoch FROM now() - s.start_time)) / 3600
                    * s.points_conversion_rate * s.point_multiplier)::bigint
         INTO v_player, points;
    IF NOT FOUND THEN
        status := 'ALREADY_COMPLETED';
        RETURN;
    END IF;
    SELECT p.current_balance + points, p.lifetime_points + points INTO balance_after, v_life
      FROM lean.player_loyalty p WHERE p.player_id = v_player FOR UPDATE;
    SELECT t.tier INTO tier_after FROM lean.tier t
     WHERE t.threshold_points <= v_life ORDER BY t.threshold_points DESC LIMIT 1;
    INSERT INTO lean.loyalty_ledger (player_id, rating_slip_id, idempotency_key, points_change, balance_after, tier_after)
    VALUES (v_player, p_slip_id, 'gameplay:' || p_slip_id, points, balance_after, tier_after);
    UPDATE lean.player_loyalty p SET current_balance = balance_after, lifetime_points = v_life,
           tier = tier_after, updated_at = now()
     WHERE p.player_id = v_player;
    status := 'COMPLETED';
END
$$;

-- Open slips as W1's (BLACKJACK's settings, bets 5 to 204, 90 minutes in),
-- each for its own known player.
INSERT INTO lean.rating_slip (id, n, player_id, house_edge, decisions_per_hour, points_conversion_rate,
       point_multiplier, average_bet, start_time)
SELECT gen_random_uuid(), g, gen_random_uuid(), 2.0, 70, 10, 1.0, 5 + g % 200, now() - interval '90 minutes'
  FROM generate_series(1, :w1_lean_slips) g;
INSERT INTO lean.player_loyalty (player_id) SELECT player_id FROM lean.rating_slip;
CREATE SEQUENCE bench.w1_lean;
