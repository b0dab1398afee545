"""Sign in, sign out and the page language."""
from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from app.auth import service as auth
from app.auth.routes import email_key, login_limits
from app.common.types import utcnow
from app.console import identity
from app.console.blueprint import bp
from app.console.forms import LanguageForm, SignInForm
from app.errors import ApiError


def _email_key() -> str:
    return email_key(request.form.get("email"))


@bp.route("/login", methods=["GET", "POST"])
@login_limits(_email_key)  # the API login's budgets, shared with it
def sign_in():
    if identity.current_actor() is not None and request.method == "GET":
        return redirect(identity.safe_next(request.args.get("next")))
    form = SignInForm()
    status = 200
    if form.validate_on_submit():
        try:
            login = identity.sign_in(form.email.data, form.password.data, utcnow())
        except ApiError as error:
            status = error.code
            form.form_errors.append(_sign_in_problem(error))
        else:
            identity.remember(login)
            return redirect(identity.safe_next(request.args.get("next")))
    elif request.method == "POST":
        status = 422
    return render_template("console/sign_in.html", form=form), status


def _sign_in_problem(error: ApiError) -> str:
    if error.code == 423:
        return _("Too many failed sign-ins with this e-mail address: it is locked for a while. "
                 "Try again later.")
    if error.code == 403:
        return _("The console is for care coordinators and administrators. Patients and caregivers "
                 "use the app.")
    return _("E-mail or password is wrong.")


@bp.route("/logout", methods=["POST"])
def sign_out():
    identity.sign_out()
    flash(_("You are signed out."), "info")
    return redirect(url_for("console.sign_in"))


@bp.route("/language", methods=["POST"])
@identity.staff_page
def change_language():
    form = LanguageForm()
    if form.validate_on_submit():
        auth.set_own_language(identity.current_actor(), form.language.data)
    return redirect(identity.safe_next(request.form.get("next")))
