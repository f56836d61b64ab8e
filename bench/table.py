"""Prints bench/compare.sh's results as one Markdown table: python3 table.py RESULTS_DIR LABEL..."""

import json
import sys
from pathlib import Path


def load(path):
    try:
        return json.loads(path.read_text("utf-8").strip().splitlines()[-1])
    except (OSError, IndexError, ValueError):
        return None


def main():
    out, labels = Path(sys.argv[1]), sys.argv[2:]
    print("| bot / config | updates/s | replies/update | p50 ms | p99 ms | peak RSS MB | bot CPU s | errors |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for label in labels:
        run, rss = load(out / f"{label}.json"), load(out / f"{label}.rss.json") or {}
        peak = f"{rss['peak_rss_kb'] / 1024:.1f}" if rss.get("peak_rss_kb") else "?"
        cpu = f"{rss['cpu_s']:.1f}" if "cpu_s" in rss else "?"
        if run is None:
            print(f"| {label} | failed | | | | {peak} | {cpu} | see {label}.loadgen.log |")
            continue
        errors = str(run["errors"])
        if run.get("first_error"):
            errors += f" ({run['first_error'][:80]})"
        # Bot messages per customer update, whole turns: 1.00 when every turn is one message.
        per_update = run.get("replies_per_update")
        per_update = f"{per_update:.2f}" if per_update is not None else "?"
        print(
            f"| {label} | {run['updates_per_s']:,.0f} | {per_update} | {run['p50_ms']} | {run['p99_ms']} "
            f"| {peak} | {cpu} | {errors} |"
        )


if __name__ == "__main__":
    main()
