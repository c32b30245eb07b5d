"""pyHanko's in-memory signer, with what is the same for every seal made once per certificate.

Every PAdES seal carries the signing-certificate-v2 attribute (RFC 5035: the certificate named
by its SHA-256 and its issuer and serial number). pyHanko builds it afresh for each seal as
asn1crypto objects, and asn1crypto serializes an object it built (rather than parsed) again
each time it is read: three times a seal, some 2 ms of CPU, a seventh of a seal. Here the
attribute's DER is made once when the signer is made, and each seal reads it back (a parse of
the bytes, which asn1crypto keeps as they are): the same bytes in the seal, every seal its own
objects, so threads share nothing but the bytes.
"""

from __future__ import annotations

from collections.abc import Iterable

from asn1crypto import tsp
from pyhanko.sign.attributes import (
    CMSAttributeProvider,
    SignedAttributeProviderSpec,
    SigningCertificateV2Provider,
)
from pyhanko.sign.general import as_signing_certificate_v2
from pyhanko.sign.signers import SimpleSigner


class SealSigner(SimpleSigner):
    """A `SimpleSigner` whose signing-certificate-v2 attribute is serialized once."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.signing_certificate_v2 = as_signing_certificate_v2(self.signing_cert).dump()

    def _signed_attr_provider_spec(self, *args, **kwargs):
        spec = super()._signed_attr_provider_spec(*args, **kwargs)
        return _KnownCertificate(spec, self)


class _KnownCertificate(SignedAttributeProviderSpec):
    """pyHanko's choice of signed attributes, the signing certificate's read from its DER."""

    def __init__(self, spec: SignedAttributeProviderSpec, signer: SealSigner) -> None:
        self.spec = spec
        self.signer = signer

    def signed_attr_providers(
        self, data_digest: bytes, digest_algorithm: str
    ) -> Iterable[CMSAttributeProvider]:
        for provider in self.spec.signed_attr_providers(
            data_digest=data_digest, digest_algorithm=digest_algorithm
        ):
            if (
                type(provider) is SigningCertificateV2Provider
                and provider.signing_cert is self.signer.signing_cert
            ):
                yield _SigningCertificateV2(self.signer.signing_certificate_v2)
            else:
                yield provider


class _SigningCertificateV2(CMSAttributeProvider):
    attribute_type = "signing_certificate_v2"

    def __init__(self, der: bytes) -> None:
        self.der = der

    async def build_attr_value(self, dry_run=False) -> tsp.SigningCertificateV2:
        return tsp.SigningCertificateV2.load(self.der)
