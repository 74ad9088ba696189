"""The output formats of `uapi`, and parsers that read each back into JSON data.

The XML reader is written from the format's description in `tokend_client.xmlformat`, not
from its code, so that the round trips compare two independent readings of the format.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ElementTree
from typing import Any

import pytest
import yaml

from tokend_client import output


def parse_output(text: str, output_format: str) -> Any:
    """Return the data that `text`, printed with `--output=output_format`, contains."""
    if output_format == "yaml":
        assert text.startswith("---\n"), text
        return yaml.safe_load(text)
    if output_format in ("json", "jsonpretty"):
        return json.loads(text)
    if output_format == "xml":
        # The text is the command's own output, not untrusted input.
        root = ElementTree.fromstring(text.encode("utf-8"))  # noqa: S314
        assert root.tag == "uapi"
        return xml_value(root)
    raise AssertionError(f"no parser for {output_format!r}")


def xml_value(element: ElementTree.Element) -> Any:
    """Return the JSON value of one element of the `uapi --output=xml` format."""
    kind = element.get("type")
    text = element.text or ""
    if kind == "null":
        return None
    if kind == "bool":
        assert text in ("true", "false"), text
        return text == "true"
    if kind == "int":
        return int(text)
    if kind == "float":
        return float(text)
    if kind == "array":
        assert all(child.tag == "item" for child in element), [c.tag for c in element]
        return [xml_value(child) for child in element]
    if kind == "object":
        return {xml_key(child): xml_value(child) for child in element}
    assert kind is None, kind
    if element.get("encoding") == "json":
        return json.loads(text)
    return text


def xml_key(element: ElementTree.Element) -> str:
    key = element.get("key")
    if element.tag != "item" or key is None:
        return element.tag
    if element.get("key-encoding") == "json":
        decoded = json.loads(key)
        assert isinstance(decoded, str)
        return decoded
    return key


SAMPLE: dict[str, Any] = {
    "apiversion": 3,
    "func": "list",
    "module": "Tokens",
    "result": {
        "data": [
            {"name": "ci", "create_time": 1700000000, "expires_at": None, "features": []},
            {"name": "Deploy-2", "create_time": 1, "expires_at": 253402300799, "features": []},
        ],
        "errors": None,
        "messages": ["ünïcödé ✓", ""],
        "metadata": {"transformed": 1, "paginate": {}, "revoked": []},
        "status": 1,
        "warnings": ["line one\nline two", "tab\there", "<&>\"'"],
    },
}

AWKWARD_VALUES: list[Any] = [
    "carriage\rreturn",
    "nul\x00byte",
    "escape\x1b[0m",
    "\ufffe",
    "  leading and trailing spaces  ",
    "",
    "123",
    "null",
    "true",
    "yes",
    "~",
    "- dash",
    "key: value",
    True,
    False,
    0,
    -5,
    2**70,
    1.5,
    None,
    [],
    {},
    [[]],
    {"a": {}},
]

AWKWARD_KEYS = [
    "",
    "1starts-with-digit",
    "with space",
    "xmlns",
    "XML-upper",
    "item",
    "a.b-c_d",
    "ключ",
    "line\nbreak",
    "nul\x00",
    "-dash",
    ".dot",
]


@pytest.mark.parametrize("output_format", output.FORMATS)
def test_sample_round_trips(output_format: str) -> None:
    """Each format reads back to the document it was written from."""
    text = output.render(SAMPLE, output_format)
    assert text.endswith("\n")
    assert parse_output(text, output_format) == SAMPLE


@pytest.mark.parametrize("output_format", output.FORMATS)
@pytest.mark.parametrize("value", AWKWARD_VALUES, ids=repr)
def test_awkward_value_round_trips(output_format: str, value: Any) -> None:
    document = {"result": {"data": value, "list": [value]}}
    text = output.render(document, output_format)
    assert parse_output(text, output_format) == document


@pytest.mark.parametrize("output_format", output.FORMATS)
@pytest.mark.parametrize("key", AWKWARD_KEYS, ids=repr)
def test_awkward_key_round_trips(output_format: str, key: str) -> None:
    document = {"metadata": {key: "value", "next": 1}}
    text = output.render(document, output_format)
    assert parse_output(text, output_format) == document


def test_xml_names_plain_keys_as_elements() -> None:
    root = ElementTree.fromstring(output.render(SAMPLE, "xml"))  # noqa: S314
    assert root.find("./result/data/item/name") is not None
    assert root.findtext("./func") == "list"
    assert root.find("./result/status").get("type") == "int"  # type: ignore[union-attr]


def test_json_is_one_line() -> None:
    text = output.render(SAMPLE, "json")
    assert text.count("\n") == 1


def test_jsonpretty_is_indented() -> None:
    text = output.render(SAMPLE, "jsonpretty")
    assert '\n  "apiversion": 3,' in text


def test_yaml_keeps_field_order() -> None:
    text = output.render(SAMPLE, "yaml")
    assert text.index("apiversion:") < text.index("func:") < text.index("result:")
    assert text.index("name: ci") < text.index("create_time: 1700000000")


def test_unknown_format_raises() -> None:
    with pytest.raises(ValueError, match="csv"):
        output.render(SAMPLE, "csv")
