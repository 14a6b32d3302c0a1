-- casino_loyalty 0.3.0 -> 0.4.0.
--
-- `ALTER EXTENSION casino_loyalty UPDATE` runs this file in one transaction,
-- after the 0.4.0 shared library has been installed. It must carry a 0.3.0
-- database to exactly the schema a fresh 0.4.0 install creates: the upgrade
-- suite (tests/upgrade) compares the two and fails on any difference.
--
-- 0.4.0 is not released yet (sql/RELEASED), so every 0.4.0 change appends its
-- step here, in the order the changes were made; once 0.4.0 is released this
-- file never changes again (CONTRIBUTING.md, docs/releasing.md).
\echo Use "ALTER EXTENSION casino_loyalty UPDATE TO '0.4.0'" to load this file. \quit

-- Every table at once before anything else (loyalty.lock_for_update: a writer
-- waits for the update, none is made its deadlock victim).
SELECT loyalty.lock_for_update();

-- Every C function points at this release's library file, so a database
-- keeps calling the library its definitions were made with until it is
-- updated; steps below that redefine a function name the same file.
DO $$
DECLARE
    f record;
BEGIN
    FOR f IN
        SELECT p.oid, p.probin FROM pg_catalog.pg_proc p
          JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid
                                     AND d.deptype = 'e'
          JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid AND e.extname = 'casino_loyalty'
         WHERE p.prolang = (SELECT l.oid FROM pg_catalog.pg_language l WHERE l.lanname = 'c')
           AND p.probin IS DISTINCT FROM 'casino_loyalty-@CARGO_VERSION@'
    LOOP
        EXECUTE pg_catalog.replace(pg_catalog.pg_get_functiondef(f.oid),
                                   'AS ' || pg_catalog.quote_literal(f.probin) || ', ',
                                   'AS ''casino_loyalty-@CARGO_VERSION@'', ');
    END LOOP;
END
$$;

