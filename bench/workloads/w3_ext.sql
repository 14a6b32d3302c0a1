\set n random(1, 1000)
SELECT loyalty.hash_idempotency_key(doc) FROM bench.payload WHERE n = :n;
