-- flight_features: one row per flight scheduled in [$start, $end] (local dates), keyed by
-- flight_id and its scheduled departure T (sched_dep_utc).
--
-- The point-in-time rule: a feature of a flight scheduled at T uses only what was known
-- strictly before T.
--   * a departure is known when it happens (dep_utc), an arrival when it lands (arr_utc);
--   * a weather row for hour H holds readings up to minute 51 of H: it is known at H + 1 h;
--   * schedules and aircraft registrations are known in advance.
-- Windows end at `1 microsecond PRECEDING` T, so events at T itself are excluded; the target
-- flight's own departure or arrival is subtracted where it falls inside its window (flights
-- often leave early, and their own departure must not leak in).
-- Calendar features and the aircraft's turnaround time are computed at request time by the
-- Feast on-demand views (feature_repo/definitions.py), the same code for training and serving.
-- The caller substitutes the relations flights, weather, planes and targets (in braces below):
-- targets is the day's flights, or probe rows (no departure, no arrival) for a snapshot.

WITH
history AS (
    -- Events of flights scheduled up to the last target day (30-day windows, 2 days of slack).
    -- A next-day flight leaving early before midnight is not counted, so a partition never
    -- depends on the day after it.
    SELECT *
    FROM {flights}
    WHERE date BETWEEN $start - INTERVAL 32 DAY AND $end
),
targets AS (
    SELECT flight_id, sched_dep_utc AS t, carrier, flight, tailnum, origin, dest,
           origin || '-' || dest AS route, distance,
           -- 1 where the flight's own departure / arrival falls inside a window ending at T.
           coalesce(dep_utc >= sched_dep_utc - INTERVAL 1 HOUR AND dep_utc < sched_dep_utc,
                    false)::INTEGER AS own_dep_1h,
           coalesce(dep_utc >= sched_dep_utc - INTERVAL 3 HOUR AND dep_utc < sched_dep_utc,
                    false)::INTEGER AS own_dep_3h,
           coalesce(dep_delay, 0) AS own_dep_delay,
           coalesce(arr_utc >= sched_dep_utc - INTERVAL 7 DAY AND arr_utc < sched_dep_utc,
                    false)::INTEGER AS own_arr_7d,
           coalesce(arr_utc >= sched_dep_utc - INTERVAL 30 DAY AND arr_utc < sched_dep_utc,
                    false)::INTEGER AS own_arr_30d,
           coalesce((arr_delay > 15)::INTEGER, 0) AS own_late
    FROM {targets}
),

-- Origin congestion: departures that actually left the origin in [T - 1 h, T) and [T - 3 h, T).
departure_timeline AS (
    SELECT origin AS key, dep_utc AS ts, dep_delay AS delay, NULL::VARCHAR AS flight_id
    FROM history WHERE dep_utc IS NOT NULL AND dep_delay IS NOT NULL
    UNION ALL
    SELECT origin, t, NULL, flight_id FROM targets
),
origin_windows AS (
    SELECT flight_id,
           sum(delay) OVER last_1h AS delay_sum_1h, count(delay) OVER last_1h AS departures_1h,
           sum(delay) OVER last_3h AS delay_sum_3h, count(delay) OVER last_3h AS departures_3h
    FROM departure_timeline
    WINDOW
        last_1h AS (PARTITION BY key ORDER BY ts
                    RANGE BETWEEN INTERVAL 1 HOUR PRECEDING AND INTERVAL 1 MICROSECOND PRECEDING),
        last_3h AS (PARTITION BY key ORDER BY ts
                    RANGE BETWEEN INTERVAL 3 HOUR PRECEDING AND INTERVAL 1 MICROSECOND PRECEDING)
    QUALIFY flight_id IS NOT NULL
),

-- Carrier and route history: share of arrivals more than 15 min late, over arrivals that had
-- landed in [T - 7 d, T) and [T - 30 d, T).
arrival_events AS (
    SELECT carrier, origin || '-' || dest AS route, arr_utc AS ts,
           (arr_delay > 15)::INTEGER AS late
    FROM history WHERE arr_utc IS NOT NULL AND arr_delay IS NOT NULL
),
arrival_windows AS (
    -- One timeline per carrier and per route: arrivals, and the targets reading them.
    SELECT kind, flight_id,
           sum(late) OVER last_7d AS late_7d, count(late) OVER last_7d AS arrivals_7d,
           sum(late) OVER last_30d AS late_30d, count(late) OVER last_30d AS arrivals_30d
    FROM (
        SELECT 'carrier' AS kind, carrier AS key, ts, late, NULL::VARCHAR AS flight_id
        FROM arrival_events
        UNION ALL
        SELECT 'route', route, ts, late, NULL FROM arrival_events
        UNION ALL
        SELECT 'carrier', carrier, t, NULL, flight_id FROM targets
        UNION ALL
        SELECT 'route', route, t, NULL, flight_id FROM targets
    )
    WINDOW
        last_7d AS (PARTITION BY kind, key ORDER BY ts
                    RANGE BETWEEN INTERVAL 7 DAY PRECEDING AND INTERVAL 1 MICROSECOND PRECEDING),
        last_30d AS (PARTITION BY kind, key ORDER BY ts
                     RANGE BETWEEN INTERVAL 30 DAY PRECEDING AND INTERVAL 1 MICROSECOND PRECEDING)
    QUALIFY flight_id IS NOT NULL
),

-- The aircraft's previous flight that had landed before T (same tail number).
landings AS (
    SELECT tailnum, arr_utc, arr_delay FROM history
    WHERE tailnum IS NOT NULL AND arr_utc IS NOT NULL AND arr_delay IS NOT NULL
),
previous_leg AS (
    -- Only a landing in the last 30 days counts (the history holds no more for every T).
    SELECT tg.flight_id,
           CASE WHEN l.arr_utc >= tg.t - INTERVAL 30 DAY THEN l.arr_utc END AS prev_arrival_utc,
           CASE WHEN l.arr_utc >= tg.t - INTERVAL 30 DAY THEN l.arr_delay END AS prev_arr_delay
    FROM targets tg ASOF LEFT JOIN landings l ON tg.tailnum = l.tailnum AND tg.t > l.arr_utc
),

-- Origin weather: the latest observation available before T (hour H is available at H + 1 h).
observations AS (
    SELECT origin, time_hour + INTERVAL 1 HOUR AS available_at, temp, dewp, humid, wind_speed,
           wind_gust, precip, pressure, visib
    FROM {weather}
    WHERE date BETWEEN $start - INTERVAL 2 DAY AND $end + INTERVAL 1 DAY
),
origin_weather AS (
    SELECT tg.flight_id, o.*
    FROM targets tg ASOF LEFT JOIN observations o
        ON tg.origin = o.origin AND tg.t > o.available_at
),

-- Schedules are published in advance: departures scheduled at the origin in T's hour.
scheduled AS (
    SELECT origin, date_trunc('hour', sched_dep_utc) AS hour_utc, count(*) AS departures
    FROM history GROUP BY ALL
)

SELECT
    tg.flight_id,
    tg.t AS sched_dep_utc,
    tg.carrier, tg.flight, tg.tailnum, tg.origin, tg.dest, tg.route,
    tg.distance,
    sch.departures AS origin_scheduled_departures_hour,
    -- The flight's own departure / arrival is taken out of the window it fell into.
    ow.departures_1h - own_dep_1h AS origin_departures_1h,
    (ow.delay_sum_1h - own_dep_1h * own_dep_delay) / nullif(ow.departures_1h - own_dep_1h, 0)
        AS origin_dep_delay_mean_1h,
    ow.departures_3h - own_dep_3h AS origin_departures_3h,
    (ow.delay_sum_3h - own_dep_3h * own_dep_delay) / nullif(ow.departures_3h - own_dep_3h, 0)
        AS origin_dep_delay_mean_3h,
    cw.arrivals_7d - own_arr_7d AS carrier_arrivals_7d,
    (cw.late_7d - own_arr_7d * own_late) / nullif(cw.arrivals_7d - own_arr_7d, 0)
        AS carrier_late_rate_7d,
    (cw.late_30d - own_arr_30d * own_late) / nullif(cw.arrivals_30d - own_arr_30d, 0)
        AS carrier_late_rate_30d,
    rw.arrivals_30d - own_arr_30d AS route_arrivals_30d,
    (rw.late_7d - own_arr_7d * own_late) / nullif(rw.arrivals_7d - own_arr_7d, 0)
        AS route_late_rate_7d,
    (rw.late_30d - own_arr_30d * own_late) / nullif(rw.arrivals_30d - own_arr_30d, 0)
        AS route_late_rate_30d,
    pl.prev_arr_delay AS tail_prev_arr_delay,
    pl.prev_arrival_utc AS tail_prev_arrival_utc,
    w.temp, w.dewp, w.humid, w.wind_speed, w.wind_gust, w.precip, w.pressure, w.visib,
    w.available_at AS weather_available_at,
    p.year AS plane_year, p.seats AS plane_seats, p.engines AS plane_engines
FROM targets tg
JOIN origin_windows ow USING (flight_id)
JOIN arrival_windows cw ON cw.flight_id = tg.flight_id AND cw.kind = 'carrier'
JOIN arrival_windows rw ON rw.flight_id = tg.flight_id AND rw.kind = 'route'
JOIN previous_leg pl USING (flight_id)
JOIN origin_weather w USING (flight_id)
LEFT JOIN scheduled sch ON sch.origin = tg.origin AND sch.hour_utc = date_trunc('hour', tg.t)
LEFT JOIN {planes} p ON p.tailnum = tg.tailnum
ORDER BY tg.t, tg.flight_id
