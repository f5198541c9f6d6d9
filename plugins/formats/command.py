"""``cgr bundle check`` and ``cgr bundle convert``.

The ``--from`` choices and the list of formats come from the registered adapters, so a third-party
adapter appears beside the built-ins. They are read when ``convert`` is looked up (running it or
asking for its help), from the ``Plugins`` object of the click context when the command line put one
there (``ctx.obj`` or the root group's ``plugins``), else from a fresh ``load_plugins()``.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from cgr.kernel import __version__
from cgr.kernel.bundle import load_bundle
from cgr.kernel.manager import Plugins, load_plugins
from cgr.plugins.formats.adapters import declared_options
from cgr.plugins.formats.conversion import check_options, convert, summary, write_bundle
from cgr.plugins.run_options import key_values


def plugins_of(ctx: click.Context) -> Plugins:
    """The CLI's loaded plugins (a ``Plugins`` in ``ctx.obj``, or the root group's ``plugins``
    attribute), else plugins loaded once per command line."""
    found = ctx.find_object(Plugins)
    if found is not None:
        return found
    root = ctx.find_root()
    held = getattr(root.command, "plugins", None)
    if isinstance(held, Plugins):
        return held
    if "cgr.formats.plugins" not in root.meta:
        root.meta["cgr.formats.plugins"] = load_plugins()
    plugins: Plugins = root.meta["cgr.formats.plugins"]
    return plugins


class BundleGroup(click.Group):
    """The ``bundle`` group: ``convert`` is built on lookup, with the adapters registered then."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), "convert"})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name == "convert" and "convert" not in self.commands:
            return convert_command(plugins_of(ctx))
        return super().get_command(ctx, cmd_name)


def add_bundle_group(cli: click.Group) -> None:
    """Add the ``bundle`` group to ``cli`` (what ``register_commands`` does)."""

    @cli.group(
        cls=BundleGroup,
        epilog="\b\nExamples:\n  cgr bundle check items.jsonl\n"
        "  cgr bundle convert arc-easy.jsonl --from arc --out bundles/arc-easy.jsonl",
    )
    def bundle() -> None:
        """Check bundles and convert known formats into bundles."""

    bundle.add_command(bundle_check)


@click.command("check", epilog="\b\nExample:\n  cgr bundle check items.jsonl --json | jq .tasks")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def bundle_check(ctx: click.Context, path: Path, as_json: bool) -> None:
    """Validate a bundle (JSONL, msgpack or another registered format) and summarize it; a bad item
    is one error line, exit 1."""
    b = load_bundle(path, readers=plugins_of(ctx).readers())
    report = summary(b)
    if as_json:
        click.echo(json.dumps(report))
        return
    click.echo(
        f"{path}: {report['count']} valid items, sha256 {report['sha256'][:16]}…, "
        f"manifest: {'yes' if b.manifest else 'none'}"
    )
    for name in ("tasks", "options", "gold_position"):
        click.echo(f"  {name}: " + ", ".join(f"{k} {v}" for k, v in report[name].items()))
    click.echo(f"  with context: {report['with_context']}")


def _epilog(plugins: Plugins) -> str:
    adapters = plugins.all("adapter")
    width = max([11, *(len(a.name) for a in adapters)])
    lines = []
    for a in adapters:
        lines.append(f"  {a.name:<{width}} {a.description}")
        for key, values in (declared_options(a.obj) or {}).items():
            lines.append(f"  {'':<{width}} --option {key}={'|'.join(values) or 'VALUE'}")
    example = "\b\nExample:\n  cgr bundle convert arc-easy.jsonl --from arc --out bundles/arc-easy.jsonl\n\n"
    return example + "\b\nFormats:\n" + "\n".join(lines)


def convert_command(plugins: Plugins) -> click.Command:
    """``cgr bundle convert`` offering the adapters registered in ``plugins``."""

    @click.command("convert", epilog=_epilog(plugins))
    @click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--from", "fmt", required=True, type=click.Choice([a.name for a in plugins.all("adapter")]),
                  help="Source format (listed below).")  # fmt: skip
    @click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
                  help="Bundle to write: .msgpack/.mpk for msgpack, .json for a JSON array, else JSONL; "
                       "manifest.json is written beside it.")  # fmt: skip
    @click.option("--dataset", help="Dataset name of the items (default: the format's).")
    @click.option("--task", help="Task of every item (default: per row where the format has one, else the dataset).")
    @click.option("--seed", type=int, default=0, show_default=True, help="Seed of per-item option shuffles (sciq).")
    @click.option("--option", "option_pairs", multiple=True, metavar="KEY=VALUE",
                  help="Format option (repeatable; listed below), e.g. support=drop for sciq.")  # fmt: skip
    @click.option("--skip-invalid", is_flag=True,
                  help="Skip rows that cannot be converted (each is listed) instead of stopping.")  # fmt: skip
    @click.option("--name", help="Bundle name for the manifest (default: the output's stem).")
    @click.option("--bundle-version", default="1", show_default=True, help="Bundle version for the manifest.")
    @click.option("--license", "license_", help="License of the source data, for the manifest.")
    @click.option("--force", is_flag=True, help="Overwrite an existing output and manifest.json.")
    def bundle_convert(
        source: Path, fmt: str, out: Path, dataset: str | None, task: str | None, seed: int,
        option_pairs: tuple[str, ...], skip_invalid: bool, name: str | None, bundle_version: str,
        license_: str | None, force: bool,
    ) -> None:  # fmt: skip
        """Convert SOURCE (JSONL, JSON array, msgpack, Parquet; CSV for mmlu-csv) into a cgr bundle."""
        options = key_values(option_pairs, "--option")
        try:
            check_options(plugins.get("adapter", fmt), options)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--option") from None
        result = convert(source, fmt, dataset=dataset, task=task, seed=seed, skip_invalid=skip_invalid,
                         options=options, plugins=plugins)  # fmt: skip
        for err in result.skipped:
            click.echo(f"skipped: {err}", err=True)
        manifest = {"name": name or out.stem, "version": bundle_version, "source": str(source), "format": fmt,
                    "license": license_, "converted_by": f"cgr {__version__}", "seed": seed,
                    **({"options": options} if options else {}),
                    "rows": result.rows, "skipped": len(result.skipped)}  # fmt: skip
        try:
            manifest_path = write_bundle(result.items, out, manifest, force=force)
        except (FileExistsError, ValueError) as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(
            f"{out}: {len(result.items)} items from {result.rows} rows ({len(result.skipped)} skipped); "
            f"manifest: {manifest_path}"
        )

    return bundle_convert
