"""Swagger UI's assets for /docs, served by the app from a pinned package (flask-swagger-ui
ships the swagger-ui-dist files), so the docs work offline and load nothing from another host."""
from importlib import resources

from flask import send_from_directory

ASSETS_URL = "/docs/assets/"


def register_docs_assets(app) -> None:
    directory = str(resources.files("flask_swagger_ui").joinpath("dist"))

    @app.get(ASSETS_URL + "<path:filename>")
    def swagger_ui_asset(filename):
        return send_from_directory(directory, filename, max_age=24 * 3600)
