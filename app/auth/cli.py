import click
from flask.cli import AppGroup


def register_commands(app) -> None:
    users = AppGroup("users", help="Manage staff accounts.")

    @users.command("create")
    @click.option("--email", required=True)
    @click.option("--password", required=True)
    @click.option("--role", type=click.Choice(["admin", "coordinator"]), required=True)
    @click.option("--name", "display_name", default=None)
    def create_user(email, password, role, display_name):
        """Create an admin or coordinator account."""
        from app.auth.service import create_user as create
        from app.errors import ApiError

        try:
            user = create(email=email, password=password, role=role,
                          display_name=display_name or email.split("@")[0])
        except ApiError as exc:
            raise click.ClickException(exc.description) from None
        click.echo(f"created {user.role} {user.email} ({user.id})")

    app.cli.add_command(users)
