"""PLACEHOLDER — being replaced by the simulator."""
from o2c_pipeline.sandbox.core import Store


def advance(store: Store, steps: int = 1) -> dict:
    return {}
