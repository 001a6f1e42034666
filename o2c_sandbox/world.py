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
from o2c_sandbox.salesforce.model import id_suffix
from o2c_sandbox.schema import (
    NS_TABLES,
    NS_TRANSACTION_TYPES,
    OPPORTUNITY_STAGES,
    SF_OBJECTS,
    schema_fingerprint,
)

log = logging.getLogger(__name__)

#: Days of history before the anchor over which modification stamps are spread.
HISTORY_DAYS = 120


@dataclass(frozen=True)
class Scale:
    """Row-count drivers of a world; everything else follows from these."""

    accounts: int
    items: int
    orders: int  # ~3 lines each (1..5)
    opportunities: int  # ~2.3 lines each; a third are won, a third of those became orders


SCALES: dict[str, Scale] = {
    # tests: > 2,000 OrderItem rows, so Salesforce query paging is exercised
    "small": Scale(accounts=300, items=100, orders=1_500, opportunities=1_200),
    "medium": Scale(accounts=3_000, items=1_000, orders=15_000, opportunities=12_000),
    # benchmarks: >= 1,000,000 OrderItem rows and NetSuite transaction lines
    "large": Scale(accounts=30_000, items=5_000, orders=360_000, opportunities=240_000),
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


@dataclass(frozen=True)
class Currency:
    """One currency of both systems: NetSuite internal id, ISO code, and its value in USD when
    the history window opens (rates then walk day by day)."""

    ns_id: int
    iso: str
    name: str
    display: str
    precision: int
    usd: float
    active: bool = True


CURRENCIES = [
    Currency(1, "USD", "US Dollar", "$", 2, 1.0),
    Currency(2, "EUR", "Euro", "€", 2, 1.085),
    Currency(3, "GBP", "British pound", "£", 2, 1.27),
    Currency(4, "CAD", "Canadian Dollar", "CA$", 2, 0.735),
    Currency(5, "JPY", "Japanese Yen", "¥", 0, 0.0067),
    Currency(6, "AUD", "Australian Dollar", "A$", 2, 0.655),
    # deactivated after a Swiss entity was sold: still on old records, in no picklist any more
    Currency(7, "CHF", "Swiss Franc", "CHF", 2, 1.13, active=False),
]
CURRENCY_ID = {c.iso: c.ns_id for c in CURRENCIES}


@dataclass(frozen=True)
class Subsidiary:
    ns_id: int
    name: str
    country: str
    currency: str
    parent: int | None
    elimination: bool = False
    inactive: bool = False


#: OneWorld: a US parent with one operating subsidiary per region, an elimination subsidiary
#: (never holds customers) and an inactive one.
SUBSIDIARIES = [
    Subsidiary(1, "Parent Company", "US", "USD", None),
    Subsidiary(2, "O2C Europe GmbH", "DE", "EUR", 1),
    Subsidiary(3, "O2C UK Ltd", "GB", "GBP", 1),
    Subsidiary(4, "O2C Canada Inc.", "CA", "CAD", 1),
    Subsidiary(5, "O2C Japan K.K.", "JP", "JPY", 1),
    Subsidiary(6, "O2C Australia Pty Ltd", "AU", "AUD", 1),
    Subsidiary(7, "Elimination - Europe", "DE", "EUR", 2, elimination=True),
    Subsidiary(8, "O2C France SARL", "FR", "EUR", 2, inactive=True),
]
#: Where a customer of each billing country is booked.
SUBSIDIARY_BY_ISO = {"US": 1, "DE": 2, "FR": 2, "NL": 2, "GB": 3, "CA": 4, "JP": 5, "AU": 6}
#: Exchange-rate gaps real accounts have: (base, transaction) pairs never set up -- NetSuite
#: then refuses the currency for subsidiaries of that base currency -- and pairs whose rates
#: start only this many days before the anchor (older dates have no rate).
RATE_PAIRS_MISSING = {("AUD", "JPY")}
RATE_PAIRS_LATE = {("CAD", "USD"): 30}
#: NetSuite price levels (id, name, discount %, inactive); 1 is the base price.
PRICE_LEVELS = [
    (1, "Base Price", None, False),
    (2, "Alternate Price 1", -5.0, False),
    (3, "Online Price", None, False),
    (4, "Wholesale", -10.0, False),
    (5, "Legacy 2019 Price", -15.0, True),
]
#: What "no last name" looks like in a real org: Salesforce requires Contact.LastName, so
#: contacts without one carry whatever placeholder the channel that created them put there --
#: Web-to-Lead writes "[not provided]" (kept when the lead converts), imports and hand entry
#: use "-", ".", "Unknown" or "N/A" -- while name-only imports put the whole name in LastName.
LAST_NAME_PLACEHOLDERS = ["[not provided]", "[not provided]", "-", ".", "Unknown", "N/A"]


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
        store.set_meta("schema", schema_fingerprint(), cur)
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
        # 18-character id: digits never carry capitals, so only the key prefix decides the suffix
        f"""CREATE OR REPLACE TEMP MACRO sfid(prefix, n) AS prefix || lpad(n::VARCHAR, 12, '0')
              || CASE prefix {_ID_SUFFIXES} ELSE 'AAA' END""",
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


_ID_SUFFIXES = " ".join(
    f"WHEN '{o.key_prefix}' THEN '{id_suffix(o.key_prefix + '0' * 12)}'"
    for o in SF_OBJECTS.values()
    if id_suffix(o.key_prefix + "0" * 12) != "AAA"
)
_TEMP_TABLES = [
    "w_country",
    "w_cur",
    "w_fx",
    "w_pair",
    "w_dcr",
    "w_ct",
    "w_acct",
    "w_cust",
    "w_item",
    "w_product",
    "w_price",
    "w_opp",
    "w_oli",
    "w_opp_order",
    "w_obase",
    "w_line",
    "w_order",
    "w_txn",
]
#: Active currencies, in NetSuite id order: price book entries are numbered by their position.
_ACTIVE = [c for c in CURRENCIES if c.active]
#: Opportunity stages with the share of deals reaching each (cumulative thresholds below).
_STAGE_SHARES = [
    ("Prospecting", 0.12),
    ("Qualification", 0.08),
    ("Needs Analysis", 0.07),
    ("Value Proposition", 0.06),
    ("Id. Decision Makers", 0.04),
    ("Perception Analysis", 0.03),
    ("Proposal/Price Quote", 0.06),
    ("Negotiation/Review", 0.06),
    ("Closed Won", 0.33),
    ("Closed Lost", 0.15),
]


def _values(rows: list[tuple], names: str) -> str:
    """A ``(VALUES ...) v(names)`` relation of Python constants."""
    body = ", ".join("(" + ", ".join(_sql_value(v) for v in row) + ")" for row in rows)
    return f"(VALUES {body}) v({names})"


def _sql_value(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    return sql_literal(value)


def _stage_sql(draw: str) -> str:
    whens, total = [], 0.0
    for stage, share in _STAGE_SHARES:
        total += share
        whens.append(f"WHEN {draw} < {total:.4f} THEN {sql_literal(stage)}")
    return "CASE " + " ".join(whens[:-1]) + f" ELSE {sql_literal(_STAGE_SHARES[-1][0])} END"


def _by_stage(stage_sql: str, column: int) -> str:
    cases = " ".join(
        f"WHEN {sql_literal(stage)} THEN {_sql_value(values[column])}"
        for stage, values in OPPORTUNITY_STAGES.items()
    )
    return f"CASE {stage_sql} {cases} END"


def _steps(scale: Scale) -> list[tuple[str, str]]:
    """The generation statements, in dependency order."""
    n_accounts, n_items, n_orders = scale.accounts, scale.items, scale.orders
    n_opps = scale.opportunities
    erp_only = max(5, n_accounts // 10)
    unknown_skus = max(3, n_items // 30)
    #: NetSuite entity ids are one sequence: contacts come after every customer id ever used
    contact_id0 = 1000 + 2 * n_accounts + erp_only + 100
    n_cur = len(_ACTIVE)
    base_of = {s.ns_id: CURRENCY_ID[s.currency] for s in SUBSIDIARIES}
    countries = " UNION ALL ".join(
        f"SELECT {i} AS ci, {sql_literal(iso)} AS iso, {sql_literal(name)} AS typed, "
        f"{sql_literal(enum)} AS ns_enum, {sql_literal(cities)} AS cities, "
        f"{sql_literal(CURRENCY_BY_ISO[iso])} AS country_cur, {SUBSIDIARY_BY_ISO[iso]} AS sub, "
        f"{base_of[SUBSIDIARY_BY_ISO[iso]]} AS sub_base"
        for i, (iso, name, enum, cities) in enumerate(COUNTRIES)
    )
    currencies = _values(
        [(c.ns_id, c.iso, c.name, c.display, c.precision, c.usd, c.active) for c in CURRENCIES],
        "cid, iso, name, display, prec, usd0, active",
    )
    base_currencies = sorted(
        {CURRENCY_ID[s.currency] for s in SUBSIDIARIES if not (s.inactive or s.elimination)}
    )
    missing = " OR ".join(
        f"(b.iso = {sql_literal(b)} AND t.iso = {sql_literal(t)})" for b, t in RATE_PAIRS_MISSING
    )
    late = " ".join(
        f"WHEN b.iso = {sql_literal(b)} AND t.iso = {sql_literal(t)} THEN {HISTORY_DAYS - days}"
        for (b, t), days in RATE_PAIRS_LATE.items()
    )
    words, nouns, suffixes = (
        sql_literal(x) for x in (COMPANY_WORDS, COMPANY_NOUNS, COMPANY_SUFFIXES)
    )
    recordtype = " ".join(
        f"WHEN {sql_literal(code)} THEN {sql_literal(rt.lower())}"
        for rt, code in NS_TRANSACTION_TYPES.items()
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

    def line_class(salt: str, key: str, unknown: float, inactive: float) -> str:
        return f"""CASE WHEN u('{salt}', {key}) < {unknown} THEN 'unknown'
                        WHEN u('{salt}', {key}) < {unknown + inactive} THEN 'inactive' ELSE 'active' END"""

    def entry_id(pn: str, cid: str) -> str:
        """The standard price book entry of product ``pn`` in currency ``cid``."""
        return f"sfid('01u', ({pn} - 1) * {n_cur} + {cid})"

    steps: list[tuple[str, str]] = [
        ("countries", f"CREATE TEMP TABLE w_country AS {countries}"),
        # -- currencies and rates: every rate walks day by day from the window's start ------
        ("currencies", f"CREATE TEMP TABLE w_cur AS SELECT * FROM {currencies}"),
        (
            "fx",
            f"""
            CREATE TEMP TABLE w_fx AS
            SELECT c.cid, c.iso, d, w_anchor() - w_anchor() % 86400 - ({HISTORY_DAYS} - d) * 86400 AS day_s,
                   CASE WHEN c.cid = 1 THEN 1.0
                        ELSE c.usd0 * exp(sum((u('fx:' || c.iso, d) - 0.5) * 0.012)
                                          OVER (PARTITION BY c.cid ORDER BY d)) END AS usd
            FROM w_cur c, range(0, {HISTORY_DAYS + 1}) r(d)""",
        ),
        (
            "rate pairs",
            f"""
            CREATE TEMP TABLE w_pair AS
            SELECT b.cid AS base, t.cid AS txn, s.start_d,
                   w_anchor() - w_anchor() % 86400 - ({HISTORY_DAYS} - s.start_d) * 86400 AS start_s
            FROM w_cur b, w_cur t,
                 LATERAL (SELECT CASE {late or "WHEN false THEN 0"} ELSE 0 END AS start_d) s
            WHERE b.cid IN ({", ".join(map(str, base_currencies))}) AND t.active AND t.cid <> b.cid
              AND NOT ({missing or "false"})""",
        ),
        (
            "ns.currencyrate",
            """
            INSERT INTO ns.currencyrate BY NAME
            SELECT row_number() OVER (ORDER BY ft.d, p.base, p.txn) AS id, p.base AS basecurrency,
                   p.txn AS transactioncurrency, round(ft.usd / fb.usd, 8) AS exchangerate,
                   ts(ft.day_s)::DATE AS effectivedate,
                   ts(least(greatest(ft.day_s + 3600 + pick('fx:at', ft.d, 1800), w_start()), w_anchor())) AS lastmodifieddate
            FROM w_pair p JOIN w_fx ft ON ft.cid = p.txn JOIN w_fx fb ON fb.cid = p.base AND fb.d = ft.d
            WHERE ft.d >= p.start_d""",
        ),
        (
            "ns.currency",
            """
            INSERT INTO ns.currency BY NAME
            SELECT c.cid AS id, c.name, c.iso AS symbol, c.display AS displaysymbol,
                   CASE WHEN c.iso IN ('EUR', 'CHF') THEN '_afterNumber' ELSE '_beforeNumber' END AS symbolplacement,
                   c.prec AS currencyprecision,
                   CASE WHEN c.active THEN round(f.usd, 8) ELSE c.usd0 END AS exchangerate,
                   CASE WHEN c.cid = 1 THEN 'T' ELSE 'F' END AS isbasecurrency,
                   CASE WHEN c.active THEN 'F' ELSE 'T' END AS isinactive, NULL AS externalid,
                   coalesce((SELECT max(r.lastmodifieddate) FROM ns.currencyrate r
                             WHERE r.basecurrency = 1 AND r.transactioncurrency = c.cid), ts(w_start())) AS lastmodifieddate
            FROM w_cur c JOIN w_fx f ON f.cid = c.cid AND f.d = (SELECT max(d) FROM w_fx)""",
        ),
        (
            "ns.subsidiary",
            f"""
            INSERT INTO ns.subsidiary BY NAME
            SELECT id, name, fullname, country, currency, parent, iselimination, isinactive,
                   NULL AS externalid, ts(w_start()) AS lastmodifieddate
            FROM {_values(_subsidiary_rows(), "id, name, fullname, country, currency, parent, iselimination, isinactive")}""",
        ),
        (
            "ns.pricelevel",
            f"""
            INSERT INTO ns.pricelevel BY NAME
            SELECT id, name, discountpct, CASE WHEN inactive THEN 'T' ELSE 'F' END AS isinactive, NULL AS externalid
            FROM {_values(PRICE_LEVELS, "id, name, discountpct, inactive")}""",
        ),
        # Salesforce: an admin enters each month's rates on the 1st (advanced currency
        # management); the static rate CURRENCYRATE() and roll-ups use is the latest of them
        (
            "dated rates",
            """
            CREATE TEMP TABLE w_dcr AS
            SELECT c.cid, c.iso, DATE '0001-01-01' AS start, round(1 / f.usd, 6) AS rate, w_start() AS s
            FROM w_cur c JOIN w_fx f ON f.cid = c.cid AND f.d = 0 WHERE c.active
            UNION ALL
            SELECT c.cid, c.iso, ts(f.day_s)::DATE, round(1 / f.usd, 6),
                   least(f.day_s + 9 * 3600 + pick('dcr:at', f.d, 3600), w_anchor())
            FROM w_cur c JOIN w_fx f ON f.cid = c.cid
            WHERE c.active AND f.d > 0 AND dayofmonth(ts(f.day_s)) = 1""",
        ),
        (
            "static rates",
            """
            CREATE TEMP TABLE w_ct AS
            SELECT c.cid, c.iso, c.prec, c.active,
                   coalesce(d.rate, round(1 / c.usd0, 6)) AS rate, coalesce(d.s, w_start()) AS s
            FROM w_cur c LEFT JOIN (SELECT cid, arg_max(rate, start) AS rate, max(s) AS s FROM w_dcr GROUP BY cid) d
            USING (cid)""",
        ),
        (
            "sf.CurrencyType",
            """
            INSERT INTO sf."CurrencyType" BY NAME
            SELECT sfid('01L', cid) AS "Id", false AS "IsDeleted", ts(w_start() - 400 * 86400) AS "CreatedDate",
                   ts(s) AS "LastModifiedDate", ts(s) AS "SystemModstamp", iso AS "IsoCode",
                   rate AS "ConversionRate", prec AS "DecimalPlaces", active AS "IsActive", cid = 1 AS "IsCorporate"
            FROM w_ct""",
        ),
        (
            "sf.DatedConversionRate",
            """
            INSERT INTO sf."DatedConversionRate" BY NAME
            SELECT sfid('04w', row_number() OVER (ORDER BY cid, start)) AS "Id", false AS "IsDeleted",
                   ts(s) AS "CreatedDate", ts(s) AS "LastModifiedDate", ts(s) AS "SystemModstamp",
                   iso AS "IsoCode", rate AS "ConversionRate", start AS "StartDate",
                   lead(start) OVER (PARTITION BY cid ORDER BY start) AS "NextStartDate"
            FROM w_dcr""",
        ),
        # -- accounts: ~70% linked to a NetSuite customer ----------------------------------
        (
            "accounts",
            f"""
            CREATE TEMP TABLE w_acct AS
            WITH a AS (
                SELECT i, sfid('001', i) AS id, u('acct:link', i) < 0.7 AS linked,
                       {company_name("acct", "i")} AS name,
                       c.*,
                       CASE WHEN u('acct:addr', i) < 0.03 THEN 'missing'
                            WHEN u('acct:addr', i) < 0.06 THEN 'multiline' ELSE 'plain' END AS addr_kind,
                       (100 + pick('acct:no', i, 9900))::VARCHAR || ' '
                         || {sql_literal(STREETS)}[1 + pick('acct:st', i, {len(STREETS)})] AS street1,
                       in_window('acct:mod', i, 3600) AS mod_s,
                       -- most accounts trade in their country's currency; some in USD or EUR, a
                       -- few Australian ones in yen (a pair the AU subsidiary has no rates for),
                       -- a handful still in the deactivated CHF
                       CASE WHEN u('acct:cur', i) < 0.012 THEN 'CHF'
                            WHEN u('acct:cur', i) < 0.067 THEN CASE WHEN c.iso = 'US' THEN 'EUR' ELSE 'USD' END
                            WHEN c.iso = 'AU' AND u('acct:cur2', i) < 0.25 THEN 'JPY'
                            ELSE c.country_cur END AS cur_iso
                FROM range(1, {n_accounts + 1}) r(i)
                JOIN w_country c ON c.ci = pick('acct:country', i, {len(COUNTRIES)}))
            SELECT a.*, k.cid AS cur_id,
                   k.cid = a.sub_base OR EXISTS (SELECT 1 FROM w_pair p WHERE p.base = a.sub_base AND p.txn = k.cid) AS cur_allowed
            FROM a JOIN w_cur k ON k.iso = a.cur_iso""",
        ),
        (
            "customers",
            f"""
            CREATE TEMP TABLE w_cust AS
            SELECT 1000 + i AS cid, i, name, street1, addr_kind, iso, ns_enum, cities, 'SF_ACCT_' || id AS externalid,
                   least(mod_s + 60 + pick('cust:lag', i, 86400), w_anchor()) AS mod_s, sub,
                   -- NetSuite cannot hold a currency its subsidiary has no rates for: such
                   -- customers were set up in the subsidiary's base currency instead
                   CASE WHEN cur_allowed THEN cur_id ELSE sub_base END AS cur
            FROM w_acct WHERE linked
            UNION ALL
            SELECT 1000 + {n_accounts} + j, NULL, {company_name("erp", "j")}, (1 + pick('erp:no', j, 999))::VARCHAR || ' '
                     || {sql_literal(STREETS)}[1 + pick('erp:st', j, {len(STREETS)})],
                   'plain', c.iso, c.ns_enum, c.cities, NULL, in_window('erp:mod', j, 3600), c.sub, c.sub_base
            FROM range(1, {erp_only + 1}) r(j)
            JOIN w_country c ON c.ci = pick('erp:country', j, {len(COUNTRIES)})""",
        ),
        # -- items and products: most items were created in NetSuite by hand, so without an
        # external id; the SKU is the item name/number (itemid) --------------------------------
        (
            "items",
            f"""
            CREATE TEMP TABLE w_item AS
            SELECT k, 200 + k AS item_id, 'SKU-' || lpad(k::VARCHAR, 5, '0') AS sku,
                   {sql_literal(PRODUCT_ADJECTIVES)}[1 + pick('item:a', k, {len(PRODUCT_ADJECTIVES)})] || ' '
                     || {sql_literal(PRODUCT_NOUNS)}[1 + pick('item:n', k, {len(PRODUCT_NOUNS)})]
                     || ' ' || k::VARCHAR
                     || CASE itype WHEN 'Service' THEN ' Installation' WHEN 'Kit' THEN ' Kit' ELSE '' END AS name,
                   round(5 + u('item:price', k) * 995, 2) AS price,
                   (u('item:inactive', k) < 0.05 OR k = 3) AS inactive,
                   (u('item:mirror', k) >= 0.04 OR k = 3) AS mirrored,
                   in_window('item:mod', k, 3600) AS mod_s, itype,
                   CASE WHEN itype IN ('NonInvtPart', 'Service') THEN 'Sale' END AS subtype,
                   u('item:eid', k) < 0.15 AS has_eid
            FROM (SELECT k, CASE WHEN k = 3 OR u('item:type', k) < 0.6 THEN 'InvtPart'
                                 WHEN u('item:type', k) < 0.8 THEN 'NonInvtPart'
                                 WHEN u('item:type', k) < 0.95 THEN 'Service' ELSE 'Kit' END AS itype
                  FROM range(1, {n_items + 1}) r(k))""",
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
        # one list price per product and currency, from the USD price at the static rates: what
        # Salesforce's price book entries and NetSuite's pricing matrix both hold
        (
            "prices",
            """
            CREATE TEMP TABLE w_price AS
            SELECT p.pn, c.cid, c.iso, round(p.price * c.rate, c.prec) AS price
            FROM w_product p, w_ct c WHERE c.active""",
        ),
        # -- opportunities: a third won, some lost, the rest open; most won deals never got an
        # Order in Salesforce (the sales order comes from the opportunity itself) -------------
        (
            "opportunities",
            f"""
            CREATE TEMP TABLE w_opp AS
            WITH b AS (
                SELECT n, 1 + pick('opp:acct', n, {n_accounts}) AS i, in_window('opp:s', n, 2 * 86400) AS s,
                       {_stage_sql("u('opp:stage', n)")} AS stage
                FROM range(1, {n_opps + 1}) r(n))
            SELECT b.*, a.id AS account_id, a.name AS acct_name,
                   -- reps forget to switch from their own default currency
                   CASE WHEN a.cur_iso = 'CHF' OR u('opp:cur', n) < 0.08 THEN 'USD' ELSE a.cur_iso END AS cur_iso,
                   stage IN ('Closed Won', 'Closed Lost') AS closed, stage = 'Closed Won' AS won,
                   s + floor((w_anchor() - s) * 0.7 * u('opp:close', n))::BIGINT + 3600 AS t_close,
                   u('opp:nolines', n) < 0.1 AS no_lines, u('opp:del', n) < 0.01 AS deleted
            FROM b JOIN w_acct a USING (i)""",
        ),
        (
            "opportunity lines",
            f"""
            CREATE TEMP TABLE w_oli AS
            WITH l AS (
                SELECT o.n, k, c.cid, c.prec,
                       {line_class("oli:cls", "o.n * 8 + k", 0.01, 0.015)} AS cls,
                       -- a few legacy imports carry quantity 0
                       CASE WHEN u('oli:zero', o.n * 8 + k) < 0.007 THEN 0 ELSE 1 + pick('oli:qty', o.n * 8 + k, 20) END AS qty,
                       u('oli:disc', o.n * 8 + k) < 0.15 AS discounted
                FROM w_opp o JOIN w_ct c ON c.iso = o.cur_iso, range(0, 4) r(k)
                WHERE NOT o.no_lines AND k <= pick('opp:lines', o.n, 4)),
            sized AS (
                SELECT l.*, pick('oli:p', l.n * 8 + l.k, z.cls_n) AS cls_idx
                FROM l JOIN (SELECT DISTINCT cls, cls_n FROM w_product) z USING (cls))
            SELECT row_number() OVER (ORDER BY l.n, l.k) AS lid, l.n, l.k, l.cls, l.qty, l.cid, p.pn, p.sku,
                   pr.price AS list_price, x.price, round(l.qty * x.price, 2) AS amount
            FROM sized l JOIN w_product p USING (cls, cls_idx)
            JOIN w_price pr ON pr.pn = p.pn AND pr.cid = l.cid,
            LATERAL (SELECT CASE WHEN l.discounted THEN round(pr.price * 0.9, l.prec) ELSE pr.price END AS price) x""",
        ),
        (
            "orders from opportunities",
            f"""
            CREATE TEMP TABLE w_opp_order AS
            SELECT row_number() OVER (ORDER BY n) AS o, n FROM w_opp
            WHERE won AND NOT deleted AND NOT no_lines AND u('opp:order', n) < 0.3
            QUALIFY row_number() OVER (ORDER BY n) <= {n_orders // 2}""",
        ),
        (
            "order heads",
            f"""
            CREATE TEMP TABLE w_obase AS
            WITH b AS (
                SELECT r.o, oo.n AS opp_n,
                       coalesce(op.i, 1 + pick('order:acct', r.o, {n_accounts})) AS i,
                       CASE WHEN oo.n IS NOT NULL
                            THEN least(op.t_close + 60 + pick('order:opp', r.o, 7200), w_anchor() - 3600)
                            ELSE in_window('order:start', r.o, 86400) END AS s,
                       op.cur_iso AS opp_cur
                FROM range(1, {n_orders + 1}) r(o)
                LEFT JOIN w_opp_order oo USING (o) LEFT JOIN w_opp op ON op.n = oo.n)
            SELECT b.*, k.cid AS cur_id, k.iso AS cur_iso
            FROM b JOIN w_acct a USING (i)
            JOIN w_cur k ON k.iso = coalesce(b.opp_cur, CASE WHEN a.cur_iso = 'CHF' THEN 'USD' ELSE a.cur_iso END)""",
        ),
        # -- order lines first: whether an order can sync depends on its lines --------------
        (
            "order lines",
            f"""
            CREATE TEMP TABLE w_line AS
            WITH l AS (
                SELECT b.o, k, b.cur_id, {line_class("line:cls", "b.o * 8 + k", 0.01, 0.01)} AS cls,
                       (1 + pick('line:qty', b.o * 8 + k, 20)) * CASE WHEN u('line:neg', b.o * 8 + k) < 0.01 THEN -1 ELSE 1 END AS qty
                FROM w_obase b, range(0, 5) s(k)
                WHERE b.opp_n IS NULL AND k <= pick('order:lines', b.o, 5)),
            sized AS (  -- class sizes first, so the product lookup below is an equi-join
                SELECT l.*, pick('line:p', l.o * 8 + l.k, n.cls_n) AS cls_idx
                FROM l JOIN (SELECT DISTINCT cls, cls_n FROM w_product) n USING (cls)),
            lines AS (
                SELECT l.o, l.k, l.qty, l.cls, p.pn, p.item_id, pr.price
                FROM sized l JOIN w_product p USING (cls, cls_idx)
                JOIN w_price pr ON pr.pn = p.pn AND pr.cid = l.cur_id
                UNION ALL  -- an order made from a won opportunity copies its products
                SELECT b.o, ol.k, ol.qty, ol.cls, ol.pn, p.item_id, ol.price
                FROM w_obase b JOIN w_oli ol ON ol.n = b.opp_n JOIN w_product p ON p.pn = ol.pn)
            SELECT row_number() OVER (ORDER BY o, k) AS ln, o, k, qty, cls, pn, item_id, price,
                   round(qty * price, 2) AS amount
            FROM lines""",
        ),
        (
            "orders",
            """
            CREATE TEMP TABLE w_order AS
            WITH base AS (
                SELECT b.*, a.sub, a.sub_base,
                       -- NetSuite refuses a currency the subsidiary has no rate pair for, and
                       -- cannot book a date before the pair's first rate
                       b.cur_id = a.sub_base OR EXISTS (
                           SELECT 1 FROM w_pair p WHERE p.base = a.sub_base AND p.txn = b.cur_id
                           AND p.start_s <= b.s) AS rate_ok
                FROM w_obase b JOIN w_acct a USING (i)),
            agg AS (
                SELECT o, sum(amount) AS total, bool_or(cls <> 'active' OR qty <= 0) AS blocked
                FROM w_line GROUP BY o),
            staged AS (
                SELECT b.*, g.total, g.blocked OR NOT b.rate_ok AS blocked, a.linked, a.id AS account_id,
                       CASE WHEN NOT a.linked OR g.blocked OR NOT b.rate_ok
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
            SELECT o, i, s, account_id, stage, total, blocked, opp_n, cur_id, cur_iso, sub, sub_base,
                   sfid('801', o) AS id, lpad(o::VARCHAR, 8, '0') AS order_number,
                   t_act, t_act + d_sync AS t_sync, t_act + d_sync + d_ship AS t_ship,
                   t_act + d_sync + d_ship + d_inv AS t_inv,
                   t_act + d_sync + d_ship + d_inv + d_pay AS t_pay,
                   stage >= 2 AND u('wb:so', o) < 0.95 AS so_written_back,
                   stage >= 3 AND u('wb:ship', o) < 0.5 AS ship_written_back,
                   stage >= 4 AND u('wb:inv', o) < 0.5 AS inv_written_back,
                   stage = 0 AND opp_n IS NULL AND u('order:deleted', o) < 0.03 AS deleted,
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
                   cur_iso AS "CurrencyIsoCode",
                   CASE WHEN linked THEN (1000 + i)::VARCHAR END AS "NetSuite_Customer_ID__c",
                   coalesce(r.amount, 0) AS "Total_Order_Amount__c"
            FROM (SELECT *, sf_stamps(mod_s, mod_s - 60 * 86400, 'acct', i) AS st FROM w_acct) a
            LEFT JOIN (  -- the roll-up of live orders, at the static rates (see dml.ROLLUPS)
                SELECT o.i, round(sum(o.total * pa.rate / po.rate), 2) AS amount
                FROM w_order o JOIN w_acct x USING (i)
                JOIN w_ct po ON po.cid = o.cur_id JOIN w_ct pa ON pa.iso = x.cur_iso
                WHERE o.stage >= 1 AND NOT o.deleted GROUP BY o.i) r USING (i)""",
        ),
        (
            "sf.Contact",
            f"""
            INSERT INTO sf."Contact" BY NAME
            WITH c AS (
                SELECT row_number() OVER (ORDER BY a.i, k) AS n, k, a.id AS account_id, a.mod_s AS acct_s,
                       a.cur_iso, lower(regexp_replace(a.name, '[^A-Za-z]', '', 'g')) AS domain
                FROM w_acct a, range(0, 3) r(k) WHERE k < pick('acct:contacts', a.i, 4)),
            named AS (
                SELECT c.*, {sql_literal(FIRST_NAMES)}[1 + pick('contact:f', n, {len(FIRST_NAMES)})] AS first,
                       {sql_literal(LAST_NAMES)}[1 + pick('contact:l', n, {len(LAST_NAMES)})] AS last,
                       u('contact:name', n) AS un, u('contact:email', n) AS ue
                FROM c),
            twins AS (  -- the same person entered twice on an account: same name, same email
                SELECT *, lag(n) OVER w AS prev_n, lag(first) OVER w AS prev_first, lag(last) OVER w AS prev_last
                FROM named WINDOW w AS (PARTITION BY account_id ORDER BY k))
            SELECT sfid('003', n) AS "Id", u('contact:del', n) < 0.01 AS "IsDeleted",
                   st.created AS "CreatedDate", st.last AS "LastModifiedDate", st.sys AS "SystemModstamp",
                   account_id AS "AccountId",
                   CASE WHEN twin THEN prev_first WHEN un < 0.02 OR (un >= 0.045 AND un < 0.05) THEN NULL ELSE first END AS "FirstName",
                   CASE WHEN twin THEN prev_last
                        WHEN un < 0.02 THEN first || ' ' || last  -- a name-only import
                        WHEN un < 0.05 THEN {sql_literal(LAST_NAME_PLACEHOLDERS)}[1 + pick('contact:ph', n, {len(LAST_NAME_PLACEHOLDERS)})]
                        ELSE last END AS "LastName",
                   CASE WHEN twin THEN 'contact' || prev_n::VARCHAR || '@' || domain || '.example.com'
                        WHEN ue < 0.08 THEN NULL
                        WHEN ue < 0.10 THEN 'purchasing@shared-procurement.example.com'  -- one agency, many accounts
                        ELSE 'contact' || n::VARCHAR || '@' || domain || '.example.com' END AS "Email",
                   '+1 555 ' || lpad(pick('contact:ph', n, 10000000)::VARCHAR, 7, '0') AS "Phone",
                   cur_iso AS "CurrencyIsoCode"
            FROM (SELECT *, prev_n IS NOT NULL AND u('contact:twin', n) < 0.15 AS twin,
                         sf_stamps(in_window('contact:mod', n, 3600), acct_s - 86400, 'contact', n) AS st
                  FROM twins)""",
        ),
        (
            "sf.Opportunity",
            f"""
            INSERT INTO sf."Opportunity" BY NAME
            SELECT sfid('006', n) AS "Id", deleted AS "IsDeleted",
                   st.created AS "CreatedDate", st.last AS "LastModifiedDate", st.sys AS "SystemModstamp",
                   account_id AS "AccountId", left(acct_name, 80) || ' - Deal ' || n::VARCHAR AS "Name",
                   stage AS "StageName",
                   CASE WHEN closed THEN ts(t_close)::DATE  -- open deals: some already overdue
                        ELSE (ts(w_anchor()) + INTERVAL (pick('opp:cd', n, 110) - 20) DAY)::DATE END AS "CloseDate",
                   coalesce(l.amount, round((500 + u('opp:amt', n) * 50000) * ct.rate, ct.prec)) AS "Amount",
                   CASE WHEN NOT closed AND u('opp:prob', n) < 0.05 THEN 5 * (1 + pick('opp:p', n, 19))
                        ELSE {_by_stage("stage", 2)} END AS "Probability",
                   CASE WHEN NOT closed AND u('opp:fc', n) < 0.06 THEN ['Best Case', 'Commit'][1 + pick('opp:fcv', n, 2)]
                        ELSE {_by_stage("stage", 3)} END AS "ForecastCategoryName",
                   closed AS "IsClosed", won AS "IsWon", l.n IS NOT NULL AS "HasOpportunityLineItem",
                   CASE WHEN l.n IS NOT NULL OR u('opp:pb', n) < 0.3 THEN sfid('01s', 1) END AS "Pricebook2Id",
                   o.cur_iso AS "CurrencyIsoCode",
                   -- formula (see calculated.FORMULAS): Amount / CURRENCYRATE(CurrencyIsoCode)
                   round(coalesce(l.amount, round((500 + u('opp:amt', n) * 50000) * ct.rate, ct.prec)) / ct.rate, 2)
                     AS "Amount_Corporate__c"
            FROM (SELECT *, sf_stamps(CASE WHEN closed THEN t_close + pick('opp:m', n, 3600)
                                           ELSE s + floor((w_anchor() - s - 3600) * u('opp:edit', n))::BIGINT END,
                                      s, 'opp', n) AS st FROM w_opp) o
            JOIN w_ct ct ON ct.iso = o.cur_iso
            LEFT JOIN (SELECT n, sum(amount) AS amount FROM w_oli GROUP BY n) l USING (n)""",
        ),
        (
            "sf.OpportunityLineItem",
            f"""
            INSERT INTO sf."OpportunityLineItem" BY NAME
            SELECT sfid('00k', l.lid) AS "Id", o.deleted AS "IsDeleted",
                   st.created AS "CreatedDate", st.last AS "LastModifiedDate", st.sys AS "SystemModstamp",
                   sfid('006', l.n) AS "OpportunityId", {entry_id("l.pn", "l.cid")} AS "PricebookEntryId",
                   sfid('01t', l.pn) AS "Product2Id", l.sku AS "ProductCode", l.qty AS "Quantity",
                   l.price AS "UnitPrice", l.list_price AS "ListPrice", l.amount AS "TotalPrice",
                   o.cur_iso AS "CurrencyIsoCode"
            FROM (SELECT l.*, sf_stamps(o.s + 60 * (l.k + 1), o.s, 'oli', l.lid) AS st
                  FROM w_oli l JOIN w_opp o USING (n)) l
            JOIN w_opp o USING (n)""",
        ),
        (
            "sf.Product2",
            f"""
            INSERT INTO sf."Product2" BY NAME
            SELECT sfid('01t', pn) AS "Id", false AS "IsDeleted",
                   st.created AS "CreatedDate", st.last AS "LastModifiedDate", st.sys AS "SystemModstamp",
                   name AS "Name", sku AS "ProductCode", 'Synthetic catalogue item ' || sku AS "Description",
                   {sql_literal(FAMILIES)}[1 + pick('prod:fam', pn, {len(FAMILIES)})] AS "Family",
                   NOT inactive AS "IsActive", item_id::VARCHAR AS "NetSuite_Item_ID__c",
                   'USD' AS "CurrencyIsoCode"
            FROM (SELECT *, sf_stamps(mod_s, mod_s - 30 * 86400, 'prod', pn) AS st FROM w_product)""",
        ),
        (
            "sf.Pricebook2",
            """
            INSERT INTO sf."Pricebook2" BY NAME
            SELECT sfid('01s', n) AS "Id", false AS "IsDeleted", ts(w_start() - 200 * 86400) AS "CreatedDate",
                   ts(w_start()) AS "LastModifiedDate", ts(w_start()) AS "SystemModstamp",
                   name AS "Name", active AS "IsActive", standard AS "IsStandard", 'USD' AS "CurrencyIsoCode"
            FROM (VALUES (1, 'Standard Price Book', true, true), (2, 'Partner Price Book', false, false))
                 v(n, name, active, standard)""",
        ),
        (
            "sf.PricebookEntry",
            f"""
            INSERT INTO sf."PricebookEntry" BY NAME
            SELECT {entry_id("pn", "cid")} AS "Id", false AS "IsDeleted",
                   st.created AS "CreatedDate", st.last AS "LastModifiedDate", st.sys AS "SystemModstamp",
                   sfid('01s', 1) AS "Pricebook2Id", sfid('01t', pn) AS "Product2Id", x.entry_price AS "UnitPrice",
                   NOT inactive AS "IsActive", false AS "UseStandardPrice", x.iso AS "CurrencyIsoCode"
            FROM (SELECT p.*, x.cid, x.iso, x.price AS entry_price, sf_stamps(p.mod_s, p.mod_s - 30 * 86400, 'pbe', ({n_cur} * p.pn + x.cid)) AS st
                  FROM w_product p JOIN w_price x USING (pn)) x""",
        ),
        # An order's stamps: the latest thing Salesforce knows about it.
        (
            "sf.Order",
            """
            INSERT INTO sf."Order" BY NAME
            SELECT id AS "Id", deleted AS "IsDeleted", ts(s) AS "CreatedDate",
                   ts(greatest(mod_s, snap(mod_s, 'order', o) - CASE WHEN u('order:sys', o) < 0.1 THEN pick('order:d', o, 7200) ELSE 0 END)) AS "LastModifiedDate",
                   ts(snap(mod_s, 'order', o)) AS "SystemModstamp",
                   account_id AS "AccountId", CASE WHEN opp_n IS NOT NULL THEN sfid('006', opp_n) END AS "OpportunityId",
                   sfid('01s', 1) AS "Pricebook2Id", order_number AS "OrderNumber",
                   CASE WHEN ship_written_back THEN 'Shipped' WHEN stage >= 1 THEN 'Activated'
                        WHEN u('order:cancel', o) < 0.03 THEN 'Cancelled' ELSE 'Draft' END AS "Status",
                   CASE WHEN stage >= 1 THEN ts(t_act)::DATE ELSE (ts(s) + INTERVAL (pick('order:eff', o, 30)) DAY)::DATE END AS "EffectiveDate",
                   CASE WHEN stage >= 1 THEN ts(t_act) END AS "ActivatedDate",
                   total AS "TotalAmount",
                   NULL AS "NetSuite_Sales_Order_ID__c",  -- set once transaction ids exist
                   CASE WHEN ship_written_back THEN 'Fulfilled' WHEN stage >= 1 THEN 'Unfulfilled' END AS "Fulfillment_Status__c",
                   CASE WHEN ship_written_back THEN tracking END AS "Tracking_Number__c",
                   cur_iso AS "CurrencyIsoCode",
                   -- formulas (see calculated.FORMULAS): the account's industry, days since activation
                   (SELECT a."Industry" FROM sf."Account" a WHERE a."Id" = account_id) AS "Account_Industry__c",
                   CASE WHEN stage >= 1 THEN date_diff('day', ts(t_act)::DATE, ts(w_anchor())::DATE) END
                     AS "Days_Since_Activation__c"
            FROM (SELECT *, greatest(CASE WHEN stage = 0 THEN s + floor((w_anchor() - s) * 0.3 * u('order:edit', o))::BIGINT ELSE t_act END,
                                     CASE WHEN so_written_back THEN t_sync + 30 ELSE 0 END,
                                     CASE WHEN ship_written_back THEN t_ship + 300 ELSE 0 END) AS mod_s
                  FROM w_order)""",
        ),
        (
            "sf.OrderItem",
            f"""
            INSERT INTO sf."OrderItem" BY NAME
            SELECT sfid('802', ln) AS "Id", o.deleted AS "IsDeleted",
                   st.created AS "CreatedDate", st.last AS "LastModifiedDate", st.sys AS "SystemModstamp",
                   o.id AS "OrderId", sfid('01t', l.pn) AS "Product2Id", {entry_id("l.pn", "o.cur_id")} AS "PricebookEntryId",
                   lpad(ln::VARCHAR, 10, '0') AS "OrderItemNumber", l.qty AS "Quantity", l.price AS "UnitPrice",
                   l.amount AS "TotalPrice", o.cur_iso AS "CurrencyIsoCode"
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
                   sub AS subsidiary, cur AS currency,
                   CASE WHEN u('cust:pl', cid) < 0.08 THEN 4 WHEN u('cust:pl', cid) < 0.09 THEN 5 END AS pricelevel,
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
            "ns.customersubsidiaryrelationship",
            """
            INSERT INTO ns.customersubsidiaryrelationship BY NAME
            SELECT row_number() OVER (ORDER BY entity, isprimarysub DESC) AS id, entity, subsidiary, isprimarysub,
                   primarycurrency, NULL AS externalid, lastmodifieddate
            FROM (SELECT cid AS entity, sub AS subsidiary, 'T' AS isprimarysub, cur AS primarycurrency,
                         ts(snap(mod_s, 'cust', cid)) AS lastmodifieddate FROM w_cust
                  UNION ALL  -- multi-subsidiary customers also buy through a second entity
                  SELECT cid, CASE WHEN sub = 1 THEN 2 ELSE 1 END, 'F', cur, ts(snap(mod_s, 'cust', cid))
                  FROM w_cust WHERE u('cust:multisub', cid) < 0.05)""",
        ),
        (
            "ns.contact",
            f"""
            INSERT INTO ns.contact BY NAME
            WITH src AS (
                SELECT c."Id" AS sf_id, c."FirstName" AS firstname, c."LastName" AS lastname, c."Email" AS email,
                       c."Phone" AS phone, cu.cid, cu.sub, cu.mod_s, u('nsc:mirror', c."Id") AS um
                FROM sf."Contact" c JOIN w_acct a ON a.id = c."AccountId" JOIN w_cust cu ON cu.i = a.i
                WHERE NOT c."IsDeleted"),
            rows AS (
                -- contacts an earlier integration copied over (a few with a phone since changed)
                SELECT 'SF_CONTACT_' || sf_id AS externalid, firstname, lastname, email,
                       CASE WHEN u('nsc:stale', sf_id) < 0.2 THEN '+1 555 0000000' ELSE phone END AS phone,
                       cid, sub, mod_s, sf_id AS k
                FROM src WHERE um < 0.4
                UNION ALL  -- the same people typed into NetSuite by hand: no external id
                SELECT NULL, firstname, lastname, email, phone, cid, sub, mod_s, sf_id
                FROM src WHERE um >= 0.4 AND um < 0.45 AND email IS NOT NULL
                UNION ALL  -- the accounts-payable desk of a customer
                SELECT NULL, 'Accounts', 'Payable', 'ap@' || lower(regexp_replace(name, '[^A-Za-z]', '', 'g')) || '.example.com',
                       NULL, cid, sub, mod_s, 'ap' || cid::VARCHAR
                FROM w_cust WHERE u('nsc:ap', cid) < 0.5)
            SELECT {contact_id0} + row_number() OVER (ORDER BY cid, k) AS id,
                   trim(coalesce(firstname || ' ', '') || coalesce(lastname, '')) AS entityid,
                   firstname, lastname, email, phone, cid AS company, sub AS subsidiary, externalid,
                   'F' AS isinactive, ts(least(mod_s + 120 + pick('nsc:c', k, 86400), w_anchor())) AS datecreated,
                   ts(least(mod_s + 120 + pick('nsc:c', k, 86400) + pick('nsc:m', k, 86400), w_anchor())) AS lastmodifieddate
            FROM rows""",
        ),
        (
            "ns.item",
            """
            INSERT INTO ns.item BY NAME
            SELECT item_id AS id, sku AS itemid, name AS displayname, 'Synthetic catalogue item ' || sku AS description,
                   itype AS itemtype, subtype, price AS baseprice, CASE WHEN inactive THEN 'T' ELSE 'F' END AS isinactive,
                   CASE WHEN has_eid THEN sku END AS externalid,
                   ts(mod_s - pick('item:age', k, 60 * 86400)) AS createddate,
                   ts(snap(mod_s, 'item', k)) AS lastmodifieddate
            FROM w_item""",
        ),
        (
            "ns.itemmember",
            """
            INSERT INTO ns.itemmember BY NAME
            WITH parts AS (
                SELECT item_id, row_number() OVER (ORDER BY k) - 1 AS idx, count(*) OVER () AS n
                FROM w_item WHERE itype = 'InvtPart')
            SELECT kit.item_id AS parentitem, m.j + 1 AS linenumber, p.item_id AS item,
                   1 + pick('kit:q', kit.k * 4 + m.j, 4) AS quantity
            FROM w_item kit, range(0, 3) m(j), parts p
            WHERE kit.itype = 'Kit' AND m.j <= 1 + pick('kit:n', kit.k, 2)
              AND p.idx = pick('kit:m', kit.k * 4 + m.j, p.n)""",
        ),
        (
            "ns.pricing",
            """
            INSERT INTO ns.pricing BY NAME
            SELECT i.item_id AS item, 1 AS pricelevel, c.cid AS currency, 0 AS quantity,
                   round(i.price * c.rate, c.prec) AS unitprice
            FROM w_item i, w_ct c WHERE c.active
            UNION ALL
            SELECT item_id, 4, 1, 0, round(price * 0.9, 2) FROM w_item
            UNION ALL  -- volume break
            SELECT item_id, 1, 1, 10, round(price * 0.95, 2) FROM w_item WHERE u('item:vol', k) < 0.2""",
        ),
        # every transaction of every synced order, ids assigned in creation order like NetSuite's,
        # each at the exchange rate of its own date
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
                                 round(total * 0.2, 2) FROM w_order WHERE credited AND u('cred:refund', o) < 0.5),
            numbered AS (
                SELECT 10000 + row_number() OVER (ORDER BY t.created_s, t.kind_rank, t.o) AS tid, t.*,
                       row_number() OVER (PARTITION BY t.type ORDER BY t.created_s, t.o) AS type_seq,
                       w.cur_id, w.sub, w.sub_base, ts(t.created_s)::DATE AS d
                FROM t JOIN w_order w USING (o))
            SELECT n.*, coalesce(r.exchangerate, 1.0) AS xrate
            FROM numbered n ASOF LEFT JOIN ns.currencyrate r
              ON r.basecurrency = n.sub_base AND r.transactioncurrency = n.cur_id AND n.d >= r.effectivedate""",
        ),
        (
            "ns.transaction",
            f"""
            INSERT INTO ns.transaction BY NAME
            SELECT t.tid AS id,
                   CASE t.type WHEN 'SalesOrd' THEN 'SO' WHEN 'ItemShip' THEN 'IF' WHEN 'CustInvc' THEN 'INV'
                               WHEN 'CustPymt' THEN 'PYMT' WHEN 'CustCred' THEN 'CM' ELSE 'RFND' END
                     || lpad(t.type_seq::VARCHAR, 6, '0') AS tranid,
                   t.d AS trandate, t.type, CASE t.type {recordtype} END AS recordtype,
                   CASE t.type
                     WHEN 'SalesOrd' THEN CASE WHEN o.stage >= 4 THEN 'G' WHEN o.stage = 3 THEN 'F'
                                               WHEN u('so:approval', o.o) < 0.05 THEN 'A' ELSE 'B' END
                     WHEN 'ItemShip' THEN CASE WHEN u('if:status', o.o) < 0.03 THEN 'B' ELSE 'C' END
                     WHEN 'CustInvc' THEN CASE WHEN o.stage = 6 THEN 'B' ELSE 'A' END
                     WHEN 'CustPymt' THEN CASE WHEN u('pay:dep', o.o) < 0.7 THEN 'C' ELSE 'B' END
                     WHEN 'CustCred' THEN CASE WHEN u('cred:refund', o.o) < 0.5 THEN 'B' ELSE 'A' END
                     ELSE CASE WHEN u('rfnd:void', o.o) < 0.1 THEN 'V' END END AS status,
                   c.cid AS entity, t.cur_id AS currency, t.xrate AS exchangerate, t.amount AS foreigntotal,
                   CASE t.type WHEN 'CustInvc' THEN o.paid END AS foreignamountpaid,
                   CASE t.type WHEN 'CustInvc' THEN round(o.total - o.paid, 2) END AS foreignamountunpaid,
                   CASE t.type WHEN 'SalesOrd' THEN 'SF_ORDER_' || o.id END AS externalid,
                   CASE WHEN t.type IN ('SalesOrd', 'CustInvc') THEN o.order_number END AS otherrefnum,
                   CASE t.type WHEN 'SalesOrd' THEN 'Salesforce order ' || o.order_number END AS memo,
                   CASE WHEN t.type IN ('ItemShip', 'CustInvc') THEN so.tid
                        WHEN t.type = 'CustCred' THEN inv.tid END AS createdfrom,
                   CASE t.type WHEN 'CustInvc' THEN (ts(t.created_s) + INTERVAL 30 DAY)::DATE END AS duedate,
                   CASE t.type WHEN 'SalesOrd' THEN (ts(t.created_s) + INTERVAL (1 + pick('so:ship', o.o, 14)) DAY)::DATE
                               WHEN 'ItemShip' THEN t.d END AS shipdate,
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
                       NULL::DOUBLE AS rate, x.foreigntotal AS foreignamount, t.xrate, t.sub, x.createdfrom,
                       x.lastmodifieddate AS stamp
                FROM w_txn t JOIN ns.transaction x ON x.id = t.tid
                UNION ALL
                SELECT t.tid, l.k + 1, 'F', l.item_id, -l.qty,
                       CASE WHEN t.type <> 'ItemShip' THEN l.price END,
                       CASE WHEN t.type <> 'ItemShip' THEN -l.amount END, t.xrate, t.sub,
                       CASE WHEN t.type <> 'SalesOrd' THEN so.tid END, ts(t.created_s)
                FROM w_txn t JOIN w_line l USING (o)
                LEFT JOIN w_txn so ON so.o = t.o AND so.type = 'SalesOrd'
                WHERE t.type IN ('SalesOrd', 'ItemShip', 'CustInvc')
                UNION ALL
                SELECT t.tid, 1, 'F', l.item_id, 1, t.amount, t.amount, t.xrate, t.sub, NULL, ts(t.created_s)
                FROM w_txn t JOIN w_line l ON l.o = t.o AND l.k = 0
                WHERE t.type = 'CustCred')
            SELECT transaction, id, 1000000 + row_number() OVER (ORDER BY transaction, id) AS uniquekey,
                   id AS linesequencenumber, mainline, 'F' AS taxline, item, quantity, rate, foreignamount,
                   round(foreignamount * xrate, 2) AS netamount, sub AS subsidiary,
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
                   CASE WHEN paid_seen AND w.paid >= w.total THEN 'Closed' ELSE 'Open' END AS "Status__c",
                   w.cur_iso AS "CurrencyIsoCode"
            FROM (SELECT *, stage >= 5 AND u('wb:pay', o) < 0.5 AS paid_seen FROM w_order WHERE inv_written_back) w
            JOIN w_txn t ON t.o = w.o AND t.type = 'CustInvc'
            JOIN ns.transaction x ON x.id = t.tid""",
        ),
    ]
    return steps


def _subsidiary_rows() -> list[tuple]:
    by_id = {s.ns_id: s for s in SUBSIDIARIES}

    def full(s: Subsidiary) -> str:
        return s.name if s.parent is None else f"{full(by_id[s.parent])} : {s.name}"

    return [
        (
            s.ns_id,
            s.name,
            full(s),
            s.country,
            CURRENCY_ID[s.currency],
            s.parent,
            "T" if s.elimination else "F",
            "T" if s.inactive else "F",
        )
        for s in SUBSIDIARIES
    ]
