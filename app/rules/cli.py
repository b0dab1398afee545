import json

import click
from flask.cli import AppGroup


def register(app) -> None:
    rules = AppGroup("rules", help="Rules and flags.")

    @rules.command("sweep")
    @click.option("--batch-size", type=int, default=None)
    def sweep(batch_size):
        """Evaluate every rule for every patient now (the scheduler does it every 15 minutes)."""
        from app.common.types import utcnow
        from app.rules import service

        click.echo(json.dumps(service.sweep(utcnow(), batch_size=batch_size)))

    @rules.command("digest")
    def digest():
        """Enqueue today's digest of non-urgent flags for each coordinator."""
        from app.common.types import utcnow
        from app.rules import service

        click.echo(f"{service.digest(utcnow())} digests enqueued")

    app.cli.add_command(rules)
