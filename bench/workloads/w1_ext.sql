SELECT status FROM loyalty.complete_rating_slip((SELECT id FROM bench.slip WHERE n = nextval('bench.w1_ext')));
