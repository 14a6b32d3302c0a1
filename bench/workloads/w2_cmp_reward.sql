SELECT balance_after FROM cmp.manual_reward('00000000-0000-4000-8000-00000000beef', 1, 'benchmark reward',
       '00000000-0000-4000-8000-00000000057a', 'R' || nextval('bench.w2'));
