"""boto3's errors turned into the registry's: one clear error for each thing that can go wrong with an object store,
saying what to do; no credential is ever put into one (only where boto3 found them: "env", "shared-credentials-file").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from registry.exceptions import (
    ArtifactNotFound,
    AuthenticationFailed,
    ConfigError,
    RegistryError,
    RepositoryUnavailable,
)

try:
    import botocore.exceptions
except ImportError:  # pragma: no cover - the s3 extra is not installed
    raise ConfigError("s3:// repositories need boto3: pip install 'spark-model-registry[s3]'.") from None

__all__ = ["MAX_ATTEMPTS", "Where", "code_of", "failure", "retried"]

#: botocore's attempts per request (the first included) in its "standard" retry mode (503 SlowDown, 500,
#: throttling, dropped connections).
MAX_ATTEMPTS = 5

_AUTH_CODES = frozenset(
    {
        "AccessDenied",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "InvalidToken",
        "TokenRefreshRequired",
        "AllAccessDisabled",
        "AccountProblem",
    }
)
_REGION_CODES = frozenset({"PermanentRedirect", "AuthorizationHeaderMalformed", "IllegalLocationConstraintException"})
_THROTTLE_CODES = frozenset(
    {"SlowDown", "ServiceUnavailable", "Throttling", "ThrottlingException", "RequestLimitExceeded"}
)


@dataclass(frozen=True)
class Where:
    """What a message says about the repository: its name, bucket, prefix, endpoint and region, and the boto3
    session (asked, when credentials are refused, where it found them) with its profile."""

    display: str
    bucket: str
    prefix: str
    endpoint: str
    region: str | None
    session: Any
    profile: str | None


def code_of(exc: botocore.exceptions.ClientError) -> tuple[str, int | None]:
    """The S3 error code (``NoSuchKey``, ``PreconditionFailed``...) and the HTTP status of a ClientError."""
    return str(exc.response.get("Error", {}).get("Code", "")), exc.response.get("ResponseMetadata", {}).get(
        "HTTPStatusCode"
    )


def retried(exc: botocore.exceptions.ClientError) -> bool:
    """Whether botocore sent the request more than once (an earlier attempt, whose answer was lost, may have
    written)."""
    return bool(exc.response.get("ResponseMetadata", {}).get("RetryAttempts"))


def failure(exc: Exception, where: Where, action: str, path: str) -> RegistryError:
    """The one clear error for what boto3 raised while ``action`` (reading, writing...) ``path``."""
    location = f"s3://{where.bucket}/{where.prefix}{path}"
    if isinstance(exc, botocore.exceptions.NoCredentialsError):
        return AuthenticationFailed(
            f"No AWS credentials found for {where.display}: set AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, "
            "AWS_PROFILE, or the repository's profile = \"...\" (see the AWS CLI's 'aws configure')."
        )
    if isinstance(exc, botocore.exceptions.ClientError):
        code, status = code_of(exc)
        if code == "NoSuchBucket":
            return ConfigError(
                f"The bucket {where.bucket!r} of {where.display} does not exist at {where.endpoint}. Check the "
                "URL (s3://BUCKET/PREFIX) and the endpoint, or create the bucket (aws s3 mb s3://BUCKET)."
            )
        if code in _AUTH_CODES or status == 403:
            return AuthenticationFailed(
                f"{where.endpoint} refused {action} {location} ({code or status}): {_credential_help(where)}"
            )
        if code in _REGION_CODES or status == 301:
            region = exc.response.get("Error", {}).get("Region") or exc.response.get("ResponseMetadata", {}).get(
                "HTTPHeaders", {}
            ).get("x-amz-bucket-region")
            wanted = f"region {region}" if region else "another region"
            return ConfigError(
                f"The bucket {where.bucket!r} of {where.display} is in {wanted}, not "
                f"{where.region or 'the configured region'}: set AWS_REGION{'=' + region if region else ''} "
                "or region in the AWS profile."
            )
        if code in _THROTTLE_CODES or status == 503:
            return RepositoryUnavailable(
                f"{where.endpoint} kept throttling requests (503 {code or 'SlowDown'}) while {action} {location}, "
                f"after {MAX_ATTEMPTS} attempts. Try again later."
            )
        if code in ("NoSuchKey", "404", "NotFound"):
            return ArtifactNotFound(f"{path} does not exist in {where.display}.")
        return RepositoryUnavailable(f"{where.endpoint} answered {status} {code} while {action} {location}.")
    if isinstance(exc, botocore.exceptions.EndpointConnectionError | botocore.exceptions.ConnectTimeoutError):
        return RepositoryUnavailable(
            f"Cannot reach {where.endpoint} for {where.display}. Check the endpoint (endpoint_url, "
            "AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL) and the network."
        )
    if isinstance(exc, botocore.exceptions.BotoCoreError):
        return RepositoryUnavailable(f"{action.capitalize()} {location} failed: {type(exc).__name__}. Try again.")
    return RepositoryUnavailable(f"{action.capitalize()} {location} failed: {exc}")


def _credential_help(where: Where) -> str:
    try:
        found = where.session.get_credentials()
    except botocore.exceptions.BotoCoreError:
        found = None
    source = f"AWS credentials came from {found.method}" if found is not None else "no AWS credentials were found"
    profile = f" (profile {where.profile!r})" if where.profile else ""
    return (
        f"{source}{profile}. Check that they are valid and not expired, and that they may use this bucket "
        "(boto3 reads AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, AWS_PROFILE, "
        "~/.aws/credentials, then instance metadata)."
    )
