"""A maven2 repository in an object store: ``s3://bucket/prefix`` on AWS S3 or an S3-compatible server (MinIO,
Ceph, R2), through boto3 (the ``s3`` extra). Only this module imports boto3 and botocore.

Credentials, region and endpoint come from boto3's own chain (environment, shared configuration and profiles,
instance metadata; ``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_S3``), overridden by the repository's ``profile``
and ``endpoint_url``. Nothing secret is ever put into a message.

The guarantees are the HTTP repositories': a create is a conditional write (``If-None-Match: *``; a 412 means the
path is taken), so the POM's create claims a build; ``maven-metadata.xml`` is rewritten with compare-and-swap
(``If-Match`` on its ETag), starting over when another writer got there first, its checksum files written at the
same time as each attempt and checked afterwards against what the file then holds; a large file is a multipart upload
whose parts travel while the small files are written and whose completion is itself conditional, so a release
never overwrites one and a file becomes visible whole or not at all. Some S3-compatible servers ignore conditions;
a probe object (created twice, then replaced under a wrong ETag; the verdict kept in the cache folder like the
HTTP probe's) finds out once. Where ``If-Match`` is ignored but ``If-None-Match`` honoured, metadata is rewritten
under a lock object (:mod:`registry.repository.s3.lock`); where both are ignored, it falls back to the read-back
and merge of :func:`registry.store.publish`, with a warning; where ``If-None-Match`` is ignored, creates are refused
unless ``unsafe_overwrite = "warn"`` (then each path is checked before it is written, which catches everything but
a true race), with a warning.
"""

from registry.repository.s3.repository import S3Repository, parse_s3_url

__all__ = ["S3Repository", "parse_s3_url"]
