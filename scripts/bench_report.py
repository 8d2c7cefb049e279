#!/usr/bin/env python3
"""Prints the headline benchmark figures from criterion's estimates, each against its target and against a
baseline measured in the same run, with the machine they ran on."""

import json
import os
import platform
import subprocess
from pathlib import Path

CRITERION = Path(os.environ.get("CARGO_TARGET_DIR", "target")) / "criterion"

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
    print()
    print(f"machine: {machine()}")
    print(f"{'benchmark':<34} {'median':>10}  {'target':<9} {'':<4} {'baseline (same run)':<36} {'ratio':>6}")
    for name, target, said, baseline in FIGURES:
        value, base = median_ns(name), median_ns(baseline)
        verdict = "n/a" if value is None else ("ok" if value < target else "MISS")
        ratio = f"{value / base:.1f}x" if value and base else "n/a"
        print(f"{name:<34} {shown(value):>10}  {said:<9} {verdict:<4} "
              f"{baseline + ' ' + shown(base):<36} {ratio:>6}")


if __name__ == "__main__":
    main()
