"""The sandbox's synthetic order-to-cash world: Salesforce and NetSuite as if a sync had been
running for a while, dirty data included.

Everything is generated set-based inside DuckDB (``range()``, ``hash()`` of the seed, ``INSERT
... SELECT``), so the ``large`` world (over a million NetSuite transaction lines and a million
Salesforce order items) builds in seconds rather than minutes, and the same seed, scale and anchor
always give the same rows. Pseudo-random draws are ``hash(seed, salt, key)``: a fixed function of
the seed, a name for the draw and the row it is for, so adding a draw never shifts another.

Time: every modification stamp lies in the 120 days before the *anchor* (build time truncated to
the hour, UTC), with ``CreatedDate <= LastModifiedDate <= SystemModstamp``. Some stamps are
deliberately snapped to shared instants (midnight UTC, a few "mass update" instants) so delta
loads meet the ties and boundaries real orgs have.

Stages: each order is drafted, activated, synced to a NetSuite sales order, fulfilled, invoiced,
partly or fully paid; Salesforce reflects only some of what NetSuite already knows (shipments,
invoices, payment status), so a sync run always has work to do.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass

import duckdb

from o2c_sandbox.core import Store
from o2c_sandbox.schema import NS_TABLES, SF_OBJECTS

log = logging.getLogger(__name__)

#: Days of history before the anchor over which modification stamps are spread.
HISTORY_DAYS = 120


@dataclass(frozen=True)
class Scale:
    """Row-count drivers of a world; everything else follows from these."""

    accounts: int
    items: int
    orders: int  # ~3 lines each (1..5)


SCALES: dict[str, Scale] = {
    # tests: > 2,000 OrderItem rows, so Salesforce query paging is exercised
    "small": Scale(accounts=300, items=100, orders=1_500),
    "medium": Scale(accounts=3_000, items=1_000, orders=15_000),
    # benchmarks: >= 1,000,000 OrderItem rows and NetSuite transaction lines
    "large": Scale(accounts=30_000, items=5_000, orders=360_000),
}


def _vocab(words: str) -> list[str]:
    return words.split("|")


# Vocabulary for names and addresses: small lists are fine as SQL arrays.
COMPANY_WORDS = _vocab(
    "Acme|Globex|Initech|Umbrella|Stark|Wayne|Wonka|Tyrell|Cyberdyne|Soylent|Hooli"
    "|Vandelay|Northwind|Contoso|Fabrikam|Litware|Tailspin|Blue Sky|Pied Piper|Gringotts"
    "|Oceanic|Monarch|Sirius|Aperture"
)
COMPANY_NOUNS = _vocab(
    "Industries|Logistics|Systems|Foods|Labs|Manufacturing|Traders|Dynamics|Holdings"
    "|Partners|Supply|Networks|Robotics|Textiles"
)
COMPANY_SUFFIXES = _vocab("Inc.|LLC|GmbH|Ltd|S.A.|Corp.|AG|B.V.|Pty Ltd|Co.")
#: Names that break naive CSV/JSON/SOQL escaping: quotes, backslashes, unicode, emoji.
AWKWARD_NAMES = [
    'O\'Brien & Söhne "Präzision" GmbH',
    "Back\\slash \\ Trading Co.",
    "Café Ünïcødé 🚀 Rockets",
    "株式会社 東京テック",
    'Smith "The Hammer" & Sons',
    "Żółć Polska Sp. z o.o. 🎉",
    'Crème Brûlée, Ltd. ("CB")',
    "Tab\tSeparated LLC",
    "Ørsted & Æble A/S",
    "Ümlaut 'Quotes' \\n Inc.",
]
LONG_NAME_TAIL = (
    " International Holdings and Distribution Services for the Greater Metropolitan Region"
)
INDUSTRIES = _vocab(
    "Manufacturing|Retail|Technology|Healthcare|Finance|Energy|Education|Hospitality"
    "|Transportation|Agriculture"
)
STREETS = _vocab(
    "Main St|Oak Avenue|Hauptstraße|High Street|Rue de Rivoli|Queen St W|Market Street"
    "|Elm Road|Kurfürstendamm|Baker Street|Collins Street|Keizersgracht"
)
FIRST_NAMES = _vocab(
    "Ada|Grace|Alan|Linus|José|Zoë|Søren|Chloé|Mei|Raj|Fatima|Lars|Ana|Björn|Noah|Emma"
)
LAST_NAMES = _vocab(
    "Lovelace|Hopper|Turing|Torvalds|García|Müller|O'Neil|Nakamura|Kowalski|Smith|Dubois"
    "|Johansson|Nguyen|Patel|D'Angelo|Øvergaard"
)
PRODUCT_ADJECTIVES = _vocab(
    "Industrial|Compact|Heavy-Duty|Wireless|Smart|Eco|Premium|Portable|Modular|Titanium"
)
PRODUCT_NOUNS = _vocab(
    "Widget|Gadget|Sprocket|Valve|Sensor|Bracket|Pump|Cable|Router|Drill|Filter|Bearing"
)
FAMILIES = _vocab("Hardware|Electronics|Tools|Spare Parts|Consumables")
#: (ISO code, how careless users type the country, NetSuite enum, cities). US is weighted up.
COUNTRIES = [
    ("US", "United States", "_unitedStates", ["New York", "Austin", "Chicago", "Seattle"]),
    ("US", "USA", "_unitedStates", ["Boston", "Denver", "Atlanta", "San Francisco"]),
    ("US", "United States", "_unitedStates", ["Portland", "Miami", "Phoenix", "Detroit"]),
    ("DE", "Deutschland", "_germany", ["Berlin", "München", "Köln", "Hamburg"]),
    ("GB", "U.K.", "_unitedKingdom", ["London", "Manchester", "Leeds", "Bristol"]),
    ("GB", "United Kingdom", "_unitedKingdom", ["Edinburgh", "Glasgow", "Cardiff", "York"]),
    ("FR", "France", "_france", ["Paris", "Lyon", "Marseille", "Toulouse"]),
    ("CA", "Canada", "_canada", ["Toronto", "Montréal", "Vancouver", "Calgary"]),
    ("JP", "Japan", "_japan", ["Tokyo", "Osaka", "Kyoto", "Nagoya"]),
    ("AU", "Australia", "_australia", ["Sydney", "Melbourne", "Perth", "Brisbane"]),
    ("NL", "Netherlands", "_netherlands", ["Amsterdam", "Rotterdam", "Utrecht", "Den Haag"]),
]
CURRENCY_BY_ISO = {
    "US": "USD",
    "DE": "EUR",
    "FR": "EUR",
    "NL": "EUR",
    "GB": "GBP",
    "CA": "CAD",
    "JP": "JPY",
    "AU": "AUD",
}


def sql_literal(value: object) -> str:
    """A DuckDB literal for a str, number or list of those (world vocabulary, never user input)."""
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(sql_literal(v) for v in value) + "]"
    return repr(value)


def anchor_for(now: dt.datetime | None = None) -> dt.datetime:
    """The world's "now": the build time truncated to the hour, naive UTC like every stamp."""
    now = now or dt.datetime.now(dt.UTC)
    if now.tzinfo is not None:
        now = now.astimezone(dt.UTC).replace(tzinfo=None)
    return now.replace(minute=0, second=0, microsecond=0)


def build_world(
    store: Store, scale: str = "small", seed: int = 42, anchor: dt.datetime | None = None
) -> dict[str, int]:
    """Fill ``sf`` and ``ns`` from scratch for ``scale`` and ``seed``; returns row counts.

    ``anchor`` (default: now, truncated to the hour) fixes the world's clock, so tests can build
    two byte-identical worlds.
    """
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; choose one of {', '.join(SCALES)}")
    anchor = anchor_for(anchor)
    started = time.perf_counter()
    with store.writer() as cur:
        _clear(cur)
        for stmt in _macros(seed, anchor):
            cur.execute(stmt)
        for name, stmt in _steps(SCALES[scale]):
            t0 = time.perf_counter()
            cur.execute(stmt)
            log.debug("world step %s: %.2fs", name, time.perf_counter() - t0)
        for temp in _TEMP_TABLES:
            cur.execute(f"DROP TABLE IF EXISTS {temp}")
        store.set_meta("built_at", dt.datetime.now(dt.UTC).isoformat(), cur)
        store.set_meta("scale", scale, cur)
        store.set_meta("seed", str(seed), cur)
        store.set_meta("anchor", anchor.isoformat(), cur)
        store.set_meta("sim_step", "0", cur)
        counts = _counts(cur)
    log.info(
        "built the %s world (seed %s) in %.1fs: %s",
        scale,
        seed,
        time.perf_counter() - started,
        counts,
    )
    return counts


def _clear(cur: duckdb.DuckDBPyConnection) -> None:
    for name in SF_OBJECTS:
        cur.execute(f'DELETE FROM sf."{name}"')
    for name in NS_TABLES:
        cur.execute(f'DELETE FROM ns."{name}"')


def _counts(cur: duckdb.DuckDBPyConnection) -> dict[str, int]:
    counts = {
        f"sf.{name}": cur.execute(f'SELECT count(*) FROM sf."{name}"').fetchone()[0]
        for name in SF_OBJECTS
    }
    counts |= {
        f"ns.{name}": cur.execute(f'SELECT count(*) FROM ns."{name}"').fetchone()[0]
        for name in NS_TABLES
    }
    return counts


def _macros(seed: int, anchor: dt.datetime) -> list[str]:
    """Draws, id formats and the time model, as temporary macros of this connection."""
    a = int(anchor.replace(tzinfo=dt.UTC).timestamp())
    w0 = a - HISTORY_DAYS * 86400
    mass_update = a - 7 * 86400 - 17 * 60  # one instant many records share exactly
    batch, batch_offset = 10 * 86400, 13 * 3600 + 37 * 60 + 42  # a nightly job every 10 days
    return [
        f"CREATE OR REPLACE TEMP MACRO w_anchor() AS {a}",
        f"CREATE OR REPLACE TEMP MACRO w_start() AS {w0}",
        # uniform draw in [0, 1) and integer draw in [0, n) for draw `salt` of row `k`
        f"CREATE OR REPLACE TEMP MACRO u(salt, k) AS (hash({seed}, salt, k) % 1000000007) / 1000000007.0",
        f"CREATE OR REPLACE TEMP MACRO pick(salt, k, n) AS (hash({seed}, salt, k) % n)::BIGINT",
        "CREATE OR REPLACE TEMP MACRO sfid(prefix, n) AS prefix || lpad(n::VARCHAR, 12, '0') || 'AAA'",
        "CREATE OR REPLACE TEMP MACRO ts(s) AS make_timestamp((s)::BIGINT * 1000000)",
        # snap a stamp *up* (never down: created <= modified stays true) to a shared instant
        f"""CREATE OR REPLACE TEMP MACRO snap(s, salt, k) AS CASE
              WHEN u(salt || ':snap', k) < 0.05 AND ceil(s / 86400) * 86400 <= {a}
                THEN (ceil(s / 86400) * 86400)::BIGINT
              WHEN u(salt || ':snap', k) < 0.10
                   AND ceil((s - {batch_offset}) / {batch}) * {batch} + {batch_offset} <= {a}
                THEN (ceil((s - {batch_offset}) / {batch}) * {batch} + {batch_offset})::BIGINT
              WHEN u(salt || ':snap', k) < 0.13 AND s <= {mass_update} THEN {mass_update}
              ELSE s::BIGINT END""",
        # Salesforce system stamps for a record last touched at `s` (epoch seconds), created no
        # earlier than `lo`: ~10% were touched by the system only after the last user edit
        """CREATE OR REPLACE TEMP MACRO sf_stamps(s, lo, salt, k) AS struct_pack(
              created := ts(CASE WHEN u(salt || ':new', k) < 0.2 THEN s
                                 ELSE least(lo, s) + floor(u(salt || ':c', k) * (s - least(lo, s))) END),
              last := ts(greatest(s, snap(s, salt, k)
                         - CASE WHEN u(salt || ':sys', k) < 0.1 THEN pick(salt || ':d', k, 7200) ELSE 0 END)),
              sys := ts(snap(s, salt, k)))""",
        # a uniform instant in the history window, leaving `margin` seconds before the anchor
        f"CREATE OR REPLACE TEMP MACRO in_window(salt, k, margin) AS {w0} + floor(u(salt, k) * ({a} - {w0} - margin))::BIGINT",
    ]


_TEMP_TABLES = [
    "w_country",
    "w_acct",
    "w_cust",
    "w_item",
    "w_product",
    "w_line",
    "w_order",
    "w_txn",
]


def _steps(scale: Scale) -> list[tuple[str, str]]:
    """The generation statements, in dependency order."""
    n_accounts, n_items, n_orders = scale.accounts, scale.items, scale.orders
    erp_only = max(5, n_accounts // 10)
    unknown_skus = max(3, n_items // 30)
    countries = " UNION ALL ".join(
        f"SELECT {i} AS ci, {sql_literal(iso)} AS iso, {sql_literal(name)} AS typed, "
        f"{sql_literal(enum)} AS ns_enum, {sql_literal(cities)} AS cities, "
        f"{sql_literal(CURRENCY_BY_ISO[iso])} AS currency"
        for i, (iso, name, enum, cities) in enumerate(COUNTRIES)
    )
    words, nouns, suffixes = (
        sql_literal(x) for x in (COMPANY_WORDS, COMPANY_NOUNS, COMPANY_SUFFIXES)
    )

    def company_name(salt: str, key: str) -> str:
        """Expression for a company name, a few percent of them over 83 chars or awkward."""
        plain = (
            f"{words}[1 + pick('{salt}:w', {key}, {len(COMPANY_WORDS)})] || ' ' || "
            f"{nouns}[1 + pick('{salt}:n', {key}, {len(COMPANY_NOUNS)})] || ' ' || "
            f"{suffixes}[1 + pick('{salt}:s', {key}, {len(COMPANY_SUFFIXES)})]"
        )
        return f"""CASE WHEN u('{salt}:dirty', {key}) < 0.03 THEN {plain} || {sql_literal(LONG_NAME_TAIL)}
                        WHEN u('{salt}:dirty', {key}) < 0.06
                          THEN {sql_literal(AWKWARD_NAMES)}[1 + pick('{salt}:aw', {key}, {len(AWKWARD_NAMES)})]
                        ELSE {plain} END"""

    steps: list[tuple[str, str]] = [
        ("countries", f"CREATE TEMP TABLE w_country AS {countries}"),
        # -- accounts: ~70% linked to a NetSuite customer ----------------------------------
        (
            "accounts",
            f"""
            CREATE TEMP TABLE w_acct AS
            SELECT i, sfid('001', i) AS id, u('acct:link', i) < 0.7 AS linked,
                   {company_name("acct", "i")} AS name,
                   c.*,
                   CASE WHEN u('acct:addr', i) < 0.03 THEN 'missing'
                        WHEN u('acct:addr', i) < 0.06 THEN 'multiline' ELSE 'plain' END AS addr_kind,
                   (100 + pick('acct:no', i, 9900))::VARCHAR || ' '
                     || {sql_literal(STREETS)}[1 + pick('acct:st', i, {len(STREETS)})] AS street1,
                   in_window('acct:mod', i, 3600) AS mod_s
            FROM range(1, {n_accounts + 1}) r(i)
            JOIN w_country c ON c.ci = pick('acct:country', i, {len(COUNTRIES)})""",
        ),
        (
            "customers",
            f"""
            CREATE TEMP TABLE w_cust AS
            SELECT 1000 + i AS cid, i, name, street1, addr_kind, iso, ns_enum, cities, 'SF_ACCT_' || id AS externalid,
                   least(mod_s + 60 + pick('cust:lag', i, 86400), w_anchor()) AS mod_s
            FROM w_acct WHERE linked
            UNION ALL
            SELECT 1000 + {n_accounts} + j, NULL, {company_name("erp", "j")}, (1 + pick('erp:no', j, 999))::VARCHAR || ' '
                     || {sql_literal(STREETS)}[1 + pick('erp:st', j, {len(STREETS)})],
                   'plain', c.iso, c.ns_enum, c.cities, NULL, in_window('erp:mod', j, 3600)
            FROM range(1, {erp_only + 1}) r(j)
            JOIN w_country c ON c.ci = pick('erp:country', j, {len(COUNTRIES)})""",
        ),
        # -- items and products -------------------------------------------------------------
        (
            "items",
            f"""
            CREATE TEMP TABLE w_item AS
            SELECT k, 200 + k AS item_id, 'SKU-' || lpad(k::VARCHAR, 5, '0') AS sku,
                   {sql_literal(PRODUCT_ADJECTIVES)}[1 + pick('item:a', k, {len(PRODUCT_ADJECTIVES)})] || ' '
                     || {sql_literal(PRODUCT_NOUNS)}[1 + pick('item:n', k, {len(PRODUCT_NOUNS)})]
                     || ' ' || k::VARCHAR AS name,
                   round(5 + u('item:price', k) * 995, 2) AS price,
                   (u('item:inactive', k) < 0.05 OR k = 3) AS inactive,
                   (u('item:mirror', k) >= 0.04 OR k = 3) AS mirrored,
                   in_window('item:mod', k, 3600) AS mod_s
            FROM range(1, {n_items + 1}) r(k)""",
        ),
        (
            "products",
            f"""
            CREATE TEMP TABLE w_product AS
            WITH p AS (
                SELECT k, item_id, sku, name, price, inactive, mod_s,
                       CASE WHEN inactive THEN 'inactive' ELSE 'active' END AS cls
                FROM w_item WHERE mirrored
                UNION ALL
                SELECT {n_items} + j, NULL, 'SKU-9' || lpad(j::VARCHAR, 4, '0'), 'Legacy Part ' || j::VARCHAR,
                       round(10 + u('unk:price', j) * 90, 2), false, in_window('unk:mod', j, 3600), 'unknown'
                FROM range(1, {unknown_skus + 1}) r(j))
            SELECT row_number() OVER (ORDER BY k) AS pn, *,
                   row_number() OVER (PARTITION BY cls ORDER BY k) - 1 AS cls_idx,
                   count(*) OVER (PARTITION BY cls) AS cls_n
            FROM p""",
        ),
        # -- order lines first: whether an order can sync depends on its lines --------------
        (
            "order lines",
            f"""
            CREATE TEMP TABLE w_line AS
            WITH l AS (
                SELECT o, k,
                       CASE WHEN u('line:cls', o * 8 + k) < 0.01 THEN 'unknown'
                            WHEN u('line:cls', o * 8 + k) < 0.02 THEN 'inactive' ELSE 'active' END AS cls,
                       (1 + pick('line:qty', o * 8 + k, 20)) * CASE WHEN u('line:neg', o * 8 + k) < 0.01 THEN -1 ELSE 1 END AS qty
                FROM range(1, {n_orders + 1}) r(o), range(0, 5) s(k)
                WHERE k <= pick('order:lines', o, 5)),
            sized AS (  -- class sizes first, so the product lookup below is an equi-join
                SELECT l.*, pick('line:p', l.o * 8 + l.k, n.cls_n) AS cls_idx
                FROM l JOIN (SELECT DISTINCT cls, cls_n FROM w_product) n USING (cls))
            SELECT row_number() OVER (ORDER BY l.o, l.k) AS ln, l.o, l.k, l.qty, l.cls,
                   p.pn, p.item_id, p.price, round(l.qty * p.price, 2) AS amount
            FROM sized l JOIN w_product p USING (cls, cls_idx)""",
        ),
        (
            "orders",
            f"""
            CREATE TEMP TABLE w_order AS
            WITH base AS (
                SELECT o, 1 + pick('order:acct', o, {n_accounts}) AS i,
                       in_window('order:start', o, 86400) AS s
                FROM range(1, {n_orders + 1}) r(o)),
            agg AS (
                SELECT o, sum(amount) AS total, bool_or(cls <> 'active' OR qty < 0) AS blocked
                FROM w_line GROUP BY o),
            staged AS (
                SELECT b.*, g.total, g.blocked, a.linked, a.id AS account_id,
                       CASE WHEN NOT a.linked OR g.blocked
                              THEN CASE WHEN u('order:stage', o) < 0.4 THEN 0 ELSE 1 END
                            ELSE CASE WHEN u('order:stage', o) < 0.08 THEN 0
                                      WHEN u('order:stage', o) < 0.18 THEN 1
                                      WHEN u('order:stage', o) < 0.32 THEN 2
                                      WHEN u('order:stage', o) < 0.52 THEN 3
                                      WHEN u('order:stage', o) < 0.64 THEN 4
                                      WHEN u('order:stage', o) < 0.72 THEN 5
                                      ELSE 6 END END AS stage,
                       w_anchor() - b.s AS span
                FROM base b JOIN agg g USING (o) JOIN w_acct a USING (i)),
            timed AS (
                SELECT *,
                       s + floor(span * 0.05 * u('t:act', o))::BIGINT AS t_act,
                       floor(span * 0.05 * u('t:sync', o))::BIGINT + 60 AS d_sync,
                       floor(span * 0.15 * u('t:ship', o))::BIGINT + 3600 AS d_ship,
                       floor(span * 0.10 * u('t:inv', o))::BIGINT + 600 AS d_inv,
                       floor(span * 0.30 * u('t:pay', o))::BIGINT + 600 AS d_pay
                FROM staged)
            SELECT o, i, s, account_id, stage, total, blocked,
                   sfid('801', o) AS id, lpad(o::VARCHAR, 8, '0') AS order_number,
                   t_act, t_act + d_sync AS t_sync, t_act + d_sync + d_ship AS t_ship,
                   t_act + d_sync + d_ship + d_inv AS t_inv,
                   t_act + d_sync + d_ship + d_inv + d_pay AS t_pay,
                   stage >= 2 AND u('wb:so', o) < 0.95 AS so_written_back,
                   stage >= 3 AND u('wb:ship', o) < 0.5 AS ship_written_back,
                   stage >= 4 AND u('wb:inv', o) < 0.5 AS inv_written_back,
                   stage = 0 AND u('order:deleted', o) < 0.03 AS deleted,
                   CASE WHEN stage = 6 THEN total
                        WHEN stage = 5 THEN round(total * (0.2 + 0.6 * u('order:paid', o)), 2)
                        ELSE 0 END AS paid,
                   stage >= 4 AND u('order:credit', o) < 0.02 AS credited,
                   '1Z' || upper(substr(md5(pick('order:trk', o, 1000000000000)::VARCHAR), 1, 16)) AS tracking
            FROM timed""",
        ),
        # -- Salesforce ---------------------------------------------------------------------
        (
            "sf.Account",
            f"""
            INSERT INTO sf."Account" BY NAME
            SELECT id AS "Id", false AS "IsDeleted",
                   st.created AS "CreatedDate", st.last AS "LastModifiedDate", st.sys AS "SystemModstamp",
                   name AS "Name", 'ACC-' || lpad(i::VARCHAR, 7, '0') AS "AccountNumber",
                   CASE WHEN EXISTS (SELECT 1 FROM w_order o WHERE o.i = a.i AND NOT o.deleted) THEN 'Customer'
                        WHEN u('acct:type', i) < 0.1 THEN 'Partner' ELSE 'Prospect' END AS "Type",
                   {sql_literal(INDUSTRIES)}[1 + pick('acct:ind', i, {len(INDUSTRIES)})] AS "Industry",
                   '+1 555 ' || lpad(pick('acct:ph', i, 10000000)::VARCHAR, 7, '0') AS "Phone",
                   'https://www.' || lower(regexp_replace(name, '[^A-Za-z]', '', 'g')) || '.example.com' AS "Website",
                   CASE addr_kind WHEN 'missing' THEN NULL
                        WHEN 'multiline' THEN street1 || chr(10) || 'Suite ' || (100 + pick('acct:suite', i, 900))::VARCHAR
                                              || chr(10) || 'Building ' || chr(65 + pick('acct:bldg', i, 8)::INTEGER)
                        ELSE street1 END AS "BillingStreet",
                   CASE WHEN addr_kind <> 'missing' THEN cities[1 + pick('acct:city', i, 4)] END AS "BillingCity",
                   CASE WHEN addr_kind <> 'missing' AND iso = 'US' THEN ['NY', 'TX', 'CA', 'WA'][1 + pick('acct:state', i, 4)] END AS "BillingState",
                   CASE WHEN addr_kind <> 'missing' THEN lpad(pick('acct:zip', i, 99999)::VARCHAR, 5, '0') END AS "BillingPostalCode",
                   CASE WHEN addr_kind = 'missing' THEN NULL
                        WHEN u('acct:typed', i) < 0.2 THEN typed ELSE iso END AS "BillingCountry",
                   currency AS "CurrencyIsoCode",
                   CASE WHEN linked THEN (1000 + i)::VARCHAR END AS "NetSuite_Customer_ID__c"
            FROM (SELECT *, sf_stamps(mod_s, mod_s - 60 * 86400, 'acct', i) AS st FROM w_acct) a""",
        ),
        (
            "sf.Contact",
            f"""
            INSERT INTO sf."Contact" BY NAME
            WITH c AS (
                SELECT row_number() OVER (ORDER BY a.i, k) AS n, a.id AS account_id, a.mod_s AS acct_s,
                       a.name AS acct_name
                FROM w_acct a, range(0, 3) r(k) WHERE k < pick('acct:contacts', a.i, 4))
            SELECT sfid('003', n) AS "Id", u('contact:del', n) < 0.01 AS "IsDeleted",
                   st.created AS "CreatedDate", st.last AS "LastModifiedDate", st.sys AS "SystemModstamp",
                   account_id AS "AccountId",
                   {sql_literal(FIRST_NAMES)}[1 + pick('contact:f', n, {len(FIRST_NAMES)})] AS "FirstName",
                   {sql_literal(LAST_NAMES)}[1 + pick('contact:l', n, {len(LAST_NAMES)})] AS "LastName",
                   'contact' || n::VARCHAR || '@' || lower(regexp_replace(acct_name, '[^A-Za-z]', '', 'g')) || '.example.com' AS "Email",
                   '+1 555 ' || lpad(pick('contact:ph', n, 10000000)::VARCHAR, 7, '0') AS "Phone"
            FROM (SELECT *, sf_stamps(in_window('contact:mod', n, 3600), acct_s - 86400, 'contact', n) AS st FROM c)""",
        ),
        (
            "sf.Opportunity",
            """
            INSERT INTO sf."Opportunity" BY NAME
            WITH x AS (
                SELECT row_number() OVER (ORDER BY a.i, k) AS n, a.id AS account_id, a.name AS acct_name, a.mod_s AS acct_s
                FROM w_acct a, range(0, 2) r(k) WHERE k < pick('acct:opps', a.i, 3))
            SELECT sfid('006', n) AS "Id", u('opp:del', n) < 0.01 AS "IsDeleted",
                   st.created AS "CreatedDate", st.last AS "LastModifiedDate", st.sys AS "SystemModstamp",
                   account_id AS "AccountId", left(acct_name, 80) || ' - Deal ' || n::VARCHAR AS "Name",
                   ['Prospecting', 'Negotiation', 'Closed Won', 'Closed Lost'][1 + pick('opp:stage', n, 4)] AS "StageName",
                   (st.sys + INTERVAL (pick('opp:close', n, 90)) DAY)::DATE AS "CloseDate",
                   round(500 + u('opp:amt', n) * 50000, 2) AS "Amount"
            FROM (SELECT *, sf_stamps(in_window('opp:mod', n, 3600), acct_s - 86400, 'opp', n) AS st FROM x)""",
        ),
        (
            "sf.Product2",
            f"""
            INSERT INTO sf."Product2" BY NAME
            SELECT sfid('01t', pn) AS "Id", false AS "IsDeleted",
                   st.created AS "CreatedDate", st.last AS "LastModifiedDate", st.sys AS "SystemModstamp",
                   name AS "Name", sku AS "ProductCode", 'Synthetic catalogue item ' || sku AS "Description",
                   {sql_literal(FAMILIES)}[1 + pick('prod:fam', pn, {len(FAMILIES)})] AS "Family",
                   NOT inactive AS "IsActive", item_id::VARCHAR AS "NetSuite_Item_ID__c"
            FROM (SELECT *, sf_stamps(mod_s, mod_s - 30 * 86400, 'prod', pn) AS st FROM w_product)""",
        ),
        (
            "sf.Pricebook2",
            """
            INSERT INTO sf."Pricebook2" BY NAME
            SELECT sfid('01s', n) AS "Id", false AS "IsDeleted", ts(w_start() - 200 * 86400) AS "CreatedDate",
                   ts(w_start()) AS "LastModifiedDate", ts(w_start()) AS "SystemModstamp",
                   name AS "Name", active AS "IsActive", standard AS "IsStandard"
            FROM (VALUES (1, 'Standard Price Book', true, true), (2, 'Partner Price Book', false, false))
                 v(n, name, active, standard)""",
        ),
        (
            "sf.PricebookEntry",
            """
            INSERT INTO sf."PricebookEntry" BY NAME
            SELECT sfid('01u', pn) AS "Id", false AS "IsDeleted",
                   st.created AS "CreatedDate", st.last AS "LastModifiedDate", st.sys AS "SystemModstamp",
                   sfid('01s', 1) AS "Pricebook2Id", sfid('01t', pn) AS "Product2Id", price AS "UnitPrice",
                   NOT inactive AS "IsActive", false AS "UseStandardPrice"
            FROM (SELECT *, sf_stamps(mod_s, mod_s - 30 * 86400, 'pbe', pn) AS st FROM w_product)""",
        ),
        # An order's stamps: the latest thing Salesforce knows about it.
        (
            "sf.Order",
            """
            INSERT INTO sf."Order" BY NAME
            SELECT id AS "Id", deleted AS "IsDeleted", ts(s) AS "CreatedDate",
                   ts(greatest(mod_s, snap(mod_s, 'order', o) - CASE WHEN u('order:sys', o) < 0.1 THEN pick('order:d', o, 7200) ELSE 0 END)) AS "LastModifiedDate",
                   ts(snap(mod_s, 'order', o)) AS "SystemModstamp",
                   account_id AS "AccountId", sfid('01s', 1) AS "Pricebook2Id", order_number AS "OrderNumber",
                   CASE WHEN ship_written_back THEN 'Shipped' WHEN stage >= 1 THEN 'Activated'
                        WHEN u('order:cancel', o) < 0.03 THEN 'Cancelled' ELSE 'Draft' END AS "Status",
                   CASE WHEN stage >= 1 THEN ts(t_act)::DATE ELSE (ts(s) + INTERVAL (pick('order:eff', o, 30)) DAY)::DATE END AS "EffectiveDate",
                   CASE WHEN stage >= 1 THEN ts(t_act) END AS "ActivatedDate",
                   total AS "TotalAmount",
                   NULL AS "NetSuite_Sales_Order_ID__c",  -- set once transaction ids exist
                   CASE WHEN ship_written_back THEN 'Fulfilled' WHEN stage >= 1 THEN 'Unfulfilled' END AS "Fulfillment_Status__c",
                   CASE WHEN ship_written_back THEN tracking END AS "Tracking_Number__c"
            FROM (SELECT *, greatest(CASE WHEN stage = 0 THEN s + floor((w_anchor() - s) * 0.3 * u('order:edit', o))::BIGINT ELSE t_act END,
                                     CASE WHEN so_written_back THEN t_sync + 30 ELSE 0 END,
                                     CASE WHEN ship_written_back THEN t_ship + 300 ELSE 0 END) AS mod_s
                  FROM w_order)""",
        ),
        (
            "sf.OrderItem",
            """
            INSERT INTO sf."OrderItem" BY NAME
            SELECT sfid('802', ln) AS "Id", o.deleted AS "IsDeleted",
                   st.created AS "CreatedDate", st.last AS "LastModifiedDate", st.sys AS "SystemModstamp",
                   o.id AS "OrderId", sfid('01t', l.pn) AS "Product2Id", sfid('01u', l.pn) AS "PricebookEntryId",
                   lpad(ln::VARCHAR, 10, '0') AS "OrderItemNumber", l.qty AS "Quantity", l.price AS "UnitPrice",
                   l.amount AS "TotalPrice"
            FROM (SELECT l.*, sf_stamps(o.s + l.k, o.s, 'oi', l.ln) AS st FROM w_line l JOIN w_order o USING (o)) l
            JOIN w_order o USING (o)""",
        ),
        # -- NetSuite -------------------------------------------------------------------------
        (
            "ns.customer",
            """
            INSERT INTO ns.customer BY NAME
            SELECT cid AS id, 'CUST' || cid::VARCHAR AS entityid, left(name, 83) AS companyname,
                   'ap@' || lower(regexp_replace(name, '[^A-Za-z]', '', 'g')) || '.example.com' AS email,
                   '+1 555 ' || lpad(pick('cust:ph', cid, 10000000)::VARCHAR, 7, '0') AS phone,
                   externalid, CASE WHEN i IS NULL AND u('cust:inactive', cid) < 0.1 THEN 'T' ELSE 'F' END AS isinactive,
                   1 AS subsidiary, 1 AS currency,
                   CASE WHEN addr_kind <> 'missing' THEN street1 END AS billaddr1,
                   CASE WHEN addr_kind = 'multiline' THEN 'Suite ' || (100 + pick('acct:suite', i, 900))::VARCHAR END AS billaddr2,
                   CASE WHEN addr_kind = 'multiline' THEN 'Building ' || chr(65 + pick('acct:bldg', i, 8)::INTEGER) END AS billaddr3,
                   CASE WHEN addr_kind <> 'missing' THEN cities[1 + pick(CASE WHEN i IS NULL THEN 'erp:city' ELSE 'acct:city' END, coalesce(i, cid), 4)] END AS billcity,
                   CASE WHEN addr_kind <> 'missing' AND iso = 'US' THEN ['NY', 'TX', 'CA', 'WA'][1 + pick('acct:state', i, 4)] END AS billstate,
                   CASE WHEN addr_kind <> 'missing' THEN lpad(pick('acct:zip', i, 99999)::VARCHAR, 5, '0') END AS billzip,
                   CASE WHEN addr_kind <> 'missing' THEN ns_enum END AS billcountry,
                   ts(mod_s - pick('cust:age', cid, 30 * 86400)) AS datecreated,
                   ts(snap(mod_s, 'cust', cid)) AS lastmodifieddate
            FROM w_cust""",
        ),
        (
            "ns.item",
            """
            INSERT INTO ns.item BY NAME
            SELECT item_id AS id, sku AS itemid, name AS displayname, 'Synthetic catalogue item ' || sku AS description,
                   'InvtPart' AS itemtype, price AS baseprice, CASE WHEN inactive THEN 'T' ELSE 'F' END AS isinactive,
                   sku AS externalid, ts(mod_s - pick('item:age', k, 60 * 86400)) AS createddate,
                   ts(snap(mod_s, 'item', k)) AS lastmodifieddate
            FROM w_item""",
        ),
        # every transaction of every synced order, ids assigned in creation order like NetSuite's
        (
            "transactions",
            """
            CREATE TEMP TABLE w_txn AS
            WITH t AS (
                SELECT o, 'SalesOrd' AS type, 1 AS kind_rank, t_sync AS created_s,
                       greatest(t_sync, CASE WHEN stage >= 3 THEN t_ship ELSE 0 END,
                                CASE WHEN stage >= 4 THEN t_inv ELSE 0 END) AS mod_s,
                       total AS amount FROM w_order WHERE stage >= 2
                UNION ALL SELECT o, 'ItemShip', 2, t_ship, t_ship + pick('if:pack', o, 3600), NULL FROM w_order WHERE stage >= 3
                UNION ALL SELECT o, 'CustInvc', 3, t_inv, CASE WHEN stage >= 5 THEN t_pay ELSE t_inv END, total FROM w_order WHERE stage >= 4
                UNION ALL SELECT o, 'CustPymt', 4, t_pay, t_pay, paid FROM w_order WHERE stage >= 5
                UNION ALL SELECT o, 'CustCred', 5, t_inv + floor((w_anchor() - t_inv) * 0.3 * u('cred:t', o))::BIGINT + 60,
                                 t_inv + floor((w_anchor() - t_inv) * 0.3 * u('cred:t', o))::BIGINT + 60,
                                 round(total * 0.2, 2) FROM w_order WHERE credited
                UNION ALL SELECT o, 'CustRfnd', 6, t_inv + floor((w_anchor() - t_inv) * 0.6 * u('cred:t', o))::BIGINT + 120,
                                 t_inv + floor((w_anchor() - t_inv) * 0.6 * u('cred:t', o))::BIGINT + 120,
                                 round(total * 0.2, 2) FROM w_order WHERE credited AND u('cred:refund', o) < 0.5)
            SELECT 10000 + row_number() OVER (ORDER BY created_s, kind_rank, o) AS tid, t.*,
                   row_number() OVER (PARTITION BY type ORDER BY created_s, o) AS type_seq
            FROM t""",
        ),
        (
            "ns.transaction",
            """
            INSERT INTO ns.transaction BY NAME
            SELECT t.tid AS id,
                   CASE t.type WHEN 'SalesOrd' THEN 'SO' WHEN 'ItemShip' THEN 'IF' WHEN 'CustInvc' THEN 'INV'
                               WHEN 'CustPymt' THEN 'PYMT' WHEN 'CustCred' THEN 'CM' ELSE 'RFND' END
                     || lpad(t.type_seq::VARCHAR, 6, '0') AS tranid,
                   ts(t.created_s)::DATE AS trandate, t.type,
                   CASE t.type
                     WHEN 'SalesOrd' THEN CASE WHEN o.stage >= 4 THEN 'G' WHEN o.stage = 3 THEN 'F'
                                               WHEN u('so:approval', o.o) < 0.05 THEN 'A' ELSE 'B' END
                     WHEN 'ItemShip' THEN CASE WHEN u('if:status', o.o) < 0.03 THEN 'B' ELSE 'C' END
                     WHEN 'CustInvc' THEN CASE WHEN o.stage = 6 THEN 'B' ELSE 'A' END
                     WHEN 'CustPymt' THEN CASE WHEN u('pay:dep', o.o) < 0.7 THEN 'C' ELSE 'B' END
                     WHEN 'CustCred' THEN CASE WHEN u('cred:refund', o.o) < 0.5 THEN 'B' ELSE 'A' END
                     ELSE CASE WHEN u('rfnd:void', o.o) < 0.1 THEN 'V' END END AS status,
                   c.cid AS entity, 1 AS currency, t.amount AS foreigntotal,
                   CASE t.type WHEN 'CustInvc' THEN o.paid END AS foreignamountpaid,
                   CASE t.type WHEN 'CustInvc' THEN round(o.total - o.paid, 2) END AS foreignamountunpaid,
                   CASE t.type WHEN 'SalesOrd' THEN 'SF_ORDER_' || o.id END AS externalid,
                   CASE WHEN t.type IN ('SalesOrd', 'CustInvc') THEN o.order_number END AS otherrefnum,
                   CASE t.type WHEN 'SalesOrd' THEN 'Salesforce order ' || o.order_number END AS memo,
                   CASE WHEN t.type IN ('ItemShip', 'CustInvc') THEN so.tid
                        WHEN t.type = 'CustCred' THEN inv.tid END AS createdfrom,
                   CASE t.type WHEN 'CustInvc' THEN (ts(t.created_s) + INTERVAL 30 DAY)::DATE END AS duedate,
                   CASE t.type WHEN 'ItemShip' THEN o.tracking END AS trackingnumbers,
                   ts(t.created_s) AS createddate, ts(snap(t.mod_s, 'txn', t.tid)) AS lastmodifieddate
            FROM w_txn t JOIN w_order o USING (o)
            JOIN w_cust c ON c.i = o.i
            LEFT JOIN w_txn so ON so.o = t.o AND so.type = 'SalesOrd'
            LEFT JOIN w_txn inv ON inv.o = t.o AND inv.type = 'CustInvc'""",
        ),
        (
            "ns.transactionline",
            """
            INSERT INTO ns.transactionline BY NAME
            WITH lines AS (
                SELECT t.tid AS transaction, 0 AS id, 'T' AS mainline, NULL::BIGINT AS item, NULL::DOUBLE AS quantity,
                       NULL::DOUBLE AS rate, x.foreigntotal AS netamount, x.createdfrom, x.lastmodifieddate AS stamp
                FROM w_txn t JOIN ns.transaction x ON x.id = t.tid
                UNION ALL
                SELECT t.tid, l.k + 1, 'F', l.item_id, -l.qty,
                       CASE WHEN t.type <> 'ItemShip' THEN l.price END,
                       CASE WHEN t.type <> 'ItemShip' THEN -l.amount END,
                       CASE WHEN t.type <> 'SalesOrd' THEN so.tid END, ts(t.created_s)
                FROM w_txn t JOIN w_line l USING (o)
                LEFT JOIN w_txn so ON so.o = t.o AND so.type = 'SalesOrd'
                WHERE t.type IN ('SalesOrd', 'ItemShip', 'CustInvc')
                UNION ALL
                SELECT t.tid, 1, 'F', l.item_id, 1, t.amount, t.amount, NULL, ts(t.created_s)
                FROM w_txn t JOIN w_line l ON l.o = t.o AND l.k = 0
                WHERE t.type = 'CustCred')
            SELECT transaction, id, 1000000 + row_number() OVER (ORDER BY transaction, id) AS uniquekey,
                   id AS linesequencenumber, mainline, 'F' AS taxline, item, quantity, rate, netamount,
                   createdfrom, 'F' AS isclosed, stamp AS linelastmodifieddate
            FROM lines""",
        ),
        (
            "ns.previoustransactionlink",
            """
            INSERT INTO ns.previoustransactionlink BY NAME
            SELECT p.tid AS previousdoc, n.tid AS nextdoc,
                   CASE n.type WHEN 'ItemShip' THEN 'OrdFul' WHEN 'CustInvc' THEN 'OrdBill' ELSE 'Payment' END AS linktype,
                   n.amount AS foreignamount, ts(n.created_s) AS lastmodifieddate
            FROM w_txn n JOIN w_txn p ON p.o = n.o
             AND p.type = CASE n.type WHEN 'ItemShip' THEN 'SalesOrd' WHEN 'CustInvc' THEN 'SalesOrd'
                               WHEN 'CustPymt' THEN 'CustInvc' WHEN 'CustRfnd' THEN 'CustCred' END""",
        ),
        (
            "deletedrecord",
            f"""
            INSERT INTO ns.deletedrecord BY NAME
            SELECT 1000 + {n_accounts} + {erp_only} + j AS recordid, 'customer' AS recordtypeid, 'customer' AS type,
                   'Deleted Customer ' || j::VARCHAR AS name, ['UI', 'WebServices', 'CSV'][1 + pick('del:ctx', j, 3)] AS context,
                   ts(snap(in_window('del:cust', j, 3600), 'delc', j)) AS deleteddate
            FROM range(1, {max(2, n_accounts // 100) + 1}) r(j)
            UNION ALL
            SELECT (SELECT max(tid) FROM w_txn) + j, CASE WHEN j % 3 = 0 THEN 'invoice' ELSE 'salesOrder' END,
                   CASE WHEN j % 3 = 0 THEN 'CustInvc' ELSE 'SalesOrd' END,
                   CASE WHEN j % 3 = 0 THEN 'INV' ELSE 'SO' END || '-DEL-' || j::VARCHAR,
                   ['UI', 'WebServices', 'CSV'][1 + pick('del:ctx', j + 7, 3)],
                   ts(snap(in_window('del:txn', j, 3600), 'delt', j))
            FROM range(1, {max(3, n_orders // 200) + 1}) r(j)""",
        ),
        # -- Salesforce write-backs of what the sync already brought over ---------------------
        (
            "sf.Order so ids",
            """
            UPDATE sf."Order" AS o SET "NetSuite_Sales_Order_ID__c" = t.tid::VARCHAR
            FROM w_order w JOIN w_txn t ON t.o = w.o AND t.type = 'SalesOrd'
            WHERE o."Id" = w.id AND w.so_written_back""",
        ),
        (
            "sf.Invoice__c",
            """
            INSERT INTO sf."Invoice__c" BY NAME
            SELECT sfid('a01', row_number() OVER (ORDER BY t.tid)) AS "Id", false AS "IsDeleted",
                   ts(t.created_s + 600) AS "CreatedDate",
                   ts(CASE WHEN paid_seen THEN greatest(w.t_pay, t.created_s) + 900 ELSE t.created_s + 600 END) AS "LastModifiedDate",
                   ts(snap(CASE WHEN paid_seen THEN greatest(w.t_pay, t.created_s) + 900 ELSE t.created_s + 600 END, 'inv', t.tid)) AS "SystemModstamp",
                   x.tranid AS "Name", w.id AS "Order__c", w.account_id AS "Account__c",
                   t.tid::VARCHAR AS "NetSuite_Invoice_ID__c", x.tranid AS "Invoice_Number__c",
                   x.trandate AS "Invoice_Date__c", x.duedate AS "Due_Date__c", x.foreigntotal AS "Amount__c",
                   CASE WHEN paid_seen THEN w.paid ELSE 0 END AS "Amount_Paid__c",
                   CASE WHEN NOT paid_seen OR w.paid = 0 THEN 'Unpaid' WHEN w.paid < w.total THEN 'Partially Paid' ELSE 'Paid' END AS "Payment_Status__c",
                   CASE WHEN paid_seen AND w.paid >= w.total THEN 'Closed' ELSE 'Open' END AS "Status__c"
            FROM (SELECT *, stage >= 5 AND u('wb:pay', o) < 0.5 AS paid_seen FROM w_order WHERE inv_written_back) w
            JOIN w_txn t ON t.o = w.o AND t.type = 'CustInvc'
            JOIN ns.transaction x ON x.id = t.tid""",
        ),
    ]
    return steps
