#!/usr/bin/env python3
"""Prints the headline benchmark figures, each against its target and against a baseline measured in the
same run, with the machine they ran on, and writes the same as JSON to target/bench/report.json.

Figures come from criterion's estimates and from the programs that write target/bench/<name>.json
(a list of {name, value, unit, target, pass, baseline})."""

import json
import os
import platform
import subprocess
from pathlib import Path

TARGET = Path(os.environ.get("CARGO_TARGET_DIR", "target"))
CRITERION = TARGET / "criterion"
BENCH = TARGET / "bench"

# (benchmark, target in nanoseconds, what the target says, baseline benchmark)
FIGURES = [
    ("manifest/parse_validate_yaml", 1_000_000, "< 1 ms", "manifest/baseline_serde_json_parse"),
    ("manifest/parse_validate_json", 1_000_000, "< 1 ms", "manifest/baseline_serde_json_parse"),
    ("manifest/digest", 100_000, "< 100 µs", "manifest/baseline_sha256_same_bytes"),
]


def machine():
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, {rustc}"


def median_ns(name):
    path = CRITERION / name / "new" / "estimates.json"
    if not path.exists():
        return None
    return json.loads(path.read_text())["median"]["point_estimate"]


def shown(ns):
    if ns is None:
        return "n/a"
    if ns >= 1_000_000:
        return f"{ns / 1_000_000:.2f} ms"
    if ns >= 1_000:
        return f"{ns / 1_000:.1f} µs"
    return f"{ns:.0f} ns"


def main():
    rows = []
    for name, target, said, baseline in FIGURES:
        value, base = median_ns(name), median_ns(baseline)
        ratio = f" ({value / base:.1f}x)" if value and base else ""
        rows.append({
            "name": name,
            "value": None if value is None else round(value / 1000, 3),
            "unit": "µs",
            "shown": shown(value),
            "target": said,
            "pass": None if value is None else value < target,
            "baseline": f"{baseline} {shown(base)}{ratio}",
        })
    for path in sorted(BENCH.glob("*.json")):
        if path.name == "report.json":
            continue
        for figure in json.loads(path.read_text()):
            value = figure["value"]
            figure["shown"] = "n/a" if value is None else f"{value:.2f} {figure['unit']}".strip()
            rows.append(figure)

    print()
    print(f"machine: {machine()}")
    print(f"{'figure':<42} {'value':>14}  {'target':<14} {'':<4} baseline (same run)")
    for row in rows:
        verdict = "" if not row["target"] else "n/a" if row["pass"] is None else "ok" if row["pass"] else "MISS"
        print(f"{row['name']:<42} {row['shown']:>14}  {row['target']:<14} {verdict:<4} {row['baseline'] or ''}")
    BENCH.mkdir(parents=True, exist_ok=True)
    (BENCH / "report.json").write_text(json.dumps({"machine": machine(), "figures": rows}, indent=2))


if __name__ == "__main__":
    main()
