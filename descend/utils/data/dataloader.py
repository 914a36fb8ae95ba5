"""``torch.utils.data.dataloader``: the loader (see :mod:`descend.data.loader`)."""

from ...data.collate import default_collate, default_convert
from ...data.loader import DataLoader, get_worker_info

__all__ = ["DataLoader", "default_collate", "default_convert", "get_worker_info"]
