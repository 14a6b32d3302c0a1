-- W5: one backend, about 1,000,000 calls of the hot functions (batches of
-- slips included); resident anonymous
-- memory (RssAnon: the backend's own heap, not shared buffers) before/after.
\set QUIET on
CREATE TEMP TABLE rss (label text, kb bigint, at timestamptz DEFAULT clock_timestamp());
CREATE FUNCTION pg_temp.rss() RETURNS bigint LANGUAGE sql AS
$$ SELECT substring(pg_read_file('/proc/self/status') FROM 'RssAnon:\s+(\d+) kB')::bigint $$;
-- warm-up: load the library, fill the plan caches
SELECT count(*) FROM generate_series(1, 2000) g, LATERAL loyalty.increment_player_loyalty((SELECT id FROM bench.player WHERE n = 1 + g % 1000), 1) x;
SELECT count(*) FROM generate_series(1, 2000) g, LATERAL loyalty.manual_reward((SELECT id FROM bench.player WHERE n = 1 + g % 1000), 1, 'memory run reward', '00000000-0000-4000-8000-00000000057a', NULL, 'M0-' || g) x;
INSERT INTO rss (label, kb) SELECT 'start', pg_temp.rss();
-- batches of 10,000 calls, each batch its own transaction
\o /dev/null
SELECT format('SELECT count(*) FROM generate_series(1, 10000) g, LATERAL loyalty.hash_idempotency_key(jsonb_build_object(''player'', g, ''reason'', ''memory run'', ''nested'', jsonb_build_object(''b'', g, ''a'', ''é🎰''))) x') FROM generate_series(1, 20) \gexec
SELECT format('SELECT count(*) FROM generate_series(1, 10000) g, LATERAL loyalty.calculate_points(''BLACKJACK'', 25 + g %% 50, g %% 86400) x') FROM generate_series(1, 20) \gexec
SELECT format('SELECT count(*) FROM generate_series(1, 10000) g, LATERAL loyalty.increment_player_loyalty((SELECT id FROM bench.player WHERE n = 1 + g %% 10000), 1) x') FROM generate_series(1, 20) \gexec
-- (rewards in batches of 1,000: in one transaction every reward has the same
-- created_at, so each call's rate-limit count sees the whole batch)
SELECT format('SELECT count(*) FROM generate_series(1, 1000) g, LATERAL loyalty.manual_reward((SELECT id FROM bench.player WHERE n = 1 + (g + %s) %% 10000), 1, ''memory run reward'', ''00000000-0000-4000-8000-00000000057a'', NULL, ''M%s-'' || g) x', b * 1000, b) FROM generate_series(1, 200) b \gexec
SELECT format('SELECT count(*) FROM bench.slip5 s, LATERAL loyalty.complete_rating_slip(s.id, p_staff_id => ''00000000-0000-4000-8000-00000000f100'') x WHERE s.n > %s AND s.n <= %s', (b - 1) * 10000, b * 10000) FROM generate_series(1, 10) b \gexec
-- the other 100,000 slips in batches of 8 (12,500 batch calls)
SELECT format('SELECT count(*) FROM generate_series(0, 1249) g, LATERAL loyalty.complete_rating_slips(ARRAY(SELECT s.id FROM bench.slip5 s WHERE s.n > 100000 + (%s * 1250 + g) * 8 AND s.n <= 100000 + (%s * 1250 + g + 1) * 8), p_staff_id => ''00000000-0000-4000-8000-00000000f100'') x', b, b) FROM generate_series(0, 9) b \gexec
\o
INSERT INTO rss (label, kb) SELECT 'end', pg_temp.rss();
\set QUIET off
SELECT label, kb AS rss_anon_kb, at FROM rss ORDER BY at;
SELECT (SELECT kb FROM rss WHERE label = 'end') - (SELECT kb FROM rss WHERE label = 'start') AS growth_kb;
