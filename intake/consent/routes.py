"""Read-only views: the consent text of a form, and `/healthz`."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, redirect, render_template, url_for
from werkzeug.wrappers import Response

from intake.definition import ConsentDefinition, FormCatalog

bp = Blueprint("consent", __name__)


def catalog() -> FormCatalog:
    return current_app.extensions["forms"]


def definition_or_404(form_id: str) -> ConsentDefinition:
    try:
        return catalog().get(form_id)
    except KeyError:
        abort(404)


@bp.get("/")
def home() -> Response:
    """The address a tablet is pointed at: straight into the intake flow."""
    return redirect(url_for("tablet.index"))


@bp.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@bp.get("/consent/<form_id>")
def show(form_id: str) -> str:
    return render_template("consent/show.html", definition=definition_or_404(form_id))
