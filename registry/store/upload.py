"""A version's files into a repository, its main file last: :func:`upload_version`."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

from registry.repository.base import Repository, Source
from registry.repository.growing import GrowingFile

__all__ = ["upload_version"]


def upload_version(
    repository: Repository,
    files: Sequence[tuple[str, Source]],
    last: str,
    make_last: Callable[[], tuple[Source, Sequence[tuple[str, Source]]]],
    *,
    when_ready: Callable[[], None] | None = None,
    growing: GrowingFile | None = None,
) -> None:
    """Create the small ``files`` of a version at once (as many at a time as the repository writes at once:
    :attr:`~registry.repository.base.Repository.write_width`) while ``make_last()`` makes the version's main file
    (packs the jar), then create that file at ``last`` so that it becomes visible only once every other file is in
    place: its bytes stream meanwhile, its end waits (see
    :meth:`Repository.create_after <registry.repository.base.Repository.create_after>`). ``make_last`` returns
    the file and more small files to upload with the others (its checksums). ``when_ready`` is called when the
    other files are in place and the end of the main file is on its way.

    With ``growing`` (the file ``make_last`` writes, telling it which bytes are final, and finishing it), the main
    file is created from it while it is written (:meth:`~registry.repository.base.Repository.create_growing`:
    on S3, its parts travel while the jar is packed); if ``make_last`` fails, it is abandoned, and not created.

    Every upload is waited for, and the first failure raised; the main file then does not exist, so a version
    whose upload failed anywhere never resolves.
    """
    pool = ThreadPoolExecutor(repository.write_width)
    uploads: list[Future[None]] = []
    made: Future[None] = Future()  # make_last has returned, and its files are among the uploads

    def ready() -> None:
        made.result()
        for upload in list(uploads):
            upload.result()
        if when_ready is not None:
            when_ready()

    main: Future[None] = Future()
    if growing is not None:
        created = growing

        def create_main() -> None:
            try:
                repository.create_growing(last, created, ready)
            except BaseException as exc:
                main.set_exception(exc)
            else:
                main.set_result(None)

        threading.Thread(target=create_main, name="registry-upload-main", daemon=True).start()
    # After the main file's start (on S3, its multipart upload is created first, not behind the small files: its
    # parts are ready to go as soon as their bytes are packed).
    uploads.extend(pool.submit(repository.create, path, source) for path, source in files)
    try:
        try:
            source, more = make_last()
        except BaseException as exc:
            if growing is not None:
                growing.fail()
            made.set_exception(exc)
            raise
        uploads.extend(pool.submit(repository.create, path, content) for path, content in more)
        made.set_result(None)
        if growing is not None:
            growing.settle()  # its checksums on their way: on S3, a small jar's PutObject starts (its end held back)
        if growing is None:
            repository.create_after(last, source, ready)
        else:
            main.result()
    finally:
        if growing is not None:
            main.exception()  # waits for its end (an abandoned upload is aborted)
        for upload in uploads:
            upload.exception()  # waits for its end, whatever it is
        pool.shutdown(wait=True, cancel_futures=True)
    for upload in uploads:
        upload.result()
