"""The ``descend`` command line."""

import sys


def main(argv=None) -> int:
    print("descend: the command line (`descend train`) is not built yet; see README.md", file=sys.stderr)
    return 2
