// hash_idempotency_key: canonical JSON hashing from SQL.

#[pg_test]
fn keys_readme_vector() {
    // printf '%s' '{"amount":500,"player_id":"p-1","reason":"birthday 🎂"}' | sha256sum
    assert_eq!(
        one::<String>(
            r#"SELECT loyalty.hash_idempotency_key('{"reason": "birthday 🎂", "player_id": "p-1", "amount": 500}')"#
        ),
        "37cfcbb7aa0c313fe98e7961969f7d1f087f8210861344490a99619a60bacb65"
    );
}

#[pg_test]
fn keys_order_independent_and_distinct() {
    assert!(one::<bool>(
        r#"SELECT loyalty.hash_idempotency_key('{"a": {"y": 1, "x": [1, {"q": 2, "p": 3}]}, "b": 2}')
                = loyalty.hash_idempotency_key('{"b": 2, "a": {"x": [1, {"p": 3, "q": 2}], "y": 1}}')"#
    ));
    assert!(one::<bool>(
        r#"SELECT loyalty.hash_idempotency_key('{"points": 500}') <> loyalty.hash_idempotency_key('{"points": 501}')"#
    ));
    // array order is meaningful
    assert!(one::<bool>(
        r#"SELECT loyalty.hash_idempotency_key('[1,2]') <> loyalty.hash_idempotency_key('[2,1]')"#
    ));
    // 1.0 and 1 are the same JSON number under RFC 8785
    assert!(one::<bool>(
        r#"SELECT loyalty.hash_idempotency_key('{"n": 1.0}') = loyalty.hash_idempotency_key('{"n": 1}')"#
    ));
}

#[pg_test]
fn keys_refuse_null_and_imprecise_numbers() {
    assert_eq!(
        outcome("SELECT loyalty.hash_idempotency_key(NULL)"),
        "PT422 VALIDATION_ERROR"
    );
    assert_eq!(
        outcome(r#"SELECT loyalty.hash_idempotency_key('{"id": 12345678901234567891}')"#),
        "PT422 VALIDATION_ERROR"
    );
    assert_eq!(
        outcome(r#"SELECT loyalty.hash_idempotency_key('{"n": 1e400}')"#),
        "PT422 VALIDATION_ERROR"
    );
    assert_eq!(
        outcome(
            "SELECT loyalty.hash_idempotency_key(jsonb_build_object('big', repeat('x', 2000000)))"
        ),
        "PT422 VALIDATION_ERROR"
    );
}

/// The key is SHA-256 of exactly this canonical text, for each shape jsonb
/// can hold: top-level scalars, nesting, numbers in ECMAScript form,
/// escapes, non-ASCII keys in UTF-16 order.
#[pg_test]
fn keys_hash_the_rfc8785_text_of_every_shape() {
    for (payload, canonical) in [
        ("5", "5"),
        ("-0.0", "0"),
        (r#""x""#, r#""x""#),
        ("null", "null"),
        ("[]", "[]"),
        ("{}", "{}"),
        (
            r#"{"b": 1.50, "a": [1e2, "é\n\u0001\"", null, true, {"z": {}, "y": []}]}"#,
            r#"{"a":[100,"é\n\u0001\"",null,true,{"y":[],"z":{}}],"b":1.5}"#,
        ),
        (
            "{\"\u{FB01}\": 2, \"\u{1F600}\": 1, \"aa\": 0, \"b\": 0}",
            "{\"aa\":0,\"b\":0,\"\u{1F600}\":1,\"\u{FB01}\":2}",
        ),
    ] {
        let sql = format!(
            "SELECT loyalty.hash_idempotency_key($p${payload}$p$)
                  = encode(sha256(convert_to($c${canonical}$c$, 'UTF8')), 'hex')"
        );
        assert!(one::<bool>(&sql), "{payload}");
    }
}

#[pg_test]
fn keys_refuse_nesting_deeper_than_128() {
    assert!(
        one::<String>(
            "SELECT loyalty.hash_idempotency_key((repeat('[', 128) || repeat(']', 128))::jsonb)"
        )
        .len()
            == 64
    );
    assert_eq!(
        outcome(
            "SELECT loyalty.hash_idempotency_key((repeat('[', 129) || repeat(']', 129))::jsonb)"
        ),
        "PT422 VALIDATION_ERROR"
    );
}
