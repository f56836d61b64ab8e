"""Prints bench/compare.sh's results as Markdown tables: python3 table.py RESULTS_DIR ROUNDS LABEL...

Each label's runs are the files `<label>.r<round>.*`. With one round the figures are that run's;
with more, each is the median over the rounds, updates/s with its range beside it. Labels ending
in `@a` and `@b` are one configuration measured with two binaries (before and after): a second
table gives, for each such pair, after's updates/s as a share of before's, round by round, since
runs next to each other share the machine's mood better than medians taken apart.
"""

import json
import statistics
import sys
from pathlib import Path


def load(path):
    try:
        return json.loads(path.read_text("utf-8").strip().splitlines()[-1])
    except (OSError, IndexError, ValueError):
        return None


def runs_of(out, label, rounds):
    """(loadgen result or None, rss/cpu record, db record) for each round."""
    return [
        (
            load(out / f"{label}.r{n}.json"),
            load(out / f"{label}.r{n}.rss.json") or {},
            load(out / f"{label}.r{n}.db.json") or {},
        )
        for n in range(1, rounds + 1)
    ]


def median(values, fmt):
    values = [value for value in values if value is not None]
    return fmt(statistics.median(values)) if values else "?"


def main_table(runs_by_label):
    print(
        "| bot / config | updates/s | replies/update | p50 ms | p99 ms | peak RSS MB | bot CPU s "
        "| PostgreSQL CPU s | load driver CPU s | errors |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for label, runs in runs_by_label.items():
        done = [run for run, _, _ in runs if run is not None]
        peaks = [rss["peak_rss_kb"] / 1024 for _, rss, _ in runs if rss.get("peak_rss_kb")]
        peak = f"{max(peaks):.1f}" if peaks else "?"
        cpu = median([rss.get("cpu_s") for _, rss, _ in runs], lambda v: f"{v:.1f}")
        db = median([db.get("db_cpu_s") for _, _, db in runs], lambda v: f"{v:.1f}")
        db = "" if db == "?" else db
        driver = median([rss.get("driver_cpu_s") for _, rss, _ in runs], lambda v: f"{v:.1f}")
        if not done:
            print(f"| {label} | failed | | | | {peak} | {cpu} | {db} | {driver} | see {label}.r1.loadgen.log |")
            continue
        rates = [run["updates_per_s"] for run in done]
        rate = f"{statistics.median(rates):,.0f}"
        if len(runs) > 1:
            rate += f" ({min(rates):,.0f}-{max(rates):,.0f})"
        if len(done) < len(runs):
            rate += f", {len(runs) - len(done)} failed"
        errors = str(sum(run["errors"] for run in done))
        first = next((run["first_error"] for run in done if run.get("first_error")), None)
        if first:
            errors += f" ({first[:80]})"
        # Bot messages per customer update, whole turns: 1.00 when every turn is one message.
        per_update = median([run.get("replies_per_update") for run in done], lambda v: f"{v:.2f}")
        p50 = median([run["p50_ms"] for run in done], lambda v: f"{v:.1f}")
        p99 = median([run["p99_ms"] for run in done], lambda v: f"{v:.1f}")
        print(f"| {label} | {rate} | {per_update} | {p50} | {p99} | {peak} | {cpu} | {db} | {driver} | {errors} |")


def before_after_table(runs_by_label):
    pairs = [label[:-2] for label in runs_by_label if label.endswith("@a") and f"{label[:-2]}@b" in runs_by_label]
    if not pairs:
        return
    print()
    print("| config | after / before, updates/s, by round | median | bot CPU s, before → after |")
    print("|---|---|---:|---:|")
    for config in pairs:
        before, after = runs_by_label[f"{config}@a"], runs_by_label[f"{config}@b"]
        shares = [
            b[0]["updates_per_s"] / a[0]["updates_per_s"]
            for a, b in zip(before, after)
            if a[0] and b[0] and a[0]["updates_per_s"] > 0
        ]
        listed = " / ".join(f"{share:.2f}" for share in shares) or "?"
        middle = f"{statistics.median(shares):.2f}" if shares else "?"
        cpu_a = median([rss.get("cpu_s") for _, rss, _ in before], lambda v: f"{v:.1f}")
        cpu_b = median([rss.get("cpu_s") for _, rss, _ in after], lambda v: f"{v:.1f}")
        print(f"| {config} | {listed} | {middle} | {cpu_a} → {cpu_b} |")


def main():
    out, rounds, labels = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
    runs_by_label = {label: runs_of(out, label, rounds) for label in labels}
    main_table(runs_by_label)
    before_after_table(runs_by_label)


if __name__ == "__main__":
    main()
