WITH k AS (SELECT nextval('bench.w1_ext') AS n)
SELECT x.status FROM k,
       LATERAL loyalty.complete_rating_slip((SELECT s.id FROM bench.slip s WHERE s.n = k.n AND k.n <= :w1_slips), p_staff_id => '00000000-0000-4000-8000-00000000f100') x;
