-- calculate_points: floor(theo × rate × multiplier), exact numeric.
\set VERBOSITY default
SELECT g.game_type, loyalty.calculate_points(g.game_type, 25, 7200) AS two_hours_at_25
  FROM loyalty.game_settings g ORDER BY g.game_type;
SELECT loyalty.calculate_points('BLACKJACK', 25, 7200) AS spec_example;
SELECT loyalty.calculate_points('POKER', 25, 60);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT loyalty.calculate_points('BLACKJACK', 0, 60);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT loyalty.calculate_points('BLACKJACK', 25, 86401);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
