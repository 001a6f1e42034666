"""Salesforce value rules shared by every surface: ids, input coercion and output formatting.

REST JSON, composite collections and Bulk API 2.0 CSV all write through the same coercion and
read through the same SQL formatting, so a field type is handled in exactly one place.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from o2c_sandbox.core import ApiError
from o2c_sandbox.schema import SF_API_OBJECTS, SfField, SfObject

API_VERSION = "62.0"

_ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_ID_RE = re.compile(r"^[a-zA-Z0-9]{15}(?:[A-Z0-5]{3})?$")
_KEY_PREFIXES = {o.key_prefix: o for o in SF_API_OBJECTS.values()}

TEXT_TYPES = frozenset({"string", "textarea", "picklist", "phone", "url", "email"})
NUMBER_TYPES = frozenset({"double", "currency", "percent", "int"})
ID_TYPES = frozenset({"id", "reference"})


class SfError(ApiError):
    """A Salesforce error: per record (``statusCode`` in results) or, raised from a handler, the
    whole request's answer (``errorCode`` in the list-shaped body)."""

    def __init__(self, code: str, message: str, fields: list[str] | None = None, status: int = 400):
        super().__init__(status, code, message, fields)


# -- ids ---------------------------------------------------------------------------------------
def id_suffix(id15: str) -> str:
    """The 3-character case-safety suffix Salesforce appends to a 15-character id."""
    out = []
    for chunk in range(3):
        bits = 0
        for i, ch in enumerate(id15[chunk * 5 : chunk * 5 + 5]):
            if "A" <= ch <= "Z":
                bits |= 1 << i
        out.append(_ID_CHARS[bits])
    return "".join(out)


def make_id(obj: SfObject, number: int) -> str:
    """``<key prefix><12 zero-padded digits>`` plus its suffix (always ``AAA``: no capitals)."""
    id15 = f"{obj.key_prefix}{number:012d}"
    return id15 + id_suffix(id15)


def normalize_id(value: str) -> str | None:
    """An 18-character id for a 15- or 18-character input, or None when it is not an id."""
    if not isinstance(value, str) or not _ID_RE.match(value):
        return None
    if len(value) == 15:
        return value + id_suffix(value)
    return value[:15] + id_suffix(value[:15])


def object_for_id(record_id: str) -> SfObject | None:
    return _KEY_PREFIXES.get(record_id[:3])


def record_url(version: str, obj_name: str, record_id: str | None) -> str:
    return f"/services/data/v{version}/sobjects/{obj_name}/{record_id}"


def find_object(name: str) -> SfObject | None:
    """Object names are case-insensitive in every Salesforce API."""
    for obj in SF_API_OBJECTS.values():
        if obj.name.lower() == name.lower():
            return obj
    return None


#: standard objects whose bulk queries PK chunking can split (custom objects always can)
_PK_CHUNKING_STANDARD = frozenset(
    {
        "Account",
        "Campaign",
        "CampaignMember",
        "Case",
        "Contact",
        "Lead",
        "LoginHistory",
        "Opportunity",
        "Task",
        "User",
    }
)


def pk_chunking_supported(obj_name: str) -> bool:
    return obj_name.endswith("__c") or obj_name in _PK_CHUNKING_STANDARD


def find_field(obj: SfObject, name: str) -> SfField | None:
    try:
        return obj.field(name)
    except KeyError:
        return None


# -- time --------------------------------------------------------------------------------------
def utcnow() -> dt.datetime:
    """Now as naive UTC at millisecond precision, the way datetimes are stored."""
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def parse_datetime(text: str) -> dt.datetime:
    """ISO-8601 with ``Z``, ``+hh:mm`` or ``+hhmm`` (or no offset, read as UTC) to naive UTC."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    elif re.search(r"[+-]\d{4}$", value):
        value = value[:-2] + ":" + value[-2:]
    parsed = dt.datetime.fromisoformat(value)
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.UTC).replace(tzinfo=None)
    return parsed


def format_datetime(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"


# -- input coercion ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Unset:
    """Marker for a CSV cell left empty: Bulk API leaves such a field unchanged."""


UNSET = Unset()


def coerce(field: SfField, value: Any, *, from_csv: bool = False) -> Any:
    """A client-supplied value as the Python value stored for ``field``; raises SfError."""
    if from_csv:
        if value == "":
            return UNSET
        if value == "#N/A":
            return None
    if value is None:
        return None
    kind = field.type
    try:
        if kind in TEXT_TYPES:
            text = value if isinstance(value, str) else _scalar_text(field, value)
            if text == "":
                return None
            if field.length and len(text) > field.length:
                raise SfError(
                    "STRING_TOO_LONG",
                    f"{field.name}: data value too large: {text[:60]} (max length={field.length})",
                    [field.name],
                )
            if field.picklist and text not in field.picklist:
                raise SfError(
                    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                    f"{field.name}: bad value for restricted picklist field: {text}",
                    [field.name],
                )
            return text
        if kind in ID_TYPES:
            normalized = normalize_id(value) if isinstance(value, str) else None
            if value == "":
                return None
            if normalized is None:
                raise SfError(
                    "MALFORMED_ID",
                    f"{field.name}: id value of incorrect type: {value}",
                    [field.name],
                )
            return normalized
        if kind == "boolean":
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
                return value.lower() in ("true", "1")
            raise ValueError(value)
        if kind in NUMBER_TYPES:
            if isinstance(value, bool):
                raise ValueError(value)
            number = float(value) if kind != "int" else int(value)
            if number != number or number in (float("inf"), float("-inf")):
                raise ValueError(value)
            return number
        if kind == "date":
            if isinstance(value, str):
                return dt.date.fromisoformat(value[:10])
            raise ValueError(value)
        if kind == "datetime":
            if isinstance(value, str):
                return parse_datetime(value)
            raise ValueError(value)
    except (ValueError, TypeError) as exc:
        raise SfError(
            "INVALID_TYPE_ON_FIELD_IN_RECORD",
            f"{field.name}: value not of required type: {value}",
            [field.name],
        ) from exc
    raise SfError("INVALID_FIELD", f"{field.name}: unsupported field type {kind}", [field.name])


def _scalar_text(field: SfField, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(value)
    return str(value)


# -- output formatting (SQL, so pages are formatted by DuckDB, not Python loops) ----------------
def json_sql(field: SfField, column: str) -> str:
    """SQL rendering ``column`` the way REST JSON shows ``field``."""
    if field.type == "datetime":
        return f"strftime({column}, '%Y-%m-%dT%H:%M:%S.%g+0000')"
    if field.type == "date":
        return f"strftime({column}, '%Y-%m-%d')"
    return column


def csv_sql(field: SfField, column: str) -> str:
    """SQL rendering ``column`` as Bulk API 2.0 CSV text (nulls stay NULL → empty cells)."""
    if field.type == "datetime":
        return f"strftime({column}, '%Y-%m-%dT%H:%M:%S.%gZ')"
    if field.type == "date":
        return f"strftime({column}, '%Y-%m-%d')"
    if field.type == "boolean":
        return f"CASE WHEN {column} THEN 'true' WHEN NOT {column} THEN 'false' END"
    return f"CAST({column} AS VARCHAR)"


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def table_sql(obj: SfObject) -> str:
    return f"sf.{quote_ident(obj.name)}"
