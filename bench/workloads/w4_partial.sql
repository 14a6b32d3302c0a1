SELECT count(*) FROM loyalty.list_partial_completions(100);
