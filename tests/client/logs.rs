//! Canonical log lines land in the server log as JSON with the request's
//! correlation id.

use casino_loyalty_client_tests::{new_uuid, shared_db, unique, wait_for_log_line};

#[test]
fn increment_logs_the_argument_correlation_id() {
    let player = new_uuid();
    let corr = format!("corr-arg-{}", unique());
    shared_db()
        .query_one(
            "SELECT * FROM loyalty.increment_player_loyalty($1::text::uuid, 42, $2)",
            &[&player, &corr],
        )
        .unwrap();
    let v = wait_for_log_line(&[&corr, "loyalty_balance_incremented"]);
    assert_eq!(v["event"], "loyalty_balance_incremented");
    assert_eq!(v["correlation_id"], corr.as_str());
    assert_eq!(v["player_id"], player.as_str());
    assert_eq!(v["points_change"], 42);
    assert_eq!(v["balance_after"], 42);
    assert!(v["timestamp"].as_str().unwrap().ends_with('Z'));
}

#[test]
fn increment_logs_the_postgrest_header_correlation_id() {
    let player = new_uuid();
    let corr = format!("corr-hdr-{}", unique());
    let mut c = shared_db();
    let mut tx = c.transaction().unwrap();
    // What PostgREST does per request.
    tx.execute(
        "SELECT set_config('request.headers', json_build_object('x-correlation-id', $1::text)::text, true)",
        &[&corr],
    )
    .unwrap();
    let returned: String = tx
        .query_one(
            "SELECT correlation_id FROM loyalty.increment_player_loyalty($1::text::uuid, 10000)",
            &[&player],
        )
        .unwrap()
        .get(0);
    tx.commit().unwrap();
    assert_eq!(returned, corr);
    let v = wait_for_log_line(&[&corr, "loyalty_balance_incremented"]);
    assert_eq!(v["event"], "loyalty_balance_incremented");
    assert_eq!(v["correlation_id"], corr.as_str());
    // crossing SILVER also logs the tier change with the same id
    let t = wait_for_log_line(&[&corr, "loyalty_tier_changed"]);
    assert_eq!(t["event"], "loyalty_tier_changed");
    assert_eq!(
        (t["tier_before"].as_str(), t["tier_after"].as_str()),
        (Some("BRONZE"), Some("SILVER"))
    );
}
