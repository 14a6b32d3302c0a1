-- casino_loyalty 0.1.0 -> 0.2.0.
--
-- `ALTER EXTENSION casino_loyalty UPDATE` runs this file in one transaction,
-- after the 0.2.0 shared library has been installed. It must carry a 0.1.0
-- database to exactly the schema a fresh 0.2.0 install creates: the upgrade
-- suite (tests/upgrade) compares the two and fails on any difference.
--
-- 0.2.0 is not released yet (sql/RELEASED), so every 0.2.0 change appends its
-- step here, in the order the changes were made; once 0.2.0 is released this
-- file never changes again (CONTRIBUTING.md, docs/releasing.md).
\echo Use "ALTER EXTENSION casino_loyalty UPDATE TO '0.2.0'" to load this file. \quit

-- Every constraint now has a name in sql/schema.sql. Most keep the name
-- PostgreSQL generated for 0.1.0; the two anonymous slip checks and the
-- ledger's arithmetic check get names that say what they hold.
ALTER TABLE loyalty.rating_slip
    RENAME CONSTRAINT rating_slip_check TO rating_slip_end_time_when_closed_check;
ALTER TABLE loyalty.rating_slip
    RENAME CONSTRAINT rating_slip_check1 TO rating_slip_duration_when_closed_check;
ALTER TABLE loyalty.loyalty_ledger
    RENAME CONSTRAINT loyalty_ledger_check TO loyalty_ledger_balance_arithmetic_check;
