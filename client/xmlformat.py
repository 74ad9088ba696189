"""The `uapi --output=xml` format: JSON data as XML that converts back without loss.

Each value is one element. An object's members are child elements named by their keys, and
an array's items are `<item>` elements. A key that is not a plain XML name (letters, digits,
`_`, `.` and `-`, not starting with a digit, `.`, `-` or "xml") becomes `<item key="...">`.
The `type` attribute gives the JSON type: object, array, int, float, bool (text `true` or
`false`) or null. An element without it is a string. A string that XML 1.0 cannot carry
exactly (control characters, or a carriage return, which XML parsers turn into a line
feed) has `encoding="json"` and contains the string as a JSON string literal. A key that XML
cannot carry has `key-encoding="json"` in the same way.

    <?xml version="1.0" encoding="UTF-8"?>
    <uapi type="object">
      <apiversion type="int">3</apiversion>
      <func>list</func>
      ...
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ElementTree

ROOT_TAG = "uapi"
ITEM_TAG = "item"

_PLAIN_NAME = re.compile(r"(?!xml)[A-Za-z_][A-Za-z0-9_.\-]*", re.IGNORECASE)
# Characters outside XML 1.0's Char production, plus the carriage return.
_UNSAFE_CHARACTER = re.compile("[^\t\n\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def render(document: object) -> str:
    """Return `document` as an XML document with the root element `<uapi>`."""
    root = ElementTree.Element(ROOT_TAG)
    _fill(root, document)
    ElementTree.indent(root)
    body = ElementTree.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{body}\n'


def _fill(element: ElementTree.Element, value: object) -> None:
    if value is None:
        element.set("type", "null")
    elif isinstance(value, bool):
        element.set("type", "bool")
        element.text = "true" if value else "false"
    elif isinstance(value, int):
        element.set("type", "int")
        element.text = str(value)
    elif isinstance(value, float):
        element.set("type", "float")
        element.text = repr(value)
    elif isinstance(value, str):
        _fill_string(element, value)
    elif isinstance(value, dict):
        element.set("type", "object")
        for key, member in value.items():
            _fill(_member_element(element, str(key)), member)
    elif isinstance(value, list):
        element.set("type", "array")
        for item in value:
            _fill(ElementTree.SubElement(element, ITEM_TAG), item)
    else:
        raise TypeError(f"cannot write a {type(value).__name__} as XML")


def _fill_string(element: ElementTree.Element, value: str) -> None:
    if _UNSAFE_CHARACTER.search(value):
        element.set("encoding", "json")
        element.text = json.dumps(value)
    else:
        element.text = value


def _member_element(parent: ElementTree.Element, key: str) -> ElementTree.Element:
    if _PLAIN_NAME.fullmatch(key):
        return ElementTree.SubElement(parent, key)
    element = ElementTree.SubElement(parent, ITEM_TAG)
    if _UNSAFE_CHARACTER.search(key):
        element.set("key", json.dumps(key))
        element.set("key-encoding", "json")
    else:
        element.set("key", key)
    return element
