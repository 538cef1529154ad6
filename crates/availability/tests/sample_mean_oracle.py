"""Oracle for the old service's figure: reads a JSON list of status lists
(null = missing status) on stdin, prints the JSON list of
round(mean(values) * 100, 2) with online 1, warning 0.5, offline 0, else -1."""
import json
import sys

VALUES = {"online": 1, "warning": 0.5, "offline": 0}

cases = json.load(sys.stdin)
out = []
for statuses in cases:
    values = [VALUES.get(s, -1) for s in statuses]
    out.append(round(sum(values) / len(values) * 100, 2))
json.dump(out, sys.stdout)
