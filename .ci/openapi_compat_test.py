#!/usr/bin/env python3
"""Self-test of openapi_compat.py on tiny documents built in memory (standard library unittest)."""

from __future__ import annotations

import copy
import io
import json
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import openapi_compat  # noqa: E402


def tiny() -> dict:
    """Two paths, a request and a response schema, an enum, a `$ref`'d parameter."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "tiny", "version": "1"},
        "paths": {
            "/api/v1/cases": {
                "get": {
                    "operationId": "list_cases",
                    "parameters": [{"$ref": "#/components/parameters/Limit"}],
                    "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Case"}}}}},
                },
                "post": {
                    "operationId": "create_case",
                    "requestBody": {"required": True, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/NewCase"}}}},
                    "responses": {"201": {"description": "made", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Case"}}}}},
                },
            },
            "/api/v1/programs": {
                "get": {"operationId": "list_programs", "responses": {"200": {"description": "ok"}}},
            },
        },
        "components": {
            "parameters": {"Limit": {"name": "limit", "in": "query", "required": False, "schema": {"type": "integer", "maximum": 200}}},
            "schemas": {
                "Case": {
                    "type": "object",
                    "required": ["id", "status"],
                    "properties": {
                        "id": {"type": "string", "format": "uuid"},
                        "status": {"type": "string", "enum": ["open", "closed"]},
                        "risk_level": {"type": ["string", "null"]},
                    },
                },
                "NewCase": {
                    "type": "object",
                    "required": ["client_id"],
                    "properties": {"client_id": {"type": "string", "format": "uuid"}, "division_id": {"type": ["string", "null"], "format": "uuid"}},
                },
            },
        },
    }


def run(baseline: dict, current: dict, acknowledged: str | None = None) -> tuple[int, str]:
    """Runs the command line on files in a temporary directory; returns (exit status, output)."""
    with tempfile.TemporaryDirectory() as tmp:
        base, cur, ack = Path(tmp, "released.json"), Path(tmp, "openapi.json"), Path(tmp, "breaking-changes.txt")
        base.write_text(json.dumps(baseline))
        cur.write_text(json.dumps(current))
        if acknowledged is not None:
            ack.write_text(acknowledged)
        out = io.StringIO()
        status = openapi_compat.main(["--baseline", str(base), "--current", str(cur), "--acknowledged", str(ack)], out)
        return status, out.getvalue()


def broken() -> dict:
    """The tiny document without /api/v1/programs, Case.risk_level and the enum value `closed`."""
    doc = tiny()
    del doc["paths"]["/api/v1/programs"]
    del doc["components"]["schemas"]["Case"]["properties"]["risk_level"]
    doc["components"]["schemas"]["Case"]["properties"]["status"]["enum"] = ["open"]
    return doc


EXPECTED = [
    "path-removed /api/v1/programs",
    "property-removed Case.risk_level",
    "enum-value-removed Case.status (closed)",
]


class TheThreeCases(unittest.TestCase):
    def test_the_same_document_passes(self) -> None:
        status, out = run(tiny(), tiny())
        self.assertEqual(status, 0, out)
        self.assertIn("0 additions, 0 breaking (0 acknowledged)", out)

    def test_a_removed_path_property_and_enum_value_fail_naming_each(self) -> None:
        status, out = run(tiny(), broken())
        self.assertEqual(status, 1, out)
        for finding in EXPECTED:
            self.assertIn(f"  {finding}\n", out)
        self.assertIn("0 additions, 3 breaking (0 acknowledged)", out)

    def test_acknowledged_findings_pass(self) -> None:
        acknowledged = "# deliberate, see docs/versioning.md\n\n" + "\n".join(EXPECTED) + "\n"
        status, out = run(tiny(), broken(), acknowledged)
        self.assertEqual(status, 0, out)
        self.assertIn("3 breaking (3 acknowledged)", out)


class MoreRules(unittest.TestCase):
    def findings(self, current: dict) -> set[str]:
        return openapi_compat.compare(tiny(), current).breaking

    def test_additions_are_counted_and_pass(self) -> None:
        doc = tiny()
        doc["paths"]["/api/v1/notes"] = {"get": {"operationId": "list_notes", "responses": {"200": {"description": "ok"}}}}
        doc["components"]["schemas"]["Case"]["properties"]["program_id"] = {"type": ["string", "null"]}
        doc["components"]["schemas"]["Case"]["properties"]["status"]["enum"].append("archived")
        report = openapi_compat.compare(tiny(), doc)
        self.assertEqual(report.breaking, set())
        self.assertIn("path-added /api/v1/notes", report.additions)
        self.assertIn("property-added Case.program_id", report.additions)
        self.assertIn("enum-value-added Case.status (archived)", report.additions)

    def test_a_request_property_becoming_required_breaks_but_not_in_a_response(self) -> None:
        doc = tiny()
        doc["components"]["schemas"]["NewCase"]["required"].append("division_id")
        doc["components"]["schemas"]["Case"]["required"].append("risk_level")
        self.assertEqual(self.findings(doc), {"property-now-required NewCase.division_id"})

    def test_a_response_property_no_longer_required_breaks(self) -> None:
        doc = tiny()
        doc["components"]["schemas"]["Case"]["required"] = ["id"]
        self.assertEqual(self.findings(doc), {"property-no-longer-required Case.status"})

    def test_type_and_format_changes_break(self) -> None:
        doc = tiny()
        doc["components"]["schemas"]["Case"]["properties"]["id"] = {"type": "integer", "format": "int64"}
        self.assertEqual(
            self.findings(doc),
            {"type-changed Case.id (string -> integer)", "format-changed Case.id (uuid -> int64)"},
        )

    def test_refs_are_resolved_an_inlined_schema_is_no_change(self) -> None:
        doc = tiny()
        op = doc["paths"]["/api/v1/cases"]["post"]
        op["requestBody"]["content"]["application/json"]["schema"] = copy.deepcopy(doc["components"]["schemas"]["NewCase"])
        self.assertEqual(self.findings(doc), set())
        # ... and a change inside the inlined copy is found at the operation.
        op["requestBody"]["content"]["application/json"]["schema"]["required"].append("division_id")
        self.assertEqual(
            self.findings(doc), {"property-now-required POST /api/v1/cases request application/json.division_id"}
        )

    def test_parameters_operations_and_responses(self) -> None:
        doc = tiny()
        doc["components"]["parameters"]["Limit"]["required"] = True
        doc["components"]["parameters"]["Limit"]["schema"]["maximum"] = 100
        doc["paths"]["/api/v1/cases"]["get"]["operationId"] = "cases"
        del doc["paths"]["/api/v1/cases"]["post"]["responses"]["201"]
        del doc["paths"]["/api/v1/programs"]["get"]
        doc["paths"]["/api/v1/programs"]["post"] = {"responses": {"201": {"description": "made"}}}
        self.assertEqual(
            self.findings(doc),
            {
                "parameter-now-required GET /api/v1/cases query:limit",
                "constraint-tightened GET /api/v1/cases query:limit (maximum 200 -> 100)",
                "operation-id-changed GET /api/v1/cases (list_cases -> cases)",
                "response-removed POST /api/v1/cases 201",
                "operation-removed GET /api/v1/programs",
            },
        )

    def test_comments_and_unused_acknowledgements(self) -> None:
        status, out = run(tiny(), tiny(), "# nothing yet\nschema-removed Gone\n")
        self.assertEqual(status, 0, out)
        self.assertIn("not found (remove these lines)", out)
        self.assertIn("  schema-removed Gone\n", out)


if __name__ == "__main__":
    unittest.main()
