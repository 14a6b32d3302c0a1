-- hash_idempotency_key: RFC 8785 canonical JSON, SHA-256 hex.
\set VERBOSITY default
-- the README test vector
SELECT loyalty.hash_idempotency_key('{"reason": "birthday 🎂", "player_id": "p-1", "amount": 500}');
-- key order at every depth does not matter
SELECT loyalty.hash_idempotency_key('{"b": [1, {"y": 2, "x": 1}], "a": null}')
     = loyalty.hash_idempotency_key('{"a": null, "b": [1, {"x": 1, "y": 2}]}') AS same;
-- different payloads, different keys
SELECT loyalty.hash_idempotency_key('{"points": 100}') <> loyalty.hash_idempotency_key('{"points": 101}') AS differ;
-- refused: NULL, and a number a double cannot hold exactly
SELECT loyalty.hash_idempotency_key(NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT loyalty.hash_idempotency_key('{"id": 98765432109876543210}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
