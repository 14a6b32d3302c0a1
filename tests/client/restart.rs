//! The rate limit is counted in the database, so a server restart does not
//! reset it. Alone in its own binary: it restarts the shared test server.

use casino_loyalty_client_tests::*;

#[test]
fn rate_limit_survives_a_server_restart() {
    let staff = new_uuid();
    let mut owner = shared_db();
    add_staff(&mut owner, &staff, &["loyalty:award"], true);
    for _ in 0..10 {
        let mut c = shared_db();
        as_role(&mut c, "authenticated", Some(&staff), |tx| {
            tx.query_one(
                REWARD,
                &[
                    &new_uuid(),
                    &3i64,
                    &"before restart",
                    &staff,
                    &None::<String>,
                ],
            )
        })
        .unwrap();
    }
    drop(owner);
    restart_server();
    let mut c = shared_db();
    let e = as_role(&mut c, "authenticated", Some(&staff), |tx| {
        tx.query_one(
            REWARD,
            &[
                &new_uuid(),
                &3i64,
                &"after restart",
                &staff,
                &None::<String>,
            ],
        )
    })
    .unwrap_err();
    assert_eq!(
        sqlstate(&e),
        ("PT429".to_string(), "RATE_LIMIT_EXCEEDED".to_string())
    );
}
