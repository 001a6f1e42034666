"""The record API's metadata catalog (``record/v1/metadata-catalog``), derived from the record
types (:data:`~o2c_sandbox.netsuite.records.RECORD_TYPES`, i.e. the schema's ``NS_RECORD_TYPES``
and ``NS_TABLES``), so a record type, field or custom field declared there is described here
without further code.

Wire rules followed (Oracle's "Working with Resource Metadata" pages, and what the Airbyte and
hotglue connectors and the ``netsuite`` package read from it):

* ``GET metadata-catalog`` lists the record types: ``items`` of ``{"name", "links"}`` with a
  ``canonical`` (``application/json``) and two ``alternate`` links (``application/swagger+json``,
  ``application/schema+json``); names are lowercase (``salesorder``), ``select=customer,salesorder``
  restricts the list (case-insensitive, unknown names are refused with 400);
* ``Accept: application/schema+json`` on ``metadata-catalog/{type}`` answers a JSON Schema of the
  record: camelCase ``properties`` with ``title``, ``type``, ``format`` (``date``,
  ``date-time``, ``int64``, ``double``) and ``nullable``; reference fields ``$ref`` the target's
  catalog entry (``/services/rest/record/v1/metadata-catalog/customer``; a reference that can
  point at several transaction types refers to ``.../transaction``, which has no entry, as in
  NetSuite); ``links`` arrays ``$ref`` ``.../metadata-catalog/nsLink``; custom fields
  (``custentity_*``, ``custbody_*``...) carry ``"x-ns-custom-field": true``; ``x-ns-filterable``
  lists the fields the ``q`` parameter of list requests accepts;
* ``Accept: application/swagger+json`` answers an OpenAPI 3.0 document of the type (or, on the
  catalog itself, of every selected type): list/insert/get/update/upsert/delete paths, the record
  and collection schemas, ``nsLink``, ``nsResource`` (the shape of a reference) and ``nsError``;
* without either media type, ``metadata-catalog/{type}`` answers its catalog item [inferred:
  the canonical ``application/json`` representation is not documented].
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from o2c_sandbox.core import ApiError
from o2c_sandbox.netsuite.records import (
    ADDRESS_FIELDS,
    CHECKBOX_COLUMNS,
    LINE_FIELDS,
    RECORD_PREFIX,
    RECORD_TYPES,
    REFERENCES,
    SERVER_OWNED_FIELDS,
    RecordType,
)
from o2c_sandbox.schema import NS_STATUSES, NsColumn

METADATA_PREFIX = f"{RECORD_PREFIX}/metadata-catalog"
JSON = "application/json"
SCHEMA_JSON = "application/schema+json"
OPENAPI_JSON = "application/swagger+json"
RESOURCE_JSON = "application/vnd.oracle.resource+json"
#: Script id prefixes of custom fields: entity, transaction body and line, item, CRM, custom record.
CUSTOM_FIELD_PREFIXES = ("custentity", "custbody", "custcol", "custitem", "custevent", "custrecord")
NS_LINK = "nsLink"
NS_RESOURCE = "nsResource"
NS_ERROR = "nsError"
NS_LINK_SCHEMA = {
    "type": "object",
    "properties": {
        "rel": {"title": "Relationship", "type": "string", "readOnly": True},
        "href": {"title": "Hypertext Reference", "type": "string", "readOnly": True},
    },
}
FIELD_TITLES = {"id": "Internal ID", "externalId": "External ID", "tranId": "Document Number"}

#: ``$ref`` target of a schema by name: a catalog URL (JSON Schema) or a component (OpenAPI).
RefFor = Callable[[str], str]


def catalog_name(rtype: RecordType) -> str:
    return rtype.name.lower()


def requested_format(accept: str) -> str:
    """The representation an ``Accept`` header asks for: JSON Schema, OpenAPI, or plain JSON."""
    accept = accept.lower()
    for media_type in (SCHEMA_JSON, OPENAPI_JSON):
        if media_type in accept:
            return media_type
    return JSON


def record_types(select: str | None) -> list[RecordType]:
    """Every record type, or those named in ``select`` (comma-separated, any case)."""
    by_name = {catalog_name(t): t for t in RECORD_TYPES.values()}
    if not select:
        return list(by_name.values())
    names = [n.strip().lower() for n in select.split(",") if n.strip()]
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise ApiError(
            400,
            "INVALID_PARAMETER",
            f"Invalid value for query parameter 'select': {', '.join(unknown)}. The record type "
            "does not exist or is not available through REST web services.",
        )
    return [by_name[n] for n in dict.fromkeys(names)]


def catalog_item(rtype_name: str, base: str) -> dict[str, Any]:
    href = f"{base}{METADATA_PREFIX}/{rtype_name}"
    return {
        "name": rtype_name,
        "links": [
            {"rel": "canonical", "href": href, "mediaType": JSON},
            {"rel": "alternate", "href": href, "mediaType": OPENAPI_JSON},
            {"rel": "alternate", "href": href, "mediaType": SCHEMA_JSON},
        ],
    }


def catalog(rtypes: Iterable[RecordType], base: str, url: str) -> dict[str, Any]:
    return {
        "items": [catalog_item(catalog_name(t), base) for t in rtypes],
        "links": [{"rel": "self", "href": url}],
    }


# ---------------------------------------------------------------------------------------------
# Field schemas (shared by JSON Schema and OpenAPI; only the $ref targets differ)
# ---------------------------------------------------------------------------------------------


def _title(field_name: str) -> str:
    if field_name in FIELD_TITLES:
        return FIELD_TITLES[field_name]
    if field_name.startswith(CUSTOM_FIELD_PREFIXES):
        return field_name
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", field_name)
    return words[:1].upper() + words[1:]


def _links(ref_for: RefFor) -> dict[str, Any]:
    return {
        "title": "Links",
        "type": "array",
        "readOnly": True,
        "items": {"$ref": ref_for(NS_LINK)},
    }


def _is_custom(column: NsColumn) -> bool:
    return column.name.startswith(CUSTOM_FIELD_PREFIXES)


def field_schema(
    field_name: str, column: NsColumn, ref_for: RefFor, type_code: str | None = None
) -> dict[str, Any]:
    """One record field as the record API renders it (see ``RecordStore._field_value``)."""
    schema: dict[str, Any] = {"title": _title(field_name)}
    if column.name in REFERENCES:
        schema.update({"type": "object", "$ref": ref_for(REFERENCES[column.name])})
    elif column.name == "status" and type_code in NS_STATUSES:
        schema["type"] = "object"
        schema["properties"] = {
            "id": {
                "title": "Internal identifier",
                "type": "string",
                "enum": sorted(NS_STATUSES[type_code]),
            },
            "refName": {"title": "Reference Name", "type": "string"},
        }
    elif column.name in CHECKBOX_COLUMNS:
        schema["type"] = "boolean"
    elif column.name == "id":
        schema["type"] = "string"
    elif column.type == "DATE":
        schema.update({"type": "string", "format": "date"})
    elif column.type == "TIMESTAMP":
        schema.update({"type": "string", "format": "date-time"})
    elif column.type == "DOUBLE":
        schema.update({"type": "number", "format": "double"})
    elif column.type in ("BIGINT", "INTEGER"):
        schema.update({"type": "integer", "format": "int64"})
    else:
        schema["type"] = "string"
    if field_name in SERVER_OWNED_FIELDS:
        schema["readOnly"] = True
    schema["nullable"] = True
    if _is_custom(column):
        schema["x-ns-custom-field"] = True
    return schema


def _collection(element: dict[str, Any], title: str, ref_for: RefFor) -> dict[str, Any]:
    """A sub-resource collection: a link unless expanded, then items and counts."""
    return {
        "title": title,
        "type": "object",
        "properties": {
            "links": _links(ref_for),
            "items": {"title": "Items", "type": "array", "items": element},
            "totalResults": {"title": "Total Results", "type": "integer", "format": "int64"},
            "count": {"title": "Count", "type": "integer", "format": "int64"},
            "hasMore": {"title": "Has More Results", "type": "boolean"},
            "offset": {"title": "Offset", "type": "integer", "format": "int64"},
        },
    }


def _sublist_schema(rtype: RecordType, ref_for: RefFor) -> dict[str, Any]:
    if rtype.sublist == "addressbook":
        element = {
            "type": "object",
            "properties": {
                "links": _links(ref_for),
                "id": {"title": "Internal ID", "type": "integer", "format": "int64"},
                "label": {"title": "Label", "type": "string", "nullable": True},
                "defaultBilling": {"title": "Default Billing", "type": "boolean"},
                "defaultShipping": {"title": "Default Shipping", "type": "boolean"},
                "addressbookAddress": {
                    "title": "Address",
                    "type": "object",
                    "properties": {
                        "links": _links(ref_for),
                        **{f: field_schema(f, c, ref_for) for f, c in ADDRESS_FIELDS.items()},
                    },
                },
            },
        }
        return _collection(element, "Address Book", ref_for)
    element = {
        "type": "object",
        "properties": {
            "links": _links(ref_for),
            "line": {"title": "Line", "type": "integer", "format": "int64"},
            **{f: field_schema(f, c, ref_for) for f, c in LINE_FIELDS.items()},
        },
    }
    return _collection(element, "Items", ref_for)


def record_schema(rtype: RecordType, ref_for: RefFor) -> dict[str, Any]:
    properties: dict[str, Any] = {"links": _links(ref_for)}
    for field_name, column in rtype.fields.items():
        properties[field_name] = field_schema(field_name, column, ref_for, rtype.type_code)
    if rtype.sublist:
        properties[rtype.sublist] = _sublist_schema(rtype, ref_for)
    return {"type": "object", "properties": properties, "x-ns-filterable": list(rtype.fields)}


# ---------------------------------------------------------------------------------------------
# The two schema documents
# ---------------------------------------------------------------------------------------------


def _catalog_ref(name: str) -> str:
    return f"{METADATA_PREFIX}/{name if name == NS_LINK else name.lower()}"


def json_schema(name: str) -> dict[str, Any]:
    """``metadata-catalog/{name}`` as ``application/schema+json`` (``nsLink`` included)."""
    if name.lower() == NS_LINK.lower():
        return NS_LINK_SCHEMA
    rtype = next((t for t in RECORD_TYPES.values() if catalog_name(t) == name.lower()), None)
    if rtype is None:
        raise unknown_type(name)
    return record_schema(rtype, _catalog_ref)


def unknown_type(name: str) -> ApiError:
    return ApiError(
        404,
        "NONEXISTENT_RECORD_TYPE",
        f"Record type '{name}' does not exist or is not available through REST web services.",
    )


def _component_ref(name: str) -> str:
    return f"#/components/schemas/{name}"


def openapi(rtypes: list[RecordType], base: str) -> dict[str, Any]:
    """An OpenAPI 3.0 document of the record API for ``rtypes``."""
    names = {catalog_name(t) for t in rtypes}

    def ref_for(target: str) -> str:
        # references become the component of their type when the document has it, else the
        # generic reference shape (NetSuite's documents refer to types left out by select too)
        target = target.lower() if target != NS_LINK else target
        return _component_ref(target if target in names or target == NS_LINK else NS_RESOURCE)

    schemas: dict[str, Any] = {
        NS_LINK: NS_LINK_SCHEMA,
        NS_RESOURCE: {
            "type": "object",
            "properties": {
                "links": _links(ref_for),
                "id": {"title": "Internal identifier", "type": "string"},
                "refName": {"title": "Reference Name", "type": "string"},
                "externalId": {"title": "External identifier", "type": "string"},
            },
        },
        NS_ERROR: {
            "type": "object",
            "properties": {
                "type": {"type": "string"},
                "title": {"type": "string"},
                "status": {"type": "integer"},
                "o:errorDetails": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "detail": {"type": "string"},
                            "o:errorCode": {"type": "string"},
                            "o:errorPath": {"type": "string"},
                        },
                    },
                },
            },
        },
    }
    paths: dict[str, Any] = {}
    for rtype in rtypes:
        name = catalog_name(rtype)
        schemas[name] = record_schema(rtype, ref_for)
        schemas[f"{name}Collection"] = _collection(
            {
                "type": "object",
                "properties": {
                    "links": _links(ref_for),
                    "id": {"title": "Internal ID", "type": "string"},
                },
            },
            f"{rtype.name} collection",
            ref_for,
        )
        paths.update(_paths(name, ref_for))
    return {
        "openapi": "3.0.1",
        "info": {
            "title": "NetSuite REST Record API",
            "description": "Record types of the sandbox account's REST web services.",
            "version": "v1",
        },
        "servers": [{"url": f"{base}{RECORD_PREFIX}"}],
        "tags": [{"name": catalog_name(t)} for t in rtypes],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "oauth2ClientCredentials": {
                    "type": "oauth2",
                    "flows": {
                        "clientCredentials": {
                            "tokenUrl": f"{base}/services/rest/auth/oauth2/v1/token",
                            "scopes": {"rest_webservices": "REST web services"},
                        }
                    },
                }
            },
        },
        "security": [{"oauth2ClientCredentials": ["rest_webservices"]}],
    }


def _paths(name: str, ref_for: RefFor) -> dict[str, Any]:
    def content(kind: str, schema_name: str) -> dict[str, Any]:
        return {f"{RESOURCE_JSON}; type={kind}": {"schema": {"$ref": _component_ref(schema_name)}}}

    error = {"description": "Error response.", "content": content("error", NS_ERROR)}
    done = {
        "description": "Done; the record's URL is in the Location header.",
        "headers": {"Location": {"schema": {"type": "string"}}},
    }
    record_id = {
        "name": "id",
        "in": "path",
        "required": True,
        "description": "Internal identifier, or eid:<external id>.",
        "schema": {"type": "string"},
    }

    def query(param: str, description: str, schema_type: str = "string") -> dict[str, Any]:
        return {
            "name": param,
            "in": "query",
            "description": description,
            "schema": {"type": schema_type},
        }

    body = {"required": True, "content": content("singular", name)}
    return {
        f"/{name}": {
            "get": {
                "tags": [name],
                "summary": "Get list of records.",
                "parameters": [
                    query("q", "Search query used to filter results."),
                    query(
                        "limit",
                        "The limit used to specify the number of results on a single page.",
                        "integer",
                    ),
                    query(
                        "offset",
                        "The offset used for selecting a specific page of results.",
                        "integer",
                    ),
                ],
                "responses": {
                    "200": {
                        "description": "Get list of records.",
                        "content": content("collection", f"{name}Collection"),
                    },
                    "default": error,
                },
            },
            "post": {
                "tags": [name],
                "summary": "Insert record.",
                "requestBody": body,
                "responses": {"204": done, "default": error},
            },
        },
        f"/{name}/{{id}}": {
            "get": {
                "tags": [name],
                "summary": "Get record.",
                "parameters": [
                    record_id,
                    query("expandSubResources", "Set to true to expand sub-resources.", "boolean"),
                ],
                "responses": {
                    "200": {"description": "Get record.", "content": content("singular", name)},
                    "default": error,
                },
            },
            "patch": {
                "tags": [name],
                "summary": "Update record.",
                "parameters": [record_id],
                "requestBody": body,
                "responses": {"204": done, "default": error},
            },
            "put": {
                "tags": [name],
                "summary": "Insert or update record (by external ID: eid:<external id>).",
                "parameters": [record_id],
                "requestBody": body,
                "responses": {"204": done, "default": error},
            },
            "delete": {
                "tags": [name],
                "summary": "Remove record.",
                "parameters": [record_id],
                "responses": {"204": {"description": "Removed record."}, "default": error},
            },
        },
    }
