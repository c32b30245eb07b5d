"""A real test PKI on loopback: certomancer's Animator (CA certificates, OCSP, CRLs and three
time-stamping authorities) served by werkzeug on 127.0.0.1, for the B-LTA seal tests.

The chain: a root, an intermediate CA that issues the clinic's seal certificates (OCSP responder
and CRL), and TSAs issued by the root. `LoopbackPki.p12(label)` is a PKCS#12 file of a seal
certificate with its chain, as a clinic would set `SIGNING_P12`; `tsa_url(label)` a TSA_URL.
Keys are made afresh (P-256) for each PKI; times are relative to now.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from certomancer.integrations.animator import Animator, AnimatorArchStore
from certomancer.registry import ArchLabel, CertLabel, CertomancerConfig
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from werkzeug.serving import make_server

ARCH = "clinic-ca"
KEYS = ["root", "interm", "interm-ocsp", "tsa", "tsa2", "tsa3", "clinic", "revoked"]
P12_PASSWORD = "test-p12"


def _time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S+0000")


def _seal_certificate(issued: datetime, **extra: Any) -> dict[str, Any]:
    return {
        "issuer": "interm",
        "validity": {
            "valid-from": _time(issued - timedelta(days=1)),
            "valid-to": _time(issued + timedelta(days=5 * 365)),
        },
        "extensions": [
            {
                "id": "key_usage",
                "critical": True,
                "smart-value": {
                    "schema": "key-usage",
                    "params": ["digital_signature", "non_repudiation"],
                },
            },
            {
                "id": "crl_distribution_points",
                "smart-value": {"schema": "crl-dist-url", "params": {"crl-repo-names": ["interm"]}},
            },
            {
                "id": "authority_information_access",
                "smart-value": {
                    "schema": "aia-urls",
                    "params": {"ocsp-responder-names": ["interm"]},
                },
            },
        ],
        **extra,
    }


def _tsa_certificate(start: datetime, days: int) -> dict[str, Any]:
    return {
        "issuer": "root",
        "validity": {
            "valid-from": _time(start - timedelta(days=1)),
            "valid-to": _time(start + timedelta(days=days)),
        },
        "extensions": [
            {
                "id": "key_usage",
                "critical": True,
                "smart-value": {"schema": "key-usage", "params": ["digital_signature"]},
            },
            {"id": "extended_key_usage", "critical": True, "value": ["time_stamping"]},
            {
                "id": "crl_distribution_points",
                "smart-value": {"schema": "crl-dist-url", "params": {"crl-repo-names": ["root"]}},
            },
        ],
    }


def pki_config(
    keys_dir: Path, url: str, *, now: datetime, tsa_days: int, revoked_at: datetime
) -> dict[str, Any]:
    """The certomancer configuration: `tsa` expires `tsa_days` after `now`, `tsa2` and
    `tsa3` (new keys) last years; `revoked` is a seal certificate revoked at `revoked_at`."""
    entities = {
        "root": {"common-name": "Clinic Test Root CA"},
        "interm": {"common-name": "Clinic Test Issuing CA"},
        "interm-ocsp": {"common-name": "Clinic Test OCSP responder"},
        "tsa": {"common-name": "Clinic Test TSA"},
        "tsa2": {"common-name": "Clinic Test TSA 2"},
        "tsa3": {"common-name": "Clinic Test TSA 3"},
        "clinic": {"common-name": "Clinic consent seal"},
        "revoked": {"common-name": "Clinic consent seal (revoked)"},
    }
    ca_validity = {"valid-from": "2000-01-01T00:00:00+0000", "valid-to": "2100-01-01T00:00:00+0000"}
    return {
        "external-url-prefix": url,
        "keysets": {
            ARCH: {
                "path-prefix": str(keys_dir),
                "keys": {name: {"path": f"{name}.key.pem"} for name in KEYS},
            }
        },
        "pki-architectures": {
            ARCH: {
                "keyset": ARCH,
                "entity-defaults": {"country-name": "US", "organization-name": "Clinic Test PKI"},
                "entities": entities,
                "certs": {
                    "root": {
                        "subject": "root",
                        "issuer": "root",
                        "validity": ca_validity,
                        "profiles": [{"id": "simple-ca", "params": {"crl-repo": "root"}}],
                    },
                    "interm": {
                        "issuer": "root",
                        "validity": ca_validity,
                        "profiles": [
                            {
                                "id": "simple-ca",
                                "params": {
                                    "max-path-len": 0,
                                    "crl-repo": "interm",
                                    "ocsp-service": "interm",
                                },
                            }
                        ],
                    },
                    "interm-ocsp": {
                        "issuer": "interm",
                        "validity": ca_validity,
                        "profiles": ["ocsp-responder"],
                    },
                    "tsa": _tsa_certificate(now, tsa_days),
                    "tsa2": _tsa_certificate(now, 20 * 365),
                    "tsa3": _tsa_certificate(now, 30 * 365),
                    "clinic": _seal_certificate(now),
                    "revoked": _seal_certificate(
                        now,
                        revocation={"revoked-since": _time(revoked_at), "reason": "key_compromise"},
                    ),
                },
                "services": {
                    "ocsp": {
                        "interm": {
                            "for-issuer": "interm",
                            "responder-cert": "interm-ocsp",
                            "signing-key": "interm-ocsp",
                        }
                    },
                    "crl-repo": {
                        "root": {
                            "for-issuer": "root",
                            "signing-key": "root",
                            "simulated-update-schedule": "P90D",
                        },
                        "interm": {
                            "for-issuer": "interm",
                            "signing-key": "interm",
                            "simulated-update-schedule": "P30D",
                        },
                    },
                    "cert-repo": {"root": {"for-issuer": "root", "publish-issued-certs": True}},
                    "time-stamping": {
                        name: {"signing-key": name, "signing-cert": name}
                        for name in ("tsa", "tsa2", "tsa3")
                    },
                },
            }
        },
    }


class _Later:
    """A WSGI app set once the server's port (which the certificates name) is known."""

    app: Any = None

    def __call__(self, environ: dict, start_response: Any) -> Any:
        return self.app(environ, start_response)


@dataclass
class LoopbackPki:
    url: str
    arch: Any
    folder: Path
    server: Any

    def tsa_url(self, label: str = "tsa") -> str:
        return f"{self.url}/{ARCH}/tsa/{label}"

    def certificate(self, label: str):
        """A certificate of the PKI (asn1crypto), such as the root or a TSA's."""
        return self.arch.get_cert(CertLabel(label))

    def root_pem(self) -> Path:
        path = self.folder / "root.pem"
        path.write_bytes(self.arch.get_cert(CertLabel("root")).dump())
        return path

    def p12(self, label: str = "clinic") -> Path:
        """The seal certificate `label` with its key and chain, as SIGNING_P12 takes it."""
        path = self.folder / f"{label}.p12"
        path.write_bytes(self.arch.package_pkcs12(CertLabel(label), password=P12_PASSWORD.encode()))
        return path

    def stop(self) -> None:
        """Take the PKI off the network: nothing answers at its URLs any more."""
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


@contextmanager
def serve_pki(
    folder: Path, *, tsa_days: int = 10 * 365, revoked_in: timedelta = timedelta(seconds=3)
) -> Iterator[LoopbackPki]:
    """The test PKI served on a free port of 127.0.0.1 until the block ends (or `stop()`)."""
    keys_dir = folder / "keys"
    keys_dir.mkdir(parents=True)
    for name in KEYS:
        key = ec.generate_private_key(ec.SECP256R1())
        (keys_dir / f"{name}.key.pem").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    later = _Later()
    server = make_server("127.0.0.1", 0, later, threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    now = datetime.now(UTC)
    config = CertomancerConfig(
        pki_config(keys_dir, url, now=now, tsa_days=tsa_days, revoked_at=now + revoked_in),
        key_search_dir=str(keys_dir),
    )
    arch = config.get_pki_arch(ArchLabel(ARCH))
    later.app = Animator(AnimatorArchStore({ArchLabel(ARCH): arch}), with_web_ui=False)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    pki = LoopbackPki(url=url, arch=arch, folder=folder, server=server)
    try:
        yield pki
    finally:
        pki.stop()
        thread.join(timeout=5)
