import os
import sys

import click
from flask.cli import AppGroup


def register_commands(app) -> None:
    users = AppGroup("users", help="Manage staff accounts.")

    @users.command("create")
    @click.option("--email", required=True)
    @click.option("--role", type=click.Choice(["admin", "coordinator"]), required=True)
    @click.option("--name", "display_name", default=None)
    @click.option("--password-stdin", is_flag=True,
                  help="Read the password from the first line of stdin (for automation).")
    def create_user(email, role, display_name, password_stdin):
        """Create an admin or coordinator account.

        Asks for the password (hidden, twice). For automation, pipe it in with --password-stdin
        or set STANDSTRONG_USER_PASSWORD; never on the command line, where ps and shell
        history would show it.
        """
        from app.auth.service import create_user as create
        from app.errors import ApiError

        if password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
        else:
            password = os.environ.get("STANDSTRONG_USER_PASSWORD") or click.prompt(
                "Password", hide_input=True, confirmation_prompt=True)
        try:
            user = create(email=email, password=password, role=role,
                          display_name=display_name or email.split("@")[0])
        except ApiError as exc:
            raise click.ClickException(exc.description) from None
        click.echo(f"created {user.role} {user.email} ({user.id})")

    app.cli.add_command(users)
