-- Properties (SPEC §22) at the SQL surface, as the owner (a trusted back end
-- naming each person) and as staff signed in themselves, in one rolled-back
-- transaction: three properties in three time zones, one account per
-- player across them, staff who may act at one property only, the daily
-- threshold per property, and the group's summary.
\set VERBOSITY terse
\set SHOW_CONTEXT never
\set p '''dddddddd-0000-4000-8000-0000000000a1'''
\set lvboss '''00000000-0000-4000-8000-00000000a100'''
\set tkboss '''00000000-0000-4000-8000-00000000a101'''
\set approver '''00000000-0000-4000-8000-00000000a200'''
\set lvapprover '''00000000-0000-4000-8000-00000000a201'''
\set lncashier '''00000000-0000-4000-8000-00000000a300'''
\set lvcashier '''00000000-0000-4000-8000-00000000a301'''
\set lvhost '''00000000-0000-4000-8000-00000000a400'''
\set auditor '''00000000-0000-4000-8000-00000000a500'''
\set tkrecoverer '''00000000-0000-4000-8000-00000000a600'''
BEGIN;
-- three properties: Las Vegas and Tokyo, 17 hours apart, and London, with
-- the daily four-eyes threshold at 1,000 points in Las Vegas and Tokyo;
-- MAIN, the install's, closed
SELECT property_id, name, time_zone, gaming_day_start, active, daily_approval_threshold_points
  FROM loyalty.upsert_property('LV-STRIP', 'Las Vegas Strip', 'America/Los_Angeles', '06:00',
                               p_daily_approval_threshold_points => 1000);
SELECT property_id, time_zone FROM loyalty.upsert_property('TOKYO', 'Tokyo Bay', 'Asia/Tokyo', '06:00',
                                                          p_daily_approval_threshold_points => 1000);
SELECT property_id, time_zone FROM loyalty.upsert_property('LONDON', 'London Mayfair', 'Europe/London', '06:00');
SELECT property_id, active, seeded FROM loyalty.upsert_property('MAIN', p_active => false);
-- refused: a code that is no code, a zone that is no zone, a setting that cannot be cleared
SAVEPOINT s;
SELECT * FROM loyalty.upsert_property('lv strip', 'x');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT * FROM loyalty.upsert_property('RENO', 'Reno', 'Mars/Olympus_Mons');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT * FROM loyalty.upsert_property('LONDON', p_clear => ARRAY['name']);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT action, target FROM loyalty.admin_audit WHERE target LIKE 'property:%' ORDER BY id;
-- each property's gaming day of one instant (03:00 UTC): Las Vegas' is the
-- day before, Tokyo's that day, London's still the day before (06:00 start)
SELECT p.property_id, loyalty.property_gaming_day(p.property_id, '2026-12-05 03:00+00') AS gaming_day
  FROM loyalty.property p ORDER BY 1;

-- staff: a pit boss of Las Vegas, one of Tokyo, an approver of every
-- property and one of Las Vegas, a cashier of London and one of Las Vegas,
-- a host who awards in Las Vegas, an auditor of London
SELECT staff_id, permissions FROM loyalty.upsert_staff(:lvboss, '{loyalty:rate}', p_property_id => 'LV-STRIP');
SELECT permissions FROM loyalty.upsert_staff(:tkboss, '{loyalty:rate}', p_property_id => 'TOKYO');
SELECT permissions FROM loyalty.upsert_staff(:approver, '{loyalty:approve}');
SELECT permissions FROM loyalty.upsert_staff(:lvapprover, '{loyalty:approve}', p_property_id => 'LV-STRIP');
SELECT permissions FROM loyalty.upsert_staff(:lncashier, '{loyalty:redeem}', p_property_id => 'LONDON');
SELECT permissions FROM loyalty.upsert_staff(:lvcashier, '{loyalty:redeem}', p_property_id => 'LV-STRIP');
SELECT permissions FROM loyalty.upsert_staff(:lvhost, '{loyalty:award}', p_property_id => 'LV-STRIP');
SELECT permissions FROM loyalty.upsert_staff(:auditor, '{loyalty:audit}', p_property_id => 'LONDON');
SELECT permissions FROM loyalty.upsert_staff(:tkrecoverer, '{loyalty:recover}', p_property_id => 'TOKYO');
SELECT staff_id = :auditor AS auditor, property_id, permissions FROM loyalty.staff_property
 WHERE staff_id IN (:lvboss, :auditor) ORDER BY 2;
-- whoever reviews neither grants nor receives, anywhere: an auditor of
-- London may not also award in Las Vegas
SAVEPOINT s;
SELECT * FROM loyalty.upsert_staff(:auditor, '{loyalty:award}', p_property_id => 'LV-STRIP');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK TO s;

-- Tokyo's baccarat tables take at most 40 and hold a slip over 100 points;
-- Las Vegas keeps the game's (1 to 100,000, 25,000); a property may narrow
-- the game's limits, never widen them
SELECT property_id, game_type, min_average_bet, max_average_bet, approval_threshold_points
  FROM loyalty.upsert_property_game('TOKYO', 'BACCARAT', p_max_average_bet => 40, p_approval_threshold_points => 100);
SAVEPOINT s;
SELECT * FROM loyalty.open_rating_slip('dddddddd-0000-4000-8000-0000000000a3', 'BACCARAT', 50,
       p_staff_id => :tkboss, p_property_id => 'TOKYO');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT id AS b1 FROM loyalty.open_rating_slip('dddddddd-0000-4000-8000-0000000000a3', 'BACCARAT', 40,
       p_staff_id => :tkboss, p_property_id => 'TOKYO') \gset
SELECT property_id, approval_threshold_points FROM loyalty.rating_slip WHERE id = :'b1';
ROLLBACK TO s;
SELECT id AS b2 FROM loyalty.open_rating_slip('dddddddd-0000-4000-8000-0000000000a3', 'BACCARAT', 50,
       p_staff_id => :lvboss, p_property_id => 'LV-STRIP') \gset
SELECT property_id, approval_threshold_points FROM loyalty.rating_slip WHERE id = :'b2';
ROLLBACK TO s;
SELECT max_average_bet FROM loyalty.upsert_property_game('TOKYO', 'BACCARAT', p_max_average_bet => 500000);
SELECT * FROM loyalty.open_rating_slip('dddddddd-0000-4000-8000-0000000000a3', 'BACCARAT', 200000,
       p_staff_id => :tkboss, p_property_id => 'TOKYO');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT action, target FROM loyalty.admin_audit WHERE action = 'upsert_property_game' ORDER BY id;

-- with several properties a new slip names one
SELECT * FROM loyalty.open_rating_slip(:p, 'BLACKJACK', 50, p_staff_id => :lvboss);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
-- ... and not a closed one
SELECT * FROM loyalty.open_rating_slip(:p, 'BLACKJACK', 50, p_staff_id => :lvboss, p_property_id => 'MAIN');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK TO s;

-- The player earns in Las Vegas (700 points) and in Tokyo (700): 1,400 in
-- one day, above 1,000, but each property's day holds 700, so neither is held.
SELECT id AS lv1 FROM loyalty.open_rating_slip(:p, 'BLACKJACK', 50, p_start_time => now() - interval '6 hours',
       p_staff_id => :lvboss, p_property_id => 'LV-STRIP') \gset
SELECT status, points_earned FROM loyalty.complete_rating_slip(:'lv1', p_end_time => now() - interval '5 hours',
       p_staff_id => :lvboss);
SELECT id AS tk1 FROM loyalty.open_rating_slip(:p, 'BLACKJACK', 50, p_start_time => now() - interval '4 hours',
       p_staff_id => :tkboss, p_property_id => 'TOKYO') \gset
-- the pit boss of Las Vegas may do nothing with a Tokyo slip, named by a
-- back end or signed in himself
SAVEPOINT s;
SELECT * FROM loyalty.update_rating_slip_bet(:'tk1', 60, p_staff_id => :lvboss);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT * FROM loyalty.complete_rating_slip(:'tk1', p_staff_id => :lvboss);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT ordinal, status, error_code FROM loyalty.complete_rating_slips(ARRAY[:'tk1']::uuid[], p_staff_id => :lvboss);
ROLLBACK TO s;
SELECT * FROM loyalty.open_rating_slip('dddddddd-0000-4000-8000-0000000000a2', 'BLACKJACK', 50,
       p_staff_id => :lvboss, p_property_id => 'TOKYO');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SET LOCAL ROLE authenticated;
SELECT set_config('request.jwt.claims', json_build_object('sub', :lvboss)::text, true) IS NOT NULL AS signed_in;
SELECT * FROM loyalty.complete_rating_slip(:'tk1');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SET LOCAL ROLE authenticated;
SELECT set_config('request.jwt.claims', json_build_object('sub', :lvboss)::text, true) IS NOT NULL AS signed_in;
SELECT * FROM loyalty.open_rating_slip('dddddddd-0000-4000-8000-0000000000a2', 'BLACKJACK', 50,
       p_property_id => 'TOKYO');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
-- a slip is finished where it was opened
SELECT * FROM loyalty.complete_rating_slip(:'tk1', p_staff_id => :tkboss, p_property_id => 'LV-STRIP');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT status, points_earned FROM loyalty.complete_rating_slip(:'tk1', p_end_time => now() - interval '3 hours',
       p_staff_id => :tkboss);
-- a second Las Vegas slip takes Las Vegas' day to 1,400: held
SELECT id AS lv2 FROM loyalty.open_rating_slip(:p, 'BLACKJACK', 50, p_start_time => now() - interval '2 hours',
       p_staff_id => :lvboss, p_property_id => 'LV-STRIP') \gset
SELECT status, points_earned FROM loyalty.complete_rating_slip(:'lv2', p_end_time => now() - interval '1 hour',
       p_staff_id => :lvboss);
SELECT details->>'rule' AS rule, details->>'threshold' AS threshold, property_id FROM loyalty.alert
 WHERE details->>'rating_slip_id' = :'lv2';
-- the approver of Las Vegas may approve it, the pit boss of Tokyo may not;
-- a Tokyo slip held the same way would not be Las Vegas' approver's to decide
SAVEPOINT s;
SELECT * FROM loyalty.approve_slip(:'lv2', p_staff_id => :tkboss);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT points_earned, balance_after FROM loyalty.approve_slip(:'lv2', p_staff_id => :lvapprover);
ROLLBACK TO s;
-- and so may the approver of every property
SELECT points_earned, balance_after FROM loyalty.approve_slip(:'lv2', p_staff_id => :approver);
-- recovery at a property: Tokyo's recoverer replays Tokyo's slip, not Las Vegas'
SAVEPOINT s;
SET LOCAL ROLE authenticated;
SELECT set_config('request.jwt.claims', json_build_object('sub', :tkrecoverer)::text, true) IS NOT NULL AS signed_in;
SELECT status, points_earned, idempotent_hit FROM loyalty.recover_slip_loyalty(:'tk1');
SELECT * FROM loyalty.recover_slip_loyalty(:'lv1');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SET LOCAL ROLE authenticated;
SELECT set_config('request.jwt.claims', json_build_object('sub', :tkrecoverer)::text, true) IS NOT NULL AS signed_in;
SELECT * FROM loyalty.accrue_points_from_slip(:'lv1');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK TO s;

-- a Tokyo slip over Tokyo's threshold: held; Las Vegas' approver may neither
-- approve nor reject it, the enterprise's approver may
SELECT id AS tk2 FROM loyalty.open_rating_slip(:p, 'BLACKJACK', 60, p_start_time => now() - interval '50 minutes',
       p_staff_id => :tkboss, p_property_id => 'TOKYO') \gset
SELECT status, points_earned FROM loyalty.complete_rating_slip(:'tk2', p_staff_id => :tkboss);
SAVEPOINT s;
SELECT * FROM loyalty.approve_slip(:'tk2', p_staff_id => :lvapprover);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT * FROM loyalty.reject_slip(:'tk2', 'not seen on camera', p_staff_id => :lvapprover);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
-- the held slips an approver of Las Vegas may list: Las Vegas', not Tokyo's, nor everyone's
SET LOCAL ROLE authenticated;
SELECT set_config('request.jwt.claims', json_build_object('sub', :lvapprover)::text, true) IS NOT NULL AS signed_in;
SELECT count(*) AS held_in_las_vegas FROM loyalty.list_held_slips(p_property_id => 'LV-STRIP');
SELECT * FROM loyalty.list_held_slips(p_property_id => 'TOKYO');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SET LOCAL ROLE authenticated;
SELECT set_config('request.jwt.claims', json_build_object('sub', :lvapprover)::text, true) IS NOT NULL AS signed_in;
SELECT * FROM loyalty.list_held_slips();
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT rating_slip_id = :'tk2' AS tokyo_slip FROM loyalty.list_held_slips(p_property_id => 'TOKYO');
SELECT approval_status FROM loyalty.reject_slip(:'tk2', 'not seen on camera', p_staff_id => :approver);

-- manual rewards: the host of Las Vegas awards there, not in Tokyo
SAVEPOINT s;
SELECT * FROM loyalty.manual_reward(:p, 100, 'birthday dinner', :lvhost, p_property_id => 'TOKYO');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT points_change, balance_after FROM loyalty.manual_reward(:p, 100, 'birthday dinner', :lvhost,
       p_reward_id => 'VOUCHER-77', p_property_id => 'LV-STRIP');
-- a voucher pays once in the whole enterprise
SELECT property_id FROM loyalty.voucher WHERE reward_id = 'VOUCHER-77';

-- The player spends in London, where they never played: the cashier of
-- London holds and captures; the cashier of Las Vegas may not touch
-- London's hold, nor hold there; the approver of Las Vegas may not reverse it.
SAVEPOINT s;
SELECT * FROM loyalty.hold_points(:p, 500, 'steakhouse', 'dinner for two', :lvcashier, p_property_id => 'LONDON');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT * FROM loyalty.redeem_points(:p, 500, 'kiosk', 'free play at the kiosk', :lvcashier, p_property_id => 'LONDON');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT hold_id AS h1 FROM loyalty.hold_points(:p, 500, 'steakhouse', 'dinner for two', :lncashier,
       p_property_id => 'LONDON') \gset
SELECT property_id, comp_value_cents FROM loyalty.hold WHERE hold_id = :'h1';
SAVEPOINT s;
SELECT * FROM loyalty.capture_hold(:'h1', p_staff_id => :lvcashier);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT * FROM loyalty.void_hold(:'h1', 'changed mind', :lvcashier);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT status, captured_points, available_after FROM loyalty.capture_hold(:'h1', p_staff_id => :lncashier);
SELECT ledger_entry_id AS r1 FROM loyalty.hold WHERE hold_id = :'h1' \gset
SAVEPOINT s;
SELECT * FROM loyalty.reverse_redemption(:r1, 'wrong table', :lvapprover);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
-- a hold above London's approval threshold (the enterprise's 10,000) waits;
-- Las Vegas' approver may not approve it, the enterprise's may
SELECT balance_after FROM loyalty.increment_player_loyalty(:p, 20000);
SELECT hold_id AS h2, status FROM loyalty.hold_points(:p, 15000, 'suite', 'two nights in the suite', :lncashier,
       p_property_id => 'LONDON') \gset
\echo :status
SAVEPOINT s;
SELECT * FROM loyalty.approve_hold(:'h2', :lvapprover);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT status FROM loyalty.approve_hold(:'h2', :approver);
SELECT status FROM loyalty.void_hold(:'h2', 'booked elsewhere', :lncashier);

-- One account: the balance is the sum of every property's entries, and each
-- entry's gaming day is its property's (the enterprise's for the increment).
SELECT current_balance, held_points, tier FROM loyalty.player_loyalty WHERE player_id = :p;
SELECT seq, transaction_type, property_id, points_change,
       gaming_day = coalesce(loyalty.property_gaming_day(property_id, created_at), loyalty.gaming_day(created_at))
           AS its_gaming_day
  FROM loyalty.loyalty_ledger WHERE player_id = :p ORDER BY seq;
SELECT ok, entries FROM loyalty.verify_ledger_chain(:p);
-- the outbox says where: holds and alerts at their property, a tier change the enterprise's
SELECT kind, coalesce(payload->>'event', payload->>'alert_kind', payload->>'tier_after') AS what, property_id
  FROM loyalty.notification WHERE player_id = :p ORDER BY id;

-- The group's summary: earned in Las Vegas and Tokyo, redeemed in London,
-- where the player had earned 1,500 in Las Vegas and 700 in Tokyo before:
-- 500 split 340.9 / 159.1, whole points 341 / 159; the increment is the
-- enterprise's.
-- (the row with no property also holds whatever else the database has)
SELECT property_id, points_earned, points_redeemed, redeemed_from, points_expired, comp_value_cents
  FROM loyalty.property_summary(current_date - 2, current_date + 2) WHERE property_id IS NOT NULL;
-- its figures equal the ledger's over the same days, and each redemption's
-- split adds up to it
WITH s AS (SELECT * FROM loyalty.property_summary(current_date - 2, current_date + 2)),
     l AS (SELECT * FROM loyalty.loyalty_ledger WHERE gaming_day BETWEEN current_date - 2 AND current_date + 2)
SELECT (SELECT sum(points_redeemed) FROM s)
     = (SELECT -sum(points_change) FROM l WHERE transaction_type IN ('REDEMPTION', 'REDEMPTION_REVERSAL'))
           AS redeemed_equals_ledger,
       (SELECT sum(points_earned) FROM s)
     = (SELECT sum(loyalty.lifetime_credit(transaction_type, points_change)) FROM l) AS earned_equals_ledger,
       (SELECT bool_and(points_redeemed = (SELECT coalesce(sum(v::bigint), 0) FROM jsonb_each_text(redeemed_from) e(k, v)))
          FROM s) AS splits_add_up;

-- An auditor of London reads London's exception report, not another
-- property's, nor everyone's
SAVEPOINT s;
SET LOCAL ROLE authenticated;
SELECT set_config('request.jwt.claims', json_build_object('sub', :auditor)::text, true) IS NOT NULL AS signed_in;
SELECT event, amount FROM loyalty.exception_report(current_date - 2, current_date + 2, 'LONDON') ORDER BY at;
SELECT * FROM loyalty.exception_report(current_date - 2, current_date + 2, 'LV-STRIP');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SET LOCAL ROLE authenticated;
SELECT set_config('request.jwt.claims', json_build_object('sub', :auditor)::text, true) IS NOT NULL AS signed_in;
SELECT * FROM loyalty.exception_report(current_date - 2, current_date + 2);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SET LOCAL ROLE authenticated;
SELECT set_config('request.jwt.claims', json_build_object('sub', :auditor)::text, true) IS NOT NULL AS signed_in;
SELECT * FROM loyalty.property_summary(current_date - 2, current_date + 2);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
ROLLBACK;
