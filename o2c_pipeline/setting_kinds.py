"""How each kind of setting is checked: every function returns what is wrong with a set value, or
None. :mod:`o2c_pipeline.settings` declares the settings and names their kind; this module imports
nothing of the pipeline."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


@dataclass(frozen=True)
class Setting:
    """One environment variable the pipeline reads."""

    name: str
    description: str
    default: str | None = None
    required: bool = False
    secret: bool = False
    kind: str = "text"  # a key of KINDS: how a set value is checked
    choices: tuple[str, ...] = ()


# -- validation kinds: each returns what is wrong with a set value, or None ------------------------


def _url_problem(raw: str, schemes: tuple[str, ...]) -> str | None:
    """What is wrong with ``raw`` as a URL of one of ``schemes`` (scheme, host and port checked)."""
    parsed = urlparse(raw)
    if parsed.scheme not in schemes or not parsed.netloc:
        return "must be an https:// URL" if schemes == ("https",) else "must be an http(s):// URL"
    try:
        port = parsed.port
    except ValueError as exc:  # e.g. "Port out of range 0-65535"
        return f"has a bad port ({exc})"
    if not parsed.hostname:
        return "has no host name"
    if port == 0:
        return "has port 0"
    return None


def _https_base_url(setting: Setting, raw: str) -> str | None:
    problem = _url_problem(raw, ("https",))
    parsed = urlparse(raw)
    if problem is None and (parsed.path.strip("/") or parsed.query or parsed.fragment):
        problem = f"is the host only (e.g. https://{parsed.hostname}), without a path"
    return f"{setting.name} {problem}, not {raw!r}" if problem else None


def _url(setting: Setting, raw: str) -> str | None:
    problem = _url_problem(raw, ("http", "https"))
    return f"{setting.name} {problem}, not {raw!r}" if problem else None


def _file(setting: Setting, raw: str) -> str | None:
    if not Path(raw).expanduser().is_file():
        return f"{setting.name} points to a missing file: {raw}"
    return None


def _private_key_file(setting: Setting, raw: str) -> str | None:
    """An unencrypted PEM private key of one of the types in ``setting.choices`` (RSA, EC)."""
    if problem := _file(setting, raw):
        return problem
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    data = Path(raw).expanduser().read_bytes()
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        return f"{setting.name} ({raw}) is an encrypted key; give the unencrypted PEM private key"
    except Exception:  # noqa: BLE001 - cryptography raises ValueError or UnsupportedAlgorithm
        for loader, what in (
            (serialization.load_pem_public_key, "a public key"),
            (x509.load_pem_x509_certificate, "a certificate"),
        ):
            try:
                loader(data)
            except Exception:  # noqa: BLE001, S112
                continue
            return (
                f"{setting.name} ({raw}) holds {what}, not a private key: give the PEM private "
                "key the certificate was made from"
            )
        return f"{setting.name} ({raw}) is not a PEM private key (BEGIN PRIVATE KEY ...)"
    kinds = {"RSA": rsa.RSAPrivateKey, "EC": ec.EllipticCurvePrivateKey}
    held = next((k for k, cls in kinds.items() if isinstance(key, cls)), type(key).__name__)
    if held not in setting.choices:
        wanted = " or ".join(setting.choices)
        return f"{setting.name} ({raw}) holds an {held} private key; it must be {wanted}"
    return None


def _version(setting: Setting, raw: str) -> str | None:
    if not re.fullmatch(r"\d+\.\d+", raw):
        return f"{setting.name} must look like 62.0, not {raw!r}"
    return None


def _int(setting: Setting, raw: str) -> str | None:
    if not raw.isdigit() or int(raw) < 1:
        return f"{setting.name} must be a positive whole number, not {raw!r}"
    return None


def _number(setting: Setting, raw: str) -> str | None:
    try:
        if float(raw) > 0:
            return None
    except ValueError:
        pass
    return f"{setting.name} must be a positive number, not {raw!r}"


def _choice(setting: Setting, raw: str) -> str | None:
    if raw not in setting.choices:
        return f"{setting.name} must be one of {', '.join(setting.choices)}, not {raw!r}"
    return None


def _sqlalchemy_url(setting: Setting, raw: str) -> str | None:
    """A SQLAlchemy URL whose dialect is known and whose driver is installed."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    example = "e.g. sqlite:///path/checkpoints.sqlite or postgresql+psycopg2://user@host/db"
    try:
        url = make_url(raw)
    except ArgumentError:
        return f"{setting.name} is not a SQLAlchemy URL ({example})"
    try:
        dialect = url.get_dialect()
    except NoSuchModuleError:
        return f"{setting.name} names an unknown database dialect/driver {url.drivername!r} ({example})"
    try:
        dialect.import_dbapi()
    except ImportError as exc:
        return f"{setting.name}: the driver of {url.drivername!r} is not installed ({exc.name})"
    return None


def _timezone(setting: Setting, raw: str) -> str | None:
    try:
        ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError):
        return f"{setting.name} must be an IANA time zone such as America/Los_Angeles, not {raw!r}"
    return None


def _warehouse(setting: Setting, raw: str) -> str | None:
    """A DuckDB file path, or a PostgreSQL URL (never echoed: it may hold a password)."""
    if "://" not in raw:
        return f"{setting.name} is a directory, not a file" if Path(raw).is_dir() else None
    if not raw.startswith(("postgresql://", "postgresql+psycopg2://")):
        return f"{setting.name} must be a file path or a postgresql+psycopg2://user@host/db URL"
    return _sqlalchemy_url(setting, raw)


KINDS: dict[str, Callable[[Setting, str], str | None]] = {
    "text": lambda setting, raw: None,
    "https_base_url": _https_base_url,
    "url": _url,
    "file": _file,
    "private_key_file": _private_key_file,
    "version": _version,
    "int": _int,
    "number": _number,
    "choice": _choice,
    "sqlalchemy_url": _sqlalchemy_url,
    "warehouse": _warehouse,
    "timezone": _timezone,
}
