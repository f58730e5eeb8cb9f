"""Reports in a Jupyter notebook: every report object shows itself as HTML (``_repr_html_``).

A report class names its text renderer (``_render_text``) and its figure (``_figure``, a builder in
:mod:`condiag.render.plots`, or None); :func:`condiag.render.html_report.notebook_html` lays out the rest.
"""

from __future__ import annotations


class NotebookView:
    """Mixin: ``to_json()`` and ``_repr_html_`` from ``to_dict()``, ``_render_text(console)`` and ``_figure``."""

    _figure: str | None = None

    def _render_text(self, console) -> None:  # pragma: no cover - every report class defines it
        raise NotImplementedError

    def to_dict(self) -> dict:  # pragma: no cover - every report class defines it
        raise NotImplementedError

    def to_json(self) -> str:
        """:meth:`to_dict` as the command's ``--json`` text (strict JSON, no NaN)."""
        from .render.json_report import dumps

        return dumps(self.to_dict())

    def _repr_html_(self) -> str:
        """The report in a notebook: key numbers, findings, plots (inline SVG), the full text report folded."""
        from .render.html_report import notebook_html

        return notebook_html(self.to_dict(), self._render_text, self._figure, self)
