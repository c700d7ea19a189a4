"""Bearer tokens issued by identity, verified locally in every service (see docs/access.md).

from shared.auth import CurrentPrincipal, PrincipalOrService

@router.get("/v1/things", responses=error_responses(*BEARER_ERRORS))
async def list_things(principal: CurrentPrincipal) -> ...: ...
"""

from shared.auth.deps import (
    BEARER_ERRORS,
    BEARER_OR_SERVICE_ERRORS,
    AuthConfig,
    CurrentPrincipal,
    PrincipalOrService,
    install_auth,
)
from shared.auth.keys import JwksKeySource, KeySource, StaticKeySource, parse_jwks
from shared.auth.principal import Principal
from shared.auth.verifier import ALLOWED_ALGORITHMS, TokenVerifier, verifier_from_settings

__all__ = [
    "ALLOWED_ALGORITHMS",
    "BEARER_ERRORS",
    "BEARER_OR_SERVICE_ERRORS",
    "AuthConfig",
    "CurrentPrincipal",
    "JwksKeySource",
    "KeySource",
    "Principal",
    "PrincipalOrService",
    "StaticKeySource",
    "TokenVerifier",
    "install_auth",
    "parse_jwks",
    "verifier_from_settings",
]
