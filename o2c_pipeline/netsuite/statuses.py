"""NetSuite transaction status letters (``transaction.status`` in SuiteQL) and their display text.

The one table of them: the sync reads it to turn letters into the text its mapping tables use, and
the sandbox (which may import pure data of the pipeline, never the other way round) answers with
it. Letters as NetSuite lists them for searches (``SalesOrd:C`` = Cancelled, ``CustPymt:B`` = Not
Deposited, ``CustRfnd:V`` = Voided). Pure data: this module imports nothing.
"""

TRANSACTION_STATUSES: dict[str, dict[str, str]] = {
    "SalesOrd": {
        "A": "Pending Approval",
        "B": "Pending Fulfillment",
        "C": "Cancelled",
        "D": "Partially Fulfilled",
        "E": "Pending Billing/Partially Fulfilled",
        "F": "Pending Billing",
        "G": "Billed",
        "H": "Closed",
    },
    "ItemShip": {"A": "Picked", "B": "Packed", "C": "Shipped"},
    "CustInvc": {"A": "Open", "B": "Paid In Full", "D": "Pending Approval", "E": "Rejected"},
    "CustPymt": {"A": "Unapproved Payment", "B": "Not Deposited", "C": "Deposited"},
    "CustCred": {"A": "Open", "B": "Fully Applied", "V": "Voided"},
    "CustRfnd": {"V": "Voided"},
}


def status_text(transaction_type: str, status: str | None) -> str | None:
    """Display text for a status letter (or the text itself when already readable)."""
    if status is None:
        return None
    return TRANSACTION_STATUSES.get(transaction_type, {}).get(status, status)
