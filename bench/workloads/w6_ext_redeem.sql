\set g random(1, 10000)
SELECT r.available_after FROM bench.guest g,
       loyalty.redeem_points(g.id, 1, 'free play', 'kiosk free play', '00000000-0000-4000-8000-00000000ca5e',
                             'K' || nextval('bench.w6')) r
 WHERE g.n = :g;
