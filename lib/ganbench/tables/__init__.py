"""Published numbers, result tables and figures.

- :mod:`~ganbench.tables.published`: ``config/published.yaml`` and when a published number is comparable
  with ours (:func:`published_value`).
- :mod:`~ganbench.tables.render`: what a table is (:class:`TableSpec`, :class:`Row`, :class:`Column`) and how it is
  built from the eval results; :mod:`~ganbench.tables.formats` writes it as Markdown, CSV, LaTeX and HTML.
- :mod:`~ganbench.tables.specs`: the table registry (``@register_table``, :data:`TABLES`: the generic
  :func:`cross_method` and :func:`baseline`, CREPS's :func:`creps_tables`) and :func:`configured_specs`.
- :mod:`~ganbench.tables.plots`: training curves, sample grids and a metric over kimg as PNG (imported on
  its own: matplotlib stays out of every Snakemake start, which imports the table specs).
"""

from ganbench.tables.published import (
    PUBLISHED_PATH,
    PublishedRecord,
    load_published,
    published_candidates,
    published_value,
)
from ganbench.tables.formats import to_csv, to_html, to_latex, to_markdown
from ganbench.tables.render import (
    METHOD_LABELS,
    METRICS,
    Column,
    Row,
    Table,
    TableSpec,
    build_table,
    load_result,
    render_table,
)
from ganbench.tables.specs import (
    TABLES,
    baseline,
    configured_specs,
    creps_tables,
    cross_method,
    cross_method_specs,
    protocol_columns,
    register_table,
)

__all__ = [
    "PUBLISHED_PATH",
    "PublishedRecord",
    "load_published",
    "published_candidates",
    "published_value",
    "METHOD_LABELS",
    "METRICS",
    "TABLES",
    "protocol_columns",
    "register_table",
    "Column",
    "Row",
    "Table",
    "TableSpec",
    "baseline",
    "build_table",
    "cross_method",
    "cross_method_specs",
    "configured_specs",
    "creps_tables",
    "load_result",
    "render_table",
    "to_csv",
    "to_html",
    "to_latex",
    "to_markdown",
]
