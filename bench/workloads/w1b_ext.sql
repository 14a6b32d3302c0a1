WITH k AS (SELECT nextval('bench.w1b_ext') AS n)
SELECT count(*) FROM k, LATERAL loyalty.complete_rating_slips(
    ARRAY(SELECT s.id FROM bench.slip s WHERE s.n > 300000 + (k.n - 1) * 8 AND s.n <= 300000 + k.n * 8)) x
 WHERE x.status = 'COMPLETED';
