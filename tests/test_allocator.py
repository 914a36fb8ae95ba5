"""descend.allocator: glibc's malloc thresholds set at import, measured by the page faults a reused array costs."""

import json
import os
import subprocess
import sys

import pytest

from descend import allocator

pytestmark = pytest.mark.skipif(allocator._mallopt() is None, reason="malloc here is not glibc's")

# In a fresh interpreter: import descend, then write a 1.5 MiB array (NumPy asks for huge pages from 4 MiB), free it,
# write a second one of the same size; report whether the thresholds were set and the second array's minor faults.
PROBE = """
import json, resource, numpy as np
import descend
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
n = 3 << 17  # float32 elements: 1.5 MiB, 384 pages of 4 KiB
a = np.ones(n, np.float32); del a
before = faults(); b = np.ones(n, np.float32); second = faults() - before; del b
print(json.dumps({"tuned": descend.allocator.tuned(), "second": second}))
"""


def _probe(**env):
    environment = {k: v for k, v in os.environ.items()
                   if k not in ("DESCEND_MALLOC", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "GLIBC_TUNABLES")}
    environment.update(env)
    out = subprocess.run([sys.executable, "-c", PROBE], env=environment, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_import_sets_the_thresholds_and_a_freed_array_is_reused_without_page_faults():
    tuned = _probe()
    assert tuned["tuned"] is True
    # reused from the heap, the second array costs none of its 384 pages
    assert tuned["second"] < 20, tuned


def _huge_pages_always():
    try:
        with open("/sys/kernel/mm/transparent_hugepage/enabled") as f:
            return "[always]" in f.read()
    except OSError:
        return False


@pytest.mark.skipif(_huge_pages_always(), reason="transparent huge pages for every mapping: few faults either way")
def test_glibcs_own_thresholds_fault_the_second_array_in_again():
    # the same probe with descend leaving malloc alone: the first free raises glibc's threshold, so the second
    # array comes from newly grown heap and every page of it faults in; this is the cost the thresholds remove
    system = _probe(DESCEND_MALLOC="system")
    assert system["tuned"] is False
    assert system["second"] > 150, system  # 384 pages; some of them may be heap the imports grew


@pytest.mark.parametrize("env", [{"DESCEND_MALLOC": "system"}, {"MALLOC_MMAP_THRESHOLD_": "1048576"},
                                 {"MALLOC_TRIM_THRESHOLD_": "1048576"},
                                 {"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=1048576"}])
def test_settings_of_the_users_own_are_kept(env):
    assert _probe(**env)["tuned"] is False


def test_the_thresholds_are_glibcs_dynamic_maximum():
    # glibc raises its mmap threshold by itself up to 32 MiB on 64-bit systems, with the trim threshold at twice it
    assert allocator.MMAP_THRESHOLD == 32 * 2 ** 20
    assert allocator.TRIM_THRESHOLD == 2 * allocator.MMAP_THRESHOLD
