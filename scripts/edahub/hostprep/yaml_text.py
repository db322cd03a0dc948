"""A small YAML writer for the Butane configs edahub generates.

Butane configs are YAML written for people to read, and PyYAML is not one of
bootstrap's dependencies; the configs use only mappings, lists, strings, booleans and
integers, so block style with double-quoted strings where needed is enough.
"""

import json
import re


class Octal(int):
    """An integer written in octal (``0644``), as file modes are in Butane configs."""


_PLAIN = re.compile(r"^[A-Za-z/][A-Za-z0-9_./@+-]*$")
_RESERVED = {"true", "false", "yes", "no", "on", "off", "null", "y", "n", "~"}


def scalar(value):
    """One scalar, written so that YAML reads it back as the same value and type."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Octal):
        return f"0{int(value):o}"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        if _PLAIN.match(value) and value.lower() not in _RESERVED:
            return value
        return json.dumps(value)  # a JSON string is a valid YAML double-quoted scalar
    raise TypeError(f"cannot write {type(value).__name__} as YAML")


def dump(value, indent=0):
    """``value`` (nested dicts and lists of scalars) as block-style YAML text."""
    return "\n".join(_lines(value, indent)) + "\n"


def _lines(value, indent):
    pad = " " * indent
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, (dict, list)) and item:
                yield f"{pad}{key}:"
                yield from _lines(item, indent + 2)
            elif isinstance(item, dict):
                yield f"{pad}{key}: {{}}"
            elif isinstance(item, list):
                yield f"{pad}{key}: []"
            else:
                yield f"{pad}{key}: {scalar(item)}"
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, (dict, list)) and item:
                nested = list(_lines(item, indent + 2))
                yield f"{pad}- {nested[0].lstrip()}"
                yield from nested[1:]
            else:
                yield f"{pad}- {scalar(item)}"
    else:
        yield pad + scalar(value)
