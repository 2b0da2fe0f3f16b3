"""Benchmark ``hf://`` reads against ``huggingface_hub.get_safetensors_metadata``, same run.

A Hub runs on 127.0.0.1 in this (small) parent process: the test suite's
``tests/hub_server.py``, with the Hub's endpoints and headers and a second host
for LFS files, counting requests and body bytes. It serves three repos of
10, 100 and 1000 sparse safetensors shards (each shard 64 bf16 tensors of
4096×4096, 2.1 GB declared, a few kB of header) with an index and a config.
Each figure comes from a fresh child process (``_measure.py``):

- ``weightfit.read("hf://…")`` with an empty cache (cold), then again (warm:
  the listing only);
- ``HfApi().get_safetensors_metadata(repo)`` (index download, then one request
  per shard header), with an empty ``HF_HOME``.

Loopback has no latency: on the real Hub each request costs a round trip, so
the request counts matter more than these times. The results replace this
benchmark's section of ``BENCHMARKS.md``.

Run: ``.venv/bin/python bench/hub.py [--no-write] [--sizes 10,100]``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import struct
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


sys.path.insert(0, str(ROOT / "tests"))
import _measure  # noqa: E402
from _measure import human_mb, human_seconds, measure, replace_section  # noqa: E402

import hub_server  # noqa: E402

START = "<!-- bench/hub.py: start (generated, do not edit by hand) -->"
END = "<!-- bench/hub.py: end -->"
TENSORS_PER_SHARD = 64
SHAPE = (4096, 4096)
SIZES = (10, 100, 1000)
REPEAT = 3
"""Runs per figure; the fastest is reported (the machine is shared)."""
SETUP = """
import huggingface_hub, huggingface_hub.utils
from huggingface_hub import HfApi, hf_hub_url
import weightfit, weightfit.hub, weightfit.formats.folder, weightfit.formats.safetensors
huggingface_hub.utils.get_session()
"""
"""Imports (huggingface_hub's are lazy) and the HTTP session, untimed for both readers."""


def make_repo(folder: Path, shards: int) -> int:
    """Write ``shards`` sparse bf16 shards, their index and a config; return the declared bytes."""
    folder.mkdir(parents=True)
    nbytes = 2 * SHAPE[0] * SHAPE[1]
    weight_map: dict[str, str] = {}
    total = 0
    for number in range(1, shards + 1):
        name = f"model-{number:05d}-of-{shards:05d}.safetensors"
        header: dict[str, object] = {"__metadata__": {"format": "pt"}}
        for i in range(TENSORS_PER_SHARD):
            tensor = f"model.layers.{number - 1}.experts.{i}.weight"
            header[tensor] = {
                "dtype": "BF16",
                "shape": list(SHAPE),
                "data_offsets": [i * nbytes, (i + 1) * nbytes],
            }
            weight_map[tensor] = name
        raw = json.dumps(header, separators=(",", ":")).encode()
        raw += b" " * (-len(raw) % 8)
        path = folder / name
        with path.open("wb") as handle:
            handle.write(struct.pack("<Q", len(raw)) + raw)
        os.truncate(path, 8 + len(raw) + TENSORS_PER_SHARD * nbytes)
        total += 8 + len(raw) + TENSORS_PER_SHARD * nbytes
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    (folder / "config.json").write_text('{"model_type": "custom"}')
    return total


def run_one(hub: object, label: str, code: str, env: dict[str, str]) -> dict[str, object]:
    """Measure ``code`` in a child; return its time and the Hub's request and byte counts."""
    hub.reset()  # type: ignore[attr-defined]
    result = measure(label, code, setup=SETUP, env=env)
    return {
        "seconds": result.seconds,
        "requests": hub.requests,  # type: ignore[attr-defined]
        "bytes": hub.bytes,  # type: ignore[attr-defined]
        "tensors": result.result,
    }


def best(runs: list[dict[str, object]]) -> dict[str, object]:
    """The fastest of repeated runs (their request and byte counts are the same)."""
    assert len({(r["requests"], r["tensors"]) for r in runs}) == 1, runs
    return min(runs, key=lambda r: r["seconds"])  # type: ignore[arg-type, return-value]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-write", action="store_true", help="print, do not edit BENCHMARKS.md")
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="shard counts")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as scratch, hub_server.serve() as hub:  # type: ignore[attr-defined]
        work = Path(scratch)
        for shards in sizes:
            repo_id = f"bench/m{shards}"
            total = make_repo(work / f"m{shards}", shards)
            hub.repos[repo_id] = hub_server.Repo(work / f"m{shards}")  # type: ignore[attr-defined]
            for file in hub.repos[repo_id].files().values():  # the server's digests, made once
                hub.sha256(file)
            colds, warms, theirs, locals_ = [], [], [], []
            for attempt in range(REPEAT):
                env = {
                    "HF_ENDPOINT": hub.url,
                    "WEIGHTFIT_CACHE": str(work / f"cache{shards}-{attempt}"),
                    "HF_HOME": str(work / f"hf{shards}-{attempt}"),
                    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
                    "HF_HUB_DISABLE_TELEMETRY": "1",
                    "HF_TOKEN": "",
                }
                ours = f"result = len(weightfit.read('hf://{repo_id}'))"
                colds.append(run_one(hub, "weightfit cold", ours, env))
                warms.append(run_one(hub, "weightfit warm", ours, env))
                code = f"meta = HfApi().get_safetensors_metadata('{repo_id}')"
                theirs.append(run_one(hub, "hf", code + "\nresult = len(meta.weight_map)", env))
                folder = f"result = len(weightfit.read({str(work / f'm{shards}')!r}))"
                locals_.append(run_one(hub, "local", folder, env))
            cold, warm, their, local = best(colds), best(warms), best(theirs), best(locals_)
            rows.append((shards, total, cold, warm, their, local))
            print(shards, cold, warm, their, local, flush=True)
    section = render(rows)
    if args.no_write:
        print(section)
    else:
        replace_section(section)


def render(rows: list[tuple[int, int, dict, dict, dict, dict]]) -> str:
    lines = [
        START,
        "## Reading from the Hub (`bench/hub.py`)",
        "",
        f"- Machine: {_measure.machine()}",  # type: ignore[attr-defined]
        f"- Date: {datetime.date.today().isoformat()}; load average at the end "
        f"{os.getloadavg()[0]:.1f} (the machine is shared: times are noisy, counts are not)",
        "- Reproduce: `.venv/bin/python bench/hub.py`",
        "- Method: a Hub on 127.0.0.1 (`tests/hub_server.py`: the API host redirects LFS files "
        "to a second host, as the Hub does) serves N sparse shards of 64 bf16 4096×4096 tensors "
        "(2.1 GB declared each) with an index. Times are the best of 3, each from a fresh child "
        "process (cold: a fresh cache each time), "
        "imports excluded; requests and bytes are counted by the server (both hosts, bodies "
        "only). *Cold*: empty weightfit cache; *warm*: the same read again. "
        "`get_safetensors_metadata` is huggingface_hub's own header reader, same server, "
        "same run, imports and the HTTP session set up before timing for both. Loopback has no "
        "latency: on the real Hub every request adds a round trip.",
        "",
        "| shards | reader | time | requests | bytes received | of declared |",
        "| ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    for shards, total, cold, warm, theirs, local in rows:
        for label, data in (
            ("weightfit `hf://` cold", cold),
            ("weightfit `hf://` warm", warm),
            ("`get_safetensors_metadata`", theirs),
            ("weightfit, the same files on local disk", local),
        ):
            share = data["bytes"] / total
            lines.append(
                f"| {shards} | {label} | {human_seconds(data['seconds'])} | {data['requests']:,} "
                f"| {human_mb(data['bytes'])} | {share:.5%} |"
            )
    lines += [
        "",
        "Every tensor was found by both readers (the counts agree). weightfit's cold read is "
        "two requests per shard (the Hub's redirect, then one range of the CDN, the same "
        "100 kB speculative range as `get_safetensors_metadata`) plus the listing, the config "
        "and the index; a warm read is the listing alone (one request, and a page of the tree "
        "per 1000 files). On loopback the time is CPU, not network: weightfit validates every "
        "header (offsets, coverage, sizes) and applies the folder's weight-set rules, as for a "
        "local folder (compare the last row), where `get_safetensors_metadata` only parses the "
        "JSON. On the real Hub every request of a cold read is a round trip (8 at a time).",
        END,
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
