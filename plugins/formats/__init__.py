"""Built-in plugin: bundle source formats (readers and adapters) and the ``cgr bundle`` commands.

Readers (by suffix): ``msgpack`` (.msgpack .mpk), ``json`` (.json, a JSON array), ``parquet``,
``arrow`` (HF ``datasets`` dumps) and ``csv`` (header-less records); JSONL is the kernel's own.
Adapters: ``cgr``, ``arc``, ``openbookqa``, ``sciq`` (option ``support=context|drop``), ``mmlu``,
``mmlu-csv``. ``python -m cgr.plugins.formats.build_sample`` builds the shipped sample with them.
"""

from __future__ import annotations

from typing import Any

from cgr.kernel.api import FormatRegistrar
from cgr.kernel.hookspecs import hookimpl
from cgr.plugins.formats.adapters import ADAPTERS, declared_options, takes
from cgr.plugins.formats.command import add_bundle_group
from cgr.plugins.formats.conversion import (
    Conversion,
    check_options,
    convert,
    convert_rows,
    item_counts,
    summary,
    write_bundle,
)
from cgr.plugins.formats.readers import READERS, counts

__all__ = [
    "Conversion",
    "check_options",
    "convert",
    "convert_rows",
    "counts",
    "declared_options",
    "item_counts",
    "summary",
    "takes",
    "write_bundle",
]


@hookimpl
def register_bundle_formats(register: FormatRegistrar) -> None:
    for name, (reader, suffixes, description) in READERS.items():
        register.reader(name, reader, suffixes=suffixes, description=description)
    for name, (adapter, dataset) in ADAPTERS.items():
        register.adapter(name, adapter, dataset=dataset)


@hookimpl
def register_commands(cli: Any) -> None:
    add_bundle_group(cli)
