"""Business time for the sandbox world: each step is one batch of O2C events, so delta loads and
sync runs always have something new to find.

A step creates and edits accounts and contacts, drafts and activates orders in Salesforce, and
moves synced sales orders through NetSuite (fulfilment, invoice, payment); it also deletes a few
records the way each system does (Salesforce soft deletes, NetSuite hard deletes recorded in
``deletedrecord``). Choices are ``hash(seed, step, ...)`` draws over the current state, so a world
advanced the same number of steps from the same seed sees the same events. Every record an event
touches gets the step's timestamp, and :func:`advance` returns exactly which records those are, so
tests can hold a delta load to "picked up these, and only these".
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa

from o2c_sandbox import world
from o2c_sandbox.core import Store

#: NetSuite transaction types whose ids share the transaction id sequence.
_TRANSACTION_TYPES = ("SalesOrd", "ItemShip", "CustInvc", "CustPymt", "CustCred", "CustRfnd")


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
        )


@dataclass
class _Changes:
    changed: dict[str, set[Any]] = field(default_factory=lambda: defaultdict(set))
    deleted: dict[str, set[Any]] = field(default_factory=lambda: defaultdict(set))
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def touch(self, table: str, keys: list[Any]) -> None:
        self.changed[table].update(keys)

    def summary(self, steps: int, at: dt.datetime) -> dict[str, Any]:
        for table, keys in self.deleted.items():
            self.changed[table] -= keys
        return {
            "steps": steps,
            "at": at.isoformat(timespec="milliseconds") + "Z",
            "changed": {t: _keys(k) for t, k in sorted(self.changed.items()) if k},
            "deleted": {t: _keys(k) for t, k in sorted(self.deleted.items()) if k},
            "counts": dict(sorted(self.counts.items())),
        }


def _keys(keys: set[Any]) -> list[Any]:
    """Sorted, JSON-shaped: composite keys (tuples internally) become lists."""
    return [list(k) if isinstance(k, tuple) else k for k in sorted(keys)]


def advance(store: Store, steps: int = 1) -> dict[str, Any]:
    """Apply ``steps`` batches of business events in one write transaction; returns what changed.

    ``changed``/``deleted`` map ``schema.table`` to keys: Salesforce Ids, NetSuite ids,
    ``[transaction, line]`` for ``ns.transactionline`` and ``[previousdoc, nextdoc]`` for
    ``ns.previoustransactionlink``.
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
        self.new_accounts()
        self.change_accounts()
        self.change_contacts()
        self.change_customers()
        self.new_orders()
        self.activate_orders()
        self.ship()
        self.invoice()
        self.pay()
        self.delete()

    # -- helpers ---------------------------------------------------------------------------------
    def pick(self, salt: str, key: str, source: str, k: int) -> list[Any]:
        """``k`` keys of ``source`` (a FROM/WHERE clause) drawn by a seeded hash, repeatably."""
        if k <= 0:
            return []
        rows = self.cur.execute(
            f"SELECT {key} FROM {source} ORDER BY hash(?, ?, ?, {key}) LIMIT {int(k)}",
            [self.seed, self.step, salt],
        ).fetchall()
        return [r[0] for r in rows]

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

    def insert(self, table: str, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        self.cur.register("_sim_rows", pa.Table.from_pylist(rows))
        try:
            self.cur.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _sim_rows")
        finally:
            self.cur.unregister("_sim_rows")

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
            account_id = f"001{n:012d}AAA"
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
                    "CurrencyIsoCode": world.CURRENCY_BY_ISO[iso],
                }
            )
            for _ in range(rng.randrange(1, 3)):
                contacts.append(
                    {
                        "Id": f"003{c0:012d}AAA",
                        **self.sf_stamps(),
                        "AccountId": account_id,
                        "FirstName": rng.choice(world.FIRST_NAMES),
                        "LastName": rng.choice(world.LAST_NAMES),
                        "Email": f"contact{c0}@new-account-{n}.example.com",
                        "Phone": f"+1 555 {rng.randrange(10**7):07d}",
                    }
                )
                c0 += 1
        self.insert('sf."Account"', accounts)
        self.insert('sf."Contact"', contacts)
        self.changes.touch("sf.Account", [a["Id"] for a in accounts])
        self.changes.touch("sf.Contact", [c["Id"] for c in contacts])
        self.changes.counts["new_accounts"] += len(accounts)
        self.changes.counts["new_contacts"] += len(contacts)

    def change_accounts(self) -> None:
        ids = self.pick(
            "acct:change", '"Id"', 'sf."Account" WHERE NOT "IsDeleted"', self.sizes.changed_accounts
        )
        self.stamp_sf(
            "Account",
            ids,
            '"Phone" = ?, "Industry" = ?',
            [f"+1 555 {self.rng.randrange(10**7):07d}", self.rng.choice(world.INDUSTRIES)],
        )
        self.changes.counts["changed_accounts"] += len(ids)

    def change_contacts(self) -> None:
        ids = self.pick(
            "contact:change",
            '"Id"',
            'sf."Contact" WHERE NOT "IsDeleted"',
            self.sizes.changed_contacts,
        )
        self.stamp_sf("Contact", ids, '"Phone" = ?', [f"+1 555 {self.rng.randrange(10**7):07d}"])
        self.changes.counts["changed_contacts"] += len(ids)

    def new_orders(self) -> None:
        """Draft orders with 1-5 lines of active, priced products."""
        accounts = self.pick(
            "order:acct", '"Id"', 'sf."Account" WHERE NOT "IsDeleted"', self.sizes.new_orders
        )
        catalogue = self.cur.execute(
            'SELECT p."Id", e."Id", e."UnitPrice" FROM sf."Product2" p '
            'JOIN sf."PricebookEntry" e ON e."Product2Id" = p."Id" AND e."IsActive" AND NOT e."IsDeleted" '
            'WHERE p."IsActive" AND NOT p."IsDeleted" ORDER BY hash(?, ?, p."Id") LIMIT 50',
            [self.seed, self.step],
        ).fetchall()
        if not accounts or not catalogue:
            return
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
        for account_id in accounts:
            order_id = f"801{n:012d}AAA"
            lines = []
            for product_id, entry_id, price in self.rng.sample(
                catalogue, self.rng.randint(1, min(5, len(catalogue)))
            ):
                qty = float(self.rng.randint(1, 20))
                lines.append(
                    {
                        "Id": f"802{item_n:012d}AAA",
                        **self.sf_stamps(),
                        "OrderId": order_id,
                        "Product2Id": product_id,
                        "PricebookEntryId": entry_id,
                        "OrderItemNumber": f"{item_number:010d}",
                        "Quantity": qty,
                        "UnitPrice": price,
                        "TotalPrice": round(qty * price, 2),
                    }
                )
                item_n += 1
                item_number += 1
            orders.append(
                {
                    "Id": order_id,
                    **self.sf_stamps(),
                    "AccountId": account_id,
                    "Pricebook2Id": pricebook,
                    "OrderNumber": f"{order_number:08d}",
                    "Status": "Draft",
                    "EffectiveDate": (self.at + dt.timedelta(days=self.rng.randrange(30))).date(),
                    "TotalAmount": round(sum(line["TotalPrice"] for line in lines), 2),
                }
            )
            items.extend(lines)
            n += 1
            order_number += 1
        self.insert('sf."Order"', orders)
        self.insert('sf."OrderItem"', items)
        self.changes.touch("sf.Order", [o["Id"] for o in orders])
        self.changes.touch("sf.OrderItem", [i["Id"] for i in items])
        self.changes.counts["new_orders"] += len(orders)

    def activate_orders(self) -> None:
        """Drafts become Activated; their accounts become customers."""
        ids = self.pick(
            "order:activate",
            '"Id"',
            'sf."Order" WHERE "Status" = \'Draft\' AND NOT "IsDeleted"',
            self.sizes.activations,
        )
        self.stamp_sf("Order", ids, '"Status" = \'Activated\', "ActivatedDate" = ?', [self.at])
        prospects = [
            r[0]
            for r in self.cur.execute(
                'SELECT DISTINCT a."Id" FROM sf."Account" a JOIN sf."Order" o ON o."AccountId" = a."Id" '
                'WHERE o."Id" IN (SELECT unnest(?)) AND a."Type" IS DISTINCT FROM \'Customer\' ORDER BY 1',
                [ids],
            ).fetchall()
        ]
        self.stamp_sf("Account", prospects, "\"Type\" = 'Customer'")
        self.changes.counts["activated_orders"] += len(ids)

    # -- NetSuite --------------------------------------------------------------------------------
    def change_customers(self) -> None:
        ids = self.pick("cust:change", "id", "ns.customer", self.sizes.changed_customers)
        if ids:
            self.cur.execute(
                "UPDATE ns.customer SET phone = ?, lastmodifieddate = ? WHERE id IN (SELECT unnest(?))",
                [f"+1 555 {self.rng.randrange(10**7):07d}", self.at, ids],
            )
        self.changes.touch("ns.customer", ids)
        self.changes.counts["changed_customers"] += len(ids)

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
        self.cur.execute(
            f"""CREATE OR REPLACE TEMP TABLE _sim_pairs AS
                SELECT s.id AS src, ? + row_number() OVER (ORDER BY s.id) - 1 AS new,
                       row_number() OVER (ORDER BY s.id) - 1 AS n, ({amount_sql})::DOUBLE AS amount
                FROM ns.transaction s WHERE s.id IN (SELECT unnest(?))""",
            [self.next_transaction_id(), sources],
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
                      ?::DATE AS trandate, ? AS type, ? AS status, s.entity, s.currency,
                      p.amount AS foreigntotal,
                      CASE WHEN ? THEN 0.0 END AS foreignamountpaid,
                      CASE WHEN ? THEN p.amount END AS foreignamountunpaid,
                      CASE WHEN ? THEN s.otherrefnum END AS otherrefnum,
                      CASE WHEN ? THEN s.id END AS createdfrom,
                      CASE WHEN ? THEN (?::TIMESTAMP + INTERVAL 30 DAY)::DATE END AS duedate,
                      CASE WHEN ? THEN '1Z' || upper(substr(md5(hash(?, p.new)::VARCHAR), 1, 16))
                      END AS trackingnumbers,
                      ? AS createddate, ? AS lastmodifieddate
               FROM _sim_pairs p JOIN ns.transaction s ON s.id = p.src""",
            [prefix, seq, self.at, new_type, status, is_invoice, is_invoice, is_invoice,
             created_from_source, is_invoice, self.at, new_type == "ItemShip", self.seed,
             self.at, self.at],
        )  # fmt: skip
        item_filter = "" if with_item_lines else "AND l.mainline = 'T'"
        self.cur.execute(
            f"""INSERT INTO ns.transactionline BY NAME
                SELECT p.new AS transaction, l.id,
                       (SELECT coalesce(max(uniquekey), 0) FROM ns.transactionline)
                         + row_number() OVER (ORDER BY p.new, l.id) AS uniquekey,
                       l.linesequencenumber, l.mainline, 'F' AS taxline, l.item, l.quantity,
                       CASE WHEN ? THEN l.rate END AS rate,
                       CASE WHEN l.mainline = 'T' THEN p.amount WHEN ? THEN l.netamount END AS netamount,
                       CASE WHEN ? THEN p.src END AS createdfrom, 'F' AS isclosed,
                       ? AS linelastmodifieddate
                FROM _sim_pairs p JOIN ns.transactionline l ON l.transaction = p.src
                WHERE l.taxline = 'F' {item_filter}""",
            [is_invoice, is_invoice, created_from_source, self.at],
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
        pairs = self.follow_on(
            "type = 'SalesOrd' AND status = 'B'", "ItemShip", "IF", self.sizes.shipments,
            amount_sql="NULL", link="OrdFul", with_item_lines=True,
        )  # fmt: skip
        self.set_transaction([so for so, _ in pairs], "status = 'F'", [])
        self.changes.counts["shipments"] += len(pairs)

    def invoice(self) -> None:
        """Pending-billing sales orders are billed: CustInvc (open), SO -> Billed."""
        pairs = self.follow_on(
            "type = 'SalesOrd' AND status = 'F'", "CustInvc", "INV", self.sizes.invoices,
            amount_sql="s.foreigntotal", link="OrdBill", with_item_lines=True,
        )  # fmt: skip
        self.set_transaction([so for so, _ in pairs], "status = 'G'", [])
        self.changes.counts["invoices"] += len(pairs)

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
        contacts = self.pick(
            "del:contact",
            '"Id"',
            'sf."Contact" WHERE NOT "IsDeleted"',
            self.sizes.sf_contact_deletes,
        )
        self.stamp_sf("Contact", contacts, '"IsDeleted" = true')
        self.changes.deleted["sf.Contact"].update(contacts)
        orders = self.pick(
            "del:order",
            '"Id"',
            'sf."Order" WHERE "Status" = \'Draft\' AND NOT "IsDeleted"',
            self.sizes.sf_order_deletes,
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
