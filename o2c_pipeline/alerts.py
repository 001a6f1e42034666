"""The alert webhook (``O2C_ALERT_WEBHOOK_URL``): the one place that POSTs alerts, for failed
runs (:mod:`o2c_pipeline.sensors`) and breached O2C stage SLAs (:mod:`o2c_pipeline.sla`)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any

import requests

from o2c_pipeline import settings
from o2c_pipeline.resources.secrets import scrub

log = logging.getLogger(__name__)

WEBHOOK_TIMEOUT_S = (5, 10)


def webhook_url() -> str | None:
    return settings.value("O2C_ALERT_WEBHOOK_URL") or None


def post_alert(url: str, text: str, fields: Mapping[str, Any]) -> bool:
    """POST ``text`` (Slack-compatible) and ``fields`` as JSON; never raises (an alert that
    cannot be delivered is logged, the run or check goes on)."""
    payload = {
        "text": text,
        **{k: (v.isoformat() if isinstance(v, dt.datetime) else v) for k, v in fields.items()},
    }
    try:
        response = requests.post(url, json=payload, timeout=WEBHOOK_TIMEOUT_S)
        response.raise_for_status()
    except requests.RequestException as exc:
        log.warning("alert webhook not delivered: %s", scrub(str(exc)))
        return False
    return True
