"""`quell replay generate` and `quell eval correlation`: labelled replays and their figures."""

from __future__ import annotations

from pathlib import Path

import click
import orjson
from rich.progress import Progress


def register(main: click.Group) -> None:
    """Add the replay and correlation-evaluation commands to the `quell` command."""
    replay = main.commands.get("replay")
    if not isinstance(replay, click.Group):
        replay = click.Group("replay", help="Labelled signal replays for tests and benchmarks.")
        main.add_command(replay)
    replay.add_command(generate_command)
    evaluate = main.commands.get("eval")
    if not isinstance(evaluate, click.Group):
        evaluate = click.Group("eval", help="Measure detection quality.")
        main.add_command(evaluate)
    evaluate.add_command(correlation_command)


@click.command("generate")
@click.option("--out", "out", required=True, type=click.Path(path_type=Path))
@click.option("--seed", default=1, show_default=True, type=int)
@click.option("--hours", default=6.0, show_default=True, type=click.FloatRange(0.5, 168))
def generate_command(out: Path, seed: int, hours: float) -> None:
    """Write a labelled replay (storms, cascades, flapping, attacks, noise) as JSON lines."""
    from quell.detection.replay import generate, write_jsonl

    count = write_jsonl(generate(seed, hours=hours), out)
    click.echo(f"wrote {count - 1} labelled signals to {out} (seed {seed})")


@click.command("correlation")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    default=None,
    help="A quell.yaml whose correlation / severity_policies sections to evaluate.",
)
def correlation_command(file: Path, as_json: bool, config_path: Path | None) -> None:
    """Replay labelled signals through intake and correlation; print the quality figures."""
    import yaml

    from quell.config import ConfigError
    from quell.detection.replay import evaluate, read_jsonl

    lines = read_jsonl(file)
    config = None
    if config_path is not None:
        try:
            raw = yaml.safe_load(config_path.read_text("utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"{config_path}: {exc}") from None
        if not isinstance(raw, dict):
            raise ConfigError(f"{config_path}: expected a mapping at the top level")
        config = {k: raw[k] for k in ("correlation", "severity_policies") if k in raw}
    total = sum(1 for line in lines if "inventory" not in line)
    with Progress(transient=True, disable=as_json) as progress:
        task = progress.add_task("replaying", total=total)
        figures = evaluate(
            lines, config=config, progress=lambda n: progress.update(task, completed=n)
        )
    if as_json:
        click.echo(orjson.dumps(figures, option=orjson.OPT_INDENT_2).decode())
        return
    for key, value in figures.items():
        click.echo(f"{key:36} {value}")
