"""SuiteQL over HTTPS with requests + OAuth1: paging arithmetic, the 100k ceiling, parameter rules,
Oracle-flavoured SQL and NetSuite's value rendering."""

from __future__ import annotations

import uuid

import pytest

from o2c_sandbox.schema import NS_TABLES
from o2c_sandbox_tests.clients.netsuite_pypi import netsuite_rest_api, run
from o2c_sandbox_tests.netsuite_client import NetSuiteClient, error_code

GRID = 12  # marker customers: GRID**3 = 1728 rows (> 1 page), GRID**5 = 248,832 (> 100k ceiling)


@pytest.fixture
def ns(sandbox) -> NetSuiteClient:
    sandbox.knobs.ns_rate_limit = 100_000  # restored by conftest's autouse fixture
    return NetSuiteClient(sandbox)


@pytest.fixture(scope="module")
def marker(sandbox) -> str:
    """GRID customers whose names carry a unique marker, so queries do not depend on the world."""
    before = sandbox.knobs.ns_rate_limit
    sandbox.knobs.ns_rate_limit = 100_000
    try:
        client = NetSuiteClient(sandbox)
        tag = f"SQL{uuid.uuid4().hex[:8]}"
        for n in range(GRID):
            client.create(
                "customer",
                {
                    "companyName": f"{tag} Customer {n:02d}",
                    "subsidiary": {"id": "1"},
                    "externalId": f"{tag}-{n}",
                    "email": f"c{n}@example.com",
                },
            )
        return tag
    finally:
        sandbox.knobs.ns_rate_limit = before


def cube(tag: str, power: int) -> str:
    aliases = [f"c{i}" for i in range(power)]
    return (
        f"SELECT {', '.join(f'{a}.id AS id{i}' for i, a in enumerate(aliases))} FROM "
        + ", ".join(f"customer {a}" for a in aliases)
        + " WHERE "
        + " AND ".join(f"{a}.companyname LIKE '{tag}%'" for a in aliases)
        + " ORDER BY "
        + ", ".join(f"{a}.id" for a in aliases)
    )


def test_paging_to_the_last_row_returns_exactly_total_results(ns, marker):
    rows, pages = ns.suiteql_all(cube(marker, 3))
    assert pages[0]["totalResults"] == GRID**3 == len(rows)
    assert (
        len({(r["id0"], r["id1"], r["id2"]) for r in rows}) == GRID**3
    )  # no row twice, none skipped
    assert [p["count"] for p in pages] == [1000, GRID**3 - 1000]
    assert [p["hasMore"] for p in pages] == [True, False]
    assert [p["offset"] for p in pages] == [0, 1000]


def test_small_pages_follow_links_exactly(ns, marker):
    rows, pages = ns.suiteql_all(
        f"SELECT id FROM customer WHERE companyname LIKE '{marker}%' ORDER BY id", limit=5
    )
    assert len(rows) == GRID and [p["count"] for p in pages] == [5, 5, 2]
    middle = {link["rel"]: link["href"] for link in pages[1]["links"]}
    assert set(middle) == {"previous", "first", "next", "last", "self"}
    assert middle["previous"].endswith("/services/rest/query/v1/suiteql?limit=5&offset=0")
    assert middle["next"].endswith("limit=5&offset=10") and middle["last"].endswith(
        "limit=5&offset=10"
    )
    assert middle["self"].startswith(ns.sandbox.ns_url)  # absolute, on the host the client used
    last = {link["rel"] for link in pages[-1]["links"]}
    assert "next" not in last and pages[-1]["hasMore"] is False


def test_offset_past_the_end_is_an_empty_page(ns, marker):
    body = ns.suiteql(
        f"SELECT id FROM customer WHERE companyname LIKE '{marker}%'", limit=10, offset=20
    ).json()
    assert body["items"] == [] and body["count"] == 0 and body["hasMore"] is False
    assert body["totalResults"] == GRID


def test_hundred_thousand_row_ceiling(ns, marker):
    q = cube(marker, 5)
    last_reachable = ns.suiteql(q, limit=1000, offset=99_000)
    assert last_reachable.status_code == 200, last_reachable.text
    body = last_reachable.json()
    assert body["totalResults"] == GRID**5 and body["count"] == 1000 and body["hasMore"] is True
    rels = {link["rel"] for link in body["links"]}
    assert "next" not in rels  # the next page would cross the ceiling
    beyond = ns.suiteql(q, limit=1000, offset=100_000)
    assert beyond.status_code == 400 and error_code(beyond) == "INVALID_PARAMETER"
    assert "100,000" in beyond.json()["o:errorDetails"][0]["detail"]


@pytest.mark.parametrize(
    ("limit", "offset", "prefer", "status", "code"),
    [
        (1001, 0, "transient", 400, "INVALID_PARAMETER"),
        (0, 0, "transient", 400, "INVALID_PARAMETER"),
        (10, 5, "transient", 400, "INVALID_PARAMETER"),  # offset must be a multiple of limit
        (10, -10, "transient", 400, "INVALID_PARAMETER"),
        (10, 0, None, 400, "INVALID_HEADER"),  # Prefer: transient is required
    ],
)
def test_parameter_rules(ns, limit, offset, prefer, status, code):
    response = ns.suiteql("SELECT id FROM customer", limit=limit, offset=offset, prefer=prefer)
    assert response.status_code == status and error_code(response) == code
    assert response.json()["status"] == status and response.json()["title"] == "Bad Request"


def test_default_limit_is_1000(ns, marker):
    body = ns.suiteql(cube(marker, 3)).json()
    assert body["count"] == 1000 and body["offset"] == 0
    assert any(
        link["href"].endswith("limit=1000&offset=1000")
        for link in body["links"]
        if link["rel"] == "next"
    )


@pytest.mark.parametrize(
    ("q", "fragment"),
    [
        ("SELEC id FROM customer", "Syntax error"),
        ("SELECT id FROM nosuchtable", "Record 'nosuchtable' was not found"),
        ("SELECT nosuchcolumn FROM customer", "nosuchcolumn"),
        ("DELETE FROM customer", "Only SELECT"),
        ("SELECT * FROM sf.Account", "was not found"),
    ],
)
def test_query_errors_name_the_problem(ns, q, fragment):
    response = ns.suiteql(q)
    assert response.status_code == 400 and error_code(response) == "INVALID_PARAMETER"
    assert fragment in response.json()["o:errorDetails"][0]["detail"]


def test_values_render_as_netsuite_does(ns, marker):
    ext = f"{marker}-0"
    q = f"""SELECT ID, CompanyName, email, phone, datecreated, 1 + 1, UPPER(companyname) AS Shout,
                   TO_CHAR(datecreated, 'YYYY-MM-DD"T"HH24:MI:SS') AS created_iso,
                   TO_CHAR(datecreated, 'MM/DD/YYYY') AS created_us, NVL(phone, 'none') AS phone_or_none,
                   CASE WHEN isinactive = 'F' THEN 'active' ELSE 'inactive' END AS state
            FROM Customer WHERE externalid = '{ext}'"""
    items = ns.suiteql(q).json()["items"]
    assert len(items) == 1
    row = items[0]
    assert row["links"] == []
    assert "phone" not in row  # null columns are omitted
    assert isinstance(row["id"], str) and row["id"].isdigit()
    assert (
        row["companyname"] == f"{marker} Customer 00" and row["shout"] == row["companyname"].upper()
    )
    assert row["expr1"] == "2"  # unaliased expression, value as a string
    month, day, year = row["datecreated"].split("/")  # account date format, date only
    assert row["created_iso"].startswith(f"{year}-{int(month):02d}-{int(day):02d}T")
    assert row["created_us"] == f"{int(month):02d}/{int(day):02d}/{year}"
    assert row["phone_or_none"] == "none" and row["state"] == "active"


def test_date_functions_and_aggregates(ns, marker):
    q = f"""SELECT COUNT(*) AS n, MIN(id) lo, MAX(id) hi FROM customer
            WHERE companyname LIKE '{marker}%'
              AND datecreated >= TO_DATE('2000-01-01', 'YYYY-MM-DD')
              AND datecreated <= SYSDATE + 1
              AND datecreated > '1/1/2000'  -- account date format, as NetSuite reads literals
              AND id IN (SELECT id FROM customer WHERE externalid LIKE '{marker}-%')"""
    row = ns.suiteql(q).json()["items"][0]
    assert row["n"] == str(GRID) and int(row["hi"]) - int(row["lo"]) >= GRID - 1
    grouped = ns.suiteql(f"""SELECT SUBSTR(email, 1, 2) AS prefix, COUNT(*) AS n FROM customer
                             WHERE companyname LIKE '{marker}%' GROUP BY SUBSTR(email, 1, 2)
                             ORDER BY prefix""").json()["items"]
    assert sum(int(g["n"]) for g in grouped) == GRID


def test_rownum_and_fetch_first(ns, marker):
    where = f"WHERE companyname LIKE '{marker}%'"
    assert (
        ns.suiteql(f"SELECT id FROM customer {where} AND ROWNUM <= 3").json()["totalResults"] == 3
    )
    body = ns.suiteql(f"SELECT id FROM customer {where} ORDER BY id FETCH FIRST 4 ROWS ONLY").json()
    assert body["count"] == 4 and body["totalResults"] == 4


def test_builtin_df_shows_display_text(ns, marker):
    customer = ns.get(f"customer/eid:{marker}-1").json()["id"]
    item = ns.create(
        "inventoryItem", {"itemId": f"{marker}-SKU", "displayName": "DF widget", "basePrice": 2}
    )
    order = ns.create(
        "salesOrder",
        {"entity": {"id": customer}, "item": {"items": [{"item": {"id": item}, "quantity": 1}]}},
    )
    row = ns.suiteql(f"""SELECT BUILTIN.DF(t.status) AS status, BUILTIN.DF(t.entity) AS customer,
                                BUILTIN.DF(tl.item) AS item, t.status AS code
                         FROM transaction t JOIN transactionline tl ON tl.transaction = t.id
                         WHERE t.id = {order} AND tl.mainline = 'F'""").json()["items"][0]
    assert row["status"] == "Sales Order : Pending Fulfillment" and row["code"] == "B"
    assert f"{marker} Customer 01" in row["customer"]
    assert row["item"] == f"{marker}-SKU"


def test_a_write_by_any_writer_refreshes_cached_pages(ns, sandbox, marker):
    """Page caches key on the store's commit count, so even a write that bypasses the API (the
    simulator, a test seeding rows) shows on the very next page of an already-paged query."""
    q = cube(marker, 2) + ", c0.companyname"
    for _ in range(2):  # the second request for a later page caches the sorted row ids
        first = ns.suiteql(q, limit=100, offset=100).json()
        assert first["totalResults"] == GRID**2
    with sandbox.ctx.store.writer() as cur:
        (new_id,) = cur.execute("SELECT max(id) + 1 FROM ns.customer").fetchone()
        cur.execute(
            "INSERT INTO ns.customer (id, companyname, isinactive, subsidiary) VALUES (?, ?, 'F', 1)",
            [new_id, f"{marker} Customer 99"],
        )
    again = ns.suiteql(q, limit=100, offset=100).json()
    assert again["totalResults"] == (GRID + 1) ** 2
    ids = sorted(
        int(r["id"])
        for r in ns.suiteql(f"SELECT id FROM customer WHERE companyname LIKE '{marker}%'").json()[
            "items"
        ]
    )
    expected = [(a, b) for a in ids for b in ids][100:200]
    assert [(int(r["id0"]), int(r["id1"])) for r in again["items"]] == expected
    with sandbox.ctx.store.writer() as cur:  # leave the marker grid as the module made it
        cur.execute("DELETE FROM ns.customer WHERE id = ?", [new_id])


@pytest.mark.parametrize(
    "q",
    [
        "SELECT * FROM customer ORDER BY id",
        "SELECT c.* FROM customer c ORDER BY c.id",
        "SELECT * FROM customer WHERE id > 0 ORDER BY companyname DESC, id",
    ],
)
def test_select_star_returns_the_table_columns_only(sandbox, monkeypatch, q):
    """Through the ``netsuite`` PyPI package: first page, and later pages (served from cached
    row ids), carry exactly customer's columns."""
    sandbox.knobs.ns_rate_limit = 100_000
    api = netsuite_rest_api(sandbox, monkeypatch)
    columns = set(NS_TABLES["customer"].column_names) | {"links"}
    pages = [run(api.suiteql(q, limit=5, offset=offset)) for offset in (0, 5, 10)]
    items = [item for page in pages for item in page["items"]]
    assert len(items) == 15
    assert all(set(item) <= columns and "id" in item for item in items), items[0]
    ids = [int(item["id"]) for item in items]
    assert len(set(ids)) == 15
    if q.endswith("ORDER BY id") or q.endswith("c.id"):
        assert ids == sorted(ids)
