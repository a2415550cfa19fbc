"""The config keys' reference for --help: type, default and meaning of each key.

The meaning is the first sentence of the attribute docstring under the field in metarl/config.py,
read from the source (Python keeps no attribute docstrings at run time), so the help and the
dataclasses cannot drift apart.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import re
import textwrap
import typing
from dataclasses import dataclass
from typing import Any

from metarl.config import Config


@dataclass(frozen=True)
class KeyDoc:
    key: str
    type: str
    default: Any
    meaning: str


def field_docs(cls: type) -> dict[str, str]:
    """{field: docstring} of a dataclass, from the string literal under each annotated field."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    except (OSError, TypeError):  # no source (e.g. a zipped install without .py files)
        return {}
    body = tree.body[0].body  # type: ignore[attr-defined]
    docs = {}
    for node, after in zip(body, body[1:]):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):
            docs[node.target.id] = " ".join(after.value.value.split())
    return docs


def first_sentence(text: str) -> str:
    # A sentence ends at a period before a capital letter or the end ("e.g. ones" goes on).
    match = re.match(r"(.+?\.)(?=\s+[A-Z]|$)", text)
    return match.group(1) if match else text


def _type_name(tp: Any) -> str:
    if typing.get_origin(tp) is not None or isinstance(tp, type(int | None)):
        return str(tp).replace("typing.", "").replace("NoneType", "None")
    return getattr(tp, "__name__", str(tp))


def key_docs(obj: Any = None, prefix: str = "") -> list[KeyDoc]:
    """Every settable key of the config tree with its type, default and meaning."""
    obj = obj if obj is not None else Config()
    hints = typing.get_type_hints(type(obj))
    docs = field_docs(type(obj))
    out = []
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            out.extend(key_docs(value, f"{prefix}{f.name}."))
        else:
            meaning = first_sentence(docs.get(f.name, ""))
            out.append(KeyDoc(prefix + f.name, _type_name(hints[f.name]), value, meaning))
    return out


def _yaml_value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def help_text(width: int = 100) -> str:
    """The keys as an indented reference: 'key (type, default: value)' then its meaning."""
    lines = [
        "config keys (set with --set KEY=VALUE or in a YAML file; the defaults are the",
        "generic ones, which the shipped configs/<algo>/<env>.yaml override):",
    ]
    for doc in key_docs():
        lines.append(f"  {doc.key} ({doc.type}, default: {_yaml_value(doc.default)})")
        if doc.meaning:
            lines.extend(
                textwrap.wrap(doc.meaning, width, initial_indent=" " * 6, subsequent_indent=" " * 6)
            )
    return "\n".join(lines)
