SELECT count(*) FROM loyalty.verify_all_balances();
