"""docker-compose.yml and grafana/provisioning as YAML: the services, mounts and variables
they rely on exist in the repository and agree with each other."""
import pathlib
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
failures = []


def check(condition, what):
    if not condition:
        failures.append(what)


compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
services = compose["services"]
check(set(services) == {"db", "demo-data", "grafana"}, f"services: {sorted(services)}")
check(services["db"]["build"] == ".", "db builds the Dockerfile")
check(services["demo-data"]["depends_on"]["db"]["condition"] == "service_healthy", "demo waits for a healthy db")
for name, service in services.items():
    for volume in service.get("volumes", []):
        source = volume.split(":")[0]
        if source.startswith("./"):
            check((ROOT / source).exists(), f"{name} mounts {source}, which does not exist")
datasource = yaml.safe_load((ROOT / "grafana/provisioning/datasources/sensor_analytics.yaml").read_text())
variables = {v for s in services.values() for v in (s.get("environment") or {})}
for key in ("SENSOR_PGHOST", "SENSOR_PGUSER", "SENSOR_PGPASSWORD", "SENSOR_PGDATABASE"):
    check(key in variables, f"grafana gets {key}")
check(datasource["datasources"][0]["uid"] == "sensor-analytics", "data source uid used by the dashboards")
provider = yaml.safe_load((ROOT / "grafana/provisioning/dashboards/sensor_analytics.yaml").read_text())
path = provider["providers"][0]["options"]["path"]
check(any(v.endswith(":" + path + ":ro") for v in services["grafana"]["volumes"]), f"dashboards mounted at {path}")
check((ROOT / "docker/initdb/010-sensor_analytics.sql").exists(), "init script")
if failures:
    print("\n".join("FAIL: " + f for f in failures))
    sys.exit(1)
print("All 1 tests passed (docker-compose.yml and Grafana provisioning agree)")
