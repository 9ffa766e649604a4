"""What the schema fuzzer reached, per operation, from its NDJSON report.

Prints, for every operation, how many cases were sent, how many of them got
a 2xx, and which statuses came back. Fails when an operation only ever got
401, 403 or 404: its handler's logic was never reached, so it was not
fuzzed, whatever the run's checks say.

Every operation of the OpenAPI document must appear: one the run never
sent is as unfuzzed as one that was always refused.

Usage: fuzz_summary.py REPORT.ndjson OPENAPI.json
"""

import collections
import json
import sys

REFUSALS = {401, 403, 404}

statuses = collections.defaultdict(collections.Counter)
for line in open(sys.argv[1], encoding="utf-8"):
    event = json.loads(line)
    finished = event.get("ScenarioFinished")
    if not finished:
        continue
    recorder = finished["recorder"]
    for interaction in recorder.get("interactions", {}).values():
        statuses[recorder["label"]][interaction["response"]["status_code"]] += 1

print("\n| operation | cases | 2xx | statuses |\n|---|---|---|---|")
unreached = []
for label in sorted(statuses, key=lambda label: (label.split(" ", 1)[1], label)):
    counts = statuses[label]
    ok = sum(n for status, n in counts.items() if 200 <= status < 300)
    shown = ", ".join(f"{status}×{n}" for status, n in sorted(counts.items()))
    print(f"| {label} | {sum(counts.values())} | {ok} | {shown} |")
    if " /" in label and set(counts) <= REFUSALS:
        unreached.append(label)

documented = json.load(open(sys.argv[2], encoding="utf-8"))["paths"]
for path, item in documented.items():
    for method in item:
        label = f"{method.upper()} {path}"
        # The document itself: schemathesis loads it rather than fuzzing it.
        if label not in statuses and label != "GET /api/v1/openapi.json":
            unreached.append(f"{label} (never sent)")
operations = {label: counts for label, counts in statuses.items() if " /" in label}
total = sum(sum(counts.values()) for counts in operations.values())
reaching = sum(1 for counts in operations.values() if any(200 <= status < 300 for status in counts))
print(f"\n{len(operations)} operations, {total} cases; {reaching} operations reached a 2xx.")
if unreached:
    print("Never sent, or only ever 401, 403 or 404, so never fuzzed:\n  " + "\n  ".join(unreached), file=sys.stderr)
    sys.exit(1)
