"""Jinja2 email templates: ``<name>.subject.txt``, ``<name>.txt`` and optionally ``<name>.html``.

HTML is autoescaped (contractor names and certificate numbers are user input); text and subject are
not, since they are never interpreted as markup.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateNotFound, select_autoescape

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str | None


@lru_cache(maxsize=1)
def environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(str(TEMPLATE_DIR)),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False, default=False),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )


@lru_cache(maxsize=1)
def _names() -> frozenset[str]:
    return frozenset(p.name.removesuffix(".subject.txt") for p in TEMPLATE_DIR.glob("*.subject.txt"))


def available_templates() -> list[str]:
    """Template names usable with ``enqueue_email`` (those with a subject and a text body)."""
    return sorted(_names())


def render(template: str, context: dict[str, Any]) -> RenderedEmail:
    """Render one email; a missing template or context variable is a programming error (raises)."""
    env = environment()
    if template not in _names():
        raise TemplateNotFound(template)
    subject = " ".join(env.get_template(f"{template}.subject.txt").render(context).split())
    text = env.get_template(f"{template}.txt").render(context)
    try:
        html: str | None = env.get_template(f"{template}.html").render(context)
    except TemplateNotFound:
        html = None
    return RenderedEmail(subject=subject[:255], text=text, html=html)
