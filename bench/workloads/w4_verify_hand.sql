SELECT count(*) FROM loyalty.player_loyalty p
  JOIN (SELECT player_id, sum(points_change) AS bal, sum(points_change) FILTER (WHERE points_change > 0) AS life
          FROM loyalty.loyalty_ledger GROUP BY player_id) l USING (player_id)
 WHERE p.current_balance <> l.bal OR p.lifetime_points <> l.life;
