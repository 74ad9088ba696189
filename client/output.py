"""The output formats of the `uapi` command.

Each format module is imported only when that format is chosen, because the command pays
for every import on every call: PyYAML alone takes longer to import than Python takes to
start.
"""

from __future__ import annotations

import json

# mypy treats a name TYPE_CHECKING as true wherever it comes from. Importing `typing` at run
# time would slow the command's start-up.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

FORMATS = ("yaml", "json", "jsonpretty", "xml")
DEFAULT_FORMAT = "yaml"


def render(document: Mapping[str, object], output_format: str) -> str:
    """Return `document` written in `output_format`, one of FORMATS, ending with a newline."""
    if output_format == "yaml":
        return _render_yaml(document)
    if output_format == "json":
        return json.dumps(document, ensure_ascii=False) + "\n"
    if output_format == "jsonpretty":
        return json.dumps(document, ensure_ascii=False, indent=2) + "\n"
    if output_format == "xml":
        from . import xmlformat

        return xmlformat.render(document)
    raise ValueError(f"unknown output format {output_format!r}; expected one of {FORMATS}")


def _render_yaml(document: Mapping[str, object]) -> str:
    import yaml

    # CSafeDumper is the same safe dumper on libyaml, and exists only when PyYAML was built
    # with it.
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    text: str = yaml.dump(
        document,
        Dumper=dumper,
        default_flow_style=False,
        sort_keys=False,
        allow_unicode=True,
        explicit_start=True,
    )
    return text
