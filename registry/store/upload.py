"""A version's files into a repository, its main file last: :func:`upload_version`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from registry.repository.base import Repository, Source

__all__ = ["upload_version"]


def upload_version(
    repository: Repository,
    files: Sequence[tuple[str, Source]],
    last: str,
    make_last: Callable[[], tuple[Source, Sequence[tuple[str, Source]]]],
    *,
    when_ready: Callable[[], None] | None = None,
) -> None:
    """Create the small ``files`` of a version at once (as many at a time as the repository writes at once:
    :attr:`~registry.repository.base.Repository.write_width`) while ``make_last()`` makes the version's main file
    (packs the jar), then create that file at ``last`` so that it becomes visible only once every other file is in
    place: its bytes stream meanwhile, its end waits (see
    :meth:`Repository.create_after <registry.repository.base.Repository.create_after>`). ``make_last`` returns
    the file and more small files to upload with the others (its checksums). ``when_ready`` is called when the
    other files are in place and the end of the main file is on its way.

    Every upload is waited for, and the first failure raised; the main file then does not exist, so a version
    whose upload failed anywhere never resolves.
    """
    pool = ThreadPoolExecutor(repository.write_width)
    uploads = [pool.submit(repository.create, path, source) for path, source in files]

    def ready() -> None:
        for upload in list(uploads):
            upload.result()
        if when_ready is not None:
            when_ready()

    try:
        source, more = make_last()
        uploads.extend(pool.submit(repository.create, path, content) for path, content in more)
        repository.create_after(last, source, ready)
    finally:
        for upload in uploads:
            upload.exception()  # waits for its end, whatever it is
        pool.shutdown(wait=True, cancel_futures=True)
    for upload in uploads:
        upload.result()
