"""``registry verify``: the checksums and OpenPGP signatures of every file of one version."""

from __future__ import annotations

import sys

import click

__all__ = ["sign_option", "signing_key", "verify"]

#: ``--sign`` alone signs with the repository's ``sign_with`` (else gpg's default key); ``--sign KEY`` with KEY.
sign_option = click.option(
    "--sign",
    "sign",
    is_flag=False,
    flag_value="",
    default=None,
    metavar="[KEY]",
    help="Sign with gpg (detached .asc files): KEY, or without one the repository's sign_with, else gpg's default "
    "key. Default: sign when the repository sets sign_with. Give it last, or with a KEY.",
)


def signing_key(sign: str | None) -> str | bool | None:
    """What ``--sign`` asks of the library: a key, ``True`` (the configured or default key), or ``None``."""
    return None if sign is None else (sign or True)


@click.command()
@click.argument("spec", metavar="COORDINATE")
@click.option(
    "--repository",
    "-r",
    envvar="REGISTRY_REPOSITORY",
    metavar="NAME|URL|PATH",
    help="A configured repository name, an http(s):// or file:// URL, or a path. [env: REGISTRY_REPOSITORY]",
)
def verify(spec: str, repository: str | None) -> None:
    """Check every file of a version: its checksums, and who signed it (fingerprint, user ID, date).

    COORDINATE is GROUP:ARTIFACT:VERSION or a selector (com.acme:churn:latest.release). One line per file, then
    a summary (the last line). Signatures are judged under the repository's require_signatures, trusted_keys and
    trusted_keyring. Exit code 0 when every file passes, 1 otherwise.
    """
    from registry.settings import Settings
    from registry.verify import verify as verify_version

    checked = verify_version(spec, repository=repository, settings=Settings.load())
    for line in checked.files:
        click.echo(str(line))
    click.echo(checked.summary())
    if not checked.ok:
        sys.exit(1)
