"""A stand-in ``torchvision`` for the compatibility corpus (tests/compat/README.md): the corpus programs
import ``torchvision.datasets`` and ``torchvision.transforms``; this package supplies the few names they use,
offline, for whichever framework the program imported (descend, or torch when the same program runs as the
oracle). It is test data support, not part of descend."""

from . import datasets, transforms  # noqa: F401
