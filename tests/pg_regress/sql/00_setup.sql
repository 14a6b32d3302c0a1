-- Install the extension once for the regress database.
CREATE EXTENSION casino_loyalty;
SELECT extname, extversion IS NOT NULL AS has_version FROM pg_extension WHERE extname = 'casino_loyalty';
SELECT tablename, rowsecurity FROM pg_tables WHERE schemaname = 'loyalty' ORDER BY tablename;
