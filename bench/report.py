#!/usr/bin/env python3
"""Summarise pgbench runs: TPS, latency p50/p99 (from per-transaction logs)
and errors, as a Markdown table with the extension/comparator ratio."""
import glob
import json
import re
import sys


def parse(run_dir, name):
    out = open(f"{run_dir}/{name}.out").read()
    tps = re.search(r"tps = ([\d.]+) \(without initial connection time\)", out)
    done = re.search(r"number of transactions actually processed: (\d+)", out)
    failed = re.search(r"number of failed transactions: (\d+)", out)
    aborted = "aborted" in out or "error" in out.lower().replace("errors: 0", "")
    lat = []
    for f in glob.glob(f"{run_dir}/{name}.log*"):
        for line in open(f):
            parts = line.split()
            if len(parts) >= 3 and parts[2].isdigit():
                lat.append(int(parts[2]))
    lat.sort()
    pct = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] / 1000.0 if lat else float("nan")
    errors = int(failed.group(1)) if failed else (0 if not aborted else -1)
    return {
        "tps": float(tps.group(1)) if tps else 0.0,
        "tx": int(done.group(1)) if done else 0,
        "p50": pct(0.50),
        "p99": pct(0.99),
        "errors": errors,
    }


def main():
    run_dir, spec = sys.argv[1], json.loads(sys.argv[2])
    rows = ["| workload | variant | clients | TPS | p50 ms | p99 ms | errors | ratio vs comparator |",
            "|---|---|---|---|---|---|---|---|"]
    for w in spec:
        ext = parse(run_dir, w["ext"])
        cmp = parse(run_dir, w["cmp"]) if w.get("cmp") else None
        ratio = f"**{ext['tps'] / cmp['tps']:.2f}×**" if cmp and cmp["tps"] else ""
        rows.append(f"| {w['title']} | {w['ext_label']} | {w['clients']} | {ext['tps']:.0f} | "
                    f"{ext['p50']:.2f} | {ext['p99']:.2f} | {ext['errors']} | {ratio} |")
        if cmp:
            rows.append(f"| | {w['cmp_label']} | {w['clients']} | {cmp['tps']:.0f} | "
                        f"{cmp['p50']:.2f} | {cmp['p99']:.2f} | {cmp['errors']} | |")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
