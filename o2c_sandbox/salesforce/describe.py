"""``describeGlobal`` and ``sobjects/<Object>/describe`` answers, derived from the schema."""

from __future__ import annotations

from typing import Any

from o2c_sandbox.schema import SF_OBJECTS, SfField, SfObject

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
}


def _urls(version: str, obj: SfObject) -> dict[str, str]:
    base = f"/services/data/v{version}/sobjects/{obj.name}"
    return {"sobject": base, "describe": f"{base}/describe", "rowTemplate": f"{base}/{{ID}}"}


def global_entry(version: str, obj: SfObject) -> dict[str, Any]:
    return {
        "name": obj.name,
        "label": obj.label or obj.name,
        "labelPlural": (obj.label or obj.name) + "s",
        "keyPrefix": obj.key_prefix,
        "custom": obj.custom,
        "createable": True,
        "updateable": True,
        "deletable": True,
        "queryable": True,
        "retrieveable": True,
        "searchable": True,
        "layoutable": True,
        "replicateable": True,
        "triggerable": True,
        "undeletable": True,
        "urls": _urls(version, obj),
    }


def describe_global(version: str) -> dict[str, Any]:
    return {
        "encoding": "UTF-8",
        "maxBatchSize": 200,
        "sobjects": [global_entry(version, o) for o in SF_OBJECTS.values()],
    }


def _field(f: SfField) -> dict[str, Any]:
    return {
        "name": f.name,
        "label": f.name.removesuffix("__c").replace("_", " "),
        "type": f.type,
        "soapType": _SOAP_TYPES.get(f.type, "xsd:string"),
        "length": f.length,
        "precision": 18 if f.type == "currency" else 0,
        "scale": 2 if f.type == "currency" else 0,
        "referenceTo": [f.reference_to] if f.reference_to else [],
        "relationshipName": f.relationship_name,
        "externalId": f.external_id,
        "unique": f.unique,
        "custom": f.custom,
        "createable": f.createable,
        "updateable": f.updateable,
        "nillable": f.nillable,
        "idLookup": f.name == "Id" or f.external_id,
        "filterable": True,
        "sortable": f.type != "textarea",
        "groupable": f.type != "textarea",
        "defaultedOnCreate": f.type == "boolean" or not f.createable,
        "calculated": f.calculated,
        "calculatedFormula": f.formula,
        "autoNumber": False,
        "restrictedPicklist": bool(f.picklist),
        "picklistValues": [
            {"value": v, "label": v, "active": True, "defaultValue": False, "validFor": None}
            for v in f.picklist
        ],
    }


def describe_object(version: str, obj: SfObject) -> dict[str, Any]:
    children = [
        {
            "childSObject": c.child_object,
            "field": c.field,
            "relationshipName": c.name,
            "cascadeDelete": c.child_object == "OrderItem",
            "deprecatedAndHidden": False,
        }
        for c in obj.children
    ]
    return {
        **global_entry(version, obj),
        "fields": [_field(f) for f in obj.fields],
        "childRelationships": children,
        "recordTypeInfos": [],
    }


def describe_basic(version: str, obj: SfObject) -> dict[str, Any]:
    return {"objectDescribe": global_entry(version, obj), "recentItems": []}
