/*
 * A guard with the behaviour of PostgREST's safeupdate module, for
 * tests/supabase/run.sh (no Debian package ships that module): every
 * statement parsed in a session that loaded it, including the statements
 * functions run through SPI, is refused if it is an UPDATE or DELETE
 * without a WHERE clause. Stricter than the module in one way: it also
 * looks inside WITH, where a data-modifying CTE can hide such a write.
 * Loaded per role with session_preload_libraries, as Supabase loads
 * safeupdate on its API role.
 */
#include "postgres.h"
#include "fmgr.h"
#include "nodes/parsenodes.h"
#include "parser/analyze.h"

PG_MODULE_MAGIC;

void _PG_init(void);

static post_parse_analyze_hook_type previous_hook = NULL;

static void
refuse_unqualified(Query *query)
{
    ListCell   *lc;

    if ((query->commandType == CMD_UPDATE || query->commandType == CMD_DELETE) &&
        (query->jointree == NULL || query->jointree->quals == NULL))
        ereport(ERROR,
                (errcode(ERRCODE_CARDINALITY_VIOLATION),
                 errmsg("%s requires a WHERE clause",
                        query->commandType == CMD_UPDATE ? "UPDATE" : "DELETE")));
    foreach(lc, query->cteList)
    {
        CommonTableExpr *cte = lfirst_node(CommonTableExpr, lc);

        if (IsA(cte->ctequery, Query))
            refuse_unqualified((Query *) cte->ctequery);
    }
}

static void
check_statement(ParseState *pstate, Query *query, JumbleState *jstate)
{
    if (previous_hook)
        previous_hook(pstate, query, jstate);
    refuse_unqualified(query);
}

void
_PG_init(void)
{
    previous_hook = post_parse_analyze_hook;
    post_parse_analyze_hook = check_statement;
}
