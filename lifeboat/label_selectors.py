"""Kubernetes label selectors in their string form, checked before anything is stored.

The syntax is the one `kubectl get -l` and the API server's `labelSelector` accept:
comma-separated requirements `key`, `!key`, `key=value`, `key==value`, `key!=value`,
`key in (a,b)`, `key notin (a,b)`. An empty selector selects everything.
"""

from __future__ import annotations

import re

MAX_SELECTOR_LENGTH = 1024
_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?"
_NAME_RE = re.compile(rf"^{_NAME}$")
_PREFIX_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_KEY = r"[^\s,=!()<>]+"
_EXISTS = re.compile(rf"^(?P<key>{_KEY})$")
_NOT_EXISTS = re.compile(rf"^!\s*(?P<key>{_KEY})$")
_EQUALITY = re.compile(rf"^(?P<key>{_KEY})\s*(?P<op>==|=|!=)\s*(?P<value>[^\s,=!()]*)$")
_SET = re.compile(rf"^(?P<key>{_KEY})\s+(?P<op>in|notin)\s*\((?P<values>[^()]*)\)$")


class LabelSelectorError(ValueError):
    """A selector the API server would refuse; the message says which part and why."""


def _check_key(key: str, requirement: str) -> None:
    prefix, _, name = key.rpartition("/")
    if "/" in key and (not prefix or len(prefix) > 253 or not _PREFIX_RE.match(prefix)):
        raise LabelSelectorError(
            f"in {requirement!r}: the key prefix {prefix!r} must be a DNS subdomain "
            "(lowercase letters, digits, '-' and '.'), like example.com"
        )
    if len(name) > 63 or not _NAME_RE.match(name):
        raise LabelSelectorError(
            f"in {requirement!r}: the key name {name!r} must be at most 63 letters, digits, "
            "'-', '_' or '.', starting and ending with a letter or digit"
        )


def _check_value(value: str, requirement: str) -> None:
    if value and (len(value) > 63 or not _NAME_RE.match(value)):
        raise LabelSelectorError(
            f"in {requirement!r}: the value {value!r} must be at most 63 letters, digits, "
            "'-', '_' or '.', starting and ending with a letter or digit"
        )


def _requirements(selector: str) -> list[str]:
    """The selector split at the commas outside parentheses."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for char in selector:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                raise LabelSelectorError("has a ')' without its '('")
        if char == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    if depth:
        raise LabelSelectorError("has a '(' without its ')'")
    parts.append("".join(current).strip())
    return parts


def check_label_selector(selector: str) -> str:
    """The selector, stripped, when the API server would accept it; else LabelSelectorError."""
    selector = selector.strip()
    if len(selector) > MAX_SELECTOR_LENGTH:
        raise LabelSelectorError(f"is longer than {MAX_SELECTOR_LENGTH} characters")
    if not selector:
        return selector
    for requirement in _requirements(selector):
        if not requirement:
            raise LabelSelectorError("has an empty requirement (two commas, or a trailing comma)")
        if match := _SET.match(requirement):
            _check_key(match["key"], requirement)
            values = [v.strip() for v in match["values"].split(",")]
            if not any(values):
                raise LabelSelectorError(f"in {requirement!r}: the set of values is empty")
            for value in values:
                _check_value(value, requirement)
        elif match := _EQUALITY.match(requirement):
            _check_key(match["key"], requirement)
            _check_value(match["value"], requirement)
        elif match := _NOT_EXISTS.match(requirement) or _EXISTS.match(requirement):
            _check_key(match["key"], requirement)
        else:
            raise LabelSelectorError(
                f"cannot read {requirement!r}: write `key`, `!key`, `key=value`, "
                "`key!=value`, `key in (a,b)` or `key notin (a,b)`"
            )
    return selector
