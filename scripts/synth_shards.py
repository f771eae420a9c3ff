#!/usr/bin/env python3
"""Synthesize the platform in N processes, one shard each, and merge them into one cloud assembly.

    python scripts/synth_shards.py --jobs 2 --out cdk.out [--context key=value ...]
    make synth JOBS=2

Each process runs ``app.py`` (what ``cdk synth`` runs) with ``-c shard=i/N``: every shard reads the
whole registry and builds the platform-wide stacks (network, EKS, monitoring), which its teams' stacks
depend on, and every N-th unit of teams' stacks (``stacks.platform.Selection``). The merge:

- takes every artifact of every shard's ``manifest.json``; an artifact two shards built (a
  platform-wide stack) must be the same in both, template byte for byte, or the merge fails;
- moves templates, asset manifests, metadata and asset folders into the merged assembly (templates and asset manifests of a
  stack two shards built must be byte for byte the same; its metadata differs only in the construct
  traces' temporary folders, and the first shard's is kept); unions ``tree.json``;
- joins the validation reports plugin by plugin;
- runs the preflight checks again over all merged templates, since a shard saw only its own, and
  writes the DAG path report from all of them.

The result is a cloud assembly the pinned CDK CLI reads with ``--app cdk.out`` (``cdk ls``,
``cdk diff``, ``cdk deploy``). tests/test_synth_shards.py proves it equals the single-process one.
The CDK has no supported way to synthesize one app in several processes (as of aws-cdk-lib 2.275.0).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
#: files of an assembly the merge writes itself rather than copying from a shard
MERGED = ("manifest.json", "tree.json", "validation-report.json", "dag-paths.md", "cdk.out")


def run_shard(index: int, count: int, outdir: Path, context: dict[str, str]) -> float:
    """``app.py`` for shard ``index`` of ``count`` into ``outdir``; its wall time."""
    env = dict(os.environ, CDK_OUTDIR=str(outdir),
               CDK_CONTEXT_JSON=json.dumps({**context, "shard": f"{index}/{count}"}))
    started = time.monotonic()
    result = subprocess.run([sys.executable, str(REPO / "app.py")], cwd=REPO, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"shard {index}/{count} failed:\n{result.stderr[-6000:]}")
    return time.monotonic() - started


def merge(shards: list[Path], out: Path) -> None:
    """Merge the shards' cloud assemblies into ``out`` (module docstring), moving their files: the shards
    are left incomplete. A merge that fails removes ``out``: no half-merged or unchecked assembly is left
    for ``cdk deploy --app`` to find."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    try:
        _merge(shards, out)
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        raise


def _merge(shards: list[Path], out: Path) -> None:
    manifests = [json.loads((shard / "manifest.json").read_text()) for shard in shards]
    artifacts: dict[str, Any] = {}
    for shard, manifest in zip(shards, manifests):
        for name, artifact in manifest["artifacts"].items():
            if name in artifacts and artifacts[name] != artifact:
                raise SystemExit(f"artifact {name} differs between shards: the platform-wide stacks must be built "
                                 "from the whole registry in every shard")
            artifacts.setdefault(name, artifact)
        for entry in sorted(shard.iterdir()):
            if entry.name in MERGED:
                continue
            target = out / entry.name
            if entry.is_dir():
                if not target.exists():
                    shutil.move(entry, target)
            elif target.exists():
                # metadata carries construct traces with each process's own jsii folder: the first shard's is kept
                if target.read_bytes() != entry.read_bytes() and not entry.name.endswith(".metadata.json"):
                    raise SystemExit(f"{entry.name} differs between shards")
            else:
                shutil.move(entry, target)  # a rename where the shards sit beside ``out`` (``synthesize``)
    merged = dict(manifests[0], artifacts=artifacts)
    missing = [item for manifest in manifests for item in manifest.get("missing", [])]
    if missing:
        keys = sorted({item["key"] for item in missing})
        raise SystemExit("the app needs context lookups (" + ", ".join(keys) + "): run `make synth JOBS=1` (cdk synth) "
                         "once with credentials, which caches them in cdk.context.json, then shard again")
    (out / "manifest.json").write_text(json.dumps(merged, indent=2))
    _merge_tree(shards, out)
    _merge_reports(shards, out)
    _check_merged(out, artifacts)


def _merge_tree(shards: list[Path], out: Path) -> None:
    trees = [json.loads((shard / "tree.json").read_text()) for shard in shards if (shard / "tree.json").exists()]
    if not trees:
        return
    merged = trees[0]
    for tree in trees[1:]:
        merged["tree"].setdefault("children", {}).update(tree["tree"].get("children", {}))
    (out / "tree.json").write_text(json.dumps(merged))


def _merge_reports(shards: list[Path], out: Path) -> None:
    """One report: each plugin's findings of every shard, once each (a platform-wide stack's findings come
    from every shard, with other construct traces), failed where any shard's failed."""
    reports = [json.loads((shard / "validation-report.json").read_text()) for shard in shards
               if (shard / "validation-report.json").exists()]
    if not reports:
        return
    plugins: dict[str, dict[str, Any]] = {}
    for report in reports:
        for plugin in report.get("pluginReports", []):
            kept = plugins.setdefault(plugin["pluginName"], {**plugin, "violations": [], "suppressedViolations": []})
            for kind in ("violations", "suppressedViolations"):
                seen = {_finding_key(finding) for finding in kept[kind]}
                kept[kind] += [finding for finding in plugin.get(kind, []) if _finding_key(finding) not in seen]
            if plugin.get("conclusion") == "failure":
                kept["conclusion"] = "failure"
    # compact: an indented dump takes Python's slow encoder, seconds at 200 teams
    (out / "validation-report.json").write_text(json.dumps({**reports[0], "pluginReports": list(plugins.values())}))


def _finding_key(finding: dict[str, Any]) -> tuple[Any, ...]:
    """A finding without its stack traces, which name each process's temporary folders."""
    return (finding.get("ruleName"), finding.get("acknowledgedId"),
            *sorted(c.get("constructPath", "") for c in finding.get("violatingConstructs", [])))


def _check_merged(out: Path, artifacts: dict[str, Any]) -> None:
    """The preflight over every merged template (a shard saw only its own), and the DAG path report."""
    sys.path.insert(0, str(REPO / "constructs"))
    from mwaa_platform.compliance import PATHS_REPORT, StackTemplate, paths_report, run_preflight

    stacks = []
    for name, artifact in artifacts.items():
        if artifact["type"] != "aws:cloudformation:stack":
            continue
        environment = artifact["environment"].removeprefix("aws://").split("/")
        path = out / artifact["properties"]["templateFile"]
        stacks.append(StackTemplate(name=name, template=json.loads(path.read_text()), account=environment[0],
                                    region=environment[1], path=str(path)))
    errors = [finding for finding in run_preflight(stacks) if finding.severity == "error"]
    if errors:
        raise SystemExit("the preflight checks of the merged assembly failed:\n" + "\n".join(map(str, errors)))
    report = paths_report(stacks)
    if report is not None:
        (out / PATHS_REPORT).write_text(report)


def synthesize(jobs: int, out: Path, context: dict[str, str]) -> list[float]:
    """Run ``jobs`` shards side by side and merge them into ``out``; the shards' wall times."""
    out = out.resolve()  # the shards run in the repository: a relative path would be theirs, not the caller's
    out.parent.mkdir(parents=True, exist_ok=True)
    # beside ``out``, on its file system, so the merge renames the shards' files rather than copying them
    with tempfile.TemporaryDirectory(prefix=f".{out.name}-shards-", dir=out.parent) as work:
        shards = [Path(work) / f"shard-{index}" for index in range(jobs)]
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            times = list(pool.map(lambda index: run_shard(index, jobs, shards[index], context), range(jobs)))
        merge(shards, out)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="processes (default: the cores)")
    parser.add_argument("--out", type=Path, default=REPO / "cdk.out", help="the merged cloud assembly")
    parser.add_argument("--context", action="append", default=[], metavar="KEY=VALUE", help="app context")
    args = parser.parse_args()
    if args.jobs < 1:
        raise SystemExit(f"--jobs must be 1 or more, got {args.jobs}")
    # what the CDK CLI adds to the app's context: the cached lookups (cdk.context.json)
    cached = REPO / "cdk.context.json"
    context = {**(json.loads(cached.read_text()) if cached.exists() else {}),
               **dict(item.split("=", 1) for item in args.context)}
    started = time.monotonic()
    times = synthesize(args.jobs, args.out, context)
    print(f"synthesized {args.jobs} shard(s) in {', '.join(f'{t:.1f}' for t in times)} s; merged into {args.out} "
          f"({time.monotonic() - started:.1f} s in all)", file=sys.stderr)


if __name__ == "__main__":
    main()
