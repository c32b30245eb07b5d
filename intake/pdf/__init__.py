"""The consent PDF engine: a validated submission in, PDF bytes out. No Flask here."""

from intake.pdf.render import RenderSettings, render_consent

__all__ = ["RenderSettings", "render_consent"]
