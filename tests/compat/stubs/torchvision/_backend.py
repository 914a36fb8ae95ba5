"""Which tensor library the running program imported: ``torch`` when the oracle copy runs, else descend."""

import sys


def lib():
    if "torch" in sys.modules:
        return sys.modules["torch"]
    import descend
    return descend
