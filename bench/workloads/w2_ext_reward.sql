SELECT balance_after FROM loyalty.manual_reward('00000000-0000-4000-8000-00000000beef', 1, 'benchmark reward',
       '00000000-0000-4000-8000-00000000057a', NULL, 'R' || nextval('bench.w2'));
