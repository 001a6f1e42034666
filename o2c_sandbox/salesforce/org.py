"""The org itself: its id, its users, the API versions it serves and the identity service.

Everything a client learns about the org rather than its data lives here: ``GET /services/data/``
(the version list), ``GET /services/data/vNN.N/`` (Resources by Version), the identity URL the
token response advertises (``/id/<org>/<user>``) and ``/services/oauth2/userinfo``.
"""

from __future__ import annotations

from typing import Any

from o2c_sandbox.core import Store
from o2c_sandbox.salesforce.model import API_VERSION, format_datetime, utcnow
from o2c_sandbox.schema import SF_INTEGRATION_USER_ID

ORG_ID = "00D000000000001AAA"
USER_ID = SF_INTEGRATION_USER_ID
ORG_NAME = "O2C Sandbox"
#: the oldest version a Winter '25 org still serves (7.0-20.0 were retired in Summer '22)
OLDEST_VERSION = 21
_SEASONS = ("Winter", "Spring", "Summer")

#: the org's users besides the integration user (whose username is the connected credentials')
_OTHER_USERS = (
    ("005000000000002AAA", "avery.sales@o2c-sandbox.example", "Avery", "Sales", "asale"),
    ("005000000000003AAA", "autoproc@o2c-sandbox.example", None, "Automated Process", "autoproc"),
)


def release_label(version: int) -> str:
    """``62`` → ``"Winter '25"``: three releases a year, v20.0 being Winter '11."""
    step = version - 20
    return f"{_SEASONS[step % 3]} '{11 + step // 3:02d}"


def api_versions() -> list[dict[str, str]]:
    """``GET /services/data/``: every version the org serves, oldest first."""
    newest = int(float(API_VERSION))
    return [
        {"label": release_label(v), "url": f"/services/data/v{v}.0", "version": f"{v}.0"}
        for v in range(OLDEST_VERSION, newest + 1)
    ]


def serves_version(version: str) -> bool:
    try:
        major = float(version)
    except ValueError:
        return False
    return OLDEST_VERSION <= major <= float(API_VERSION) and major == int(major)


#: Resources by Version: the names a v62.0 org lists (the sandbox serves the data-plane ones)
_RESOURCES = (
    "tooling",
    "metadata",
    "eclair",
    "folders",
    "prechatForms",
    "contact-tracing",
    "jsonxform",
    "chatter",
    "tabs",
    "appMenu",
    "quickActions",
    "queryAll",
    "commerce",
    "wave",
    "iot",
    "analytics",
    "search",
    "smartdatadiscovery",
    "composite",
    "parameterizedSearch",
    "fingerprint",
    "theme",
    "nouns",
    "event",
    "serviceTemplates",
    "recent",
    "connect",
    "licensing",
    "limits",
    "process",
    "async-queries",
    "query",
    "match",
    "emailConnect",
    "compactLayouts",
    "knowledgeManagement",
    "sobjects",
    "actions",
    "support",
)


def resources(version: str, identity_url: str) -> dict[str, str]:
    """``GET /services/data/vNN.N/``."""
    out = {name: f"/services/data/v{version}/{name}" for name in _RESOURCES}
    out["identity"] = identity_url
    return out


def identity_url(login_url: str) -> str:
    return f"{login_url.rstrip('/')}/id/{ORG_ID}/{USER_ID}"


def _user(store: Store) -> dict[str, Any]:
    cur = store.cursor()
    try:
        row = cur.execute(
            'SELECT "Username", "FirstName", "LastName", "Name", "Email", "LastModifiedDate" '
            'FROM sf."User" WHERE "Id" = ?',
            [USER_ID],
        ).fetchone()
    finally:
        cur.close()
    keys = ("username", "first_name", "last_name", "name", "email", "modified")
    return dict(zip(keys, row, strict=True))


def _urls(instance_url: str, version: str | None) -> dict[str, str]:
    v = version or "{version}"
    base = instance_url.rstrip("/")
    return {
        "enterprise": f"{base}/services/Soap/c/{v}/{ORG_ID[:15]}",
        "metadata": f"{base}/services/Soap/m/{v}/{ORG_ID[:15]}",
        "partner": f"{base}/services/Soap/u/{v}/{ORG_ID[:15]}",
        "rest": f"{base}/services/data/v{v}/",
        "sobjects": f"{base}/services/data/v{v}/sobjects/",
        "search": f"{base}/services/data/v{v}/search/",
        "query": f"{base}/services/data/v{v}/query/",
        "recent": f"{base}/services/data/v{v}/recent/",
        "tooling_soap": f"{base}/services/Soap/T/{v}/{ORG_ID[:15]}",
        "tooling_rest": f"{base}/services/data/v{v}/tooling/",
        "profile": f"{base}/{USER_ID}",
        "feeds": f"{base}/services/data/v{v}/chatter/feeds",
        "groups": f"{base}/services/data/v{v}/chatter/groups",
        "users": f"{base}/services/data/v{v}/chatter/users",
        "feed_items": f"{base}/services/data/v{v}/chatter/feed-items",
        "feed_elements": f"{base}/services/data/v{v}/chatter/feed-elements",
        "custom_domain": base,
    }


def _photos(instance_url: str) -> dict[str, str]:
    base = instance_url.rstrip("/")
    return {
        "picture": f"{base}/img/userprofile/default_profile_200_v2.png",
        "thumbnail": f"{base}/img/userprofile/default_profile_45_v2.png",
    }


def identity(store: Store, login_url: str, instance_url: str, version: str | None) -> dict:
    """The identity service's answer for the session's user (``GET /id/<org>/<user>``).

    Without ``version`` the API URLs carry the literal ``{version}``, as documented."""
    u = _user(store)
    return {
        "id": identity_url(login_url),
        "asserted_user": True,
        "user_id": USER_ID,
        "organization_id": ORG_ID,
        "username": u["username"],
        "nick_name": u["username"].split("@")[0],
        "display_name": u["name"],
        "email": u["email"],
        "email_verified": True,
        "first_name": u["first_name"],
        "last_name": u["last_name"],
        "timezone": "GMT",
        "photos": _photos(instance_url),
        "addr_street": None,
        "addr_city": None,
        "addr_state": None,
        "addr_country": "US",
        "addr_zip": None,
        "mobile_phone": None,
        "mobile_phone_verified": False,
        "is_lightning_login_user": False,
        "status": {"created_date": None, "body": None},
        "urls": _urls(instance_url, version),
        "active": True,
        "user_type": "STANDARD",
        "language": "en_US",
        "locale": "en_US",
        "utcOffset": 0,
        "last_modified_date": format_datetime(u["modified"]),
        "is_app_installed": True,
    }


def userinfo(store: Store, login_url: str, instance_url: str) -> dict[str, Any]:
    """``/services/oauth2/userinfo``: the OpenID Connect claims plus Salesforce's extras."""
    u = _user(store)
    return {
        "sub": identity_url(login_url),
        "user_id": USER_ID,
        "organization_id": ORG_ID,
        "preferred_username": u["username"],
        "nickname": u["username"].split("@")[0],
        "name": u["name"],
        "email": u["email"],
        "email_verified": True,
        "given_name": u["first_name"],
        "family_name": u["last_name"],
        "zoneinfo": "GMT",
        "photos": _photos(instance_url),
        "profile": f"{instance_url.rstrip('/')}/{USER_ID}",
        "picture": _photos(instance_url)["picture"],
        "address": {"country": "US"},
        "is_salesforce_integration_user": False,
        "urls": _urls(instance_url, None),
        "active": True,
        "user_type": "STANDARD",
        "language": "en_US",
        "locale": "en_US",
        "utcOffset": 0,
        "updated_at": format_datetime(u["modified"]).replace("+0000", "Z"),
        "is_app_installed": True,
    }


def ensure_org_records(store: Store, integration_username: str) -> None:
    """Seed the Organization record and the org's users (a world of records needs owners);
    idempotent."""
    now = utcnow()
    with store.writer() as cur:
        cur.execute(
            'INSERT OR IGNORE INTO sf."Organization" ("Id", "IsDeleted", "CreatedDate", '
            '"LastModifiedDate", "SystemModstamp", "Name", "InstanceName", "IsSandbox", '
            '"OrganizationType", "DefaultLocaleSidKey", "LanguageLocaleKey", "TimeZoneSidKey") '
            "VALUES (?, false, ?, ?, ?, ?, 'USA42', false, 'Enterprise Edition', 'en_US', "
            "'en_US', 'GMT')",
            [ORG_ID, now, now, now, ORG_NAME],
        )
    rows = [
        (USER_ID, integration_username, "Integration", "User", "integ", "Standard"),
        *(
            (i, name, first, last, alias, "AutomatedProcess" if first is None else "Standard")
            for i, name, first, last, alias in _OTHER_USERS
        ),
    ]
    with store.writer() as cur:
        for user_id, username, first, last, alias, user_type in rows:
            full = f"{first} {last}" if first else last
            cur.execute(
                'INSERT OR IGNORE INTO sf."User" ("Id", "IsDeleted", "CreatedDate", '
                '"LastModifiedDate", "SystemModstamp", "Username", "FirstName", "LastName", '
                '"Name", "Alias", "Email", "IsActive", "UserType", "TimeZoneSidKey", '
                '"LocaleSidKey", "LanguageLocaleKey") VALUES (?, false, ?, ?, ?, ?, ?, ?, ?, ?, '
                "?, true, ?, 'GMT', 'en_US', 'en_US')",
                [user_id, now, now, now, username, first, last, full, alias, username, user_type],
            )
