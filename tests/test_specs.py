"""specs/ is normative: the committed files must equal what the code generates."""

import json
from pathlib import Path

import pytest

from cgr.plugins import specs

SPECS = Path(__file__).resolve().parents[1] / "specs"


@pytest.mark.parametrize("rel, text", sorted(specs.generated_files().items()))
def test_generated_spec_matches_code(rel, text):
    path = SPECS / rel
    assert path.is_file(), f"missing {path}: run python -m cgr.plugins.specs specs"
    assert path.read_text() == text, f"{path} drifted from the code: run python -m cgr.plugins.specs specs"


def test_schema_text_does_not_depend_on_docstring_formatting():
    """The schema generator's docstring formatting (indented or dedented, by version) is not meaning."""
    indented = {
        "description": "One line\n    and its continuation.\n\n    Second paragraph.",
        "properties": {"x": {"title": "  T  ", "description": "a\n  b"}},
    }
    dedented = {
        "description": "One line\nand its continuation.\n\nSecond paragraph.",
        "properties": {"x": {"title": "T", "description": "a\nb"}},
    }
    assert (
        specs.normalized(indented)
        == specs.normalized(dedented)
        == {
            "description": "One line and its continuation.\n\nSecond paragraph.",
            "properties": {"x": {"title": "T", "description": "a b"}},
        }
    )
    # a field *named* description keeps its schema (only string values are text)
    nested = {"properties": {"description": {"type": "string"}}}
    assert specs.normalized(nested) == nested


def test_every_hook_is_documented():
    doc = (SPECS / "hooks.md").read_text()
    for name in specs.hook_names():
        assert f"## {name}(" in doc, name
    assert len(specs.hook_names()) == 10


def test_record_schema_has_contract_fields():
    import json

    schema = json.loads((SPECS / "schemas" / "record.schema.json").read_text())
    rec = schema["$defs"]["Record"]["properties"]
    for key in (
        "item_id",
        "dataset",
        "task",
        "solver",
        "generator",
        "gold",
        "direct",
        "assisted",
        "generator_side",
        "audits",
    ):
        assert key in rec
    assisted = schema["$defs"]["AssistedChannel"]["properties"]
    for key in ("answer", "correct", "calls", "status", "program_sha256", "trace"):
        assert key in assisted


def _table_names(text: str, heading: str) -> set[str]:
    import re

    section = text.split(heading, 1)[1].split("\n#", 1)[0]
    return set(re.findall(r"^\| `([a-z_A-Z]+)`", section, flags=re.M))


def test_scaffold_api_spec_matches_the_guest():
    """The names in specs/scaffold_api.md are exactly what a scaffold finds in its globals."""
    from cgr.sandbox import STATUSES, Limits, Sandbox

    doc = (SPECS / "scaffold_api.md").read_text()
    documented = _table_names(doc, "## Names given to the program")
    probe = "print(','.join(sorted(k for k in globals() if not k.startswith('__'))))"
    item = {"id": "x", "question": "q", "choices": ["a", "b"], "labels": ["A", "B"], "context": None}
    result = Sandbox().run(probe, item, lambda op, args: None, Limits(timeout_s=10))
    assert result.status == "no_submit", result.error
    assert (
        set(result.stdout.strip().split(","))
        == documented
        == {"ITEM", "solver_call", "solver_logprobs", "extract_choice", "submit"}
    )
    assert _table_names(doc, "### Statuses") == set(STATUSES)
    import dataclasses

    assert _table_names(doc, "## Limits") == {f.name for f in dataclasses.fields(Limits)}


BASE = {"id": "q1", "dataset": "d", "question": "Q?", "choices": ["a", "b"], "answer": "A"}
SHAPES = [  # (change to BASE, accepted by both); None deletes the key
    ({}, True),
    ({"task": "t", "labels": ["A", "B"], "context": None, "metadata": {"k": 1}}, True),
    ({"labels": None, "task": None}, True),
    ({"id": None}, False),
    ({"id": ""}, False),
    ({"question": ""}, False),
    ({"choices": ["a"]}, False),
    ({"choices": [str(i) for i in range(27)]}, False),
    ({"choices": ["a", "  "]}, False),
    ({"choices": ["a", 2]}, False),
    ({"extra": 1}, False),
    ({"context": 3}, False),
    ({"answer": None}, False),
]


@pytest.mark.parametrize("change, accepted", SHAPES)
def test_the_item_schema_accepts_exactly_what_the_loader_accepts(change, accepted):
    """specs/schemas/item.schema.json is generated from the loader's model; on every shape the two
    agree (the cross-field rules the schema cannot state are in its description)."""
    import jsonschema

    from cgr.kernel.bundle import BundleError, parse_item

    schema = json.loads((SPECS / "schemas" / "item.schema.json").read_text())
    item = {k: v for k, v in {**BASE, **change}.items() if not (v is None and k in ("id", "answer"))}
    by_schema = jsonschema.Draft202012Validator(schema).is_valid(item)
    try:
        parse_item(item, "x.jsonl", 1)
        by_loader = True
    except BundleError:
        by_loader = False
    assert by_schema == by_loader == accepted


def test_cross_field_rules_are_the_loaders_and_the_schema_says_so():
    schema = json.loads((SPECS / "schemas" / "item.schema.json").read_text())
    assert "answer" in schema["description"] and "one distinct label per choice" in schema["description"]
