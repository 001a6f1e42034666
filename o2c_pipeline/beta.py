"""Dagster parameters we use that 1.13 still marks beta, accepted without a warning per asset.

Only the parameters named here are silenced, only while an asset is declared: any other beta or
preview warning still reaches the console.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg

#: beta parameters the assets rely on: the single-run backfill policy (a range is one run) and
#: asset owners (shown on every asset page)
ACCEPTED = ("backfill_policy", "owners")


@contextmanager
def accepted_beta_parameters() -> Iterator[None]:
    """Declare assets inside this block: the accepted beta parameters do not warn."""
    names = "|".join(ACCEPTED)
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=rf"Parameter `({names})` .*", category=dg.BetaWarning
        )
        yield
