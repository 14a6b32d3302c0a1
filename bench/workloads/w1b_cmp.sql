WITH k AS (SELECT nextval('bench.w1b_cmp') AS n)
SELECT count(*) FROM k, LATERAL cmp.complete_rating_slips(
    (SELECT CASE WHEN count(*) = 8 THEN array_agg(s.id ORDER BY s.n) END FROM bench.slip s
      WHERE s.n > :w1_slips + (k.n - 1) * 8 AND s.n <= :w1_slips + k.n * 8)) x
 WHERE x.status = 'COMPLETED';
