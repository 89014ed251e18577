"""The model jar: reproducible packing and safe extraction.

Layout of ``churn-1.2.7.jar``::

    META-INF/MANIFEST.MF
    META-INF/maven/com.acme/churn/pom.xml         the POM, identical to the one deployed beside the jar
    META-INF/maven/com.acme/churn/pom.properties  groupId, artifactId, version
    META-INF/registry/model.json                  the model card (coordinate, params, metrics, lineage)
    model/...                                     the saved model directory, as Spark wrote it

Packing is a pure function of its inputs: entries sorted, fixed timestamps and permissions, ``/`` separators,
so the same directory packed for the same coordinate and card gives byte-identical jars. Extraction checks every
entry before anything is written (no ``..``, absolute paths, links, duplicates, or sizes past the limits), writes
into a temporary sibling directory and renames it into place, so a failure leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import tempfile
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from registry.checksums import ConcurrentDigester, Digests, file_digest
from registry.coordinates import Coordinate
from registry.exceptions import IntegrityError, InvalidModel
from registry.zipstream import CHUNK, Digesting, Streaming, Written

__all__ = [
    "CARD_ENTRY",
    "MODEL_DIR",
    "ExtractLimits",
    "check_embedded_pom",
    "check_model_dir",
    "model_digests",
    "saved_spark_version",
    "with_replaced",
    "extract_model",
    "pack",
    "read_entry",
]

MODEL_DIR = "model"
CARD_ENTRY = "META-INF/registry/model.json"
_EPOCH = (1980, 1, 1, 0, 0, 0)
_FILE_MODE = (stat.S_IFREG | 0o644) << 16
_DIR_MODE = (stat.S_IFDIR | 0o755) << 16
_LOCAL_HEADER = 30  # bytes before an entry's name in its local header
_KERNEL_COPY = hasattr(os, "copy_file_range")  # Linux; elsewhere entries are copied through zipfile
_MAX_NAME = 1024  # bytes in an entry name; Spark's are a few dozen
_MAX_PROPERTIES = 64 << 10  # pom.properties is three short lines
# Already-compressed formats Spark writes: deflating them again costs time and saves nothing.
_STORED_SUFFIXES = (".parquet", ".snappy", ".gz", ".zst", ".lz4", ".orc", ".avro")


@dataclass(frozen=True)
class ExtractLimits:
    """Bounds that refuse zip bombs before they fill a disk."""

    max_total_bytes: int = 32 << 30
    max_entries: int = 200_000
    max_ratio: int = 200  # uncompressed/compressed, for entries over 1 MiB


def _model_files(model_dir: Path) -> list[tuple[str, Path | None]]:
    """``(entry name, source)`` for every directory (source ``None``) and file under ``model_dir``."""
    if not model_dir.is_dir():
        raise InvalidModel(
            f"Model path {str(model_dir)!r} is not a directory. Pass the directory a model was saved to."
        )
    entries: list[tuple[str, Path | None]] = [(f"{MODEL_DIR}/", None)]
    for root, dirs, files in os.walk(model_dir, followlinks=False):
        base = Path(root)
        for name in dirs + files:
            path = base / name
            relative = path.relative_to(model_dir).as_posix()
            if path.is_symlink():
                raise InvalidModel(
                    f"Model directory {str(model_dir)!r} contains a symbolic link {relative!r}; "
                    "links are not packed. Replace it with the file it points to."
                )
            if name in dirs:
                entries.append((f"{MODEL_DIR}/{relative}/", None))
            elif path.is_file():
                entries.append((f"{MODEL_DIR}/{relative}", path))
            else:
                raise InvalidModel(f"Model directory entry {relative!r} is not a regular file.")
    if len(entries) == 1:
        raise InvalidModel(f"Model directory {str(model_dir)!r} is empty. Save a model into it first.")
    return entries


def check_model_dir(model_dir: Path) -> None:
    """Refuse, before anything is claimed or uploaded, a model directory that cannot be packed."""
    _model_files(model_dir)


def saved_spark_version(model_dir: Path) -> str | None:
    """The ``sparkVersion`` a Spark ML writer recorded in ``model_dir/metadata/part-*``; ``None`` for a directory
    that is not a saved Spark model (or whose metadata cannot be read)."""
    parts = sorted((model_dir / "metadata").glob("part-*"))
    try:
        metadata = json.loads(parts[0].read_bytes()) if len(parts) == 1 and parts[0].stat().st_size < 1 << 20 else None
    except (OSError, ValueError):
        return None
    version = metadata.get("sparkVersion") if isinstance(metadata, dict) else None
    return version if isinstance(version, str) and version else None


def model_digests(model_dir: Path, replaced: Mapping[Path, bytes] | None = None) -> dict[str, str]:
    """The SHA-256 of every file :func:`pack` puts under ``model/`` (with the same ``replaced`` contents), keyed by
    its path relative to ``model/``: the card's ``files``, which the JVM runtime checks the jar's entries against
    before it loads a model."""
    prefix = f"{MODEL_DIR}/"
    digests = {
        name.removeprefix(prefix): file_digest(path, "sha256")
        for name, path in _model_files(model_dir)
        if path is not None and path not in (replaced or {})
    }
    return with_replaced(digests, model_dir, replaced)


def with_replaced(digests: Mapping[str, str], model_dir: Path, replaced: Mapping[Path, bytes] | None) -> dict[str, str]:
    """``digests`` (:func:`model_digests` of ``model_dir`` as it is on disk, computed ahead: a deploy digests the
    files while it claims the build) with the SHA-256 of the ``replaced`` contents instead of their files'."""
    found = dict(digests)
    for path, data in (replaced or {}).items():
        found[path.relative_to(model_dir).as_posix()] = hashlib.sha256(data).hexdigest()
    return found


def _manifest() -> bytes:
    return b"Manifest-Version: 1.0\r\nCreated-By: registry\r\n\r\n"


def _pom_properties(coordinate: Coordinate) -> bytes:
    return (f"groupId={coordinate.group}\nartifactId={coordinate.artifact}\nversion={coordinate.version}\n").encode()


def _info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=_EPOCH)
    info.create_system = 3  # unix, so that the permission bits below are honoured the same everywhere
    if name.endswith("/"):
        info.external_attr = _DIR_MODE
        info.compress_type = zipfile.ZIP_STORED
    else:
        info.external_attr = _FILE_MODE
        stored = name.endswith(_STORED_SUFFIXES) or ".snappy." in name
        info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
    return info


def pack(
    model_dir: Path,
    target: Path,
    coordinate: Coordinate,
    pom: bytes,
    card: bytes,
    replaced: Mapping[Path, bytes] | None = None,
    written: Written | None = None,
) -> Digests:
    """Write the jar for ``coordinate`` to the file ``target``; returns its digests, computed as it is written (on
    threads, one per digest: never a second read of the jar). ``replaced`` gives new contents for files of
    ``model_dir`` (the stamped watermark), packed in their place while the directory is left as it is.
    ``written`` is told, as the jar is written, which of its bytes are flushed to ``target`` and will not change
    (``final(start, end)``), then that the file is complete (``finish()``), before its digests are all computed:
    a reader uploads the jar meanwhile (:class:`~registry.zipstream.Streaming`). The jar's bytes are the same.

    The file must be seekable: on a stream, zipfile writes data descriptors, which Java's ``JarInputStream``
    refuses on stored entries ("only DEFLATED entries can have EXT descriptor").
    """
    sources = _model_files(model_dir)
    maven = f"META-INF/maven/{coordinate.group}/{coordinate.artifact}"
    generated: dict[str, bytes] = {
        f"{maven}/pom.xml": pom,
        f"{maven}/pom.properties": _pom_properties(coordinate),
        CARD_ENTRY: card,
    }
    names: dict[str, Path | bytes | None] = dict(sources)
    for path, data in (replaced or {}).items():
        name = f"{MODEL_DIR}/{path.relative_to(model_dir).as_posix()}"
        if name not in names:
            raise InvalidModel(f"{path} is not a file of the model directory {model_dir}; nothing to replace.")
        names[name] = data
    names.update(generated)
    for directory in (
        "META-INF/maven/",
        f"META-INF/maven/{coordinate.group}/",
        f"{maven}/",
        "META-INF/registry/",
    ):
        names[directory] = None
    digester = ConcurrentDigester()
    out: Digesting | Streaming | None = None
    try:
        with target.open("w+b") as file:  # readable: an entry too large to keep in memory is read back
            out = Digesting(file, digester) if written is None else Streaming(file, digester, written)
            # The manifest comes first so that java.util.jar.JarInputStream finds it.
            with zipfile.ZipFile(out, "w", compresslevel=6) as jar:
                jar.writestr(_info("META-INF/"), b"")
                jar.writestr(_info("META-INF/MANIFEST.MF"), _manifest())
                out.settle()
                for name in sorted(names):
                    if name == "META-INF/":
                        continue
                    source = names[name]
                    info = _info(name)
                    if source is None:
                        jar.writestr(info, b"")
                    elif isinstance(source, bytes):
                        jar.writestr(info, source)
                    else:
                        with source.open("rb") as src, jar.open(info, "w", force_zip64=True) as dst:
                            shutil.copyfileobj(src, dst, CHUNK)
                    out.settle()
            out.settle()  # the central directory
        if written is not None:
            written.finish()
    finally:
        if out is not None:
            out.finish_digests()
        digests = digester.digests()
    return digests


def _check_name(name: str, jar: str) -> PurePosixPath:
    path = PurePosixPath(name)
    bad = (
        not name
        or "\\" in name
        or "\x00" in name
        or name.startswith("/")
        or (len(name) > 1 and name[1] == ":")
        or any(part in ("..", ".", "") for part in name.rstrip("/").split("/"))  # "." would alias another entry
    )
    if bad:
        raise IntegrityError(f"Refusing {jar}: entry {name!r} would be written outside the target directory.")
    if len(name.encode()) > _MAX_NAME or any(len(part.encode()) > 255 for part in name.split("/")):
        raise IntegrityError(f"Refusing {jar}: entry {name[:100]!r}... has a name too long to extract.")
    return path


def _checked_entries(archive: zipfile.ZipFile, jar: str, limits: ExtractLimits) -> Iterator[zipfile.ZipInfo]:
    infos = archive.infolist()
    if len(infos) > limits.max_entries:
        raise IntegrityError(f"Refusing {jar}: {len(infos)} entries is more than {limits.max_entries}.")
    seen: set[str] = set()
    folders: set[str] = set()  # every folder an entry implies, so that no name is both a file and a folder
    total = 0
    for info in infos:
        _check_name(info.filename, jar)
        if info.filename in seen:
            raise IntegrityError(f"Refusing {jar}: entry {info.filename!r} appears twice.")
        seen.add(info.filename)
        parts = info.filename.rstrip("/").split("/")
        parents = {"/".join(parts[:i]) for i in range(1, len(parts))}
        clash = next((p for p in parents if p in seen), None) or (
            info.filename if not info.is_dir() and info.filename in folders else None
        )
        if clash is not None:
            raise IntegrityError(f"Refusing {jar}: {clash!r} is both a file and a folder.")
        folders |= parents
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise IntegrityError(f"Refusing {jar}: entry {info.filename!r} is a symbolic link.")
        total += info.file_size
        if total > limits.max_total_bytes:
            raise IntegrityError(
                f"Refusing {jar}: it unpacks to more than {limits.max_total_bytes} bytes "
                "(raise the extraction limit if the model really is that large)."
            )
        if info.file_size > CHUNK and info.file_size > limits.max_ratio * max(info.compress_size, 1):
            raise IntegrityError(
                f"Refusing {jar}: entry {info.filename!r} expands {info.file_size // max(info.compress_size, 1)}"
                f"-fold, a zip bomb rather than a model."
            )
        yield info


def read_entry(jar_path: Path, name: str, max_bytes: int = 16 << 20) -> bytes | None:
    """One small entry of a jar, or ``None`` when it is absent."""
    with zipfile.ZipFile(jar_path) as archive:
        try:
            info = archive.getinfo(name)
        except KeyError:
            return None
        if info.file_size > max_bytes:
            raise IntegrityError(f"Entry {name!r} of {jar_path.name} is larger than {max_bytes} bytes.")
        return archive.read(info)


def check_embedded_pom(jar_path: Path, coordinate: Coordinate) -> None:
    """Refuse a jar whose ``pom.properties`` names another coordinate than the one it was published as."""
    maven = f"META-INF/maven/{coordinate.group}/{coordinate.artifact}/pom.properties"
    try:
        archive = zipfile.ZipFile(jar_path)
    except zipfile.BadZipFile as exc:
        raise IntegrityError(f"Refusing {jar_path.name}: it is not a valid jar ({exc}).") from exc
    with archive:
        for info in archive.infolist():
            if info.filename.startswith("META-INF/maven/") and info.filename.endswith("/pom.properties"):
                if info.file_size > _MAX_PROPERTIES:  # read before the archive checks: bounded here
                    raise IntegrityError(
                        f"Refusing {jar_path.name}: its {info.filename!r} is {info.file_size} bytes, not a "
                        "pom.properties."
                    )
                if info.filename != maven:
                    raise IntegrityError(
                        f"Refusing {jar_path.name}: it embeds {info.filename!r}, the POM of another artifact "
                        f"than {coordinate}."
                    )
                props = dict(
                    line.split("=", 1)
                    for line in archive.read(info).decode("utf-8", "replace").splitlines()
                    if "=" in line and not line.startswith("#")
                )
                if props.get("version", "").strip() != str(coordinate.version):
                    raise IntegrityError(
                        f"Refusing {jar_path.name}: it says it is version {props.get('version')!r}, "
                        f"but was published as {coordinate}."
                    )


def extract_model(
    jar_path: Path,
    destination: Path,
    limits: ExtractLimits | None = None,
    *,
    verified: bool = False,
    ready: Mapping[int, tuple[str, int, Path]] | None = None,
) -> Path:
    """Extract the ``model/`` folder of a jar into ``destination`` (which must not exist or be empty).

    Every entry is checked before anything is written; the model is written into a temporary sibling of
    ``destination`` and renamed into place, so that ``destination`` appears complete or not at all.
    ``verified``: every byte of the jar matched the digest it was published with, so the entries it stores
    uncompressed (Spark's parquet files) are copied by the kernel, without their CRC-32 checked again; ``ready``
    (with ``verified``): files already holding such entries' bytes, by the offset of the entry's local header,
    with its name and size (written while the jar downloaded, :class:`registry.store.unzipping.StreamedEntries`),
    renamed into place where the directory's entry at that offset has that name and size.
    """
    limits = limits or ExtractLimits()
    jar = jar_path.name
    if destination.exists() and (not destination.is_dir() or any(destination.iterdir())):
        raise InvalidModel(
            f"{str(destination)!r} already exists and is not an empty directory; choose a new directory "
            "or empty it first (nothing was written)."
        )
    destination.parent.mkdir(parents=True, exist_ok=True)
    try:
        archive = zipfile.ZipFile(jar_path)
    except zipfile.BadZipFile as exc:
        raise IntegrityError(f"Refusing {jar}: it is not a valid jar ({exc}).") from exc
    with archive:
        entries = [i for i in _checked_entries(archive, jar, limits) if i.filename.startswith(f"{MODEL_DIR}/")]
        if not entries:
            raise IntegrityError(f"Refusing {jar}: it holds no {MODEL_DIR}/ folder, so it is not a model jar.")
        staging = Path(tempfile.mkdtemp(prefix=f".{destination.name}.", dir=destination.parent))
        source: int | None = None
        try:
            source = os.open(jar_path, os.O_RDONLY) if verified and _KERNEL_COPY else None
            for info in entries:
                relative = info.filename[len(MODEL_DIR) + 1 :]
                if not relative:
                    continue
                target = staging / relative
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                written = (ready or {}).get(info.header_offset) if verified and _stored(info) else None
                if written is not None and written[:2] == (info.orig_filename, info.file_size):
                    os.rename(written[2], target)
                elif source is not None and _stored(info):
                    _copy_stored(source, info, target, jar)
                else:
                    _copy_bounded(archive, info, target, jar)
            staging.chmod(0o755)
            if destination.exists():
                destination.rmdir()
            os.replace(staging, destination)
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
            shutil.rmtree(staging, ignore_errors=True)
            raise IntegrityError(f"Refusing {jar}: it is damaged ({exc}); nothing was kept.") from exc
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        finally:
            if source is not None:
                os.close(source)
    return destination


def _stored(info: zipfile.ZipInfo) -> bool:
    """Whether an entry is stored as is (not compressed, not encrypted)."""
    return info.compress_type == zipfile.ZIP_STORED and not info.flag_bits & 1 and info.compress_size == info.file_size


def _copy_stored(source: int, info: zipfile.ZipInfo, target: Path, jar: str) -> None:
    """Copy a stored entry's bytes from the jar open as ``source`` into ``target`` in the kernel, after the checks
    zipfile makes of its local header (its signature, the name the directory gives it)."""
    header = os.pread(source, _LOCAL_HEADER, info.header_offset)
    if len(header) < _LOCAL_HEADER or header[:4] != b"PK\x03\x04":
        raise IntegrityError(f"Refusing {jar}: entry {info.filename!r} has no local header; nothing was kept.")
    name_length, extra_length = int.from_bytes(header[26:28], "little"), int.from_bytes(header[28:30], "little")
    name = os.pread(source, name_length, info.header_offset + _LOCAL_HEADER)
    if name.decode("utf-8" if info.flag_bits & 0x800 else "cp437", errors="replace") != info.orig_filename:
        raise IntegrityError(f"Refusing {jar}: entry {info.filename!r} is named otherwise in its local header.")
    at = info.header_offset + _LOCAL_HEADER + name_length + extra_length
    left = info.file_size
    with target.open("xb", buffering=0) as out:
        while left:
            try:
                copied = os.copy_file_range(source, out.fileno(), left, at)
            except OSError:  # not across these file systems, or not on this kernel: through memory
                copied = out.write(os.pread(source, min(left, CHUNK), at))
            if not copied:
                raise IntegrityError(f"Refusing {jar}: entry {info.filename!r} is cut short; nothing was kept.")
            at += copied
            left -= copied


def _copy_bounded(archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, jar: str) -> None:
    """Copy one entry, refusing more bytes than its header declared (headers can lie)."""
    written = 0
    with archive.open(info) as src, target.open("xb") as dst:
        while chunk := src.read(CHUNK):
            written += len(chunk)
            if written > info.file_size:
                raise IntegrityError(f"Refusing {jar}: entry {info.filename!r} is larger than it declares.")
            dst.write(chunk)
