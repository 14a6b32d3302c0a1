#!/usr/bin/env python3
"""Summarise pgbench runs: median TPS over the rounds, latency p50/p99 over
every transaction of every round (from pgbench's per-transaction logs),
errors, and the extension/comparator ratio (and extension/lean, where a
workload has the lean way of bench/lean.sql), as a Markdown table."""
import glob
import json
import re
import statistics
import sys


def parse(run_dir, name):
    out = open(f"{run_dir}/{name}.out").read()
    tps = re.search(r"tps = ([\d.]+) \(without initial connection time\)", out)
    failed = re.search(r"number of failed transactions: (\d+)", out)
    # pgbench aborts a client on its first error and still prints "failed
    # transactions: 0"; an aborted run counts as an error (-1, "aborted")
    aborted = "aborted" in out or "error" in out.lower().replace("errors: 0", "")
    lat = []
    for f in glob.glob(f"{run_dir}/{name}.log.*"):
        for line in open(f):
            parts = line.split()
            if len(parts) >= 3 and parts[2].isdigit():
                lat.append(int(parts[2]))
    errors = -1 if aborted else int(failed.group(1)) if failed else 0
    return float(tps.group(1)) if tps else 0.0, lat, errors


def side(run_dir, name, rounds, per_call=1):
    """Median TPS (times per_call: slips per second for a batch of per_call)."""
    tps, lat, errors = [], [], 0
    for r in range(1, rounds + 1):
        t, l, e = parse(run_dir, f"{name}.r{r}")
        tps.append(t * per_call)
        lat += l
        errors = -1 if e < 0 or errors < 0 else errors + e
    lat.sort()
    pct = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] / 1000.0 if lat else float("nan")
    return {"tps": statistics.median(tps), "rounds": tps, "p50": pct(0.50), "p99": pct(0.99),
            "errors": errors}


def main():
    run_dir, rounds, spec = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
    batch = json.loads(sys.argv[4]) if len(sys.argv) > 4 else []
    rows = ["| workload | variant | clients | median TPS | p50 ms | p99 ms | errors | ratio | ratio per round |",
            "|---|---|---|---|---|---|---|---|---|"]
    for w in spec:
        if not glob.glob(f"{run_dir}/{w['ext']}.r1.out"):
            continue  # not run (BENCH_ONLY)
        ext = side(run_dir, w["ext"], rounds, w.get("per_call", 1))
        cmp = side(run_dir, w["cmp"], rounds, w.get("per_call", 1)) if w.get("cmp") else None
        ratio, per_round = "", ""
        if cmp and cmp["tps"]:
            ratio = f"**{ext['tps'] / cmp['tps']:.2f}×**"
            per_round = ", ".join(f"{e / c:.2f}" for e, c in zip(ext["rounds"], cmp["rounds"]) if c)
        rows.append(f"| {w['title']} | {w['ext_label']} | {w['clients']} | {ext['tps']:.0f} | "
                    f"{ext['p50']:.2f} | {ext['p99']:.2f} | {'aborted' if ext['errors'] < 0 else ext['errors']} | {ratio} | {per_round} |")
        if cmp:
            rows.append(f"| | {w['cmp_label']} | {w['clients']} | {cmp['tps']:.0f} | "
                        f"{cmp['p50']:.2f} | {cmp['p99']:.2f} | {'aborted' if cmp['errors'] < 0 else cmp['errors']} | | |")
        if w.get("lean") and glob.glob(f"{run_dir}/{w['lean']}.r1.out"):
            lean = side(run_dir, w["lean"], rounds)
            vs = f"**{ext['tps'] / lean['tps']:.2f}×** extension / lean" if lean["tps"] else ""
            per = ", ".join(f"{e / c:.2f}" for e, c in zip(ext["rounds"], lean["rounds"]) if c)
            rows.append(f"| | {w['lean_label']} | {w['clients']} | {lean['tps']:.0f} | "
                        f"{lean['p50']:.2f} | {lean['p99']:.2f} | {'aborted' if lean['errors'] < 0 else lean['errors']} | {vs} | {per} |")
    print("\n".join(rows))
    if batch:
        print()
        print("| batch (8 slips per call), slips/s | vs single-call complete_rating_slip | vs PL/pgSQL batch loop |")
        print("|---|---|---|")
        for label, b, single, loop in batch:
            if not glob.glob(f"{run_dir}/{b}.r1.out"):
                continue
            bs, ss, ls = (side(run_dir, n, rounds, k) for n, k in ((b, 8), (single, 1), (loop, 8)))
            per = ", ".join(f"{x / y:.2f}" for x, y in zip(bs["rounds"], ss["rounds"]) if y)
            print(f"| {label} | **{bs['tps'] / ss['tps']:.2f}×** (rounds {per}) | "
                  f"**{bs['tps'] / ls['tps']:.2f}×** |")


if __name__ == "__main__":
    main()
