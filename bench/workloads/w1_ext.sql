WITH k AS (SELECT nextval('bench.w1_ext') AS n)
SELECT x.status FROM k JOIN bench.slip s USING (n), LATERAL loyalty.complete_rating_slip(s.id) x;
