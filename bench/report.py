"""What `python -m bench` prints and draws: per size, per scenario, both apps and their ratio;
the issue's targets; the scale curve (a table, and a PNG when matplotlib is installed)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

HTTP_SCENARIOS = ("get_problem", "get_learnuplet", "filtered_page", "paging", "claims")
LABELS = {"get_problem": "GET /problem/<uuid>", "get_learnuplet": "GET /learnuplet/<uuid>",
          "filtered_page": "GET /learnuplet?status=todo&limit=100",
          "paging": "paging status=done (5 pages of 20)", "claims": "claim + learndone, 8 workers",
          "post_data": "POST /data, 10,000 / 1,000 uuids",
          "sweep": "one sweeper tick (with the stream sweep), in-process"}
# Issue 10's targets: the Orchestrator's throughput over the baseline's, same server, same run.
RATIO_TARGETS = {"get_problem": 0.9, "get_learnuplet": 0.9, "filtered_page": 0.8, "paging": 0.8,
                 "claims": 0.5}
POST_DATA_TARGET = 12.0  # time of 10,000 uuids over time of 1,000


def post_data_ratio(out: dict[str, Any]) -> float | None:
    seconds = {row["uuids"]: row["seconds"] for row in out.get("results", [])}
    if 1000 in seconds and 10000 in seconds and seconds[1000]:
        return round(seconds[10000] / seconds[1000], 2)
    return None


def targets(results: dict[str, Any]) -> dict[str, Any]:
    """Per size, each target: the measured value and whether it holds."""
    out: dict[str, Any] = {}
    for size, suite in results["sizes"].items():
        scenarios, held = suite["scenarios"], {}
        for name, target in RATIO_TARGETS.items():
            if name in scenarios and scenarios[name].get("ratio") is not None:
                ratio = scenarios[name]["ratio"]
                met = ratio >= target
                if name == "claims":
                    met = met and not scenarios[name]["double_claims"] and not scenarios[name]["lost_claims"]
                held[name] = {"value": ratio, "target": f">= {target}", "met": met}
        if "post_data" in scenarios and post_data_ratio(scenarios["post_data"]) is not None:
            value = post_data_ratio(scenarios["post_data"])
            held["post_data"] = {"value": value, "target": f"<= {POST_DATA_TARGET}",
                                 "met": value <= POST_DATA_TARGET}
        out[size] = held
    return out


def table(results: dict[str, Any]) -> str:
    header = (f"{'size/scenario':30} {'app':13} {'req/s':>9} {'p50 ms':>9} {'p99 ms':>10} {'errors':>6}  "
              "ratio")
    lines = [header]
    for size, suite in results["sizes"].items():
        for scenario, out in suite["scenarios"].items():
            name = f"{size}/{scenario}"
            if scenario == "post_data":
                for row in out["results"]:
                    lines.append(f"{name} {row['uuids']:>6} uuids: {row['seconds']:.3f}s, "
                                 f"{row['round_trips']} commands, "
                                 f"rows scanned {row.get('rows_scanned', '-')}")
                continue
            if scenario == "ferretdb_record":
                lines.append(f"{name}: FerretDB alone at {out['learnuplets']} learnuplets: filtered page "
                             f"p50 {out['filtered_page']['p50_ms']} ms; uuid lookup p50 "
                             f"{out['uuid_lookup']['p50_ms']} ms")
                continue
            for app in ("orchestrator", "baseline"):
                row = out[app]
                ratio = f"{out['ratio']}" if app == "orchestrator" else ""
                cpu = ", ".join(f"{part} {ms:g}" for part, ms in row.get("cpu_ms", {}).items())
                lines.append(f"{name:30} {app:13} {row['rps']:>9} {row['p50_ms']:>9} {row['p99_ms']:>10} "
                             f"{row['errors']:>6}  {ratio:6} CPU ms/request: {cpu}")
            if scenario == "claims":
                lines.append(f"{'':30} orchestrator: double claims {out['double_claims']}, lost claims "
                             f"{out['lost_claims']}, unapplied events {out['ledger_unapplied']}, 409s "
                             f"{out['orchestrator']['conflicts_409']}; baseline double claims "
                             f"{out['baseline_double_claims']}")
    check = results.get("check_fill")
    if check:
        lines.append(f"check_fill: {len(check['errors'])} errors; replay of {check['replay']['requests']} "
                     f"requests: {len(check['replay']['differences'])} differences")
    return "\n".join(lines)


def scale_table(results: dict[str, Any]) -> str:
    """Markdown: per scenario, the ratio (and both apps' p50) at every size."""
    sizes = list(results["sizes"])
    heads = [f"{int(size):,}: ratio (p50 Orch. / baseline ms)" for size in sizes]
    lines = ["| scenario | " + " | ".join(heads) + " |",
             "|---|" + "---|" * len(sizes)]
    for scenario in (*HTTP_SCENARIOS, "post_data"):
        cells = []
        for size in sizes:
            out = results["sizes"][size]["scenarios"].get(scenario)
            if out is None:
                cells.append("—")
            elif scenario == "post_data":
                seconds = {row["uuids"]: row["seconds"] for row in out["results"]}
                cells.append(f"{post_data_ratio(out)} ({seconds.get(1000)} s / {seconds.get(10000)} s)")
            else:
                p50s = f"{out['orchestrator']['p50_ms']:g} / {out['baseline']['p50_ms']:g}"
                cells.append(f"{out['ratio']} ({p50s})")
        lines.append(f"| {LABELS[scenario]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(results: dict[str, Any], path: Path) -> str:
    """p50 and p99 against size for both apps, and their ratio; returns what was done."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import NullFormatter, ScalarFormatter
    except ImportError:
        return "matplotlib is not installed (pip install matplotlib): no plot"
    sizes = [int(size) for size in results["sizes"]]
    suites = list(results["sizes"].values())
    columns = [s for s in (*HTTP_SCENARIOS, "post_data") if any(s in suite["scenarios"] for suite in suites)]
    figure, axes = plt.subplots(2, len(columns), figsize=(3.6 * len(columns), 7), squeeze=False)
    colours = {"orchestrator": "tab:blue", "baseline": "tab:orange"}
    for column, scenario in enumerate(columns):
        top, bottom = axes[0][column], axes[1][column]
        got = [(size, suite["scenarios"][scenario]) for size, suite in zip(sizes, suites, strict=True)
               if scenario in suite["scenarios"]]
        xs = [size for size, _ in got]
        if scenario == "post_data":
            for uuids, style in ((1000, "o-"), (10000, "s--")):
                top.plot(xs, [next(r["seconds"] for r in out["results"] if r["uuids"] == uuids) * 1000
                              for _, out in got], style, color=colours["orchestrator"],
                         label=f"Orch., {uuids:,} uuids")
            bottom.plot(xs, [post_data_ratio(out) for _, out in got], "o-", color="black",
                        label="time 10,000 / 1,000")
            bottom.axhline(POST_DATA_TARGET, color="red", linestyle=":",
                           label=f"target ≤ {POST_DATA_TARGET:g}")
        else:
            for app, colour in colours.items():
                top.plot(xs, [out[app]["p50_ms"] for _, out in got], "o-", color=colour, label=f"{app} p50")
                top.plot(xs, [out[app]["p99_ms"] for _, out in got], "s--", color=colour, label=f"{app} p99")
            bottom.plot(xs, [out["ratio"] for _, out in got], "o-", color="black",
                        label="req/s Orch. / baseline")
            bottom.plot(xs, [out["baseline"]["p50_ms"] / out["orchestrator"]["p50_ms"] for _, out in got],
                        "^:", color="tab:green", label="p50 baseline / Orch.")
            bottom.plot(xs, [out["baseline"]["p99_ms"] / out["orchestrator"]["p99_ms"] for _, out in got],
                        "v:", color="tab:purple", label="p99 baseline / Orch.")
            bottom.axhline(RATIO_TARGETS[scenario], color="red", linestyle=":",
                           label=f"target ≥ {RATIO_TARGETS[scenario]:g}")
            bottom.set_ylim(0, max(1.5, *(out["ratio"] or 0 for _, out in got)) * 1.05)
        top.set_title(LABELS[scenario], fontsize=9)
        top.set_yscale("log")
        top.yaxis.set_major_formatter(ScalarFormatter())
        top.yaxis.set_minor_formatter(NullFormatter())
        top.set_ylabel("ms (cycle for claims)" if column == 0 else "")
        bottom.set_ylabel("ratio" if column == 0 else "")
        for axis in (top, bottom):
            axis.set_xscale("log")
            axis.set_xticks(xs, [f"{x:,}" for x in xs])
            axis.xaxis.set_minor_formatter(NullFormatter())
            axis.set_xlabel("learnuplets", fontsize=8)
            axis.grid(True, which="both", alpha=0.3)
            axis.legend(fontsize=6)
    backend = results.get("backend", "?")
    figure.suptitle(f"python -m bench on FerretDB over {backend}: latency and Orchestrator/baseline ratio "
                    f"against size ({results.get('started', '')})", fontsize=10)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return f"plot written to {path}"


def markdown(results: dict[str, Any]) -> str:
    """The tables docs/performance.md shows, from a run's JSON."""
    lines = ["| size | scenario | Orchestrator req/s | p50 ms | p99 ms | baseline req/s | p50 ms | p99 ms "
             "| ratio | CPU ms/request, Orch. (app / FerretDB / PostgreSQL) | baseline |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for size, suite in results["sizes"].items():
        for scenario in HTTP_SCENARIOS:
            out = suite["scenarios"].get(scenario)
            if out is None:
                continue
            orc, base = out["orchestrator"], out["baseline"]
            cpu = [" / ".join(f"{ms:g}" for ms in row.get("cpu_ms", {}).values()) for row in (orc, base)]
            lines.append(f"| {int(size):,} | {LABELS[scenario]} | {orc['rps']:g} | {orc['p50_ms']:g} | "
                         f"{orc['p99_ms']:g} | {base['rps']:g} | {base['p50_ms']:g} | {base['p99_ms']:g} | "
                         f"**{out['ratio']}** | {cpu[0]} | {cpu[1]} |")
    lines += ["", "| size | uuids | time s | commands | slowest command | rows scanned |",
              "|---|---|---|---|---|---|"]
    for size, suite in results["sizes"].items():
        for row in suite["scenarios"].get("post_data", {}).get("results", []):
            slowest = row.get("slowest_command", {})
            lines.append(f"| {int(size):,} | {row['uuids']:,} | {row['seconds']} | {row['round_trips']} | "
                         f"{slowest.get('name')}: {slowest.get('seconds')} s | "
                         f"{sum((row.get('rows_scanned') or {}).values()):,} |")
    lines += ["", "| size | scenario | commands per request, Orch. | baseline | rows scanned per request, "
              "Orch. | baseline |", "|---|---|---|---|---|---|"]
    for size, suite in results["sizes"].items():
        for scenario, costs in suite.get("costs", {}).items():
            cells = []
            for app in ("orchestrator", "baseline"):
                row = costs.get(app, {"commands_total": 0, "commands": {}})
                named = ", ".join(f"{name} {count:g}" for name, count in row["commands"].items())
                cells.append(f"{row['commands_total']:g} ({named})")
            for app in ("orchestrator", "baseline"):
                row = costs.get(app, {})
                named = ", ".join(f"{table} {rows:,}" for table, rows in row.get("rows_scanned", {}).items())
                cells.append(f"{row.get('rows_scanned_total', 0):,} ({named})")
            lines.append(f"| {int(size):,} | {LABELS[scenario]} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n\n" + scale_table(results)


if __name__ == "__main__":  # python -m bench.report RESULTS.json [PNG]: the tables (and the plot) again
    import json
    import sys

    loaded = json.loads(Path(sys.argv[1]).read_text())
    print(markdown(loaded))
    if len(sys.argv) > 2:
        print(plot(loaded, Path(sys.argv[2])))
