"""What a screen reader is told about a page: Chromium's own accessibility tree.

The tree comes from the DevTools protocol (``Accessibility.getFullAXTree``),
so roles and names are the ones the browser computes from the markup (labels,
``aria-*``, SVG titles), not a re-implementation of those rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from playwright.sync_api import Page

# Roles that mean nothing to a listener without a name.
NAMED_ROLES = frozenset(
    {"button", "link", "textbox", "searchbox", "spinbutton", "image", "img", "table", "progressbar", "checkbox", "combobox"}
)


@dataclass(frozen=True)
class AxNode:
    role: str
    name: str
    properties: dict[str, Any]


def accessibility_tree(page: Page) -> list[AxNode]:
    """Every node of the page's accessibility tree that is not ignored (hidden ones are)."""
    session = page.context.new_cdp_session(page)
    try:
        answer = session.send("Accessibility.getFullAXTree")
    finally:
        session.detach()
    nodes: list[AxNode] = []
    for node in answer["nodes"]:
        if node.get("ignored"):
            continue
        role = str(node.get("role", {}).get("value", ""))
        name = str(node.get("name", {}).get("value", ""))
        properties = {item["name"]: item.get("value", {}).get("value") for item in node.get("properties", [])}
        nodes.append(AxNode(role, name, properties))
    return nodes


def accessibility_problems(page: Page) -> list[str]:
    """Controls, images, tables and progress bars a screen reader would announce without a name."""
    return [f"a {node.role} without a name" for node in accessibility_tree(page) if node.role in NAMED_ROLES and not node.name.strip()]


def named(page: Page, role: str) -> list[str]:
    """The names of the page's nodes of one role, in document order."""
    return [node.name for node in accessibility_tree(page) if node.role == role]
