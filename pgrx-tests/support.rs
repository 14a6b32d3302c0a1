// Helpers shared by the in-database suites (included into `mod tests`).

/// Run `sql` and return "SQLSTATE MESSAGE" of the error it raises, or "OK".
/// A PL/pgSQL handler reads the real SQLSTATE, which pgrx's own error
/// conversion would not preserve for custom PTnnn codes.
#[allow(dead_code)]
fn outcome(sql: &str) -> String {
    Spi::run(
        "CREATE OR REPLACE FUNCTION pg_temp.outcome_of(q text) RETURNS text LANGUAGE plpgsql AS $f$
         BEGIN
             EXECUTE q;
             RETURN 'OK';
         EXCEPTION WHEN OTHERS THEN
             RETURN SQLSTATE || ' ' || SQLERRM;
         END $f$",
    )
    .expect("create outcome_of");
    Spi::get_one_with_args::<String>("SELECT pg_temp.outcome_of($1)", &[sql.into()])
        .expect("outcome_of")
        .expect("outcome_of returned NULL")
}

#[allow(dead_code)]
fn one<T: pgrx::FromDatum + pgrx::IntoDatum>(sql: &str) -> T {
    Spi::get_one::<T>(sql).expect(sql).expect("NULL result")
}

/// The staff members a trusted caller names for floor actions (SPEC §14):
/// one who rates, one who approves.
#[allow(dead_code)]
fn floor_staff() {
    Spi::run(
        "INSERT INTO loyalty.staff (staff_id, permissions, active) VALUES
             ('00000000-0000-4000-8000-00000000f100', '{loyalty:rate}', true),
             ('00000000-0000-4000-8000-00000000f200', '{loyalty:approve}', true)
         ON CONFLICT (staff_id) DO NOTHING",
    )
    .expect("floor staff");
}
