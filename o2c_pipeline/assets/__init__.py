"""All asset definitions, collected for :mod:`o2c_pipeline.definitions`."""

from o2c_pipeline.assets.extract import EXTRACT_ASSETS

ASSETS = [*EXTRACT_ASSETS]

__all__ = ["ASSETS", "EXTRACT_ASSETS"]
