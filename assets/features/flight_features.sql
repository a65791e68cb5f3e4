-- flight_features: one row per flight scheduled in [$start, $end] (local dates), keyed by
-- flight_id and its scheduled departure T (sched_dep_utc).
--
-- The point-in-time rule: a feature of a flight scheduled at T uses only what was known
-- strictly before T.
--   * a departure is known when it happens (dep_utc), an arrival when it lands (arr_utc);
--   * a weather row for hour H holds readings up to minute 51 of H: it is known at H + 1 h;
--   * schedules and aircraft registrations are known in advance.
-- A window "last w" holds the events with T - w <= time < T. It is computed as a running
-- total over time: the total just before T minus the total just before T - w, each one ASOF
-- lookup (`T > ts` is strict, so events at T itself are excluded). This is the same as a
-- `RANGE BETWEEN w PRECEDING AND 1 MICROSECOND PRECEDING` window, at a fraction of the cost.
-- The target flight's own departure or arrival is subtracted where it falls inside a window
-- (flights often leave early, and their own departure must not leak in).
-- Calendar features and the aircraft's turnaround time are computed at request time by the
-- Feast on-demand views (feature_repo/transforms.py), the same code for training and serving.
-- The caller substitutes the relations flights, weather, planes and targets (in braces below):
-- targets is the day's flights, or probe rows (no departure, no arrival) for a snapshot.

WITH
history AS MATERIALIZED (
    -- Events of flights scheduled up to the last target day (30-day windows, 2 days of slack).
    -- A next-day flight leaving early before midnight is not counted, so a partition never
    -- depends on the day after it.
    SELECT *
    FROM {flights}
    WHERE date BETWEEN $start - INTERVAL 32 DAY AND $end
),
targets AS MATERIALIZED (
    -- rid: the row's key for joining back its previous landing, looked up on narrow rows.
    SELECT row_number() OVER () AS rid, date, flight_id, sched_dep_utc AS t, carrier, flight,
           tailnum, origin, dest, origin || '-' || dest AS route, distance,
           sched_dep_utc - INTERVAL 1 HOUR AS t_1h, sched_dep_utc - INTERVAL 3 HOUR AS t_3h,
           sched_dep_utc - INTERVAL 7 DAY AS t_7d, sched_dep_utc - INTERVAL 30 DAY AS t_30d,
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
           coalesce((arr_delay > {late_minutes})::INTEGER, 0) AS own_late
    FROM {targets}
),

-- Each window family's running totals per key, one row per instant with events: origin
-- congestion counts departures that actually left and totals their delays (per origin); carrier
-- and route history count arrivals that had landed and the late ones (more than {late_minutes}
-- min). The running sums add DOUBLEs: counts are whole numbers, exact in a DOUBLE (below 2^53),
-- and a sum of integers is a HUGEINT, twice as wide and slower in a window. Running counts are
-- BIGINT again; the output keeps its DOUBLE counts.
running AS (
    SELECT 'origin' AS family, origin AS key, dep_utc AS ts,
           (sum(count(*)::DOUBLE) OVER running)::BIGINT AS n,
           sum(sum(dep_delay)) OVER running AS total
    FROM history WHERE dep_utc IS NOT NULL AND dep_delay IS NOT NULL
    GROUP BY origin, dep_utc
    WINDOW running AS (PARTITION BY origin ORDER BY dep_utc ROWS UNBOUNDED PRECEDING)
    UNION ALL
    SELECT 'carrier', carrier, arr_utc, (sum(count(*)::DOUBLE) OVER running)::BIGINT,
           sum(count_if(arr_delay > {late_minutes})::DOUBLE) OVER running
    FROM history WHERE arr_utc IS NOT NULL AND arr_delay IS NOT NULL
    GROUP BY carrier, arr_utc
    WINDOW running AS (PARTITION BY carrier ORDER BY arr_utc ROWS UNBOUNDED PRECEDING)
    UNION ALL
    SELECT 'route', origin || '-' || dest, arr_utc, (sum(count(*)::DOUBLE) OVER running)::BIGINT,
           sum(count_if(arr_delay > {late_minutes})::DOUBLE) OVER running
    FROM history WHERE arr_utc IS NOT NULL AND arr_delay IS NOT NULL
    GROUP BY origin || '-' || dest, arr_utc
    WINDOW running AS (PARTITION BY origin || '-' || dest ORDER BY arr_utc
                       ROWS UNBOUNDED PRECEDING)
),
-- The running totals strictly before each instant a window is read at (T and T - w), looked
-- up once per key and instant: flights share their scheduled times, and an ASOF join sorts its
-- whole left side (nine lookups of every flight cost most of the build's time and memory).
totals AS (
    SELECT p.family, p.key, p.ts, r.n, r.total
    FROM (
        SELECT DISTINCT 'origin' AS family, origin AS key, unnest([t, t_1h, t_3h]) AS ts
        FROM targets
        UNION ALL
        SELECT DISTINCT 'carrier', carrier, unnest([t, t_7d, t_30d]) FROM targets
        UNION ALL
        SELECT DISTINCT 'route', route, unnest([t, t_7d, t_30d]) FROM targets
    ) p
    ASOF LEFT JOIN running r ON p.family = r.family AND p.key = r.key AND p.ts > r.ts
),

-- The aircraft's previous landing before T (same tail number). The source has a few tails that
-- "land" twice at the same instant; keep the landing the event stream applies last, so the
-- batch and streaming paths agree and every build gives the same answer.
landings AS (
    SELECT tailnum, arr_utc, arr_delay FROM history
    WHERE tailnum IS NOT NULL AND arr_utc IS NOT NULL AND arr_delay IS NOT NULL
    QUALIFY row_number() OVER (
        PARTITION BY tailnum, arr_utc
        ORDER BY origin DESC, carrier DESC, origin || '-' || dest DESC, arr_delay DESC
    ) = 1
),

-- Origin weather: the latest observation available before T (hour H is available at H + 1 h).
observations AS (
    SELECT origin, time_hour + INTERVAL 1 HOUR AS available_at, temp, dewp, humid, wind_speed,
           wind_gust, precip, pressure, visib
    FROM {weather}
    WHERE date BETWEEN $start - INTERVAL 2 DAY AND $end + INTERVAL 1 DAY
),
-- Both looked up on narrow rows (an ASOF join sorts its whole left side): the landing once per
-- flight (a tail rarely has two flights at one instant), the weather once per origin and instant.
previous_landings AS (
    SELECT p.rid, l.arr_utc, l.arr_delay
    FROM (SELECT rid, tailnum, t FROM targets) p
    ASOF LEFT JOIN landings l ON p.tailnum = l.tailnum AND p.t > l.arr_utc
),
latest_weather AS (
    SELECT p.origin AS key, p.t, o.* EXCLUDE (origin)
    FROM (SELECT DISTINCT origin, t FROM targets) p
    ASOF LEFT JOIN observations o ON p.origin = o.origin AND p.t > o.available_at
),

-- Schedules are published in advance: departures scheduled at the origin in T's hour.
scheduled AS (
    SELECT origin, date_trunc('hour', sched_dep_utc) AS hour_utc, count(*) AS departures
    FROM history GROUP BY ALL
),

-- [T - w, T): the running total before T minus the one before T - w (hash lookups of the
-- probes above); the flight's own departure / arrival taken out of the window it fell into.
windows AS (
    SELECT tg.*,
           coalesce(d0.n, 0) - coalesce(d1.n, 0) - own_dep_1h AS departures_1h,
           coalesce(d0.total, 0) - coalesce(d1.total, 0) - own_dep_1h * own_dep_delay AS delay_1h,
           coalesce(d0.n, 0) - coalesce(d3.n, 0) - own_dep_3h AS departures_3h,
           coalesce(d0.total, 0) - coalesce(d3.total, 0) - own_dep_3h * own_dep_delay AS delay_3h,
           coalesce(c0.n, 0) - coalesce(c7.n, 0) - own_arr_7d AS carrier_arrivals_7d,
           coalesce(c0.total, 0) - coalesce(c7.total, 0) - own_arr_7d * own_late
               AS carrier_late_7d,
           coalesce(c0.n, 0) - coalesce(c30.n, 0) - own_arr_30d AS carrier_arrivals_30d,
           coalesce(c0.total, 0) - coalesce(c30.total, 0) - own_arr_30d * own_late
               AS carrier_late_30d,
           coalesce(r0.n, 0) - coalesce(r7.n, 0) - own_arr_7d AS route_arrivals_7d,
           coalesce(r0.total, 0) - coalesce(r7.total, 0) - own_arr_7d * own_late AS route_late_7d,
           coalesce(r0.n, 0) - coalesce(r30.n, 0) - own_arr_30d AS route_arrivals_30d,
           coalesce(r0.total, 0) - coalesce(r30.total, 0) - own_arr_30d * own_late
               AS route_late_30d
    FROM targets tg
    LEFT JOIN totals d0 ON d0.family = 'origin' AND d0.key = tg.origin AND d0.ts = tg.t
    LEFT JOIN totals d1 ON d1.family = 'origin' AND d1.key = tg.origin AND d1.ts = tg.t_1h
    LEFT JOIN totals d3 ON d3.family = 'origin' AND d3.key = tg.origin AND d3.ts = tg.t_3h
    LEFT JOIN totals c0 ON c0.family = 'carrier' AND c0.key = tg.carrier AND c0.ts = tg.t
    LEFT JOIN totals c7 ON c7.family = 'carrier' AND c7.key = tg.carrier AND c7.ts = tg.t_7d
    LEFT JOIN totals c30 ON c30.family = 'carrier' AND c30.key = tg.carrier AND c30.ts = tg.t_30d
    LEFT JOIN totals r0 ON r0.family = 'route' AND r0.key = tg.route AND r0.ts = tg.t
    LEFT JOIN totals r7 ON r7.family = 'route' AND r7.key = tg.route AND r7.ts = tg.t_7d
    LEFT JOIN totals r30 ON r30.family = 'route' AND r30.key = tg.route AND r30.ts = tg.t_30d
)

SELECT
    wn.flight_id,
    wn.t AS sched_dep_utc,
    wn.carrier, wn.flight, wn.tailnum, wn.origin, wn.dest, wn.route,
    wn.distance,
    sch.departures AS origin_scheduled_departures_hour,
    wn.departures_1h::DOUBLE AS origin_departures_1h,
    wn.delay_1h / nullif(wn.departures_1h, 0) AS origin_dep_delay_mean_1h,
    wn.departures_3h::DOUBLE AS origin_departures_3h,
    wn.delay_3h / nullif(wn.departures_3h, 0) AS origin_dep_delay_mean_3h,
    wn.carrier_arrivals_7d::DOUBLE AS carrier_arrivals_7d,
    wn.carrier_late_7d / nullif(wn.carrier_arrivals_7d, 0) AS carrier_late_rate_7d,
    wn.carrier_late_30d / nullif(wn.carrier_arrivals_30d, 0) AS carrier_late_rate_30d,
    wn.route_arrivals_30d::DOUBLE AS route_arrivals_30d,
    wn.route_late_7d / nullif(wn.route_arrivals_7d, 0) AS route_late_rate_7d,
    wn.route_late_30d / nullif(wn.route_arrivals_30d, 0) AS route_late_rate_30d,
    -- Only a landing in the last 30 days counts (the history holds no more for every T).
    CASE WHEN l.arr_utc >= wn.t_30d THEN l.arr_delay END AS tail_prev_arr_delay,
    CASE WHEN l.arr_utc >= wn.t_30d THEN l.arr_utc END AS tail_prev_arrival_utc,
    o.temp, o.dewp, o.humid, o.wind_speed, o.wind_gust, o.precip, o.pressure, o.visib,
    o.available_at AS weather_available_at,
    p.year AS plane_year, p.seats AS plane_seats, p.engines AS plane_engines,
    wn.date  -- the flight's partition (its local scheduled day)
FROM windows wn
LEFT JOIN previous_landings l ON l.rid = wn.rid
LEFT JOIN latest_weather o ON o.key = wn.origin AND o.t = wn.t
LEFT JOIN scheduled sch ON sch.origin = wn.origin AND sch.hour_utc = date_trunc('hour', wn.t)
LEFT JOIN {planes} p ON p.tailnum = wn.tailnum
