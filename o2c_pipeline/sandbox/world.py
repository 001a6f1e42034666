"""PLACEHOLDER — being replaced by the world generator."""
from o2c_pipeline.sandbox.core import Store


def build_world(store: Store, scale: str = "small", seed: int = 42) -> None:
    import datetime as dt
    with store.writer() as cur:
        store.set_meta("built_at", dt.datetime.now(dt.UTC).isoformat(), cur)
