-- Supabase's database linter (the Security Advisor), the rules SPEC §17
-- names, written here from each rule's documented definition and applied
-- to every object the extension creates (its pg_depend members), which is
-- stricter than the linter, which skips extension members. psql variable
-- :exposed is the PostgREST db-schemas list, comma-separated. One row per
-- rule: rule|what it checks|objects checked|violations|offenders.
WITH ext AS (
    SELECT d.classid, d.objid FROM pg_depend d
      JOIN pg_extension e ON e.oid = d.refobjid AND d.refclassid = 'pg_extension'::regclass
     WHERE e.extname = 'casino_loyalty' AND d.deptype = 'e'
),
tables AS (
    SELECT c.oid, c.oid::regclass::text AS name, c.relrowsecurity,
           (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid) AS policies
      FROM pg_class c JOIN ext ON ext.classid = 'pg_class'::regclass AND ext.objid = c.oid
     WHERE c.relkind IN ('r', 'p')
),
funcs AS (
    SELECT p.oid, p.oid::regprocedure::text AS name, p.prosecdef, p.proconfig, n.nspname
      FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      JOIN ext ON ext.classid = 'pg_proc'::regclass AND ext.objid = p.oid
),
exposed AS (
    SELECT trim(s) AS nspname FROM unnest(string_to_array(:'exposed', ',')) s
),
-- A policy's expressions with every scalar sub-select of a single call
-- taken out: whatever call is left runs once per row.
policies AS (
    SELECT p.schemaname || '.' || p.tablename || ':' || p.policyname AS name,
           regexp_replace(coalesce(p.qual, '') || ' ' || coalesce(p.with_check, ''),
                          '\( SELECT [a-z_.]+\((''[^'']*''(::text)?)?\) AS [a-z_]+\)', '', 'g') AS bare
      FROM pg_policies p JOIN tables t ON t.oid = (quote_ident(p.schemaname) || '.' || quote_ident(p.tablename))::regclass
),
rules AS (
    SELECT '0003' AS rule, 'auth calls in policies wrapped in a sub-select' AS what,
           (SELECT count(*) FROM policies) AS checked,
           (SELECT array_agg(name ORDER BY name) FROM policies
             WHERE bare ~ '(auth\.[a-z_]+|current_setting|loyalty\.caller_[a-z_]+)\(') AS offenders
    UNION ALL
    SELECT '0007', 'no table with policies and RLS off', (SELECT count(*) FROM tables),
           (SELECT array_agg(name ORDER BY name) FROM tables WHERE policies > 0 AND NOT relrowsecurity)
    UNION ALL
    SELECT '0008', 'RLS on every table, and a policy on each', (SELECT count(*) FROM tables),
           (SELECT array_agg(name ORDER BY name) FROM tables WHERE NOT relrowsecurity OR policies = 0)
    UNION ALL
    SELECT '0009', 'no duplicate indexes', (SELECT count(*) FROM pg_index i JOIN tables t ON t.oid = i.indrelid),
           (SELECT array_agg(a.indexrelid::regclass::text || '=' || b.indexrelid::regclass::text)
              FROM pg_index a JOIN pg_index b ON a.indrelid = b.indrelid AND a.indexrelid < b.indexrelid
               AND a.indkey::text = b.indkey::text AND a.indclass::text = b.indclass::text
               AND a.indcollation::text = b.indcollation::text
               AND coalesce(pg_get_expr(a.indexprs, a.indrelid), '') = coalesce(pg_get_expr(b.indexprs, b.indrelid), '')
               AND coalesce(pg_get_expr(a.indpred, a.indrelid), '') = coalesce(pg_get_expr(b.indpred, b.indrelid), '')
             WHERE a.indrelid IN (SELECT oid FROM tables))
    UNION ALL
    SELECT '0011', 'every function pins its search_path', (SELECT count(*) FROM funcs),
           (SELECT array_agg(name ORDER BY name) FROM funcs
             WHERE NOT EXISTS (SELECT FROM unnest(proconfig) c WHERE c LIKE 'search_path=%'))
    UNION ALL
    SELECT '0028', 'no SECURITY DEFINER function in an exposed schema executable by anon',
           (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE n.nspname IN (SELECT nspname FROM exposed)),
           (SELECT array_agg(p.oid::regprocedure::text) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE n.nspname IN (SELECT nspname FROM exposed) AND p.prosecdef
               AND has_function_privilege('anon', p.oid, 'EXECUTE'))
    UNION ALL
    SELECT '0029', 'no SECURITY DEFINER function in an exposed schema executable by authenticated',
           (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE n.nspname IN (SELECT nspname FROM exposed)),
           (SELECT array_agg(p.oid::regprocedure::text) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE n.nspname IN (SELECT nspname FROM exposed) AND p.prosecdef
               AND has_function_privilege('authenticated', p.oid, 'EXECUTE'))
)
SELECT rule || '|' || what || '|' || checked || '|' || coalesce(cardinality(offenders), 0) || '|'
       || coalesce(array_to_string(offenders, ' '), '')
  FROM rules ORDER BY rule;
