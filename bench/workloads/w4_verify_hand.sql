SELECT count(*) FROM loyalty.player_loyalty p
  FULL JOIN (SELECT player_id,
                    coalesce(sum(points_change) FILTER (WHERE transaction_type <> 'RECONCILIATION'), 0) AS bal,
                    coalesce(sum(points_change) FILTER (WHERE points_change > 0
                                                          AND transaction_type <> 'RECONCILIATION'), 0) AS life
               FROM loyalty.loyalty_ledger GROUP BY player_id) l USING (player_id)
 WHERE p.player_id IS NULL OR l.player_id IS NULL AND (p.current_balance <> 0 OR p.lifetime_points <> 0)
    OR p.current_balance <> l.bal OR p.lifetime_points <> l.life;
