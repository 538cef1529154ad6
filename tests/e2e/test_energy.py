"""Energy over a period on the real T302 fixtures: energy per power channel per day from
sensor.energy_agg equals an independent Python trapezoid over the same rows, day states
roll up to the whole range (the segments across midnight included), and the logger's clock
reset in company3 is a gap, not energy, under max_gap."""
import collections
import datetime

import pytest

from test_tsv import copy_tree

MAX_GAP = datetime.timedelta(minutes=10)


def trapezoid(points, max_gap=None):
    """(watt-hours, gaps) over time-sorted (time, value) points; rows at one instant count
    as their mean."""
    at = collections.defaultdict(list)
    for t, v in points:
        at[t].append(v)
    pts = sorted((t, sum(vs) / len(vs)) for t, vs in at.items())
    wh, gaps = 0.0, 0
    for (t0, v0), (t1, v1) in zip(pts, pts[1:]):
        if max_gap is not None and t1 - t0 > max_gap:
            gaps += 1
            continue
        wh += (v0 + v1) / 2 * (t1 - t0).total_seconds() / 3600
    return wh, gaps


@pytest.fixture
def loaded(db, shared_fixtures, server_dir):
    db.execute("TRUNCATE sensor_data.electrical_samples, sensor_data.tsv_channels, sensor_data.tsv_files, "
               "sensor_data.tsv_runs, sensor_data.company_access")
    base = copy_tree(shared_fixtures / "powerview", server_dir / "powerview")
    assert db.execute("SELECT loaded FROM sensor.load_tsv_dir(%s)", [str(base)]).fetchone()[0] == 4
    yield db


def test_energy_per_power_channel_per_day_matches_an_independent_trapezoid(loaded):
    rows = loaded.execute("SELECT channel_id, time, value FROM sensor_data.electrical WHERE unit = 'W'").fetchall()
    assert rows, "the fixtures have active-power channels"
    by_day = collections.defaultdict(list)
    for channel, t, v in rows:
        by_day[(channel, t.astimezone(datetime.timezone.utc).date())].append((t, v))
    got = loaded.execute(
        """SELECT channel_id, (time AT TIME ZONE 'UTC')::date AS day,
                  sensor.energy_wh(sensor.energy_agg(time, value)),
                  sensor.energy_wh(sensor.energy_agg(time, value, interval '10 minutes')),
                  sensor.gaps(sensor.energy_agg(time, value, interval '10 minutes')),
                  sensor.is_approximate(sensor.energy_agg(time, value))
           FROM sensor_data.electrical WHERE unit = 'W' GROUP BY 1, 2 ORDER BY 1, 2""").fetchall()
    assert len(got) == len(by_day) > 10
    for channel, day, wh, wh_gapped, gaps, approximate in got:
        points = by_day[(channel, day)]
        assert not approximate
        assert wh == pytest.approx(trapezoid(points)[0], rel=1e-9, abs=1e-9), (channel, day)
        expected_wh, expected_gaps = trapezoid(points, MAX_GAP)
        assert wh_gapped == pytest.approx(expected_wh, rel=1e-9, abs=1e-9), (channel, day)
        assert gaps == expected_gaps, (channel, day)


def test_day_states_roll_up_to_the_whole_range(loaded):
    """Per channel: rollup of the day states = energy_agg over every row = the sum of the
    days plus the segments across midnight (computed here), and the clock reset is a gap."""
    got = loaded.execute(
        """WITH days AS (
               SELECT channel_id, date_trunc('day', time) AS day, sensor.energy_agg(time, value, interval '10 minutes') AS e
               FROM sensor_data.electrical WHERE unit = 'W' GROUP BY 1, 2)
           SELECT d.channel_id, sensor.energy_wh(sensor.rollup(d.e)), sum(sensor.energy_wh(d.e)), sensor.gaps(sensor.rollup(d.e)),
                  (SELECT sensor.energy_wh(sensor.energy_agg(x.time, x.value, interval '10 minutes'))
                   FROM sensor_data.electrical x WHERE x.channel_id = d.channel_id),
                  (SELECT sensor.gaps(sensor.energy_agg(x.time, x.value, interval '10 minutes'))
                   FROM sensor_data.electrical x WHERE x.channel_id = d.channel_id)
           FROM days d GROUP BY d.channel_id ORDER BY 1""").fetchall()
    rows = loaded.execute("SELECT channel_id, time, value FROM sensor_data.electrical WHERE unit = 'W'").fetchall()
    points = collections.defaultdict(list)
    for channel, t, v in rows:
        points[channel].append((t, v))
    assert len(got) == len(points) > 0
    crossings = 0
    for channel, rolled, sum_of_days, rolled_gaps, whole, whole_gaps in got:
        assert rolled == pytest.approx(whole, rel=1e-12, abs=1e-9), channel
        assert rolled_gaps == whole_gaps, channel
        # The segments between the last point of a day and the first of the next.
        by_day = collections.defaultdict(list)
        for t, v in points[channel]:
            by_day[t.astimezone(datetime.timezone.utc).date()].append((t, v))
        edges = sorted((min(p), max(p)) for p in by_day.values())
        across = 0.0
        for (_, (t0, v0)), ((t1, v1), _) in zip(edges, edges[1:]):
            if t1 - t0 <= MAX_GAP:
                across += (v0 + v1) / 2 * (t1 - t0).total_seconds() / 3600
                crossings += 1
        assert rolled == pytest.approx(sum_of_days + across, rel=1e-9, abs=1e-6), channel
    assert crossings > 0
    # company3's logger clock reset (dates in 2020, then 2025-2026): a gap on every channel.
    reset = loaded.execute(
        """SELECT min(sensor.gaps(e)) FROM (
               SELECT channel_id, sensor.energy_agg(time, value, interval '10 minutes') e
               FROM sensor_data.electrical WHERE company = 'company3' AND unit = 'W' GROUP BY 1) s""").fetchone()[0]
    assert reset >= 1
