"""The consent PDF engine: a validated submission in, PDF bytes out. No Flask here.

reportlab may fetch an image a `<img src=...>` names (a URL, a file). Patient text is escaped
before it reaches a Paragraph, so no tag of a patient's ever gets there; as a second wall, no host
is trusted, whatever the environment (`RL_trustedHosts`) says, so reportlab reads no URL at all.
"""

from reportlab import rl_config

rl_config.trustedHosts = None
#: Page content compressed with Flate alone, not also ASCII85-encoded (a quarter larger).
rl_config.useA85 = 0

from intake.pdf.render import RenderSettings, render_consent  # noqa: E402

__all__ = ["RenderSettings", "render_consent"]
