"""The ``registry jvm`` commands: build and publish the JVM runtime that Scala and Java jobs load models with."""

from __future__ import annotations

import click

from registry.cli.shared import load_settings, repository_option
from registry.cli.signatures import sign_option, signing_key

__all__ = ["COMMANDS"]


@click.group()
def jvm() -> None:
    """The JVM runtime (io.github.sparkmodelregistry.ModelRegistry) for Scala and Java jobs."""


@jvm.command()
def build() -> None:
    """Compile the runtime jar with the JDK's javac against Spark's jars (cached); its path is the last line."""
    from registry.jvm import build as build_jar

    click.echo(str(build_jar(load_settings().cache_dir)))


@jvm.command()
@repository_option
@sign_option
def publish(repository: str | None, sign: str | None) -> None:
    """Release the runtime as io.github.spark-model-registry:registry-jvm:VERSION into the repository.

    Models deployed into that repository afterwards depend on it, so --packages GROUP:ARTIFACT:latest.release
    brings it along. A repository that holds it already is left as it is (releases are immutable).
    The last line printed is the runtime's coordinate.
    """
    from registry.jvm import publish as publish_runtime

    settings = load_settings()
    done = publish_runtime(repository, settings=settings, sign=signing_key(sign))
    where = settings.repository(repository).display
    click.echo(f"{'Published' if done.released else 'Already published:'} {done.coordinate} to {where}", err=True)
    click.echo(str(done.coordinate))


#: Registered by :mod:`registry.cli`.
COMMANDS = (jvm,)
