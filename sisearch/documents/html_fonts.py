"""Which FM legacy font an HTML element's text is set in, as old Sinhala sites set it.

Sites from before Unicode typed Sinhala as Latin codes and chose an FM font for them in
three ways: `<font face="FMAbhaya">`, an inline `style="font-family: 'FM Abhaya'"`, and
`<style>` rules for an element, class or id (`.news { font-family: FMDerana }`). A font
is inherited by the element's children until one of them sets another family, so an
English run inside an FM page (`<span style="font-family: Arial">`) stays English.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .legacy import is_legacy_font_name, legacy_font_id

_RULE = re.compile(r"([^{}]+)\{([^{}]*)\}")
_FAMILY = re.compile(r"font-family\s*:\s*([^;}]+)", re.IGNORECASE)
_FONT_SHORTHAND = re.compile(r"(?:^|;)\s*font\s*:\s*([^;}]+)", re.IGNORECASE)
_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
_SIMPLE_SELECTOR = re.compile(r"^([a-z][a-z0-9]*)?(?:([.#])([\w-]+))?$", re.IGNORECASE)
_INHERIT = frozenset({"inherit", "initial", "unset", "revert"})


@dataclass
class FontRules:
    """The font-family rules of a page's `<style>` elements, by element, class and id.

    A value is the FM font's `--legacy-font` id, or None where a rule sets another family.
    """

    by_tag: dict[str, str | None] = field(default_factory=dict)
    by_class: dict[str, str | None] = field(default_factory=dict)
    by_id: dict[str, str | None] = field(default_factory=dict)
    by_tag_class: dict[tuple[str, str], str | None] = field(default_factory=dict)

    @classmethod
    def of_page(cls, tree: Any) -> FontRules:
        rules = cls()
        for style in tree.css("style"):
            rules._read(style.text() or "")
        return rules

    def _read(self, css: str) -> None:
        for selectors, body in _RULE.findall(_COMMENT.sub("", css)):
            family = _declared_family(body)
            if family is None:
                continue
            for selector in selectors.split(","):
                match = _SIMPLE_SELECTOR.match(selector.strip())
                if match is None:
                    continue  # descendant and other complex selectors are not followed
                tag, kind, name = match.groups()
                tag = tag.lower() if tag else None
                if kind is None and tag:
                    self.by_tag[tag] = family.font
                elif kind == "." and tag:
                    self.by_tag_class[(tag, name)] = family.font
                elif kind == ".":
                    self.by_class[name] = family.font
                elif kind == "#":
                    self.by_id[name] = family.font

    def font_of(self, node: Any, inherited: str | None) -> str | None:
        """The FM font `node`'s own text is in: what the node sets (its `<font face>`, its
        style, a rule for its id, class or element, in that order of precedence), else
        what it inherits."""
        attributes = node.attributes
        for declared in (
            _declared_family(attributes.get("style") or ""),
            _family_of_face(attributes.get("face")) if node.tag == "font" else None,
        ):
            if declared is not None:
                return declared.font
        element_id = attributes.get("id")
        if element_id and element_id in self.by_id:
            return self.by_id[element_id]
        classes = (attributes.get("class") or "").split()
        for name in reversed(classes):  # a later class wins only by source order; close enough
            if (node.tag, name) in self.by_tag_class:
                return self.by_tag_class[(node.tag, name)]
            if name in self.by_class:
                return self.by_class[name]
        if node.tag in self.by_tag:
            return self.by_tag[node.tag]
        return inherited


@dataclass(frozen=True)
class _Family:
    font: str | None  # the FM font's id, or None for any other family


def _declared_family(declarations: str) -> _Family | None:
    """The family a `style` attribute or a rule's body sets, None when it sets none."""
    match = _FAMILY.search(declarations) or _FONT_SHORTHAND.search(declarations)
    if match is None:
        return None
    value = match.group(1).strip()
    if value.lower() in _INHERIT:
        return None
    return _family_of_list(value)


def _family_of_face(face: str | None) -> _Family | None:
    return _family_of_list(face) if face else None


def _family_of_list(families: str) -> _Family:
    """The first family of a CSS list decides (the browser draws with it when installed,
    and a site naming an FM font first meant its readers to have it)."""
    first = families.split(",")[0].strip()
    words = first.split()
    # The `font` shorthand puts size and style before the family: its last words name it.
    candidates = [first, " ".join(words[-2:]), *words[-2:]]
    for candidate in (c.strip().strip("'\"") for c in candidates):
        if is_legacy_font_name(candidate):
            return _Family(legacy_font_id(candidate))
    return _Family(None)
