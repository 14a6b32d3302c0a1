SELECT balance_after FROM loyalty.increment_player_loyalty('00000000-0000-4000-8000-00000000cafe', 1);
