"""The Done-when proof of issue 14: the conformance suite fails Parcelo for each planted bug.

Each bug of :mod:`tests.neverseen.bugs` is planted alone (``NEVERSEEN_BUG``) and the
suite is run in a fresh interpreter; it must fail, and in the test meant to catch it.
The correct backend passes (``test_conformance.py``, in this run).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from .bugs import BUGS

SUITE = Path(__file__).with_name("test_conformance.py")
ROOT = Path(__file__).resolve().parents[2]

CAUGHT_BY = {
    "float-money": {
        "test_output_holds_no_float_even_for_exact_amounts",
        "test_every_sample_round_trips_exactly",
    },
    "float-money-exact": {"test_output_holds_no_float_even_for_exact_amounts"},
    "naive-datetime": {"test_every_sample_round_trips_exactly", "test_times_keep_their_instant_and_zone"},
    "paging-off-by-one": {"test_lists_every_order_at_the_page_edges"},
    "create-drops-a-line": {"test_created_order_reads_back_equal"},
    "find-never-finds": {"test_created_order_is_found_again"},
    "bad-date-not-invalid-order": {"test_bad_date_raises_invalid_order_naming_it"},
    "foreign-extras-dropped": {"test_losses_include_other_backends_extras"},
    "foreign-customer-id": {"test_foreign_order_translates_without_its_ids"},
    "fees-dropped-silently": {"test_schema_2_fields_are_kept_or_reported"},
}
"""Bug -> the suite's tests that must fail for it (every one listed)."""


def test_every_bug_has_its_catcher() -> None:
    assert set(CAUGHT_BY) == set(BUGS)


@pytest.fixture(scope="module")
def suite_runs() -> dict[str, subprocess.CompletedProcess[str]]:
    """The suite run once per bug, two interpreters at a time (the runs are independent)."""

    def run(bug: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-rf", "-p", "no:cacheprovider", str(SUITE)],
            cwd=ROOT, env={**os.environ, "NEVERSEEN_BUG": bug}, capture_output=True, text=True, timeout=300,
        )  # fmt: skip

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(sorted(BUGS), pool.map(run, sorted(BUGS)), strict=True))


@pytest.mark.parametrize("bug", sorted(BUGS))
def test_the_suite_fails_a_backend_with_the_bug(
    bug: str, suite_runs: dict[str, subprocess.CompletedProcess[str]]
) -> None:
    run = suite_runs[bug]
    assert run.returncode == 1, (
        f"the suite did not fail with bug {bug}:\n{run.stdout[-3000:]}{run.stderr[-2000:]}"
    )
    failed = set(re.findall(r"^FAILED \S+::(test_\w+)", run.stdout, re.MULTILINE))
    missing = CAUGHT_BY[bug] - failed
    assert not missing, f"bug {bug}: {sorted(missing)} passed; failed were {sorted(failed)}"
