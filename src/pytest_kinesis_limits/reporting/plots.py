"""PNG plots of a report's series (``--kinesis-plots DIR``, ``pytest-kinesis-limits plot REPORT.json DIR``).

One figure per series, drawn only from the report's JSON (so a report can be redrawn later, anywhere):

* throughput: per shard, records (or bytes, for a bytes/s limit) accepted and refused in each second of the
  service's clock, the documented limit as a line and the sustained window the verdict measured shaded;
* resharding: records acknowledged per shard per second of the producer's clock, the reshard call marked and
  the time until the stream was seen ACTIVE again shaded, each shard labelled with its parents (the lineage);
* firehose: each record's delivery latency against its arrival, the documented value as a line where the
  measurement has one in seconds (the interval hint), every S3 object's delivery marked; without measured
  latencies, the records in each object at its delivery time.

matplotlib is an optional extra (``pip install 'pytest-kinesis-limits[plots]'``), imported only here and only
when plots are asked for; figures use matplotlib's object API (no pyplot, no global backend change).
"""

from __future__ import annotations

import importlib.util
import io
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

EXTRA = "pip install 'pytest-kinesis-limits[plots]'"
DPI = 100


class PlotsUnavailable(RuntimeError):
    """Plots were asked for but cannot be made here; the message says why and how to fix it."""


def available() -> bool:
    """Whether matplotlib can be imported (without importing it)."""
    return importlib.util.find_spec("matplotlib") is not None


def require_matplotlib() -> None:
    """Raise :class:`PlotsUnavailable`, naming the extra, when matplotlib is not installed."""
    if not available():
        raise PlotsUnavailable(f"plots need matplotlib, which is not installed. Fix: {EXTRA}")


def check_folder(path: str) -> None:
    """Raise :class:`PlotsUnavailable` when ``path`` cannot become a folder of plots."""
    absolute = os.path.abspath(path)
    if os.path.exists(absolute):
        if not os.path.isdir(absolute) or not os.access(absolute, os.W_OK):
            raise PlotsUnavailable(f"{absolute} is not a writable folder. Fix: name a folder (it is created if "
                                   "missing, in an existing writable folder)")
        return
    parent = os.path.dirname(absolute)
    if not os.path.isdir(parent) or not os.access(parent, os.W_OK):
        raise PlotsUnavailable(f"the folder {parent} does not exist or cannot be written. Fix: create it, or "
                               "name a folder inside a writable one")


@dataclass(frozen=True)
class Plot:
    """One rendered figure: the file name it gets, what it shows and the PNG bytes."""

    name: str
    test: str
    kind: str
    title: str
    png: bytes


def short_test(test: str) -> str:
    """``test_file.py::test_name[case]`` -> ``test_name[case]``."""
    return test.rsplit("::", 1)[-1]


def file_name(series: Mapping[str, Any], taken: set[str]) -> str:
    """A file name for ``series``'s plot, unique among ``taken`` (which it joins): module, test and case."""
    module, _, name = series["test"].rpartition("::")
    stem = os.path.splitext(os.path.basename(module))[0]
    base = re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{stem}.{name}").strip("-.")[:150] or "series"
    candidate, n = f"{base}.png", 1
    while candidate in taken:
        n += 1
        candidate = f"{base}.{n}.png"
    taken.add(candidate)
    return candidate


def _shard_label(shard_id: str) -> str:
    """``shardId-000000000002`` -> ``shard 2``."""
    number = shard_id.rsplit("-", 1)[-1].lstrip("0")
    return f"shard {number or '0'}" if shard_id.rsplit("-", 1)[-1].isdigit() else shard_id


def _thousands(axis: Any) -> None:
    from matplotlib.ticker import FuncFormatter

    axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}"))


def _figure(height: float) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(9, height), dpi=DPI, layout="constrained")


def _centres(length: int) -> list[float]:
    return [second + 0.5 for second in range(length)]


def throughput_figure(series: Mapping[str, Any]) -> Any:
    """Per shard: accepted (bars, and the line over them) and refused (stacked above: together, what was
    offered) per second, the documented limit, the sustained window."""
    by_bytes = series.get("unit") == "bytes/s"
    what = "bytes" if by_bytes else "records"
    length = series["length"]
    empty = [0] * length
    shards = series["shards"] or [{"shard_id": "no shard", f"accepted_{what}": empty, f"refused_{what}": empty}]
    fig = _figure(1.4 + 2.1 * len(shards))
    axes = fig.subplots(len(shards), 1, sharex=True, squeeze=False)[:, 0]
    x = _centres(length)
    for ax, shard in zip(axes, shards):
        accepted, refused = shard[f"accepted_{what}"], shard[f"refused_{what}"]
        if series.get("window"):
            start, end = series["window"]
            ax.axvspan(start, end, color="tab:green", alpha=0.10, label="sustained window (the verdict's)")
        ax.bar(x, accepted, width=0.7, color="tab:blue", alpha=0.35, label=f"accepted {what}")
        ax.bar(x, refused, width=0.7, bottom=accepted, color="tab:orange", alpha=0.45,
               label=f"refused {what} (stacked: accepted + refused = offered)")
        ax.plot(x, accepted, marker="o", color="tab:blue", label=f"accepted {what}/s", gid="accepted")
        if series.get("limit_in_force") is not None and not by_bytes:  # the scale family's offline rehearsal
            ax.axhline(series["limit_in_force"], color="tab:red", linestyle=":", linewidth=1.5, gid="limit",
                       label=f"limit in force per shard (layer x{series.get('layer_scale')})")
        elif series.get("documented") is not None:
            ax.axhline(series["documented"], color="tab:red", linestyle=":", linewidth=1.5,
                       label="documented limit per shard", gid="limit")
        ax.set_ylabel(f"{what}/s")
        ax.set_title(_shard_label(shard["shard_id"]), fontsize=9, loc="left")
        ax.set_ylim(bottom=0)
        ax.set_xticks(range(length + 1))
        _thousands(ax.yaxis)
        ax.grid(alpha=0.3, axis="y")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=3, fontsize=8)
    axes[-1].set_xlabel("second from the first arrival (service clock: ApproximateArrivalTimestamp)")
    fig.suptitle(short_test(series["test"]), fontsize=10)
    return fig


def resharding_figure(series: Mapping[str, Any]) -> Any:
    """Records acknowledged per shard per second, the reshard marked, each shard labelled with its parents."""
    fig = _figure(4.2)
    ax = fig.subplots()
    x = _centres(series["length"])
    for shard in series["shards"]:
        parents = [p for p in (shard.get("parent"), shard.get("adjacent_parent")) if p]
        label = _shard_label(shard["shard_id"])
        if parents:
            label += " (child of " + " + ".join(_shard_label(p).replace("shard ", "") for p in parents) + ")"
        if shard.get("closed"):
            label += ", closed"
        ax.plot(x, shard["accepted_records"], marker=".", drawstyle="steps-mid", label=label)
    if any(series.get("refused_records") or []):
        ax.plot(x, series["refused_records"], linestyle="--", drawstyle="steps-mid", color="tab:red",
                label="refused (after retries)")
    reshard = series["reshard"]
    if reshard.get("issued_s") is not None:
        ax.axvline(reshard["issued_s"], color="black", linestyle=":", label=f"{reshard['operation']} called")
        if reshard.get("active_s") is not None:
            ax.axvspan(reshard["issued_s"], reshard["active_s"], color="tab:gray", alpha=0.2,
                       label="until seen ACTIVE again")
    ax.set_ylim(bottom=0)
    _thousands(ax.yaxis)
    ax.set_ylabel("records acknowledged/s")
    ax.set_xlabel("seconds from the first write (producer's clock)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    name = series.get("scenario", {}).get("name", "")
    fig.suptitle(f"{short_test(series['test'])}: {name}, {reshard.get('shards_before', '?')} -> "
                 f"{reshard.get('shards_after', '?')} open shards", fontsize=10)
    return fig


def firehose_figure(series: Mapping[str, Any]) -> Any:
    """Delivery latency against arrival (or records per object), objects' deliveries marked."""
    fig = _figure(3.8)
    ax = fig.subplots()
    records, objects = series["records"], series["objects"]
    for n, obj in enumerate(objects):
        ax.axvline(obj["delivered_s"], color="tab:gray", alpha=0.5, linewidth=0.8,
                   label="S3 object delivered (LastModified)" if n == 0 else None)
    if records["latency_s"]:
        ax.scatter(records["arrival_s"], records["latency_s"], s=8, color="tab:blue", label="record latency")
        top = max(records["latency_s"])
        if series.get("documented") is not None and series.get("unit") == "s":
            ax.axhline(series["documented"], color="tab:red", linestyle=":", label=f"documented {series['limit']}")
            top = max(top, series["documented"])
        ax.set_ylim(top=top * 1.1 + 0.5)
        ax.set_ylabel("seconds from arrival to S3")
        ax.set_xlabel("arrival, seconds from the origin (Kinesis ApproximateArrivalTimestamp)")
    else:
        ax.bar([o["delivered_s"] for o in objects], [o["records"] for o in objects], width=0.6, color="tab:blue",
               label="records in the object")
        ax.set_ylabel("records per object")
        ax.set_xlabel("delivery, seconds from the origin (S3 LastModified); latency not measured by this test")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.suptitle(f"{short_test(series['test'])}: {series['delivered']}/{series['expected']} delivered in "
                 f"{len(objects)} object(s), {series['missing']} missing", fontsize=10)
    return fig


FIGURES = {"throughput": throughput_figure, "resharding": resharding_figure, "firehose": firehose_figure}


def figure_for(series: Mapping[str, Any]) -> Any:
    """The matplotlib ``Figure`` of one series (raises :class:`PlotsUnavailable` without matplotlib)."""
    require_matplotlib()
    return FIGURES[series["kind"]](series)


def png_of(figure: Any) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def render(series_list: Iterable[Mapping[str, Any]]) -> list[Plot]:
    """One :class:`Plot` per series, in order."""
    taken: set[str] = set()
    plots = []
    for series in series_list:
        figure = figure_for(series)
        plots.append(Plot(file_name(series, taken), series["test"], series["kind"], figure.get_suptitle(),
                          png_of(figure)))
    return plots


def write(plots: Sequence[Plot], folder: str) -> list[str]:
    """Write every plot into ``folder`` (created if missing); the paths written."""
    os.makedirs(folder, exist_ok=True)
    paths = []
    for plot in plots:
        path = os.path.join(folder, plot.name)
        with open(path, "wb") as handle:
            handle.write(plot.png)
        paths.append(path)
    return paths
