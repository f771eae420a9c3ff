"""make bench's report: each part of a `cdk synth` is the difference between two runs, per added team."""

import sys

import pytest

from harness import REPO_ROOT


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(REPO_ROOT / "scripts"))
    try:
        import bench
    finally:
        sys.path.remove(str(REPO_ROOT / "scripts"))
    return bench


def runs(import_s, build_s, calls, full, unvalidated, bare):
    """The three PHASE_RUNS of one size, as phase_worker reports them."""
    return [{"import": {"s": import_s}, "build": {"s": build_s, "calls": calls}, "synth": {"s": synth}}
            for synth in (full, unvalidated, bare)]


def test_the_parts_and_what_one_more_team_costs(bench):
    table = bench.phase_table({
        10: runs(1.5, 10.0, 15_000, full=9.0, unvalidated=3.0, bare=2.0),
        50: runs(1.5, 42.0, 71_000, full=19.0, unvalidated=9.0, bare=6.0),
    })
    rows = [line for line in table.splitlines() if line.startswith("| ")][1:]
    # synthesis and preflight, the packs (unvalidated - bare), CDK's validation (full - unvalidated)
    assert rows[0] == "| 10 teams (46 stacks) | 1.50 s | 10.00 s | 15,000 | 2.00 s | 1.00 s | 6.00 s | 20.50 s |"
    assert rows[2] == "| **each added team** (10 to 50) | 0.00 s | 0.80 s | 1,400 | 0.10 s | 0.05 s | 0.10 s | 1.05 s |"
    assert "Building costs 0.80 s per added team: 0.57 ms per jsii round trip" in table
    assert "700 round trips per added team and stage" in table
    assert "costs 0.25 s per added team: more than the 0.15 s target on its own" in table


def test_one_size_has_no_marginal_row_and_none_no_table(bench):
    table = bench.phase_table({1: runs(1.0, 2.0, 2_000, full=4.0, unvalidated=1.0, bare=0.5)})
    assert "| 1 team (10 stacks) |" in table and "each added team" not in table
    assert bench.phase_table({}).startswith("(not measured")


def test_scaling_out_reports_medians_of_rounds_and_their_ratios(bench):
    def round_(single, sharded, ceiling, peaks=(900, 950)):
        return {"single": single, "single_peak": 1600 + single // 4, "sharded": sharded, "merge": 5.0, "ceiling": ceiling,
                "shard_peaks": list(peaks), "ceiling_peaks": [800, 810]}

    # the second round's one-process run is slow: a single round would claim 2.4x, the medians say 1.8x
    scale = bench.scale_summary(200, 2, [round_(300, 180, 160), round_(400, 170, 150, (1000, 940)),
                                         round_(306, 170, 170)], 15.3, 830)
    assert (scale["single"], scale["sharded"], scale["ceiling"]) == (306, 170, 160)
    assert scale["speedup"] == 1.8 and scale["ceiling_speedup"] == 306 / 160
    assert scale["shard_peaks"] == [1000, 950] and scale["single_peak"] == 1700 and scale["selective_share"] == 0.05
    table = bench.scale_table(scale)
    assert "Medians of 3 rounds" in table
    assert "| full synthesis, 2 shards merged into one assembly | 2 | 170.0 s (170.0 to 180.0) | 1000, 950 MiB | 1.80x" \
        in table
    assert "| 2 | 400.0 s | 170.0 s | 5.0 s | 150.0 s | 2.35x | 2.67x |" in table
    assert "The shards reach 94% of it" in table
