"""NetSuite's setup as the warehouse holds it: currencies, OneWorld subsidiaries and exchange rates,
and the rules NetSuite applies with them, checked before a write rather than met as a 400.

- A currency is named by its ISO code (``currency.symbol``); an inactive one cannot be selected.
- A subsidiary trades in its base currency and in every currency its base currency has rates for
  (``currencyrate(basecurrency, transactioncurrency)``); an elimination or inactive subsidiary
  holds no customers.
- A transaction in a foreign currency takes the latest rate effective on or before its date; with
  none, NetSuite refuses it.

An account without OneWorld or multi-currency lands empty tables: then nothing is checked and no
currency is sent, which is what such an account expects.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from o2c_pipeline.sync.config import SyncSettings
from o2c_pipeline.sync.countries import iso_country
from o2c_pipeline.sync.mapping import DataError, is_true

Row = Mapping[str, Any]
#: The warehouse tables of NetSuite's setup, in the order :meth:`NetSuiteSetup.of` takes them.
SETUP_TABLES = ("netsuite.currencies", "netsuite.subsidiaries", "netsuite.currency_rates")


def _id(value: Any) -> str | None:
    return None if value is None else str(int(value)) if isinstance(value, float) else str(value)


def _date(value: Any) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


@dataclass
class NetSuiteSetup:
    """Currencies, subsidiaries and the effective dates of each rate pair."""

    currencies: dict[str, Row] = field(default_factory=dict)  # internal id -> row
    subsidiaries: dict[str, Row] = field(default_factory=dict)
    rate_dates: dict[tuple[str, str], list[dt.date]] = field(default_factory=dict)

    @classmethod
    def of(
        cls, currencies: Iterable[Row], subsidiaries: Iterable[Row], rates: Iterable[Row]
    ) -> NetSuiteSetup:
        setup = cls(
            {_id(c["id"]): c for c in currencies},  # type: ignore[misc]
            {_id(s["id"]): s for s in subsidiaries},  # type: ignore[misc]
        )
        for r in rates:
            pair = (_id(r.get("basecurrency")), _id(r.get("transactioncurrency")))
            if (day := _date(r.get("effectivedate"))) is not None:
                setup.rate_dates.setdefault(pair, []).append(day)  # type: ignore[arg-type]
        return setup

    @classmethod
    def load(cls, lookup_all: Callable[[str], list[dict[str, Any]]]) -> NetSuiteSetup:
        """From a flow's :meth:`~o2c_pipeline.sync.flow.Flow.lookup_all` (it declares the three
        tables: :data:`SETUP_TABLES`)."""
        return cls.of(*(lookup_all(table) for table in SETUP_TABLES))

    def _code(self, currency_id: Any) -> str:
        row = self.currencies.get(_id(currency_id) or "")
        return str(row.get("symbol")) if row else f"currency {currency_id}"

    def _name(self, subsidiary: Row) -> str:
        return f"subsidiary {_id(subsidiary['id'])} ({subsidiary.get('name')})"

    # -- currencies ------------------------------------------------------------------------------
    def currency_id(self, iso_code: str | None, label: str) -> str | None:
        """The internal id of an active currency; None when the record names none or the
        account has no currencies (NetSuite's default applies)."""
        code = (iso_code or "").strip().upper()
        if not self.currencies or not code:
            return None
        for cid, row in self.currencies.items():
            if str(row.get("symbol") or "").upper() == code:
                if is_true(row.get("isinactive")):
                    raise DataError(
                        "INACTIVE_CURRENCY",
                        f"{label}: currency {code} is inactive in NetSuite; change the record's "
                        "currency or reactivate it (Lists > Accounting > Currencies)",
                    )
                return cid
        raise DataError("UNKNOWN_CURRENCY", f"{label}: currency {code} does not exist in NetSuite")

    # -- subsidiaries -----------------------------------------------------------------------------
    def subsidiary_for(self, account: Row, settings: SyncSettings, label: str) -> str:
        """The subsidiary of a new customer, by the settings' rule, checked to hold customers."""
        chosen: str | None = None
        if settings.subsidiary_rule == "field":
            chosen = self._by_field(account.get(settings.subsidiary_field), settings, label)
        elif settings.subsidiary_rule == "country":
            iso = iso_country(account.get("BillingCountry"))
            chosen = settings.subsidiary_by_country.get(iso or "") or self._in_country(iso)
        chosen = chosen or settings.subsidiary_id
        row = self.subsidiaries.get(chosen)
        if self.subsidiaries and (
            row is None or is_true(row.get("iselimination")) or is_true(row.get("isinactive"))
        ):
            what = "does not exist" if row is None else "cannot hold customers"
            raise DataError(
                "INVALID_SUBSIDIARY",
                f"{label}: subsidiary {chosen} {what} (elimination or inactive); fix the "
                "subsidiary rule in the sync settings",
            )
        return chosen

    def _operating(self) -> list[Row]:
        return [
            s
            for s in self.subsidiaries.values()
            if not is_true(s.get("iselimination")) and not is_true(s.get("isinactive"))
        ]

    def _in_country(self, iso: str | None) -> str | None:
        matches = [s for s in self._operating() if iso and str(s.get("country") or "") == iso]
        return _id(matches[0]["id"]) if len(matches) == 1 else None

    def _by_field(self, value: Any, settings: SyncSettings, label: str) -> str:
        text = str(value or "").strip()
        if not text:
            raise DataError(
                "MISSING_SUBSIDIARY",
                f"{label}: {settings.subsidiary_field} is empty; the subsidiary rule reads it",
            )
        for sid, row in self.subsidiaries.items():
            if text in (sid, str(row.get("name") or ""), str(row.get("fullname") or "")):
                return sid
        if not self.subsidiaries:
            return text
        raise DataError(
            "UNKNOWN_SUBSIDIARY", f"{label}: {settings.subsidiary_field} {text!r} is no subsidiary"
        )

    # -- trading ----------------------------------------------------------------------------------
    def check_trade(self, subsidiary_id: Any, currency_id: str | None, on: Any, label: str) -> None:
        """NetSuite's rule for a transaction (or a customer, ``on=None``) in ``currency_id`` under
        ``subsidiary_id``: the base currency, or one with rates, effective by ``on``."""
        sub = self.subsidiaries.get(_id(subsidiary_id) or "")
        if currency_id is None or sub is None:
            return
        base = _id(sub.get("currency"))
        if base == currency_id:
            return
        dates = self.rate_dates.get((base or "", currency_id))
        code, base_code = self._code(currency_id), self._code(base)
        if not dates:
            raise DataError(
                "CURRENCY_NOT_ALLOWED",
                f"{label}: {self._name(sub)} cannot trade in {code}: NetSuite has no "
                f"{base_code}<-{code} exchange rates (set them up, or book the customer in "
                "another subsidiary)",
            )
        day = _date(on)
        if day is not None and min(dates) > day:
            raise DataError(
                "MISSING_EXCHANGE_RATE",
                f"{label}: no {base_code}<-{code} exchange rate on or before {day.isoformat()} "
                f"for {self._name(sub)} (rates start {min(dates).isoformat()})",
            )
