"""RayOracle on a local Ray: the same values, validity, reasons and budget as the plain oracle, including
items that raise, time out or kill their worker."""

from __future__ import annotations

import shutil
import signal
import tempfile

import numpy as np
import pytest

ray = pytest.importorskip("ray", reason='Ray is an optional extra: pip install "seqguide[ray]" (or ".[dev]")')

import oracle_helpers  # noqa: E402
import ray_helpers  # noqa: E402
from oracle_helpers import CrashOn, Sleepy, random_dna  # noqa: E402
from ray_helpers import KillsWorker  # noqa: E402

from oracles import Budgeted, Cached, Composite, Timeout, get_oracle  # noqa: E402
from oracles.ray import RayOracle, _keep_signal_handlers  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def local_ray():
    """A local Ray with two CPUs and a short temp dir (socket paths must stay under 108 characters)."""
    temp = tempfile.mkdtemp(prefix="rt", dir="/tmp")
    for module in (oracle_helpers, ray_helpers):  # test modules are not importable by workers: ship them
        ray.cloudpickle.register_pickle_by_value(module)
    with _keep_signal_handlers():  # Ray's SIGTERM handler would otherwise outlive it and reach forked tests
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, object_store_memory=100 * 2**20,
                 _temp_dir=temp, configure_logging=False, runtime_env={"env_vars": {"OMP_NUM_THREADS": "1"}})
    yield
    ray.shutdown()
    shutil.rmtree(temp, ignore_errors=True)


def test_starting_ray_keeps_the_process_signal_handlers() -> None:
    """ray.init installs a SIGTERM handler that calls sys.exit: a campaign's graceful stop and Lightning's
    step-boundary checkpoint would never see the signal."""
    def mine(signum, frame):  # pragma: no cover - never called
        pass

    previous = signal.signal(signal.SIGTERM, mine)
    try:
        with _keep_signal_handlers():
            signal.signal(signal.SIGTERM, signal.SIG_DFL)  # what ray.init does, in effect
        assert signal.getsignal(signal.SIGTERM) is mine
    finally:
        signal.signal(signal.SIGTERM, previous)


def _items() -> list[str]:
    xs = random_dna(14, 8, seed=1)
    xs[2] = "ACTTTTGA"  # CrashOn raises on its batch: only this item is lost
    xs[5] = "GGGGACGT"  # Sleepy sleeps 30 s: times out
    xs[9] = "GGGGTTTT"  # both
    xs[11] = "ACGTNNAC"  # not DNA: invalid before scoring (free)
    return [*xs, xs[0], xs[3]]  # duplicates are paid once


def _compare(got, expected) -> None:
    np.testing.assert_array_equal(got.valid, expected.valid)
    np.testing.assert_array_equal(got.values, expected.values)  # NaN where invalid, in both
    np.testing.assert_array_equal(got.transient, expected.transient)
    assert got.errors == expected.errors


def test_ray_oracle_matches_the_plain_oracle_with_raises_and_timeouts(local_ray) -> None:
    inner = Composite([CrashOn(), Sleepy(seconds=30.0)], name="crash_sleep")
    xs = _items()
    plain = Cached(Budgeted(Timeout(inner, seconds=1.0, per_item=True), budget=40))
    with RayOracle(inner, workers=2, timeout=1.0) as remote:
        fanned = Cached(Budgeted(remote, budget=40))
        expected, got = plain(xs), fanned(xs)
        _compare(got, expected)
        assert not got.valid[[2, 5, 9, 11]].any() and got.valid.sum() == len(xs) - 4
        assert "timed out after 1 s (item)" in got.errors[5] and "boom" in got.errors[2]
        assert got.transient[5] and got.transient[9] and not got.transient[2]
        assert fanned.inner.used == plain.inner.used == 13  # 14 unique, one illegal; the timeouts are charged
        assert remote.timeouts == 2 and remote.restarts == 2
        # Again: the valid and deterministic results come from the cache; the transient timeouts are paid again.
        _compare(fanned(xs), plain(xs))
        assert fanned.inner.used == plain.inner.used == 15 and fanned.hits == plain.hits


def test_a_worker_that_dies_is_retried_then_reported(local_ray, tmp_path) -> None:
    xs = ["CCGGAAAA", "ACGTACGT", "GGCCGGCC"]
    with RayOracle(KillsWorker(once_dir=str(tmp_path)), workers=2, retries=1) as flaky:
        res = flaky(xs)  # the first attempt kills its worker, the retry on a fresh actor succeeds
    np.testing.assert_array_equal(res.values, [4.0, 4.0, 8.0])
    assert res.valid.all() and flaky.restarts == 1
    with RayOracle(KillsWorker(), workers=2, retries=1) as fatal:
        res = fatal(xs)
    assert list(res.valid) == [False, True, True] and res.transient[0]
    assert "(after 2 attempts)" in res.errors[0] and fatal.restarts == 2


def test_registry_builds_it_and_bad_arguments_are_named() -> None:
    oracle = get_oracle("ray", oracle="gc", workers=3, timeout=5.0)
    assert isinstance(oracle, RayOracle) and oracle.inner.name == "gc" and oracle.workers == 3
    with pytest.raises(ValueError, match="timeout must be > 0"):
        RayOracle(get_oracle("gc"), timeout=0)
    with pytest.raises(ValueError, match="cannot wrap Budgeted"):
        RayOracle(Budgeted(get_oracle("gc"), budget=3))
