"""Assemble the per-core results into one JSON document and print it as tables.

Every number shown is a ratio of medians measured in one process, except the
untracked times, shown for scale only.  A core measured without the peers is
compared with them through the untracked time both runs share:
(tracked / untracked) / (peer / untracked).
"""

from __future__ import annotations

import math
import platform
from typing import Dict, List, Optional

from timing import geomean


def assemble(options, by_core: Dict[str, dict], startup: Optional[dict], notes: List[str]) -> Dict[str, object]:
    cores = list(by_core)
    data: Dict[str, object] = {
        "suite": "globalhook-benchmarks",
        "format": 1,
        "python": platform.python_version(),
        "implementation": platform.python_implementation().lower(),
        "quick": options.quick,
        "rounds": options.rounds,
        "clock": getattr(options, "clock", "wall"),
        "cores": cores,
        "parts": options.parts,
        "notes": list(notes),
    }
    for part in ("pyperformance", "peers", "micro", "memory", "import"):
        if any(part in results for results in by_core.values()):
            data[part] = {core: results[part] for core, results in by_core.items() if part in results}
    if cores:
        _share_peers(data, cores[0])
    if startup is not None:
        data["startup"] = startup
    return data


def _share_peers(data: Dict[str, object], first: str) -> None:
    """Give cores measured without the peers their globalhook / peer ratios."""
    peers = data.get("peers", {})
    if first in peers:
        measured = peers[first]
        for core, result in peers.items():
            if core == first:
                continue
            result["peers"] = measured["peers"]
            result["peers_measured_with"] = first
            for name, row in result["benchmarks"].items():
                ref = measured["benchmarks"].get(name)
                if ref is None:
                    continue
                row["peer_ratio"] = dict(ref["peer_ratio"])
                row["vs_peer"] = {k: row["ratio"] / r for k, r in ref["peer_ratio"].items()}
            rows = result["benchmarks"].values()
            result["peer_geomean"] = measured["peer_geomean"]
            result["vs_peer_geomean"] = {k: geomean(row["vs_peer"][k] for row in rows if k in row.get("vs_peer", {}))
                                         for k in measured["peers"]}
    micro = data.get("micro", {})
    if first in micro:
        for core, result in micro.items():
            if core == first:
                continue
            for kind, row in result.items():
                ref = micro[first][kind]
                row["peer_ns_measured_with"] = first
                row["vs_peer"] = {
                    k: row["ratio"] / (ns / ref["untracked_ns"])
                    if row["ratio"] is not None and ns > 0 and ref["untracked_ns"] > 0 else None
                    for k, ns in ref["peer_ns"].items()
                }


# -- text ----------------------------------------------------------------------


def _x(value: Optional[float]) -> str:
    if value is None or not math.isfinite(value):
        return "-"
    return f"{value:.2f}x" if value < 100 else f"{value:.0f}x"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def _ns(value: float) -> str:
    return f"{value:.1f} ns" if value < 1000 else f"{value:.0f} ns"


def _table(header: List[str], rows: List[List[str]]) -> List[str]:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = []
    for row in [header, *rows]:
        cells = [str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(row, widths))]
        lines.append("  ".join(cells).rstrip())
    lines.insert(1, "  ".join("-" * w for w in widths))
    return lines


def render(data: Dict[str, object]) -> str:
    cores: List[str] = data["cores"]
    out = [f"globalhook benchmarks: {data['implementation']} {data['python']}, cores: {', '.join(cores) or 'none'}, "
           f"{data['rounds']} interleaved round(s), medians{' (quick mode)' if data['quick'] else ''}"
           f"{', CPU time' if data.get('clock') == 'cpu' else ''}"]
    if "globalhook" in data:
        out.append(f"globalhook {data['globalhook']['version']} from {data['globalhook']['path']}")
    if "pyperformance" in data:
        out += ["", _pyperformance(data["pyperformance"], cores)]
    if "peers" in data:
        out += ["", _peers(data["peers"], cores)]
    if "micro" in data:
        out += ["", _micro(data["micro"], cores)]
    if "import" in data:
        first = data["import"][cores[0]]
        out += ["", f"import cost: {first['modules']} modules of email/json/http, hook installed with a "
                    f"non-matching pattern / not installed (fresh interpreters, median): "
                    f"untracked {_ms(first['untracked_s'])}; "
                + ", ".join(f"{core} {_x(r['ratio'])}" for core, r in data["import"].items())]
    if "startup" in data:
        out += ["", "start-up: `python -c pass`, hook installed but not activated / not installed: "
                + ", ".join(f"{key.replace('_', ' ')} {_x(r['ratio'])} ({_ms(r['untracked_s'])})"
                            for key, r in data["startup"].items())]
    if "memory" in data:
        for core, m in data["memory"].items():
            s, b = m["small"], m["big"]
            out += ["", f"memory ({core} core): {s['lookups']:,} vs {b['lookups']:,} lookups: recorder entries "
                        f"{s['entries']} / {b['entries']}, allocated while looping {s['bytes']} / {b['bytes']} bytes, "
                        f"counts exact: {s['exact'] and b['exact']}; flat: {'yes' if m['flat'] else 'NO'}"]
    for note in data["notes"]:
        out.append(f"note: {note}")
    return "\n".join(out)


def _pyperformance(results: Dict[str, dict], cores: List[str]) -> str:
    first = results[cores[0]]
    header = ["benchmark", "untracked", *[f"{c} core" for c in cores]]
    rows = []
    for name, row in first["benchmarks"].items():
        rows.append([name, _ms(row["untracked_s"]),
                     *[_x(results[c]["benchmarks"][name]["ratio"]) for c in cores]])
    rows.append(["geometric mean", "", *[_x(results[c]["geomean"]) for c in cores]])
    rows.append(["worst", "", *[f"{results[c]['worst']['benchmark']} {_x(results[c]['worst']['ratio'])}"
                                for c in cores]])
    title = (f"pyperformance subset ({first['size']} size), whole benchmark module tracked: "
             "time tracked / untracked")
    return "\n".join([title, *_table(header, rows)])


def _peers(results: Dict[str, dict], cores: List[str]) -> str:
    first = results[cores[0]]
    kinds: List[str] = first["peers"]
    header = ["benchmark", "untracked", *[f"{c} core" for c in cores], *kinds,
              *[f"{c}/{k}" for k in kinds for c in cores]]
    rows = []
    for name, row in first["benchmarks"].items():
        per_core = [results[c]["benchmarks"][name] for c in cores]
        rows.append([name, _ms(row["untracked_s"]), *[_x(r["ratio"]) for r in per_core],
                     *[_x(row["peer_ratio"][k]) for k in kinds],
                     *[_x(r.get("vs_peer", {}).get(k)) for k in kinds for r in per_core]])
    rows.append(["geometric mean", "", *[_x(results[c]["geomean"]) for c in cores],
                 *[_x(first["peer_geomean"][k]) for k in kinds],
                 *[_x(results[c].get("vs_peer_geomean", {}).get(k)) for k in kinds for c in cores]])
    title = ("peers (small sizes): time / untracked for globalhook and each tracer, then globalhook / tracer"
             " (below 1 = globalhook faster)")
    lines = [title, *_table(header, rows)]
    if first["skipped"]:
        lines.append(f"  not run under the peers: {', '.join(first['skipped'])} ({first['skipped_why']})")
    mismatched = sorted({f"{name}/{k}" for name, row in first["benchmarks"].items()
                         for k, ok in row["counts_match"].items() if not ok})
    lines.append("  peers' load counts equal globalhook's on every benchmark" if not mismatched
                 else f"  peers' load counts differ from globalhook's: {', '.join(mismatched)}")
    return "\n".join(lines)


def _micro(results: Dict[str, dict], cores: List[str]) -> str:
    first = results[cores[0]]
    kinds = list(first["global"]["peer_ns"])
    header = ["lookup", "untracked", *[f"{c} core" for c in cores], *kinds,
              *[f"{c}/{k}" for k in kinds for c in cores]]
    rows = []
    for lookup, row in first.items():
        per_core = [results[c][lookup] for c in cores]
        rows.append([lookup, _ns(row["untracked_ns"]),
                     *[f"{_ns(r['tracked_ns'])} ({_x(r['ratio'])})" for r in per_core],
                     *[_ns(row["peer_ns"][k]) for k in kinds],
                     *[_x(r["vs_peer"].get(k)) for k in kinds for r in per_core]])
    title = "per-lookup micro benchmark: ns per lookup in a tight loop (loop overhead subtracted), ratio to untracked"
    return "\n".join([title, *_table(header, rows)])
