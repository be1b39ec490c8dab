#!/usr/bin/env python3
"""Fails when the current OpenAPI document drops or narrows anything the released one promised.

Compares a baseline (the published v1 contract, openapi/released.json) with the current document
(openapi/openapi.json) and reports, one line each, every way a client built against the baseline
could break:

  path-removed, operation-removed, operation-id-changed, parameter-removed, parameter-now-required,
  request-body-now-required, response-removed, media-type-removed, response-header-removed,
  schema-removed, property-removed, property-now-required (request schemas),
  property-no-longer-required (response schemas), enum-value-removed, enum-removed (response schemas),
  type-changed, format-changed, constraint-tightened (request schemas), variant-removed.

`$ref`s are resolved into the document's components. A schema counts as a request schema when an
operation's parameters or request body reach it, as a response schema when a response reaches it,
and as both when nothing reaches it. Additions (new paths, operations, optional parameters,
responses, schemas, properties, enum values, media types, headers) are listed and never fail.

A finding is acknowledged, and then does not fail, when its line appears verbatim in the
acknowledgements file (one per line; blank lines and `#` comments are ignored).

Exit status: 0 when every breaking finding is acknowledged, 1 when one is not, 2 on bad input.
Python 3.11 standard library only.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
REQUEST = "request"
RESPONSE = "response"
BOTH = frozenset({REQUEST, RESPONSE})

# Constraints that narrow what a request may hold when they go down (upper bounds) or up (lower bounds).
UPPER_BOUNDS = ("maxLength", "maxItems", "maxProperties", "maximum", "exclusiveMaximum")
LOWER_BOUNDS = ("minLength", "minItems", "minProperties", "minimum", "exclusiveMinimum")


class BadDocument(Exception):
    """The input cannot be compared (unreadable, not an object, a dangling or external $ref)."""


@dataclass
class Report:
    """What the comparison found: breaking findings and additions, one identifier each."""

    breaking: set[str] = field(default_factory=set)
    additions: set[str] = field(default_factory=set)

    def broke(self, kind: str, where: str, detail: str | None = None) -> None:
        self.breaking.add(f"{kind} {where}" + (f" ({detail})" if detail is not None else ""))

    def added(self, kind: str, where: str, detail: str | None = None) -> None:
        self.additions.add(f"{kind} {where}" + (f" ({detail})" if detail is not None else ""))


class Doc:
    """An OpenAPI document with `$ref` resolution inside it."""

    def __init__(self, raw: Any, name: str) -> None:
        if not isinstance(raw, dict):
            raise BadDocument(f"{name}: the document is not a JSON object")
        self.raw = raw
        self.name = name

    def lookup(self, ref: str) -> Any:
        if not ref.startswith("#/"):
            raise BadDocument(f"{self.name}: only local $refs are supported, not {ref!r}")
        node: Any = self.raw
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(node, dict) or part not in node:
                raise BadDocument(f"{self.name}: dangling $ref {ref!r}")
            node = node[part]
        return node

    def resolve(self, node: Any) -> Any:
        """Follows `$ref` chains (parameters, request bodies, responses, headers, schemas)."""
        seen: set[str] = set()
        while isinstance(node, dict) and isinstance(node.get("$ref"), str):
            ref = node["$ref"]
            if ref in seen:
                raise BadDocument(f"{self.name}: $ref cycle at {ref!r}")
            seen.add(ref)
            node = self.lookup(ref)
        return node

    def schemas(self) -> dict[str, Any]:
        found = self.raw.get("components", {}).get("schemas", {})
        return found if isinstance(found, dict) else {}

    def paths(self) -> dict[str, Any]:
        found = self.raw.get("paths", {})
        return found if isinstance(found, dict) else {}


def schema_name(node: Any) -> str | None:
    """`Foo` for a `$ref` to `#/components/schemas/Foo`."""
    if isinstance(node, dict) and isinstance(node.get("$ref"), str):
        ref = node["$ref"]
        prefix = "#/components/schemas/"
        if ref.startswith(prefix):
            return ref[len(prefix):].replace("~1", "/").replace("~0", "~")
    return None


def template(path: str) -> str:
    """A path with its parameter names blanked, so `/a/{id}` and `/a/{a_id}` are one path."""
    return re.sub(r"\{[^}]*\}", "{}", path)


def value_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


# ---- schemas ----


@dataclass
class Shape:
    """A schema normalised for comparison."""

    ref: str | None = None  # a component this schema is (then nothing else is filled in)
    types: frozenset[str] | None = None  # None: any type
    nullable: bool = False
    format: str | None = None
    enum: list[Any] | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    required: set[str] = field(default_factory=set)
    items: Any = None
    additional: Any = None  # additionalProperties
    variants: list[Any] = field(default_factory=list)  # oneOf/anyOf members other than null
    constraints: dict[str, Any] = field(default_factory=dict)


def is_null_schema(node: Any) -> bool:
    return isinstance(node, dict) and node.get("type") == "null" and len(set(node) - {"type", "description"}) == 0


def shape(doc: Doc, node: Any) -> Shape:
    """Normalises `node`. A bare `$ref` to a component stays a reference; everything else is opened."""
    if node is True or node is None:
        return Shape()
    if node is False:
        return Shape(types=frozenset())
    if not isinstance(node, dict):
        raise BadDocument(f"{doc.name}: a schema is not an object: {node!r}")
    name = schema_name(node)
    if name is not None:
        return Shape(ref=name)
    if "$ref" in node:
        return shape(doc, doc.resolve(node))
    out = Shape()
    raw_type = node.get("type")
    if isinstance(raw_type, str):
        types = {raw_type}
    elif isinstance(raw_type, list):
        types = {t for t in raw_type if isinstance(t, str)}
    else:
        types = None
    if types is not None:
        out.nullable = "null" in types
        out.types = frozenset(types - {"null"})
    if node.get("nullable") is True:
        out.nullable = True
    out.format = node.get("format") if isinstance(node.get("format"), str) else None
    if isinstance(node.get("enum"), list):
        out.enum = list(node["enum"])
        if None in out.enum:
            out.nullable = True
            out.enum = [v for v in out.enum if v is not None]
    if isinstance(node.get("properties"), dict):
        out.properties = dict(node["properties"])
    if isinstance(node.get("required"), list):
        out.required = {r for r in node["required"] if isinstance(r, str)}
    out.items = node.get("items")
    out.additional = node.get("additionalProperties")
    for key in UPPER_BOUNDS + LOWER_BOUNDS + ("pattern", "multipleOf", "uniqueItems"):
        if key in node:
            out.constraints[key] = node[key]
    # allOf: the members together (properties and required merged).
    for member in node.get("allOf", []) or []:
        part = shape(doc, doc.resolve(member))
        out.properties.update(part.properties)
        out.required |= part.required
        if part.types is not None:
            out.types = part.types if out.types is None else out.types | part.types
        out.enum = out.enum if out.enum is not None else part.enum
        out.format = out.format or part.format
        out.items = out.items if out.items is not None else part.items
        out.additional = out.additional if out.additional is not None else part.additional
        for key, value in part.constraints.items():
            out.constraints.setdefault(key, value)
    # oneOf/anyOf: `[X, {type: null}]` is a nullable X; anything else is a list of variants.
    members = (node.get("oneOf") or []) + (node.get("anyOf") or [])
    if members:
        others = [m for m in members if not is_null_schema(m)]
        if len(others) < len(members):
            out.nullable = True
        if len(others) == 1 and not out.properties and out.types is None:
            inner = shape(doc, others[0])
            inner.nullable = inner.nullable or out.nullable
            return inner
        out.variants = others
    return out


@dataclass
class Comparison:
    base: Doc
    cur: Doc
    report: Report
    stack: set[tuple[int, int]] = field(default_factory=set)

    def schema(self, b_node: Any, c_node: Any, where: str, ctx: frozenset[str]) -> None:
        """Compares one schema position. Components met by the same name are compared on their own."""
        b, c = shape(self.base, b_node), shape(self.cur, c_node)
        nullable_b, nullable_c = b.nullable, c.nullable
        if b.ref is not None and b.ref == c.ref:
            self.nullability(nullable_b, nullable_c, where, ctx)
            return
        if b.ref is not None or c.ref is not None:
            # Inline on one side, or another component: compare what they resolve to.
            b_open = self.base.schemas().get(b.ref) if b.ref is not None else b_node
            c_open = self.cur.schemas().get(c.ref) if c.ref is not None else c_node
            if c.ref is not None and c_open is None:
                raise BadDocument(f"{self.cur.name}: dangling schema $ref {c.ref!r}")
            if b.ref is not None and b_open is None:
                raise BadDocument(f"{self.base.name}: dangling schema $ref {b.ref!r}")
            key = (id(b_open), id(c_open))
            if key in self.stack:
                return
            self.stack.add(key)
            try:
                self.nullability(nullable_b, nullable_c, where, ctx)
                b_shape = shape(self.base, self.base.resolve(b_open))
                c_shape = shape(self.cur, self.cur.resolve(c_open))
                self.opened(b_shape, c_shape, where, ctx, check_null=False)
            finally:
                self.stack.discard(key)
            return
        self.opened(b, c, where, ctx)

    def component(self, name: str, b_schema: Any, c_schema: Any, ctx: frozenset[str]) -> None:
        """Compares a component schema with its namesake; `$ref`s to it elsewhere stop at its name."""
        key = (id(b_schema), id(c_schema))
        self.stack.add(key)
        try:
            b, c = shape(self.base, self.base.resolve(b_schema)), shape(self.cur, self.cur.resolve(c_schema))
            self.opened(b, c, name, ctx)
        finally:
            self.stack.discard(key)

    def nullability(self, b: bool, c: bool, where: str, ctx: frozenset[str]) -> None:
        if b == c:
            return
        # A response that may now be null, or a request that may no longer be null, breaks clients.
        if (c and RESPONSE in ctx) or (b and REQUEST in ctx):
            self.report.broke("type-changed", where, f"{'nullable' if b else 'not nullable'} -> {'nullable' if c else 'not nullable'}")

    def opened(self, b: Shape, c: Shape, where: str, ctx: frozenset[str], check_null: bool = True) -> None:
        r = self.report
        if check_null:
            self.nullability(b.nullable, c.nullable, where, ctx)
        # Types.
        if b.types != c.types:
            if b.types is None or c.types is None:
                narrowed = c.types is not None  # any -> some narrows; some -> any widens
                if (narrowed and REQUEST in ctx) or (not narrowed and RESPONSE in ctx):
                    r.broke("type-changed", where, f"{fmt_types(b.types)} -> {fmt_types(c.types)}")
            else:
                lost, gained = b.types - c.types, c.types - b.types
                if (lost and REQUEST in ctx) or (gained and RESPONSE in ctx) or (lost and gained):
                    r.broke("type-changed", where, f"{fmt_types(b.types)} -> {fmt_types(c.types)}")
        # Format.
        if b.format != c.format:
            if b.format is not None or REQUEST in ctx:
                r.broke("format-changed", where, f"{b.format or 'none'} -> {c.format or 'none'}")
        # Enums.
        if b.enum is not None and c.enum is not None:
            for value in b.enum:
                if value not in c.enum:
                    r.broke("enum-value-removed", where, value_text(value))
            for value in c.enum:
                if value not in b.enum:
                    r.added("enum-value-added", where, value_text(value))
        elif b.enum is not None and RESPONSE in ctx:
            r.broke("enum-removed", where)
        elif c.enum is not None and REQUEST in ctx:
            r.broke("constraint-tightened", where, "enum added")
        # Constraints on what a request may hold.
        if REQUEST in ctx:
            self.constraints(b, c, where)
        # Properties.
        for name, b_prop in sorted(b.properties.items()):
            if name not in c.properties:
                r.broke("property-removed", f"{where}.{name}")
            else:
                self.schema(b_prop, c.properties[name], f"{where}.{name}", ctx)
        for name in sorted(set(c.properties) - set(b.properties)):
            r.added("property-added", f"{where}.{name}")
        if REQUEST in ctx:
            for name in sorted(c.required - b.required):
                r.broke("property-now-required", f"{where}.{name}")
        if RESPONSE in ctx:
            for name in sorted((b.required - c.required) & set(c.properties)):
                r.broke("property-no-longer-required", f"{where}.{name}")
        # Arrays and maps.
        if b.items is not None and c.items is not None:
            self.schema(b.items, c.items, f"{where}[]", ctx)
        if isinstance(b.additional, dict) and isinstance(c.additional, dict):
            self.schema(b.additional, c.additional, f"{where}{{}}", ctx)
        # Variants of a oneOf/anyOf: each baseline variant must still be there.
        if b.variants:
            current = {variant_key(self.cur, v) for v in c.variants}
            for i, variant in enumerate(b.variants):
                if variant_key(self.base, variant) not in current:
                    r.broke("variant-removed", where, schema_name(variant) or f"#{i}")

    def constraints(self, b: Shape, c: Shape, where: str) -> None:
        r = self.report
        for key in UPPER_BOUNDS:
            old, new = b.constraints.get(key), c.constraints.get(key)
            if new is not None and (old is None or (is_number(old) and is_number(new) and new < old)):
                r.broke("constraint-tightened", where, f"{key} {old if old is not None else 'none'} -> {new}")
        for key in LOWER_BOUNDS:
            old, new = b.constraints.get(key), c.constraints.get(key)
            if new is not None and (old is None or (is_number(old) and is_number(new) and new > old)):
                r.broke("constraint-tightened", where, f"{key} {old if old is not None else 'none'} -> {new}")
        for key in ("pattern", "multipleOf"):
            old, new = b.constraints.get(key), c.constraints.get(key)
            if new is not None and new != old:
                r.broke("constraint-tightened", where, f"{key} {old if old is not None else 'none'} -> {new}")
        if c.constraints.get("uniqueItems") is True and b.constraints.get("uniqueItems") is not True:
            r.broke("constraint-tightened", where, "uniqueItems")
        if c.additional is False and b.additional is not False:
            r.broke("constraint-tightened", where, "additionalProperties false")


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def fmt_types(types: frozenset[str] | None) -> str:
    return "any" if types is None else "|".join(sorted(types)) or "none"


def variant_key(doc: Doc, node: Any) -> str:
    name = schema_name(node)
    return f"$ref:{name}" if name is not None else json.dumps(doc.resolve(node), sort_keys=True)


# ---- reachability: which component schemas requests and responses use ----


def reachable(doc: Doc) -> dict[str, set[str]]:
    """Component name -> {"request", "response"}, by what reaches it from the operations."""
    uses: dict[str, set[str]] = {}

    def walk(node: Any, ctx: str, seen: set[int]) -> None:
        if isinstance(node, dict):
            if id(node) in seen:
                return
            seen.add(id(node))
            name = schema_name(node)
            if name is not None:
                if ctx in uses.setdefault(name, set()):
                    return
                uses[name].add(ctx)
                target = doc.schemas().get(name)
                if target is not None:
                    walk(target, ctx, seen)
                return
            if "$ref" in node:
                walk(doc.resolve(node), ctx, seen)
                return
            for value in node.values():
                walk(value, ctx, seen)
        elif isinstance(node, list):
            for value in node:
                walk(value, ctx, seen)

    for item in doc.paths().values():
        item = doc.resolve(item)
        if not isinstance(item, dict):
            continue
        for param in item.get("parameters", []) or []:
            walk(doc.resolve(param), REQUEST, set())
        for method in METHODS:
            op = item.get(method)
            if not isinstance(op, dict):
                continue
            for param in op.get("parameters", []) or []:
                walk(doc.resolve(param), REQUEST, set())
            if "requestBody" in op:
                walk(doc.resolve(op["requestBody"]), REQUEST, set())
            for response in (op.get("responses") or {}).values():
                walk(doc.resolve(response), RESPONSE, set())
    return uses


# ---- operations ----


def parameters(doc: Doc, item: dict[str, Any], op: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """(in, name) -> parameter, the operation's own overriding the path item's. Header names ignore case."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for source in (item.get("parameters") or [], op.get("parameters") or []):
        for raw in source:
            param = doc.resolve(raw)
            if isinstance(param, dict) and isinstance(param.get("name"), str):
                where = str(param.get("in", ""))
                name = param["name"].lower() if where == "header" else param["name"]
                out[(where, name)] = param
    return out


def content(doc: Doc, holder: Any) -> dict[str, Any]:
    holder = doc.resolve(holder)
    found = holder.get("content") if isinstance(holder, dict) else None
    return found if isinstance(found, dict) else {}


def headers(response: Any) -> dict[str, Any]:
    found = response.get("headers") if isinstance(response, dict) else None
    return found if isinstance(found, dict) else {}


def compare_operation(cmp: Comparison, where: str, b_item: dict, b_op: dict, c_item: dict, c_op: dict) -> None:
    base, cur, r = cmp.base, cmp.cur, cmp.report
    b_id, c_id = b_op.get("operationId"), c_op.get("operationId")
    if b_id is not None and b_id != c_id:
        r.broke("operation-id-changed", where, f"{b_id} -> {c_id if c_id is not None else 'none'}")
    # Parameters.
    b_params, c_params = parameters(base, b_item, b_op), parameters(cur, c_item, c_op)
    for key, b_param in sorted(b_params.items()):
        label = f"{where} {key[0]}:{b_param['name']}"
        c_param = c_params.get(key)
        if c_param is None:
            # A renamed path parameter is the same parameter (the path template matched).
            if key[0] == "path":
                continue
            r.broke("parameter-removed", label)
            continue
        if c_param.get("required") is True and b_param.get("required") is not True:
            r.broke("parameter-now-required", label)
        if "schema" in b_param and "schema" in c_param:
            cmp.schema(b_param["schema"], c_param["schema"], label, frozenset({REQUEST}))
    for key, c_param in sorted(c_params.items()):
        if key in b_params or key[0] == "path":
            continue
        label = f"{where} {key[0]}:{c_param['name']}"
        if c_param.get("required") is True:
            r.broke("parameter-now-required", label)
        else:
            r.added("parameter-added", label)
    # Request body.
    b_body = base.resolve(b_op.get("requestBody")) if "requestBody" in b_op else None
    c_body = cur.resolve(c_op.get("requestBody")) if "requestBody" in c_op else None
    b_body_required = isinstance(b_body, dict) and b_body.get("required") is True
    c_body_required = isinstance(c_body, dict) and c_body.get("required") is True
    if c_body_required and not b_body_required:
        r.broke("request-body-now-required", where)
    if b_body is not None:
        b_media = content(base, b_body)
        c_media = content(cur, c_body) if c_body is not None else {}
        for media, b_type in sorted(b_media.items()):
            c_type = c_media.get(media)
            if c_type is None:
                r.broke("media-type-removed", f"{where} request", media)
            elif "schema" in b_type and "schema" in c_type:
                cmp.schema(b_type["schema"], c_type["schema"], f"{where} request {media}", frozenset({REQUEST}))
        for media in sorted(set(c_media) - set(b_media)):
            r.added("media-type-added", f"{where} request", media)
    # Responses.
    b_responses = b_op.get("responses") or {}
    c_responses = c_op.get("responses") or {}
    for status, b_resp in sorted(b_responses.items()):
        if status not in c_responses:
            r.broke("response-removed", f"{where} {status}")
            continue
        b_resp, c_resp = base.resolve(b_resp), cur.resolve(c_responses[status])
        b_media, c_media = content(base, b_resp), content(cur, c_resp)
        for media, b_type in sorted(b_media.items()):
            c_type = c_media.get(media)
            if c_type is None:
                r.broke("media-type-removed", f"{where} {status}", media)
            elif "schema" in b_type and "schema" in c_type:
                cmp.schema(b_type["schema"], c_type["schema"], f"{where} {status} {media}", frozenset({RESPONSE}))
        for media in sorted(set(c_media) - set(b_media)):
            r.added("media-type-added", f"{where} {status}", media)
        b_headers = {k.lower(): k for k in headers(b_resp)}
        c_headers = {k.lower(): k for k in headers(c_resp)}
        for lower, name in sorted(b_headers.items()):
            if lower not in c_headers:
                r.broke("response-header-removed", f"{where} {status}", name)
        for lower in sorted(set(c_headers) - set(b_headers)):
            r.added("response-header-added", f"{where} {status}", c_headers[lower])
    for status in sorted(set(c_responses) - set(b_responses)):
        r.added("response-added", f"{where} {status}")


def compare(baseline: Any, current: Any) -> Report:
    """Everything in `baseline` that `current` lost or narrowed, and what it added."""
    base, cur = Doc(baseline, "baseline"), Doc(current, "current")
    report = Report()
    cmp = Comparison(base, cur, report)
    # Paths and operations.
    c_by_template: dict[str, str] = {}
    for path in cur.paths():
        c_by_template.setdefault(template(path), path)
    b_templates = {template(p) for p in base.paths()}
    for path, b_item in sorted(base.paths().items()):
        c_path = path if path in cur.paths() else c_by_template.get(template(path))
        if c_path is None:
            report.broke("path-removed", path)
            continue
        b_item, c_item = base.resolve(b_item), cur.resolve(cur.paths()[c_path])
        for method in METHODS:
            if not isinstance(b_item.get(method), dict):
                continue
            where = f"{method.upper()} {path}"
            if not isinstance(c_item.get(method), dict):
                report.broke("operation-removed", where)
                continue
            compare_operation(cmp, where, b_item, b_item[method], c_item, c_item[method])
        for method in METHODS:
            if isinstance(c_item.get(method), dict) and not isinstance(b_item.get(method), dict):
                report.added("operation-added", f"{method.upper()} {path}")
    for path in sorted(cur.paths()):
        if template(path) not in b_templates:
            report.added("path-added", path)
    # Component schemas, each in the contexts that reach it (both when none does).
    b_uses, c_uses = reachable(base), reachable(cur)
    b_schemas, c_schemas = base.schemas(), cur.schemas()
    for name, b_schema in sorted(b_schemas.items()):
        if name not in c_schemas:
            report.broke("schema-removed", name)
            continue
        ctx = frozenset(b_uses.get(name, set()) | c_uses.get(name, set())) or BOTH
        cmp.component(name, b_schema, c_schemas[name], ctx)
    for name in sorted(set(c_schemas) - set(b_schemas)):
        report.added("schema-added", name)
    return report


# ---- command line ----


def read_acknowledged(path: Path) -> set[str]:
    """The acknowledged findings: one per line; blank lines and `#` comments ignored."""
    if not path.exists():
        return set()
    lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return {line for line in lines if line and not line.startswith("#")}


def load(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise BadDocument(f"{path}: {e.strerror}") from e
    except json.JSONDecodeError as e:
        raise BadDocument(f"{path}: not JSON ({e})") from e


def main(argv: list[str] | None = None, out: Any = None) -> int:
    out = out or sys.stdout
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", type=Path, default=Path("openapi/released.json"))
    parser.add_argument("--current", type=Path, default=Path("openapi/openapi.json"))
    parser.add_argument("--acknowledged", type=Path, default=Path("openapi/breaking-changes.txt"))
    args = parser.parse_args(argv)
    try:
        report = compare(load(args.baseline), load(args.current))
    except BadDocument as e:
        print(f"openapi-compat: {e}", file=sys.stderr)
        return 2
    acknowledged = read_acknowledged(args.acknowledged)
    open_findings = sorted(report.breaking - acknowledged)
    accepted = sorted(report.breaking & acknowledged)
    stale = sorted(acknowledged - report.breaking)

    def section(title: str, lines: list[str]) -> None:
        if lines:
            print(title, file=out)
            for line in lines:
                print(f"  {line}", file=out)

    print(f"openapi-compat: {args.baseline} (released) -> {args.current}", file=out)
    section("Breaking, not acknowledged:", open_findings)
    section(f"Breaking, acknowledged in {args.acknowledged}:", accepted)
    section("Additions:", sorted(report.additions))
    section(f"Acknowledged in {args.acknowledged} but not found (remove these lines):", stale)
    print(
        f"{len(report.additions)} additions, {len(report.breaking)} breaking ({len(accepted)} acknowledged)",
        file=out,
    )
    if open_findings:
        print(
            f"openapi-compat: FAILED. Keep /api/v1 compatible (see docs/versioning.md), or, for a deliberate break, "
            f"add each line above, exactly as printed, to {args.acknowledged}.",
            file=out,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
