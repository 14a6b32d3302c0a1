WITH k AS (SELECT nextval('bench.w1b_ext') AS n)
SELECT count(*) FROM k, LATERAL loyalty.complete_rating_slips(
    (SELECT CASE WHEN count(*) = 8 THEN array_agg(s.id ORDER BY s.n) END FROM bench.slip s
      WHERE s.n > :w1_slips + (k.n - 1) * 8 AND s.n <= :w1_slips + k.n * 8), p_staff_id => '00000000-0000-4000-8000-00000000f100') x
 WHERE x.status = 'COMPLETED';
