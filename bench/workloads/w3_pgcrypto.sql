\set n random(1, 1000)
SELECT encode(digest(canonical, 'sha256'), 'hex') FROM bench.payload WHERE n = :n;
