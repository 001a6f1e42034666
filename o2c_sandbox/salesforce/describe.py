"""``describeGlobal``, ``sobjects/<Object>/`` and ``sobjects/<Object>/describe`` answers, derived
from the schema with every key a real org's describe carries (clients such as dlt index keys
like ``compoundFieldName`` directly, and Airbyte picks Bulk or REST from field types).

Field properties follow Salesforce's rules per type: long text areas and compound fields cannot
be filtered, sorted or grouped; doubles, currencies, datetimes and formula fields cannot be
grouped; strings take three bytes per character.
"""

from __future__ import annotations

import re
from typing import Any

from o2c_sandbox.salesforce.dml import AUTO_NUMBERS, CASCADE_DELETE
from o2c_sandbox.schema import SF_API_OBJECTS, SfField, SfObject

_SOAP_TYPES = {
    "id": "tns:ID",
    "reference": "tns:ID",
    "boolean": "xsd:boolean",
    "datetime": "xsd:dateTime",
    "date": "xsd:date",
    "double": "xsd:double",
    "currency": "xsd:double",
    "percent": "xsd:double",
    "int": "xsd:int",
    "address": "urn:address",
}
#: standard objects whose label is not their API name
_LABELS = {
    "Product2": ("Product", "Products"),
    "Pricebook2": ("Price Book", "Price Books"),
    "PricebookEntry": ("Price Book Entry", "Price Book Entries"),
    "OrderItem": ("Order Product", "Order Products"),
    "OpportunityLineItem": ("Opportunity Product", "Opportunity Products"),
}
_SYSTEM_LABELS = {
    "OwnerId": "Owner ID",
    "IsDeleted": "Deleted",
    "CreatedById": "Created By ID",
    "LastModifiedById": "Last Modified By ID",
    "SystemModstamp": "System Modstamp",
}
#: objects a client cannot create, delete or undelete records of through the API
_NOT_DELETABLE = frozenset({"User", "Organization"})
#: objects the API can read and update but not create records of
_NOT_CREATEABLE = frozenset({"Organization"})
MASTER_RECORD_TYPE = "012000000000000AAA"


def labels(obj: SfObject) -> tuple[str, str]:
    if obj.name in _LABELS:
        return _LABELS[obj.name]
    label = obj.name.removesuffix("__c").replace("_", " ") if obj.custom else _words(obj.name)
    plural = label[:-1] + "ies" if label.endswith("y") else label + "s"
    return label, plural


def _words(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name)


def _field_label(obj: SfObject, f: SfField) -> str:
    if f.label:
        return f.label
    if f.name == "Id":
        return f"{labels(obj)[0]} ID"
    if f.name in _SYSTEM_LABELS:
        return _SYSTEM_LABELS[f.name]
    if f.custom:
        return f.name.removesuffix("__c").replace("_", " ")
    text = _words(f.name)
    return text[:-3] + " ID" if f.type == "reference" and text.endswith(" Id") else text


def _urls(version: str, obj: SfObject, full: bool) -> dict[str, str]:
    base = f"/services/data/v{version}/sobjects/{obj.name}"
    urls = {
        "rowTemplate": f"{base}/{{ID}}",
        "defaultValues": f"{base}/defaultValues?recordTypeId&fields",
        "describe": f"{base}/describe",
        "sobject": base,
    }
    if full:
        urls |= {
            "compactLayouts": f"{base}/describe/compactLayouts",
            "approvalLayouts": f"{base}/describe/approvalLayouts",
            "listviews": f"{base}/listviews",
            "quickActions": f"{base}/quickActions",
            "layouts": f"{base}/describe/layouts",
        }
    return urls


def global_entry(version: str, obj: SfObject, *, full: bool = False) -> dict[str, Any]:
    label, plural = labels(obj)
    deletable = obj.name not in _NOT_DELETABLE
    return {
        "activateable": False,
        "associateEntityType": None,
        "associateParentEntity": None,
        "createable": obj.name not in _NOT_CREATEABLE,
        "custom": obj.custom,
        "customSetting": False,
        "deepCloneable": False,
        "deletable": deletable,
        "deprecatedAndHidden": False,
        "feedEnabled": not obj.custom and obj.name in ("Account", "Contact", "Opportunity"),
        "hasSubtypes": False,
        "isInterface": False,
        "isSubtype": False,
        "keyPrefix": obj.key_prefix,
        "label": label,
        "labelPlural": plural,
        "layoutable": True,
        "mergeable": obj.name in ("Account", "Contact"),
        "mruEnabled": True,
        "name": obj.name,
        "queryable": True,
        "replicateable": True,
        "retrieveable": True,
        "searchable": obj.name != "PricebookEntry",
        "triggerable": True,
        "undeletable": deletable,
        "updateable": True,
        "urls": _urls(version, obj, full),
    }


def describe_global(version: str) -> dict[str, Any]:
    return {
        "encoding": "UTF-8",
        "maxBatchSize": 200,
        "sobjects": [global_entry(version, o) for o in SF_API_OBJECTS.values()],
    }


def _name_field(obj: SfObject) -> str | None:
    declared = next((f.name for f in obj.fields if f.name_field), None)
    if declared:
        return declared
    if any(f.name == "Name" for f in obj.fields):
        return "Name"
    return next((name for (o, name) in AUTO_NUMBERS if o == obj.name), None)


def _field(obj: SfObject, f: SfField, name_field: str | None) -> dict[str, Any]:
    kind = f.type
    long_text = kind == "textarea" and f.length > 255
    compound = not f.stored
    numeric = kind in ("double", "currency")
    text = kind in ("string", "textarea", "picklist", "phone", "url", "email")
    auto_number = (obj.name, f.name) in AUTO_NUMBERS
    precision = f.precision or (18 if numeric else 0)
    scale = f.scale or (2 if numeric else 0)
    system = not f.createable and not f.updateable
    return {
        "aggregatable": not (long_text or compound or kind == "boolean"),
        "aiPredictionField": False,
        "autoNumber": auto_number,
        "byteLength": f.length * 3 if text else (18 if kind in ("id", "reference") else 0),
        "calculated": f.calculated,
        "calculatedFormula": f.formula,
        "cascadeDelete": False,
        "caseSensitive": False,
        "compoundFieldName": f.compound_field_name,
        "controllerName": None,
        "createable": f.createable and not f.calculated,
        "custom": f.custom,
        "defaultValue": f.default_value if kind != "reference" else None,
        "defaultValueFormula": None,
        "defaultedOnCreate": system
        or auto_number
        or kind == "boolean"
        or f.default_value is not None,
        "dependentPicklist": False,
        "deprecatedAndHidden": False,
        "digits": 9 if kind == "int" else 0,
        "displayLocationInDecimal": False,
        "encrypted": False,
        "externalId": f.external_id,
        "extraTypeInfo": "plaintextarea" if kind == "textarea" else None,
        "filterable": not (long_text or compound),
        "filteredLookupInfo": None,
        "formulaTreatNullNumberAsZero": False,
        "groupable": not (long_text or compound or numeric or kind == "datetime" or f.calculated),
        "highScaleNumber": False,
        "htmlFormatted": False,
        "idLookup": f.name in ("Id", name_field, "Username") or f.external_id,
        "inlineHelpText": None,
        "label": _field_label(obj, f),
        "length": f.length if text or kind in ("id", "reference") else 0,
        "mask": None,
        "maskType": None,
        "name": f.name,
        "nameField": f.name == name_field,
        "namePointing": False,
        "nillable": f.nillable,
        "permissionable": f.nillable and not system and not f.calculated,
        "picklistValues": [
            {"active": True, "defaultValue": False, "label": v, "validFor": None, "value": v}
            for v in f.picklist
        ],
        "polymorphicForeignKey": False,
        "precision": precision,
        "queryByDistance": False,
        "referenceTargetField": None,
        "referenceTo": [f.reference_to] if f.reference_to else [],
        "relationshipName": f.relationship_name,
        "relationshipOrder": None,
        "restrictedDelete": False,
        "restrictedPicklist": bool(f.picklist),
        "scale": scale,
        "searchPrefilterable": False,
        "soapType": _SOAP_TYPES.get(kind, "xsd:string"),
        "sortable": not (long_text or compound),
        "type": kind,
        "unique": f.unique,
        "updateable": f.updateable and not f.calculated,
        "writeRequiresMasterRead": False,
    }


def _child_relationships(obj: SfObject) -> list[dict[str, Any]]:
    """Declared relationships by name, plus every other reference to ``obj`` (unnamed, as the
    ones a real org lists but SOQL cannot traverse)."""
    declared = {(c.child_object, c.field): c.name for c in obj.children}
    cascade = {(child, via) for child, via in CASCADE_DELETE.get(obj.name, [])}
    out = []
    for other in SF_API_OBJECTS.values():
        for f in other.fields:
            if f.reference_to != obj.name:
                continue
            out.append(
                {
                    "cascadeDelete": (other.name, f.name) in cascade,
                    "childSObject": other.name,
                    "deprecatedAndHidden": False,
                    "field": f.name,
                    "junctionIdListNames": [],
                    "junctionReferenceTo": [],
                    "relationshipName": declared.get((other.name, f.name)),
                    "restrictedDelete": False,
                }
            )
    return out


def describe_object(version: str, obj: SfObject) -> dict[str, Any]:
    name_field = _name_field(obj)
    return {
        **global_entry(version, obj, full=True),
        "actionOverrides": [],
        "childRelationships": _child_relationships(obj),
        "compactLayoutable": True,
        "defaultImplementation": None,
        "extendedBy": None,
        "extendsInterfaces": None,
        "fields": [_field(obj, f, name_field) for f in obj.fields],
        "implementedBy": None,
        "implementsInterfaces": None,
        "listviewable": None,
        "lookupLayoutable": None,
        "namedLayoutInfos": [],
        "networkScopeFieldName": None,
        "recordTypeInfos": [
            {
                "active": True,
                "available": True,
                "defaultRecordTypeMapping": True,
                "developerName": "Master",
                "master": True,
                "name": "Master",
                "recordTypeId": MASTER_RECORD_TYPE,
                "urls": {
                    "layout": f"/services/data/v{version}/sobjects/{obj.name}"
                    f"/describe/layouts/{MASTER_RECORD_TYPE}"
                },
            }
        ],
        "searchLayoutable": True,
        "sobjectDescribeOption": "FULL",
        "supportedScopes": [
            {"label": f"All {labels(obj)[1].lower()}", "name": "everything"},
            *(
                [{"label": f"My {labels(obj)[1].lower()}", "name": "mine"}]
                if any(f.name == "OwnerId" for f in obj.fields)
                else []
            ),
        ],
    }


def describe_basic(version: str, obj: SfObject) -> dict[str, Any]:
    return {"objectDescribe": global_entry(version, obj), "recentItems": []}
