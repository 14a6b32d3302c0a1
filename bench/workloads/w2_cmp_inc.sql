SELECT balance_after FROM cmp.increment('00000000-0000-4000-8000-00000000cafe', 1);
