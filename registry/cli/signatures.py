"""``registry verify``: the checksums and OpenPGP signatures of every file of one version."""

from __future__ import annotations

import sys

import click

from registry.cli.shared import load_settings, repository_option

__all__ = ["COMMANDS", "sign_option", "signing_key", "verify"]

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
@repository_option
def verify(spec: str, repository: str | None) -> None:
    """Check every file of a version: its checksums, and who signed it (fingerprint, user ID, date).

    COORDINATE is GROUP:ARTIFACT:VERSION or a selector (com.acme:churn:latest.release). One line per file, then
    a summary (the last line). Signatures are judged under the repository's require_signatures, trusted_keys and
    trusted_keyring. Exit code 0 when every file passes, 1 otherwise.
    """
    from registry.verify import verify as verify_version

    checked = verify_version(spec, repository=repository, settings=load_settings())
    for line in checked.files:
        click.echo(str(line))
    click.echo(checked.summary())
    if not checked.ok:
        sys.exit(1)


#: Registered by :mod:`registry.cli`.
COMMANDS = (verify,)
