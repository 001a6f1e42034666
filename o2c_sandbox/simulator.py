"""Business time for the sandbox world: each step is one batch of O2C events, so delta loads and
sync runs always have something new to find.

A step creates and edits accounts and contacts, opens, advances and closes opportunities (some
won deals get an Order), drafts and activates orders in Salesforce, moves synced sales orders
through NetSuite (fulfilment, invoice, payment), and moves exchange rates in both systems; it
also deletes a few records the way each system does (Salesforce soft deletes, NetSuite hard
deletes recorded in ``deletedrecord``). Choices are ``hash(seed, step, ...)`` draws over the
current state, so a world advanced the same number of steps from the same seed sees the same
events. Every record an event touches gets the step's timestamp, and :func:`advance` returns
exactly which records those are, so tests can hold a delta load to "picked up these, and only
these". Roll-up summaries recalculated by the org move only ``SystemModstamp`` (``system``);
formula fields move no stamp at all (``recalculated`` counts them), as in Salesforce.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa

from o2c_sandbox import calculated, world
from o2c_sandbox.core import Store
from o2c_sandbox.salesforce.dml import ROLLUPS, refresh_rollup
from o2c_sandbox.salesforce.model import make_id
from o2c_sandbox.schema import (
    CORPORATE_CURRENCY,
    NS_TRANSACTION_TYPES,
    OPPORTUNITY_STAGES,
    SF_OBJECTS,
)

#: NetSuite transaction types whose ids share the transaction id sequence.
_TRANSACTION_TYPES = tuple(NS_TRANSACTION_TYPES.values())
#: transaction.recordtype of each type code
_RECORD_TYPE = {code: rt.lower() for rt, code in NS_TRANSACTION_TYPES.items()}

_LIVE_ACCOUNTS = 'sf."Account" WHERE NOT "IsDeleted"'


@dataclass(frozen=True)
class StepSizes:
    """Events per step; scaled with the world so a large world moves at a realistic pace."""

    new_accounts: int
    changed_accounts: int
    changed_contacts: int
    changed_customers: int
    new_orders: int
    activations: int
    shipments: int
    invoices: int
    payments: int
    new_contacts: int
    new_opportunities: int
    advanced_opportunities: int
    closed_opportunities: int
    changed_ns_contacts: int
    # deletes: one of each per step, whatever the scale
    sf_contact_deletes: int = 1
    sf_order_deletes: int = 1
    ns_customer_deletes: int = 1

    @classmethod
    def for_scale(cls, scale: str) -> StepSizes:
        base = max(1, world.SCALES.get(scale, world.SCALES["small"]).accounts // 100)
        return cls(
            new_accounts=base,
            changed_accounts=2 * base,
            changed_contacts=base,
            changed_customers=base,
            new_orders=2 * base,
            activations=2 * base,
            shipments=2 * base,
            invoices=2 * base,
            payments=2 * base,
            new_contacts=base,
            new_opportunities=2 * base,
            advanced_opportunities=2 * base,
            closed_opportunities=2 * base,
            changed_ns_contacts=base,
        )


@dataclass
class _Changes:
    changed: dict[str, set[Any]] = field(default_factory=lambda: defaultdict(set))
    deleted: dict[str, set[Any]] = field(default_factory=lambda: defaultdict(set))
    #: Salesforce records the org itself saved (roll-ups): SystemModstamp moved, LastModifiedDate not
    system: dict[str, set[Any]] = field(default_factory=lambda: defaultdict(set))
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    #: formula values that changed: no stamp moved at all
    recalculated: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def touch(self, table: str, keys: list[Any]) -> None:
        self.changed[table].update(keys)

    def summary(self, steps: int, at: dt.datetime) -> dict[str, Any]:
        for table, keys in self.deleted.items():
            self.changed[table] -= keys
        system_only = {t: keys - self.changed[t] for t, keys in self.system.items()}
        for table, keys in self.system.items():
            self.changed[table] |= keys
        return {
            "steps": steps,
            "at": at.isoformat(timespec="milliseconds") + "Z",
            "changed": {t: _keys(k) for t, k in sorted(self.changed.items()) if k},
            "deleted": {t: _keys(k) for t, k in sorted(self.deleted.items()) if k},
            "system": {t: _keys(k) for t, k in sorted(system_only.items()) if k},
            "counts": dict(sorted(self.counts.items())),
            "recalculated": dict(sorted(self.recalculated.items())),
        }


def _keys(keys: set[Any]) -> list[Any]:
    """Sorted, JSON-shaped: composite keys (tuples internally) become lists."""
    return [list(k) if isinstance(k, tuple) else k for k in sorted(keys)]


def advance(store: Store, steps: int = 1) -> dict[str, Any]:
    """Apply ``steps`` batches of business events in one write transaction; returns what changed.

    ``changed``/``deleted`` map ``schema.table`` to keys: Salesforce Ids, NetSuite ids,
    ``[transaction, line]`` for ``ns.transactionline``, ``[previousdoc, nextdoc]`` for
    ``ns.previoustransactionlink`` and ``[item, pricelevel, currency, quantity]`` for
    ``ns.pricing``. ``system`` lists the changed Salesforce records whose only change was the
    org's own (SystemModstamp moved, LastModifiedDate did not); ``recalculated`` counts formula
    values that changed without any stamp.
    """
    if steps < 1:
        raise ValueError("steps must be >= 1")
    seed = int(store.get_meta("seed", "42") or 42)
    sizes = StepSizes.for_scale(store.get_meta("scale", "small") or "small")
    changes = _Changes()
    with store.writer() as cur:
        step = int(store.get_meta("sim_step", "0") or 0)
        last_at = store.get_meta("sim_last_at")
        at = dt.datetime.min
        for _ in range(steps):
            step += 1
            at = _step_time(last_at)
            last_at = at.isoformat()
            _Step(cur, seed, step, at, sizes, changes).run()
        store.set_meta("sim_step", str(step), cur)
        store.set_meta("sim_last_at", last_at, cur)
    return changes.summary(steps, at)


def _step_time(last_at: str | None) -> dt.datetime:
    """Now (naive UTC, millisecond precision like Salesforce), strictly after the previous step."""
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    now = now.replace(microsecond=now.microsecond // 1000 * 1000)
    if last_at is not None:
        now = max(now, dt.datetime.fromisoformat(last_at) + dt.timedelta(milliseconds=1))
    return now


class _Step:
    """One batch of events at one instant."""

    def __init__(
        self,
        cur: duckdb.DuckDBPyConnection,
        seed: int,
        step: int,
        at: dt.datetime,
        sizes: StepSizes,
        changes: _Changes,
    ):
        self.cur, self.seed, self.step, self.at = cur, seed, step, at
        self.sizes, self.changes = sizes, changes
        self.rng = random.Random(f"{seed}:{step}")

    def run(self) -> None:
        self.move_rates()
        self.new_accounts()
        self.change_accounts()
        self.new_contacts()
        self.change_contacts()
        self.change_customers()
        self.change_ns_contacts()
        self.new_opportunities()
        self.advance_opportunities()
        self.close_opportunities()
        self.new_orders()
        self.activate_orders()
        self.ship()
        self.invoice()
        self.pay()
        self.delete()
        self.recalculate()

    # -- helpers ---------------------------------------------------------------------------------
    def pick(self, salt: str, key: str, source: str, k: int) -> list[Any]:
        """``k`` keys of ``source`` (a FROM/WHERE clause) drawn by a seeded hash, repeatably."""
        return [r[0] for r in self.pick_rows(salt, key, key, source, k)]

    def pick_rows(self, salt: str, key: str, columns: str, source: str, k: int) -> list[tuple]:
        """``k`` rows (``columns``) of ``source`` drawn by a seeded hash of ``key``, repeatably."""
        if k <= 0:
            return []
        return self.cur.execute(
            f"SELECT {columns} FROM {source} ORDER BY hash(?, ?, ?, {key}) LIMIT {int(k)}",
            [self.seed, self.step, salt],
        ).fetchall()

    def pick_live_sf(self, salt: str, sobject: str, k: int, where: str = "") -> list[str]:
        """``k`` Ids of ``sobject`` records not deleted (and matching ``where``), as :meth:`pick`."""
        condition = f'NOT "IsDeleted" AND {where}' if where else 'NOT "IsDeleted"'
        return self.pick(salt, '"Id"', f'sf."{sobject}" WHERE {condition}', k)

    def scalar(self, sql: str, params: list[Any] | None = None) -> Any:
        return self.cur.execute(sql, params or []).fetchall()[0][0]

    def next_sf_number(self, obj: str) -> int:
        return self.scalar(
            f'SELECT coalesce(max(try_cast(substr("Id", 4, 12) AS BIGINT)), 0) + 1 FROM sf."{obj}"'
        )

    def next_transaction_id(self) -> int:
        """NetSuite never reuses an internal id, deleted ones included."""
        codes = ", ".join(f"'{c}'" for c in _TRANSACTION_TYPES)
        return self.scalar(
            "SELECT greatest((SELECT coalesce(max(id), 0) FROM ns.transaction), "
            f"(SELECT coalesce(max(recordid), 0) FROM ns.deletedrecord WHERE type IN ({codes}))) + 1"
        )

    def insert_sf(self, obj: str, rows: list[dict[str, Any]]) -> None:
        """New ``obj`` records, each a changed record of the step."""
        if not rows:
            return
        self.cur.register("_sim_rows", pa.Table.from_pylist(rows))
        try:
            self.cur.execute(f'INSERT INTO sf."{obj}" BY NAME SELECT * FROM _sim_rows')
        finally:
            self.cur.unregister("_sim_rows")
        self.changes.touch(f"sf.{obj}", [row["Id"] for row in rows])

    def stamp_sf(
        self,
        obj: str,
        ids: list[str],
        sets: str = "",
        params: list[Any] | None = None,
    ) -> None:
        """Apply ``sets`` to Salesforce records and stamp them as modified now."""
        if not ids:
            return
        extra = f"{sets}, " if sets else ""
        self.cur.execute(
            f'UPDATE sf."{obj}" SET {extra}"LastModifiedDate" = ?, "SystemModstamp" = ? '
            f'WHERE "Id" IN (SELECT unnest(?))',
            [*(params or []), self.at, self.at, ids],
        )
        self.changes.touch(f"sf.{obj}", ids)

    def sf_stamps(self) -> dict[str, dt.datetime | bool]:
        return {
            "IsDeleted": False,
            "CreatedDate": self.at,
            "LastModifiedDate": self.at,
            "SystemModstamp": self.at,
        }

    # -- Salesforce ------------------------------------------------------------------------------
    def sf_id(self, obj: str, n: int) -> str:
        return make_id(SF_OBJECTS[obj], n)

    def contact_row(self, n: int, account_id: str, currency: str, rng: random.Random) -> dict:
        """A new contact as users enter them: some without email, some without a real last name
        (see world.LAST_NAME_PLACEHOLDERS)."""
        draw = rng.random()
        return {
            "Id": self.sf_id("Contact", n),
            **self.sf_stamps(),
            "AccountId": account_id,
            "FirstName": rng.choice(world.FIRST_NAMES),
            "LastName": rng.choice(world.LAST_NAME_PLACEHOLDERS)
            if draw < 0.05
            else rng.choice(world.LAST_NAMES),
            "Email": None if draw > 0.9 else f"contact{n}@{account_id.lower()}.example.com",
            "Phone": f"+1 555 {rng.randrange(10**7):07d}",
            "CurrencyIsoCode": currency,
        }

    def new_accounts(self) -> None:
        n0 = self.next_sf_number("Account")
        c0 = self.next_sf_number("Contact")
        accounts, contacts = [], []
        for n in range(n0, n0 + self.sizes.new_accounts):
            rng = random.Random(f"{self.seed}:account:{n}")
            iso, typed, _enum, cities = rng.choice(world.COUNTRIES)
            name = (
                rng.choice(world.AWKWARD_NAMES)
                if rng.random() < 0.05
                else f"{rng.choice(world.COMPANY_WORDS)} {rng.choice(world.COMPANY_NOUNS)} "
                f"{rng.choice(world.COMPANY_SUFFIXES)}"
            )
            account_id = self.sf_id("Account", n)
            currency = world.CURRENCY_BY_ISO[iso]
            accounts.append(
                {
                    "Id": account_id,
                    **self.sf_stamps(),
                    "Name": name,
                    "AccountNumber": f"ACC-{n:07d}",
                    "Type": "Prospect",
                    "Industry": rng.choice(world.INDUSTRIES),
                    "Phone": f"+1 555 {rng.randrange(10**7):07d}",
                    "BillingStreet": f"{rng.randrange(100, 9999)} {rng.choice(world.STREETS)}",
                    "BillingCity": rng.choice(cities),
                    "BillingPostalCode": f"{rng.randrange(99999):05d}",
                    "BillingCountry": typed if rng.random() < 0.2 else iso,
                    "CurrencyIsoCode": currency,
                    "Total_Order_Amount__c": 0.0,
                }
            )
            for _ in range(rng.randrange(1, 3)):
                contacts.append(self.contact_row(c0, account_id, currency, rng))
                c0 += 1
        self.insert_sf("Account", accounts)
        self.insert_sf("Contact", contacts)
        self.changes.counts["new_accounts"] += len(accounts)
        self.changes.counts["new_contacts"] += len(contacts)

    def change_accounts(self) -> None:
        ids = self.pick_live_sf("acct:change", "Account", self.sizes.changed_accounts)
        self.stamp_sf(
            "Account",
            ids,
            '"Phone" = ?, "Industry" = ?',
            [f"+1 555 {self.rng.randrange(10**7):07d}", self.rng.choice(world.INDUSTRIES)],
        )
        self.changes.counts["changed_accounts"] += len(ids)

    def new_contacts(self) -> None:
        """Contacts added to existing accounts; one in ten is the same person entered again."""
        accounts = self.cur.execute(
            """SELECT a."Id", a."CurrencyIsoCode", t.first, t.last, t.email FROM sf."Account" a
               LEFT JOIN (SELECT "AccountId", arg_min("FirstName", "Id") AS first,
                                 arg_min("LastName", "Id") AS last, min_by("Email", "Id") AS email
                          FROM sf."Contact" WHERE NOT "IsDeleted" AND "Email" IS NOT NULL
                          GROUP BY 1) t ON t."AccountId" = a."Id"
               WHERE NOT a."IsDeleted" ORDER BY hash(?, ?, 'contact:new', a."Id") """
            f"LIMIT {int(self.sizes.new_contacts)}",
            [self.seed, self.step],
        ).fetchall()
        n = self.next_sf_number("Contact")
        rows = []
        for account_id, currency, first, last, email in accounts:
            rng = random.Random(f"{self.seed}:contact:{n}")
            row = self.contact_row(n, account_id, currency, rng)
            if email and rng.random() < 0.1:
                row |= {"FirstName": first, "LastName": last, "Email": email}
            rows.append(row)
            n += 1
        self.insert_sf("Contact", rows)
        self.changes.counts["new_contacts"] += len(rows)

    def change_contacts(self) -> None:
        """Phones change; a third of the edited contacts also get a new email address."""
        ids = self.pick_live_sf("contact:change", "Contact", self.sizes.changed_contacts)
        emails = ids[: len(ids) // 3 + (1 if ids else 0)]
        self.stamp_sf("Contact", ids, '"Phone" = ?', [f"+1 555 {self.rng.randrange(10**7):07d}"])
        self.stamp_sf(
            "Contact",
            emails,
            """"Email" = 's' || ? || '.' || coalesce("Email", lower("Id") || '@example.com')""",
            [self.step],
        )
        self.changes.counts["changed_contacts"] += len(ids)

    def catalogue(self, salt: str, currencies: list[str]) -> dict[str, list[tuple]]:
        """Up to 50 active, priced products per currency: (product, entry, price, code)."""
        if not currencies:
            return {}
        rows = self.cur.execute(
            'SELECT e."CurrencyIsoCode", p."Id", e."Id", e."UnitPrice", p."ProductCode" '
            'FROM sf."Product2" p JOIN sf."PricebookEntry" e ON e."Product2Id" = p."Id" '
            'JOIN sf."Pricebook2" b ON b."Id" = e."Pricebook2Id" AND b."IsStandard" '
            'WHERE p."IsActive" AND NOT p."IsDeleted" AND e."IsActive" AND NOT e."IsDeleted" '
            'AND e."CurrencyIsoCode" IN (SELECT unnest(?)) '
            'QUALIFY row_number() OVER (PARTITION BY e."CurrencyIsoCode" ORDER BY hash(?, ?, ?, p."Id")) <= 50 '
            'ORDER BY e."CurrencyIsoCode", hash(?, ?, ?, p."Id")',
            [sorted(set(currencies)), self.seed, self.step, salt, self.seed, self.step, salt],
        ).fetchall()
        out: dict[str, list[tuple]] = defaultdict(list)
        for currency, *entry in rows:
            out[currency].append(tuple(entry))
        return out

    def deal_currency(self, account_currency: str) -> str:
        """New deals: the account's currency, unless it was deactivated or the rep kept their own."""
        if account_currency not in world.CURRENCY_ID or self.rng.random() < 0.08:
            return CORPORATE_CURRENCY
        active = {c.iso for c in world.CURRENCIES if c.active}
        return account_currency if account_currency in active else CORPORATE_CURRENCY

    def insert_orders(
        self, specs: list[tuple[str, str | None, str, list[tuple[str, str, float, float]]]]
    ) -> list[str]:
        """Draft orders: (account, opportunity, currency, [(product, entry, quantity, price)])."""
        if not specs:
            return []
        pricebook = self.scalar('SELECT "Id" FROM sf."Pricebook2" WHERE "IsStandard" LIMIT 1')
        n = self.next_sf_number("Order")
        item_n = self.next_sf_number("OrderItem")
        order_number = self.scalar(
            'SELECT coalesce(max(try_cast("OrderNumber" AS BIGINT)), 0) + 1 FROM sf."Order"'
        )
        item_number = self.scalar(
            'SELECT coalesce(max(try_cast("OrderItemNumber" AS BIGINT)), 0) + 1 FROM sf."OrderItem"'
        )
        orders, items = [], []
        for account_id, opportunity_id, currency, lines in specs:
            order_id = self.sf_id("Order", n)
            order_items = []
            for product_id, entry_id, qty, price in lines:
                order_items.append(
                    {
                        "Id": self.sf_id("OrderItem", item_n),
                        **self.sf_stamps(),
                        "OrderId": order_id,
                        "Product2Id": product_id,
                        "PricebookEntryId": entry_id,
                        "OrderItemNumber": f"{item_number:010d}",
                        "Quantity": qty,
                        "UnitPrice": price,
                        "TotalPrice": round(qty * price, 2),
                        "CurrencyIsoCode": currency,
                    }
                )
                item_n += 1
                item_number += 1
            orders.append(
                {
                    "Id": order_id,
                    **self.sf_stamps(),
                    "AccountId": account_id,
                    "OpportunityId": opportunity_id,
                    "Pricebook2Id": pricebook,
                    "OrderNumber": f"{order_number:08d}",
                    "Status": "Draft",
                    "EffectiveDate": (self.at + dt.timedelta(days=self.rng.randrange(30))).date(),
                    "TotalAmount": round(sum(i["TotalPrice"] for i in order_items), 2),
                    "CurrencyIsoCode": currency,
                }
            )
            items.extend(order_items)
            n += 1
            order_number += 1
        self.insert_sf("Order", orders)
        self.insert_sf("OrderItem", items)
        return [o["Id"] for o in orders]

    def new_orders(self) -> None:
        """Draft orders with 1-5 lines of active products priced in the account's currency."""
        accounts = self.pick_rows(
            "order:acct", '"Id"', '"Id", "CurrencyIsoCode"', _LIVE_ACCOUNTS, self.sizes.new_orders
        )
        deals = [(account_id, self.deal_currency(currency)) for account_id, currency in accounts]
        catalogue = self.catalogue("order", [c for _, c in deals])
        specs = []
        for account_id, currency in deals:
            entries = catalogue.get(currency)
            if not entries:
                continue
            picked = self.rng.sample(entries, self.rng.randint(1, min(5, len(entries))))
            lines = [(p, e, float(self.rng.randint(1, 20)), price) for p, e, price, _ in picked]
            specs.append((account_id, None, currency, lines))
        self.changes.counts["new_orders"] += len(self.insert_orders(specs))

    def activate_orders(self) -> None:
        """Drafts become Activated; their accounts become customers and their roll-ups move."""
        ids = self.pick_live_sf(
            "order:activate", "Order", self.sizes.activations, "\"Status\" = 'Draft'"
        )
        self.stamp_sf("Order", ids, '"Status" = \'Activated\', "ActivatedDate" = ?', [self.at])
        accounts = [
            r[0]
            for r in self.cur.execute(
                'SELECT DISTINCT "AccountId" FROM sf."Order" WHERE "Id" IN (SELECT unnest(?)) ORDER BY 1',
                [ids],
            ).fetchall()
        ]
        prospects = [
            r[0]
            for r in self.cur.execute(
                'SELECT "Id" FROM sf."Account" WHERE "Id" IN (SELECT unnest(?)) '
                "AND \"Type\" IS DISTINCT FROM 'Customer' ORDER BY 1",
                [accounts],
            ).fetchall()
        ]
        self.stamp_sf("Account", prospects, "\"Type\" = 'Customer'")
        self.rollup("Account", accounts)
        self.changes.counts["activated_orders"] += len(ids)

    def rollup(self, parent: str, ids: list[str] | None) -> None:
        """The org recalculates the roll-ups of ``parent`` records: a system save."""
        for rollup in ROLLUPS:
            if rollup.parent == parent and (ids is None or ids):
                changed = refresh_rollup(self.cur, rollup, ids, self.at)
                self.changes.system[f"sf.{parent}"].update(changed)

    # -- opportunities ---------------------------------------------------------------------------
    def new_opportunities(self) -> None:
        """New deals in Prospecting with 1-3 products in the deal's currency."""
        accounts = self.pick_rows(
            "opp:acct",
            '"Id"',
            '"Id", "Name", "CurrencyIsoCode"',
            _LIVE_ACCOUNTS,
            self.sizes.new_opportunities,
        )
        deals = [(a, name, self.deal_currency(c)) for a, name, c in accounts]
        catalogue = self.catalogue("opp", [c for _, _, c in deals])
        pricebook = self.scalar('SELECT "Id" FROM sf."Pricebook2" WHERE "IsStandard" LIMIT 1')
        n = self.next_sf_number("Opportunity")
        line_n = self.next_sf_number("OpportunityLineItem")
        closed, won, probability, forecast = OPPORTUNITY_STAGES["Prospecting"]
        opportunities, lines = [], []
        for account_id, account_name, currency in deals:
            entries = catalogue.get(currency)
            if not entries:
                continue
            opportunity_id = self.sf_id("Opportunity", n)
            deal_lines = []
            for product_id, entry_id, price, code in self.rng.sample(
                entries, self.rng.randint(1, min(3, len(entries)))
            ):
                qty = float(self.rng.randint(1, 20))
                deal_lines.append(
                    {
                        "Id": self.sf_id("OpportunityLineItem", line_n),
                        **self.sf_stamps(),
                        "OpportunityId": opportunity_id,
                        "PricebookEntryId": entry_id,
                        "Product2Id": product_id,
                        "ProductCode": code,
                        "Quantity": qty,
                        "UnitPrice": price,
                        "ListPrice": price,
                        "TotalPrice": round(qty * price, 2),
                        "CurrencyIsoCode": currency,
                    }
                )
                line_n += 1
            opportunities.append(
                {
                    "Id": opportunity_id,
                    **self.sf_stamps(),
                    "AccountId": account_id,
                    "Name": f"{account_name[:80]} - Deal {n}",
                    "StageName": "Prospecting",
                    "CloseDate": (self.at + dt.timedelta(days=30 + self.rng.randrange(60))).date(),
                    "Amount": round(sum(line["TotalPrice"] for line in deal_lines), 2),
                    "Probability": float(probability),
                    "ForecastCategoryName": forecast,
                    "IsClosed": closed,
                    "IsWon": won,
                    "HasOpportunityLineItem": True,
                    "Pricebook2Id": pricebook,
                    "CurrencyIsoCode": currency,
                }
            )
            lines.extend(deal_lines)
            n += 1
        self.insert_sf("Opportunity", opportunities)
        self.insert_sf("OpportunityLineItem", lines)
        self.changes.counts["new_opportunities"] += len(opportunities)

    def stage_sets(self) -> str:
        """SET clause moving an opportunity to the stage in ``_stage`` with its defaults."""

        def by_stage(column: int) -> str:
            cases = " ".join(
                f"WHEN {world.sql_literal(stage)} THEN {world.sql_literal(values[column])}"
                for stage, values in OPPORTUNITY_STAGES.items()
            )
            return f"CASE _stage {cases} END"

        return (
            f'"StageName" = _stage, "IsClosed" = {by_stage(0)}, "IsWon" = {by_stage(1)}, '
            f'"Probability" = {by_stage(2)}, "ForecastCategoryName" = {by_stage(3)}'
        )

    def advance_opportunities(self) -> None:
        """Open deals move one stage down the sales process."""
        open_stages = [s for s, (closed, *_) in OPPORTUNITY_STAGES.items() if not closed]
        movable = ", ".join(f"'{s}'" for s in open_stages[:-1])
        ids = self.pick_live_sf(
            "opp:advance",
            "Opportunity",
            self.sizes.advanced_opportunities,
            f'"StageName" IN ({movable})',
        )
        following = " ".join(
            f"WHEN '{a}' THEN '{b}'" for a, b in zip(open_stages, open_stages[1:], strict=False)
        )
        self.stamp_sf(
            "Opportunity",
            ids,
            self.stage_sets().replace("_stage", f'(CASE "StageName" {following} END)'),
        )
        self.changes.counts["advanced_opportunities"] += len(ids)

    def close_opportunities(self) -> None:
        """Deals close, seven in ten won; a third of the won ones with products get an Order."""
        ids = self.pick_live_sf(
            "opp:close", "Opportunity", self.sizes.closed_opportunities, 'NOT "IsClosed"'
        )
        draw = f"hash({int(self.seed)}, {int(self.step)}, 'opp:won', \"Id\") % 10"
        self.stamp_sf(
            "Opportunity",
            ids,
            self.stage_sets().replace(
                "_stage", f"(CASE WHEN {draw} < 7 THEN 'Closed Won' ELSE 'Closed Lost' END)"
            )
            + ', "CloseDate" = ?',
            [self.at.date()],
        )
        won = self.cur.execute(
            'SELECT "Id", "AccountId", "CurrencyIsoCode" FROM sf."Opportunity" '
            'WHERE "Id" IN (SELECT unnest(?)) AND "IsWon" AND "HasOpportunityLineItem" '
            f"AND hash({int(self.seed)}, {int(self.step)}, 'opp:order', \"Id\") % 3 = 0 ORDER BY 1",
            [ids],
        ).fetchall()
        lines: dict[str, list[tuple]] = defaultdict(list)
        for opp, product, entry, qty, price in self.cur.execute(
            'SELECT "OpportunityId", "Product2Id", "PricebookEntryId", "Quantity", "UnitPrice" '
            'FROM sf."OpportunityLineItem" WHERE "OpportunityId" IN (SELECT unnest(?)) '
            'AND NOT "IsDeleted" ORDER BY "Id"',
            [[w[0] for w in won]],
        ).fetchall():
            lines[opp].append((product, entry, qty, price))
        specs = [
            (account, opp, currency, lines[opp]) for opp, account, currency in won if lines[opp]
        ]
        self.changes.counts["closed_opportunities"] += len(ids)
        self.changes.counts["opportunity_orders"] += len(self.insert_orders(specs))

    # -- NetSuite --------------------------------------------------------------------------------
    def change_customers(self) -> None:
        self.change_ns_phones(
            "ns.customer",
            "cust:change",
            "changed_customers",
            lambda: f"+1 555 {self.rng.randrange(10**7):07d}",
        )

    def change_ns_contacts(self) -> None:
        """Accounts-receivable staff update contact phones in NetSuite."""
        self.change_ns_phones(
            "ns.contact",
            "nscontact:change",
            "changed_ns_contacts",
            lambda: f"+44 20 {self.rng.randrange(10**8):08d}",
        )

    def change_ns_phones(
        self, table: str, salt: str, size: str, new_phone: Callable[[], str]
    ) -> None:
        """A new phone (one for all) on ``StepSizes.<size>`` records of a NetSuite entity table."""
        ids = self.pick(salt, "id", table, getattr(self.sizes, size))
        if ids:
            self.cur.execute(
                f"UPDATE {table} SET phone = ?, lastmodifieddate = ? WHERE id IN (SELECT unnest(?))",
                [new_phone(), self.at, ids],
            )
        self.changes.touch(table, ids)
        self.changes.counts[size] += len(ids)

    # -- exchange rates --------------------------------------------------------------------------
    def move_rates(self) -> None:
        """Every currency drifts against USD. NetSuite's daily rate update writes today's rate for
        each base/transaction pair it has (pairs never set up stay missing); in Salesforce the
        admin re-keys one currency per step: its static rate and today's dated rate. Roll-ups in
        other currencies are recalculated by the org; CURRENCYRATE() formulas just follow."""
        day = self.at.date()
        self.cur.execute(
            """CREATE OR REPLACE TEMP TABLE _sim_usd AS
               SELECT transactioncurrency AS cid,
                      arg_max(exchangerate, effectivedate)
                        * (1 + ((hash(?, ?, 'fx', transactioncurrency) % 1000) / 1000.0 - 0.5) * 0.01) AS usd
               FROM ns.currencyrate WHERE basecurrency = 1 GROUP BY 1
               UNION ALL SELECT 1, 1.0""",
            [self.seed, self.step],
        )
        self.cur.execute(
            """CREATE OR REPLACE TEMP TABLE _sim_rates AS
               SELECT p.basecurrency AS b, p.transactioncurrency AS t, round(ut.usd / ub.usd, 8) AS rate
               FROM (SELECT DISTINCT basecurrency, transactioncurrency FROM ns.currencyrate) p
               JOIN _sim_usd ut ON ut.cid = p.transactioncurrency
               JOIN _sim_usd ub ON ub.cid = p.basecurrency"""
        )
        updated = self.cur.execute(
            """UPDATE ns.currencyrate r SET exchangerate = x.rate, lastmodifieddate = ?
               FROM _sim_rates x WHERE r.basecurrency = x.b AND r.transactioncurrency = x.t
               AND r.effectivedate = ? RETURNING r.id""",
            [self.at, day],
        ).fetchall()
        inserted = self.cur.execute(
            """INSERT INTO ns.currencyrate BY NAME
               SELECT (SELECT coalesce(max(id), 0) FROM ns.currencyrate) + row_number() OVER (ORDER BY b, t) AS id,
                      b AS basecurrency, t AS transactioncurrency, rate AS exchangerate,
                      ?::DATE AS effectivedate, ?::TIMESTAMP AS lastmodifieddate
               FROM _sim_rates x WHERE NOT EXISTS (
                   SELECT 1 FROM ns.currencyrate r WHERE r.basecurrency = x.b
                   AND r.transactioncurrency = x.t AND r.effectivedate = ?)
               RETURNING id""",
            [day, self.at, day],
        ).fetchall()
        currencies = self.cur.execute(
            """UPDATE ns.currency c SET exchangerate = round(u.usd, 8), lastmodifieddate = ?
               FROM _sim_usd u WHERE c.id = u.cid AND c.isbasecurrency = 'F' AND c.isinactive = 'F'
               RETURNING c.id""",
            [self.at],
        ).fetchall()
        self.changes.touch("ns.currencyrate", [r[0] for r in updated + inserted])
        self.changes.touch("ns.currency", [r[0] for r in currencies])
        # Salesforce
        foreign = [c for c in world.CURRENCIES if c.active and c.iso != CORPORATE_CURRENCY]
        currency = foreign[(self.step - 1) % len(foreign)]
        usd = self.scalar("SELECT usd FROM _sim_usd WHERE cid = ?", [currency.ns_id])
        rate = round(1 / usd, 6)
        types = [
            r[0]
            for r in self.cur.execute(
                'SELECT "Id" FROM sf."CurrencyType" WHERE "IsoCode" = ?', [currency.iso]
            ).fetchall()
        ]
        self.stamp_sf("CurrencyType", types, '"ConversionRate" = ?', [rate])
        dated = self.cur.execute(
            'SELECT "Id" FROM sf."DatedConversionRate" WHERE "IsoCode" = ? AND "StartDate" = ?',
            [currency.iso, day],
        ).fetchall()
        if dated:
            self.stamp_sf("DatedConversionRate", [dated[0][0]], '"ConversionRate" = ?', [rate])
        else:
            previous = [
                r[0]
                for r in self.cur.execute(
                    'SELECT "Id" FROM sf."DatedConversionRate" WHERE "IsoCode" = ? '
                    'AND "NextStartDate" IS NULL AND "StartDate" < ?',
                    [currency.iso, day],
                ).fetchall()
            ]
            self.stamp_sf("DatedConversionRate", previous, '"NextStartDate" = ?', [day])
            row = {
                "Id": self.sf_id("DatedConversionRate", self.next_sf_number("DatedConversionRate")),
                **self.sf_stamps(),
                "IsoCode": currency.iso,
                "ConversionRate": rate,
                "StartDate": day,
            }
            self.insert_sf("DatedConversionRate", [row])
        self.rollup("Account", None)
        self.changes.counts["rate_changes"] += len(updated) + len(inserted) + len(types)

    def recalculate(self) -> None:
        """Formula fields follow their inputs (records written this step, the rates, the date)."""
        changed: dict[str, list[Any]] = {
            table[3:]: list(keys)
            for table, keys in self.changes.changed.items()
            if table.startswith("sf.")
        }
        changed[calculated.TODAY] = []
        for field_name, ids in calculated.refresh(self.cur, self.at.date(), changed).items():
            self.changes.recalculated[field_name] += len(ids)

    def follow_on(
        self,
        source_where: str,
        new_type: str,
        prefix: str,
        k: int,
        *,
        amount_sql: str,
        link: str,
        with_item_lines: bool,
        created_from_source: bool = True,
    ) -> list[tuple[int, int]]:
        """Create one ``new_type`` transaction from each of ``k`` picked source transactions.

        ``amount_sql`` (over the source ``s``) is the new transaction's total. Item lines, when
        wanted, mirror the source's as NetSuite does when you fulfil or bill a sales order; the
        link row joins source and new transaction. Leaves the pairs in ``_sim_pairs`` (src, new,
        amount) for the caller's follow-up updates and returns them.
        """
        sources = self.pick(f"{new_type}:src", "id", f"ns.transaction WHERE {source_where}", k)
        if not sources:
            return []
        # each document is booked at the rate of its own date, between the subsidiary's base
        # currency and the transaction's currency
        self.cur.execute(
            f"""CREATE OR REPLACE TEMP TABLE _sim_pairs AS
                SELECT s.id AS src, ? + row_number() OVER (ORDER BY s.id) - 1 AS new,
                       row_number() OVER (ORDER BY s.id) - 1 AS n, ({amount_sql})::DOUBLE AS amount,
                       CASE WHEN b.currency = s.currency THEN 1.0 ELSE coalesce(
                           (SELECT arg_max(r.exchangerate, r.effectivedate) FROM ns.currencyrate r
                            WHERE r.basecurrency = b.currency AND r.transactioncurrency = s.currency
                            AND r.effectivedate <= ?::DATE), s.exchangerate) END AS xrate
                FROM ns.transaction s
                JOIN ns.transactionline m ON m.transaction = s.id AND m.mainline = 'T'
                LEFT JOIN ns.subsidiary b ON b.id = m.subsidiary
                WHERE s.id IN (SELECT unnest(?))""",
            [self.next_transaction_id(), self.at, sources],
        )
        seq = self.scalar(
            "SELECT coalesce(max(try_cast(regexp_extract(tranid, '(\\d+)$', 1) AS BIGINT)), 0) + 1 "
            "FROM ns.transaction WHERE type = ?",
            [new_type],
        )
        is_invoice = new_type == "CustInvc"
        status = {"ItemShip": "C", "CustInvc": "A", "CustPymt": "B"}[new_type]
        self.cur.execute(
            """INSERT INTO ns.transaction BY NAME
               SELECT p.new AS id, ? || lpad((? + p.n)::VARCHAR, 6, '0') AS tranid,
                      ?::DATE AS trandate, ? AS type, ? AS recordtype, ? AS status, s.entity,
                      s.currency, p.xrate AS exchangerate, p.amount AS foreigntotal,
                      CASE WHEN ? THEN 0.0 END AS foreignamountpaid,
                      CASE WHEN ? THEN p.amount END AS foreignamountunpaid,
                      CASE WHEN ? THEN s.otherrefnum END AS otherrefnum,
                      CASE WHEN ? THEN s.id END AS createdfrom,
                      CASE WHEN ? THEN (?::TIMESTAMP + INTERVAL 30 DAY)::DATE END AS duedate,
                      CASE WHEN ? THEN '1Z' || upper(substr(md5(hash(?, p.new)::VARCHAR), 1, 16))
                      END AS trackingnumbers,
                      CASE WHEN ? THEN ?::DATE END AS shipdate,
                      ? AS createddate, ? AS lastmodifieddate
               FROM _sim_pairs p JOIN ns.transaction s ON s.id = p.src""",
            [prefix, seq, self.at, new_type, _RECORD_TYPE[new_type], status, is_invoice,
             is_invoice, is_invoice, created_from_source, is_invoice, self.at,
             new_type == "ItemShip", self.seed, new_type == "ItemShip", self.at, self.at, self.at],
        )  # fmt: skip
        item_filter = "" if with_item_lines else "AND l.mainline = 'T'"
        self.cur.execute(
            f"""INSERT INTO ns.transactionline BY NAME
                SELECT p.new AS transaction, l.id,
                       (SELECT coalesce(max(uniquekey), 0) FROM ns.transactionline)
                         + row_number() OVER (ORDER BY p.new, l.id) AS uniquekey,
                       l.linesequencenumber, l.mainline, 'F' AS taxline, l.item, l.quantity,
                       CASE WHEN ? THEN l.rate END AS rate, a.foreignamount,
                       round(a.foreignamount * p.xrate, 2) AS netamount, l.subsidiary,
                       CASE WHEN ? THEN p.src END AS createdfrom, 'F' AS isclosed,
                       ? AS linelastmodifieddate
                FROM _sim_pairs p JOIN ns.transactionline l ON l.transaction = p.src,
                LATERAL (SELECT CASE WHEN l.mainline = 'T' THEN p.amount
                                     WHEN ? THEN l.foreignamount END AS foreignamount) a
                WHERE l.taxline = 'F' {item_filter}""",
            [is_invoice, created_from_source, self.at, is_invoice],
        )
        self.cur.execute(
            """INSERT INTO ns.previoustransactionlink BY NAME
               SELECT src AS previousdoc, new AS nextdoc, ? AS linktype, amount AS foreignamount,
                      ? AS lastmodifieddate
               FROM _sim_pairs""",
            [link, self.at],
        )
        pairs = [(src, new) for src, new in self.cur.execute(
            "SELECT src, new FROM _sim_pairs ORDER BY src").fetchall()]  # fmt: skip
        new_ids = [new for _, new in pairs]
        self.changes.touch("ns.transaction", new_ids)
        self.changes.touch("ns.previoustransactionlink", pairs)
        lines = self.cur.execute(
            "SELECT transaction, id FROM ns.transactionline WHERE transaction IN (SELECT unnest(?))",
            [new_ids],
        ).fetchall()
        self.changes.touch("ns.transactionline", [(t, i) for t, i in lines])
        return pairs

    def set_transaction(self, ids: list[int], sets: str, params: list[Any]) -> None:
        if not ids:
            return
        self.cur.execute(
            f"UPDATE ns.transaction SET {sets}, lastmodifieddate = ? WHERE id IN (SELECT unnest(?))",
            [*params, self.at, ids],
        )
        self.changes.touch("ns.transaction", ids)

    def ship(self) -> None:
        """Pending-fulfilment sales orders ship in full: ItemShip, SO -> Pending Billing."""
        self.next_sales_order_document(
            "B", "ItemShip", "IF", amount_sql="NULL", link="OrdFul", then="F", size="shipments"
        )

    def invoice(self) -> None:
        """Pending-billing sales orders are billed: CustInvc (open), SO -> Billed."""
        self.next_sales_order_document(
            "F",
            "CustInvc",
            "INV",
            amount_sql="s.foreigntotal",
            link="OrdBill",
            then="G",
            size="invoices",
        )

    def next_sales_order_document(
        self,
        status: str,
        doc_type: str,
        prefix: str,
        *,
        amount_sql: str,
        link: str,
        then: str,
        size: str,
    ) -> None:
        """``StepSizes.<size>`` sales orders in ``status`` get their next document, with all item
        lines, and move on to status ``then``."""
        pairs = self.follow_on(
            f"type = 'SalesOrd' AND status = '{status}'", doc_type, prefix,
            getattr(self.sizes, size), amount_sql=amount_sql, link=link, with_item_lines=True,
        )  # fmt: skip
        self.set_transaction([so for so, _ in pairs], f"status = '{then}'", [])
        self.changes.counts[size] += len(pairs)

    def pay(self) -> None:
        """Open invoices receive a payment: what is left, or (three times in ten) half of it."""
        half = f"hash({int(self.seed)}, {int(self.step)}, 'pay:partial', s.id) % 10 < 3"
        pairs = self.follow_on(
            "type = 'CustInvc' AND status = 'A' AND foreignamountunpaid > 0", "CustPymt", "PYMT",
            self.sizes.payments,
            amount_sql=f"CASE WHEN {half} THEN round(s.foreignamountunpaid / 2, 2) ELSE s.foreignamountunpaid END",
            link="Payment", with_item_lines=False, created_from_source=False,
        )  # fmt: skip
        if not pairs:
            return
        self.cur.execute(
            """UPDATE ns.transaction t SET
                 foreignamountpaid = round(coalesce(t.foreignamountpaid, 0) + p.amount, 2),
                 foreignamountunpaid = round(t.foreignamountunpaid - p.amount, 2),
                 status = CASE WHEN round(t.foreignamountunpaid - p.amount, 2) <= 0 THEN 'B' ELSE 'A' END,
                 lastmodifieddate = ?
               FROM _sim_pairs p WHERE t.id = p.src""",
            [self.at],
        )
        self.changes.touch("ns.transaction", [invoice for invoice, _ in pairs])
        self.changes.counts["payments"] += len(pairs)

    # -- deletes ---------------------------------------------------------------------------------
    def delete(self) -> None:
        """Salesforce soft-deletes (recycle bin) and NetSuite hard deletes with a deletedrecord row."""
        contacts = self.pick_live_sf("del:contact", "Contact", self.sizes.sf_contact_deletes)
        self.stamp_sf("Contact", contacts, '"IsDeleted" = true')
        self.changes.deleted["sf.Contact"].update(contacts)
        orders = self.pick_live_sf(
            "del:order", "Order", self.sizes.sf_order_deletes, "\"Status\" = 'Draft'"
        )
        items = (
            [
                r[0]
                for r in self.cur.execute(
                    'SELECT "Id" FROM sf."OrderItem" WHERE "OrderId" IN (SELECT unnest(?)) AND NOT "IsDeleted"',
                    [orders],
                ).fetchall()
            ]
            if orders
            else []
        )
        self.stamp_sf("Order", orders, '"IsDeleted" = true')
        self.stamp_sf("OrderItem", items, '"IsDeleted" = true')
        self.changes.deleted["sf.Order"].update(orders)
        self.changes.deleted["sf.OrderItem"].update(items)
        # only customers nothing refers to can be deleted in NetSuite
        customers = self.pick(
            "del:cust",
            "id",
            "ns.customer c WHERE externalid IS NULL AND NOT EXISTS "
            "(SELECT 1 FROM ns.transaction t WHERE t.entity = c.id)",
            self.sizes.ns_customer_deletes,
        )
        if customers:
            self.cur.execute(
                "INSERT INTO ns.deletedrecord BY NAME SELECT id AS recordid, 'customer' AS recordtypeid, "
                "'customer' AS type, companyname AS name, 'WebServices' AS context, ? AS deleteddate "
                "FROM ns.customer WHERE id IN (SELECT unnest(?))",
                [self.at, customers],
            )
            self.cur.execute("DELETE FROM ns.customer WHERE id IN (SELECT unnest(?))", [customers])
        self.changes.deleted["ns.customer"].update(customers)
        self.changes.touch("ns.deletedrecord", [("customer", c) for c in customers])
        self.changes.counts["deletes"] += len(contacts) + len(orders) + len(customers)
