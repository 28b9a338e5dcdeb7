"""The figures of bench/run.py: medians over runs, and the tables it prints (Markdown, as
bench/README.md shows them): CPU per message per venue and contender with the daemon's
ratios to cryptofeed and to the floor, latency and records, and every run's CPU."""

from __future__ import annotations

import statistics
from typing import Any

from benchlib import table

SUMMED = ("msgs_per_s", "cpu_us_per_msg", "loop_cpu_us_per_msg", "threads_cpu_us_per_msg",
          "sub_cpu_us_per_msg", "peak_rss_mb", "records_written", "msgs", "frames_sent",
          "sub_msgs", "sub_msgs_per_s", "conflated_notices")  # fmt: skip
MODES = ("flood", "rate")
DAEMONS = ("aggregator", "aggregator-pure", "aggregator-base")
LABELS = {"aggregator-pure": "AGGREGATOR_PURE_PYTHON=1", "aggregator-base": "--base-at"}


def median(values: list) -> float | None:
    vals = [v for v in values if isinstance(v, int | float)]
    return round(statistics.median(vals), 2) if vals else None


def summarise(runs: list[dict]) -> dict:
    """Medians over runs of each mode's figures (errors listed, not counted)."""
    out: dict[str, Any] = {"runs": len(runs)}
    errors = sorted({r[m]["error"] for r in runs for m in r if "error" in r[m]})
    if errors:
        out["errors"] = errors
    for mode in MODES:
        ok = [r[mode] for r in runs if mode in r and "error" not in r[mode]]
        s: dict[str, Any] = {"ok_runs": len(ok)}
        for key in SUMMED:
            if any(key in f for f in ok):
                s[key] = median([f.get(key) for f in ok])
        lats = [f.get("latency", {}) for f in ok]
        for key in ("p50_us", "p99_us", "p999_us", "max_us", "matched"):
            if any(key in x for x in lats):
                s[f"latency_{key}"] = median([x.get(key) for x in lats])
        versions = {f["version"] for f in ok if "version" in f}
        if versions:
            out["version"] = ", ".join(sorted(versions))
        out[mode] = s
    return out


def cpu_runs(results: dict, v: str, c: str, t: str, mode: str) -> list[float | None]:
    """The CPU per message of each run (None where the run failed)."""
    runs = results["raw"].get(v, {}).get(c, {}).get(t, [])
    return [r.get(mode, {}).get("cpu_us_per_msg") for r in runs]


def ratio(x: float | None, y: float | None) -> float | None:
    return round(x / y, 2) if x is not None and y else None


def g(x: float | None) -> str:
    return "-" if x is None else f"{x:g}"


def pair(x: list, f: Any = g) -> str:
    return " / ".join(f(v) for v in x)


def main_table(results: dict, t: str) -> str:
    """CPU us/msg, flood / paced: floor, daemon, cryptofeed, and the daemon's ratios."""
    cols = ["venue", "floor", "daemon", "cryptofeed", "daemon/cryptofeed", "daemon/floor",
            "cryptofeed version"]  # fmt: skip
    rows = []
    for v, by_c in results["venues"].items():
        med = {c: [by_c.get(c, {}).get(t, {}).get(m, {}).get("cpu_us_per_msg") for m in MODES]
               for c in ("floor", "cryptofeed", *DAEMONS)}  # fmt: skip
        cf = by_c.get("cryptofeed", {}).get(t, {})
        version = cf.get("version") or "; ".join(cf.get("errors", [])) or "-"
        for d in DAEMONS:
            if d not in by_c:
                continue
            label = v if d == "aggregator" else f"{v} ({LABELS[d]})"
            rows.append([
                label,
                pair(med["floor"]) if d == "aggregator" else "",
                pair(med[d]),
                pair(med["cryptofeed"]) if d == "aggregator" else "",
                pair([ratio(x, y) for x, y in zip(med[d], med["cryptofeed"], strict=True)]),
                pair([ratio(x, y) for x, y in zip(med[d], med["floor"], strict=True)]),
                version if d == "aggregator" else "",
            ])  # fmt: skip
    return table(cols, rows)


def detail_table(results: dict, t: str) -> str:
    """Per venue and contender: flood rate, paced latency (and over how many frames: a
    frame on a channel without a size, okx-swap's mark price say, carries no index), records
    on disk, RSS."""
    cols = ["venue", "contender", "flood msgs/s", "paced p50 us", "paced p99 us", "paced p99.9 us",
            "paced frames timed", "records/frames flood", "records/frames paced",
            "peak RSS MB"]  # fmt: skip
    rows = []
    for v, by_c in results["venues"].items():
        for c, by_t in by_c.items():
            s = by_t.get(t, {})
            fl, pc = s.get("flood", {}), s.get("rate", {})

            def written(m: dict) -> str:
                if "records_written" not in m:
                    return "-"
                return f"{m['records_written']:,.0f} / {m.get('frames_sent', 0):,.0f}"

            def timed(m: dict) -> str:  # frames whose index a record or message carried
                if "latency_matched" not in m:
                    return "-"
                return f"{m['latency_matched']:,.0f} / {m.get('frames_sent', 0):,.0f}"

            rate = fl.get("msgs_per_s")
            rows.append([v, c, "-" if rate is None else f"{rate:,.0f}",
                         g(pc.get("latency_p50_us")), g(pc.get("latency_p99_us")),
                         g(pc.get("latency_p999_us")), timed(pc), written(fl), written(pc),
                         g(fl.get("peak_rss_mb"))])  # fmt: skip
    return table(cols, rows)


def runs_table(results: dict, t: str) -> str:
    """Every run's CPU us/msg and the daemon's ratios in that run, flood and paced."""
    n = results["settings"]["runs"]
    cols = ["venue", "figure", "mode", *(f"run {r + 1}" for r in range(n)), "median"]
    rows = []
    for v, by_c in results["venues"].items():
        for mode in MODES:
            label = "paced" if mode == "rate" else mode
            per = {c: cpu_runs(results, v, c, t, mode) for c in by_c}
            for c, xs in per.items():
                rows.append([v, f"{c} us/msg", label, *map(g, xs), g(median(xs))])
            for d in (x for x in DAEMONS if x in per):
                for other in ("cryptofeed", "floor"):
                    if other in per:
                        rs = [ratio(x, y) for x, y in zip(per[d], per[other], strict=True)]
                        rows.append([v, f"{d}/{other}", label, *map(g, rs), g(median(rs))])
    return table(cols, rows)


def tables(results: dict) -> str:
    out = []
    for t in results["settings"]["transports"]:
        out += [f"## {t}: CPU us/msg, flood / paced {results['settings']['rate']:,.0f} msg/s "
                "(medians)", main_table(results, t), "",
                f"## {t}: rates, latency, records", detail_table(results, t), "",
                f"## {t}: every run", runs_table(results, t), ""]  # fmt: skip
    return "\n".join(out)
