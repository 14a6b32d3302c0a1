\set g random(1, 10000)
SELECT c.available_after FROM bench.guest g,
       cmp.hold_points(g.id, 2, 'steakhouse', 'dinner for two', '00000000-0000-4000-8000-00000000ca5e',
                       'H' || nextval('bench.w6')) h,
       cmp.capture_hold(h.hold_id, 1, '00000000-0000-4000-8000-00000000ca5e') c
 WHERE g.n = :g;
