"""The console's blueprint: a plain Flask one, so its pages stay out of the OpenAPI document."""
from flask import Blueprint

bp = Blueprint("console", __name__, url_prefix="/console", template_folder="templates",
               static_folder="static", static_url_path="/static")
