WITH k AS (SELECT nextval('bench.w1_cmp') AS n)
SELECT x.status FROM k JOIN bench.slip s USING (n), LATERAL cmp.complete_rating_slip(s.id) x;
