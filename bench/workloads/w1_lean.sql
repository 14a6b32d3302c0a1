WITH k AS (SELECT nextval('bench.w1_lean') AS n)
SELECT x.status FROM k,
       LATERAL lean.complete_rating_slip((SELECT s.id FROM lean.rating_slip s WHERE s.n = k.n AND k.n <= :w1_lean_slips)) x;
