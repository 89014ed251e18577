"""The commands that govern releases over time: ``yank``, ``unyank``, ``history``, ``approve`` and ``prune``."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import click

from registry.cli.shared import load_settings, repository_option
from registry.cli.signatures import sign_option, signing_key

__all__ = ["COMMANDS"]


@click.command()
@click.argument("spec", metavar="GROUP:ARTIFACT:VERSION")
@repository_option
@click.option("--reason", default="", metavar="TEXT", help="Why the version is withdrawn (required; recorded).")
def yank(spec: str, repository: str | None, reason: str) -> None:
    """Withdraw a released version from selection in one repository, without deleting anything.

    latest.release, series (1.2), sub-revisions (1.2.+), ranges and Ivy's dynamic revisions (Spark's
    --packages) skip it; its exact coordinate still resolves, with a warning naming the reason. Who, when and
    why are recorded beside the release. 'registry unyank' restores it. The last line printed is the coordinate.
    """
    from registry.yank import yank as yank_version

    done = yank_version(spec, reason=reason, repository=repository, settings=load_settings())
    click.echo(f"Yanked {done.coordinate} in {done.repository}: {done.event.reason}", err=True)
    click.echo(str(done.coordinate))


@click.command()
@click.argument("spec", metavar="GROUP:ARTIFACT:VERSION")
@repository_option
def unyank(spec: str, repository: str | None) -> None:
    """List a yanked version again in one repository, so that selectors see it. The last line is the coordinate."""
    from registry.yank import unyank as unyank_version

    done = unyank_version(spec, repository=repository, settings=load_settings())
    click.echo(f"Unyanked {done.coordinate} in {done.repository}", err=True)
    click.echo(str(done.coordinate))


@click.command()
@click.argument("artifact", metavar="GROUP:ARTIFACT")
@repository_option
@click.option(
    "--at",
    "at",
    metavar="DATE",
    help="Also print (last) what latest.release resolved to at this instant in the repository (-r, else the "
    "default), and only the events until then. ISO 8601: a date (2026-03-03 = the end of that day, UTC) or a "
    "time with a zone (2026-03-03T12:00:00Z).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the timeline as one JSON object.")
def history(artifact: str, repository: str | None, at: str | None, as_json: bool) -> None:
    """The timeline of GROUP:ARTIFACT, oldest first: deployed, promoted (with its approver), yanked, unyanked, pruned.

    Across every configured repository (and the default), or only -r. With --at, the last line is the coordinate
    latest.release resolved to at that instant, or 'none' before the first release.
    """
    import json

    from registry.history import history as read_timeline
    from registry.timeline import parse_instant

    moment = parse_instant(at) if at is not None else None  # a bad date is refused before anything is read
    timeline = read_timeline(artifact, repository=repository, settings=load_settings(), at=moment)
    if as_json:
        click.echo(json.dumps(timeline.to_dict(), indent=2, sort_keys=True))
        return
    from registry import formatting

    for event in timeline.events:
        click.echo(f"{event.at}  {event.repository}  {event.kind:<9} {event.coordinate}  {_details(event, formatting)}")
    if timeline.at is not None:
        click.echo(f"latest.release in {timeline.repository} at {timeline.to_dict()['at']}:", err=True)
        click.echo(str(timeline.latest) if timeline.latest else "none")


def _details(event: Any, formatting: Any) -> str:
    """What the event's line says after its coordinate."""
    who = f"by {formatting.who(event.by)}" if event.by else ""
    details = event.details
    if event.kind == "promoted":
        gates = ", ".join(f"{g['expression']} ({g['actual']})" for g in details.get("gates", []))
        approval = details.get("approval") or {}
        approved = f"; approved by {formatting.who(approval.get('approved_by'))}" if approval else ""
        approved += f" (key {approval['key']})" if approval.get("key") else ""
        return f"{who} from {details['from']} to {details['to']}" + (f"; gates {gates}" if gates else "") + approved
    if event.kind == "yanked":
        return f"{who}: {details.get('reason', '')}"
    if event.kind == "deployed":
        code = details.get("code") or {}
        data = details.get("training_data") or {}
        parts = [who]
        if code.get("commit"):
            parts.append(f"commit {str(code['commit'])[:12]}")
        if data.get("fingerprint") or data.get("source"):
            parts.append(f"data {data.get('source') or ''} {str(data.get('fingerprint') or '')[:12]}".rstrip())
        return ", ".join(p for p in parts if p)
    return who


@click.command()
@click.argument("spec", metavar="GROUP:ARTIFACT:VERSION")
@click.option("--to", "target", required=True, metavar="NAME|URL|PATH", help="The repository it may be promoted to.")
@repository_option
@click.option("--comment", default="", metavar="TEXT", help="What the approver says (recorded).")
@sign_option
def approve(spec: str, target: str, repository: str | None, comment: str, sign: str | None) -> None:
    """Approve promoting a version from the repository (-r, the source) into --to (four eyes).

    The identity that deployed the version cannot approve it (the same user, or the key that signed it). Where
    the approver signs (--sign, or sign_with on the source) the approval is signed and names the key; a target
    that requires signatures refuses an unsigned or altered approval. A promotion into a repository with
    require_approval = true, or with '--require approved', needs this approval and names the approver.
    """
    from registry.approve import approve as approve_version

    record = approve_version(
        spec, to=target, repository=repository, settings=load_settings(), comment=comment, sign=signing_key(sign)
    )
    signed = f", signed by key {record.key}" if record.key else ""
    click.echo(f"Approved {record.coordinate} for {record.target}{signed}", err=True)
    click.echo(record.coordinate)


@click.command()
@click.argument("artifact", metavar="GROUP:ARTIFACT")
@repository_option
@click.option(
    "--keep-last", type=int, metavar="N", help="Keep the newest N versions. [default: prune_keep_last, else 10]"
)
@click.option(
    "--older-than",
    metavar="DAYS",
    help="Delete only versions listed more than this long ago, e.g. 90d. [default: prune_older_than_days, else any]",
)
@click.option(
    "--keep-series/--no-keep-series",
    default=None,
    help="Keep the newest version of each MAJOR.MINOR. [default: prune_keep_series, else keep]",
)
@click.option("--apply", is_flag=True, help="Delete; without it, only say what would be deleted and why.")
def prune(
    artifact: str,
    repository: str | None,
    keep_last: int | None,
    older_than: str | None,
    keep_series: bool | None,
    apply: bool,
) -> None:
    """Delete old versions of GROUP:ARTIFACT from one repository: a dry run unless --apply.

    Never deleted: latest.release, versions promoted onward from this repository (to another configured one),
    the newest --keep-last, those listed within --older-than, and (unless --no-keep-series) the newest of each
    MAJOR.MINOR. A deleted version leaves its POM and a tombstone, so history stays true and fsck sees no damage.
    One line per version: 'keep VERSION: why' or 'delete VERSION: why'. The repository's prune_* keys set the
    defaults, so a schedule can run 'registry prune GROUP:ARTIFACT -r REPO --apply'.
    """
    from registry.prune import prune as prune_versions

    decisions = prune_versions(
        artifact,
        repository=repository,
        settings=load_settings(),
        keep_last=keep_last,
        older_than=_days(older_than),
        keep_series=keep_series,
        apply=apply,
    )
    for decision in decisions:
        click.echo(str(decision))
    deleted = sum(d.delete for d in decisions)
    click.echo(f"{'Deleted' if apply else 'Would delete'} {deleted} of {len(decisions)} version(s).", err=True)


def _days(older_than: str | None) -> dt.timedelta | None:
    """``--older-than 90d`` as a time span; ``None`` when it is not given."""
    from registry.exceptions import InvalidInput

    if older_than is None:
        return None
    match = re.fullmatch(r"([0-9]{1,5})d", older_than.strip())
    if match is None:
        raise InvalidInput(f"Invalid --older-than {older_than!r}: give a number of days such as 90d.")
    return dt.timedelta(days=int(match[1]))


#: Registered by :mod:`registry.cli`.
COMMANDS = (yank, unyank, history, approve, prune)
