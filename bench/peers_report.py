#!/usr/bin/env python3
"""Merges one `make bench-peers` run into a table, a plot and the targets.

Inputs: the peers harness's results folder (raw.jsonl, meta.json) and the
manifest of lab's runs (one `lab bench --json` file each). Outputs, in
--out: table.md, e2e.dat, plot.gp, bench_peers.svg; with --docs, the SVG is
copied to DOCS/bench_peers.svg and the table replaces the part of
DOCS/benchmarks.md between the bench-peers markers. Python stdlib only.
"""
import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys

BEGIN = "<!-- bench-peers: begin (written by make bench-peers) -->"
END = "<!-- bench-peers: end -->"

# Peer configs whose acknowledgement waits for an fsync of that write.
DURABLE = {"beanstalkd-fsync", "bullmq-aof-always", "pgboss-sync", "graphile-sync", "pgraw-sync",
           "sqlite-full", "plainjob-full", "plainjob-full-busy600s", "liteque-full"}
POSTGRES = ("pgboss", "graphile", "pgraw")

LAB = {
    "lab-sqlite-full": ("lab (SQLite, group commit, fused steps)", "WAL, synchronous=FULL", True),
    "lab-sqlite-normal": ("lab (SQLite, group commit, fused steps)", "WAL, synchronous=NORMAL",
                          False),
    "lab-postgres": ("lab (PostgreSQL 15, a connection a thread)",
                     "fsync=on, synchronous_commit=on (defaults)", True),
}
WORKLOADS = {"batched": "(b) batched: 100 jobs an enqueue call, claims of 100",
             "producers16": "(c) 16 producers, each awaiting its own enqueue"}


def median(values):
    return statistics.median(values) if values else None


def fmt(v):
    return "—" if v is None else f"{v:,.0f}"


def fmt_range(values):
    if not values:
        return "—"
    return f"{median(values):,.0f} [{min(values):,.0f}–{max(values):,.0f}]"


def ratio(a, b):
    return "—" if a is None or not b else f"{a / b:.2f}×"


def load_peers(folder):
    records = [json.loads(line) for line in open(os.path.join(folder, "raw.jsonl"))]
    meta = json.load(open(os.path.join(folder, "meta.json")))
    return records, meta


def load_lab(manifest):
    runs = []
    for line in open(manifest):
        m = json.loads(line)
        if os.path.exists(m["file"]):
            m["result"] = json.load(open(m["file"]))
        runs.append(m)
    return runs


class Rates:
    """Per system: enqueue, drain and end-to-end rates by consumer count."""

    def __init__(self):
        self.enqueue, self.drain, self.e2e = [], [], {}
        self.failed = 0

    def med(self, what, c=None):
        return median(self.e2e.get(c, [])) if what == "e2e" else median(getattr(self, what))


def peer_rates(records):
    out, labels = {}, {}
    for r in records:
        rates = out.setdefault(r["config"], Rates())
        labels[r["config"]] = (r["peer"], r["durability"], r["n"])
        if not r["ok"]:
            rates.failed += 1
        elif r["mode"] == "enqueue":
            rates.enqueue.append(r["enqueue_rate"])
            rates.drain.append(r["drain_rate"])
        else:
            rates.e2e.setdefault(r["consumers"], []).append(r["e2e_rate"])
    return out, labels


def lab_rates(runs):
    out = {}
    for run in runs:
        key = run["config"] if run["workload"] == "peers" else f"{run['config']}:{run['workload']}"
        rates = out.setdefault(key, Rates())
        res = run.get("result")
        if res is None:
            rates.failed += 1
            continue
        if run["workload"] == "peers" and run["consumers"] == 1:
            rates.enqueue.append(res["enqueue_rate"])
            rates.drain.append(res["drain_rate"])
        rates.e2e.setdefault(run["consumers"], []).append(res["end-to-end_rate"])
    return out


def lab_for(peer_config):
    """The lab config of the same durability class, on the same engine when lab has one."""
    durable = peer_config in DURABLE
    if peer_config.startswith(POSTGRES):
        return "lab-postgres" if durable else None
    return "lab-sqlite-full" if durable else "lab-sqlite-normal"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--peers", required=True)
    ap.add_argument("--lab", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--docs", default="")
    ap.add_argument("--command", required=True)
    ap.add_argument("--lab-reps", type=int, default=0)
    a = ap.parse_args()

    records, meta = load_peers(a.peers)
    runs = load_lab(a.lab)
    peers, labels = peer_rates(records)
    labs = lab_rates(runs)
    consumers = meta["consumers"]
    sync_rates = [r["result"]["sync_rate"] for r in runs if r.get("result")]
    n = meta["n"]

    head = ("| Queue | Durability | Ack after fsync | Enqueue-only jobs/s | Drain-only jobs/s (1 consumer) | "
            + " | ".join(f"End-to-end, {c} consumer{'s' if c > 1 else ''}" for c in consumers)
            + " | Compared with | lab ÷ it, enqueue | lab ÷ it, end to end (1 consumer) |")
    lines = [head, "|" + "---|" * (8 + len(consumers))]
    plot = []

    def row(config, name, durability, durable, rates, against=None):
        cells = [name, durability, "yes" if durable else "no", fmt_range(rates.enqueue),
                 fmt_range(rates.drain)] + [fmt_range(rates.e2e.get(c, [])) for c in consumers]
        if against is None:
            cells += ["", "", ""]
        else:
            lab_rates_ = labs.get(against, Rates())
            cells += [against, ratio(lab_rates_.med("enqueue"), rates.med("enqueue")),
                      ratio(lab_rates_.med("e2e", 1), rates.med("e2e", 1))]
        if rates.failed:
            cells[0] += f" ({rates.failed} run(s) failed)"
        lines.append("| " + " | ".join(cells) + " |")
        # Horizontal labels, one word of the config id a line: rotated text
        # lands in different places in different SVG renderers.
        label = config.replace("-", "\\n") + (" *" if durable else "")
        plot.append((label, rates.med("enqueue"), rates.med("e2e", 1)))

    for config, (name, durability, durable) in LAB.items():
        row(config, f"**{name}**", durability, durable, labs.get(config, Rates()))
    for config in peers:
        peer, durability, peer_n = labels[config]
        name = peer if peer_n == n else f"{peer} (N={peer_n:,})"
        row(config, name, durability, config in DURABLE, peers[config], lab_for(config))

    # lab's own workloads.
    own = ["", "lab's own workloads, end to end with 2 consumers (jobs/s, median [min–max]):", "",
           "| Workload | SQLite, synchronous=FULL | PostgreSQL, synchronous_commit=on |", "|---|---|---|"]
    for w, what in WORKLOADS.items():
        own.append(f"| {what} | {fmt_range(labs.get(f'lab-sqlite-full:{w}', Rates()).e2e.get(2, []))} "
                   f"| {fmt_range(labs.get(f'lab-postgres:{w}', Rates()).e2e.get(2, []))} |")

    # Targets (issue: fast and durable), from this run.
    def best(configs):
        vals = [(max(median(v) for v in peers[c].e2e.values()), c) for c in configs
                if c in peers and peers[c].e2e]
        return max(vals) if vals else (None, None)

    best_durable, best_name = best([c for c in peers if c in DURABLE])
    pgraw, _ = best(["pgraw-sync"])
    full = labs.get("lab-sqlite-full", Rates())
    sync = median(sync_rates)
    lat = [r["result"]["latency"]["p99_ms"] for r in runs
           if r.get("result") and r["config"] == "lab-sqlite-full" and r["workload"] == "peers"
           and r["consumers"] == 1]
    b_sqlite = labs.get("lab-sqlite-full:batched", Rates()).med("e2e", 2)
    c_sqlite = labs.get("lab-sqlite-full:producers16", Rates()).med("e2e", 2)
    b_pg = labs.get("lab-postgres:batched", Rates()).med("e2e", 2)
    targets = [
        "",
        "Targets, from this run (median figures):",
        "",
        "| Target | Measured | Met |",
        "|---|---|---|",
        f"| SQLite FULL (a) enqueue-only ≥ 90 % of the disk's sync rate ({fmt(sync)}/s) "
        f"| {fmt(full.med('enqueue'))}/s = {ratio(full.med('enqueue'), sync)} "
        f"| {'yes' if sync and full.med('enqueue') and full.med('enqueue') >= 0.9 * sync else 'no'} |",
        f"| SQLite FULL (a) end to end ≥ 80 % of it | {fmt(full.med('e2e', 1))}/s = "
        f"{ratio(full.med('e2e', 1), sync)} "
        f"| {'yes' if sync and full.med('e2e', 1) and full.med('e2e', 1) >= 0.8 * sync else 'no'} |",
    ]
    for label, v in (("(b)", b_sqlite), ("(c)", c_sqlite)):
        met = v is not None and best_durable and v >= 100_000 and v >= 10 * best_durable
        targets.append(f"| SQLite FULL {label} ≥ 100,000 jobs/s and ≥ 10× the best durable peer "
                       f"({best_name}, {fmt(best_durable)}/s) | {fmt(v)}/s = "
                       f"{ratio(v, best_durable)} | {'yes' if met else 'no'} |")
    met = b_pg is not None and pgraw and b_pg >= 20_000 and b_pg >= 10 * pgraw
    targets.append(f"| PostgreSQL (b) ≥ 20,000 jobs/s and ≥ 10× plain SKIP LOCKED SQL "
                   f"({fmt(pgraw)}/s) | {fmt(b_pg)}/s = {ratio(b_pg, pgraw)} | {'yes' if met else 'no'} |")
    p99 = median(lat)
    targets.append(f"| p99 enqueue→done at half the end-to-end rate < 50 ms (SQLite FULL, 1 consumer) "
                   f"| {fmt(p99)} ms | {'yes' if p99 is not None and p99 < 50 else 'no'} |")

    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    intro = [
        f"Run of {stamp}: `{a.command}` ({meta['elapsed_s']:.0f} s for the peers; their "
        f"results folder {os.path.basename(os.path.normpath(a.peers))}). "
        f"N = {n:,} jobs a run (pg-boss and graphile-worker: {meta['n_slow']:,}), "
        f"{meta['reps']} repetition(s) of each peer, {a.lab_reps or meta['reps']} of each lab "
        "configuration, 32-byte payloads, a no-op handler; "
        f"{os.cpu_count()} cores, kernel {platform.release()}; the disk's sync rate "
        f"(lab's 64-byte write + fdatasync probe, each lab run) {fmt(min(sync_rates) if sync_rates else None)}–"
        f"{fmt(max(sync_rates) if sync_rates else None)}/s. Each cell: median [min–max] jobs/s. "
        "The peers ran first (their harness, its own servers and interleaving), then lab, "
        "back to back on the same machine; lab's PostgreSQL is a private server started with "
        "the same initdb defaults as the harness's (not the same server process). "
        "\"lab ÷ it\" compares the lab configuration of the same durability class "
        "(SQLite FULL with the durable peers, SQLite NORMAL with the relaxed ones, lab on "
        "PostgreSQL with the durable PostgreSQL peers; none for synchronous_commit=off).",
        "",
    ]
    table = "\n".join(intro + lines + own + targets) + "\n"

    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "table.md"), "w") as f:
        f.write(table)
    with open(os.path.join(a.out, "e2e.dat"), "w") as f:
        f.write("# system enqueue e2e_c1\n")
        for label, enq, e2e in plot:
            f.write(f'"{label}" {enq if enq else 0:.0f} {e2e if e2e else 0:.0f}\n')
    svg = os.path.join(a.out, "bench_peers.svg")
    with open(os.path.join(a.out, "plot.gp"), "w") as f:
        f.write(f"""set terminal svg size 1400,620 dynamic font 'sans,11'
set output '{svg}'
set title 'Jobs/s (median of {meta["reps"]} runs of each peer, {a.lab_reps or meta["reps"]} of lab), N={n}, log scale; * = acknowledged after fsync'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set logscale y
set yrange [10:*]
set grid ytics
set xtics font ',10'
set bmargin 6
set key top right
plot '{os.path.join(a.out, "e2e.dat")}' using 2:xtic(1) title 'enqueue-only (1 producer)', \\
     '' using 3 title 'end to end (1 producer, 1 consumer)'
""")
    subprocess.run(["gnuplot", os.path.join(a.out, "plot.gp")], check=True)
    print(table)
    if a.docs:
        shutil.copy(svg, os.path.join(a.docs, "bench_peers.svg"))
        path = os.path.join(a.docs, "benchmarks.md")
        doc = open(path).read()
        block = f"{BEGIN}\n{table}\n![lab and the peers, jobs/s](bench_peers.svg)\n{END}"
        if BEGIN in doc and END in doc:
            doc = doc[:doc.index(BEGIN)] + block + doc[doc.index(END) + len(END):]
        else:
            doc += ("\n## Side by side with the peers (`make bench-peers`)\n\n" + block + "\n")
        with open(path, "w") as f:
            f.write(doc)
        print(f"wrote {path} and {os.path.join(a.docs, 'bench_peers.svg')}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
