-- Sample tables the availability and quality dashboards read (grafana/dashboards/): status
-- events of 4 pieces of equipment every 7 minutes, and 2,401 quality scans of 3 farmers.
-- Made by scripts/demo.sql and by tests/e2e/test_grafana.py. Plain SQL (no psql commands).
DROP TABLE IF EXISTS public.status_events, public.quality_scans;
CREATE TABLE public.status_events (equipment int NOT NULL, time timestamptz NOT NULL, status text);
INSERT INTO public.status_events
SELECT e, timestamptz '2026-01-01' + i * interval '7 minutes', (ARRAY['online', 'online', 'online', 'warning', 'offline'])[1 + (i / 13 + e) % 5]
FROM generate_series(1, 4) e, generate_series(0, 1600) i;
CREATE TABLE public.quality_scans (time timestamptz NOT NULL, farmer text, tof_score float8, tof_grade text,
                                   tof_defect_count int, spectral_score float8, spectral_grade text, spectral_defect_count int);
INSERT INTO public.quality_scans
SELECT timestamptz '2026-01-01' + i * interval '17 minutes', (ARRAY['Dupont', 'Martin', 'Bernard'])[1 + i % 3],
       0.4 + (i % 60) / 100.0, sensor.quality_grade(0.4 + (i % 60) / 100.0), i % 3,
       0.5 + (i % 45) / 100.0, sensor.quality_grade(0.5 + (i % 45) / 100.0), i % 2
FROM generate_series(0, 2400) i;
