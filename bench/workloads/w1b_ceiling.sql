WITH k AS (SELECT nextval('bench.w1b_ext') AS n)
SELECT ceiling.complete_slips((SELECT CASE WHEN count(*) = 8 THEN array_agg(s.id ORDER BY s.n) END FROM bench.slip s
      WHERE s.n > :w1_slips + (k.n - 1) * 8 AND s.n <= :w1_slips + k.n * 8)) FROM k;
