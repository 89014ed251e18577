"""Deploy a fitted Spark pipeline from Python: ``deploy(model, "com.acme:churn:1.0")``."""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from pyspark.ml import PipelineModel
from pyspark.sql import DataFrame, SparkSession

from registry.coordinates import Coordinate, DeployTarget
from registry.deploy import Attachment
from registry.deploy import deploy as deploy_dir
from registry.exceptions import InvalidInput, InvalidModel, NotPortable
from registry.lineage import code_lineage
from registry.modelcard import ModelCard
from registry.portable.layout import CLASSIFIER, EXTENSION
from registry.repository.base import Repository
from registry.settings import Settings
from registry.spark import hadoop
from registry.spark.card import describe_model, input_schema, output_columns, training_data_source
from registry.spark.profile import profiled_card
from registry.spark.runtime import session_runtime
from registry.spark.session import activated, active_session, require_ml_on_connect
from registry.spark.watermark import stamp_watermark

__all__ = ["CardFacts", "NotPortableWarning", "configured_portable", "deploy", "deploy_saved", "model_card"]

#: The values of ``portable=``.
PORTABLE_FORMATS = ("onnx", "auto")


class NotPortableWarning(UserWarning):
    """``portable="auto"``: the model was released without a twin (the message says which stage stopped it)."""


@dataclasses.dataclass(frozen=True)
class CardFacts:
    """What a card records beside the model and its runtime: the arguments of :func:`deploy` of the same names."""

    metrics: Mapping[str, float] | None = None
    description: str = ""
    labels: Sequence[str] = ()
    training_data: DataFrame | str | None = None
    code: Mapping[str, Any] | Literal["git"] | None = "git"
    evaluation_data: DataFrame | None = None


def model_card(model: PipelineModel, target: DeployTarget, spark: SparkSession, facts: CardFacts) -> ModelCard:
    """The card a deploy records: stages and params, the runtime (Spark, Scala, Java, Python), and the training
    data's schema, fingerprint and profile (:func:`~registry.spark.profile.profiled_card`)."""
    training_data, code = facts.training_data, facts.code
    described = describe_model(model, training_data if isinstance(training_data, DataFrame) else None)
    schema = input_schema(training_data) if isinstance(training_data, DataFrame) else None
    runtime = session_runtime(spark)
    card = ModelCard.create(
        str(target),
        description=facts.description,
        labels=list(facts.labels),
        metrics=facts.metrics,
        model=described,
        input_schema=schema,
        output_columns=output_columns(described),
        code=code_lineage() if code == "git" else code,
        spark_version=runtime["spark"],
    )
    card = dataclasses.replace(card, tools={**card.tools, **runtime})
    return profiled_card(card, model, spark, training_data=training_data, evaluation_data=facts.evaluation_data)


def deploy(
    model: PipelineModel,
    target: str | DeployTarget,
    *,
    repository: Repository | str | None = None,
    settings: Settings | None = None,
    metrics: Mapping[str, float] | None = None,
    description: str = "",
    labels: Sequence[str] = (),
    training_data: DataFrame | str | None = None,
    code: Mapping[str, Any] | Literal["git"] | None = "git",
    model_dir: str | None = None,
    allow_change: bool = False,
    spark: SparkSession | None = None,
    sign: str | bool | None = None,
    evaluation_data: DataFrame | None = None,
    portable: Literal["onnx", "auto"] | None = None,
    parity_data: DataFrame | None = None,
) -> Coordinate:
    """Save a fitted pipeline and deploy it as a new release; the model object is not changed.

    :param model: the fitted ``PipelineModel`` (wrap a single model: ``PipelineModel([model])``).
    :param target: ``GROUP:ARTIFACT:MAJOR.MINOR`` for the next build, or an exact new ``...:MAJOR.MINOR.BUILD``.
    :param repository: an open repository, or a configured name, URL or path; ``None`` uses the configured
        default, exactly as the ``registry`` command does (``REGISTRY_REPOSITORY``, the configuration file, ...).
    :param metrics: numbers to record (``{"areaUnderROC": 0.91}``); also written into the POM.
    :param description: free text for the card and the POM.
    :param labels: tags to record, e.g. ``["prod-candidate"]``.
    :param training_data: the DataFrame the model was trained on, or a table name or path: its schema, row
        count and an order-independent fingerprint are recorded (one extra Spark job over the data), and the
        training profile of every column the model reads, of its prediction and positive-class probability (two
        more jobs; see :mod:`registry.spark.profile`), which :func:`registry.spark.monitor` compares with.
    :param code: the code lineage to record; ``"git"`` (default) reads the commit of the working directory,
        ``None`` records none.
    :param model_dir: where executors can write (``hdfs:///tmp/models``): the model is saved there, then copied
        to the driver. Default: ``spark.registry.modelDir``; not needed on a local master. Over Spark Connect, a
        directory this process and the server both reach under the same path (see :mod:`registry.spark.hadoop`).
    :param allow_change: deploy into the series even if the stages, input schema or params differ from its newest
        build (normally refused with :class:`~registry.exceptions.ModelChanged`, which suggests the next minor or
        major version).
    :param spark: the session; default this thread's active one, else the process's default one.
    :param sign: sign the jar, POM and card with this gpg key (``True``: the repository's ``sign_with``, else gpg's
        default key; ``False``: never); default: when the repository sets ``sign_with``. See
        :func:`registry.deploy.deploy`.
    :param evaluation_data: held-out data with the label: its fingerprint and the metrics of the matching Spark
        evaluator (binary: areaUnderROC, areaUnderPR; multiclass: f1, accuracy; regression: rmse, r2, mae) are
        recorded; ``metrics`` given explicitly win over computed ones of the same name.
    :param portable: ``"onnx"``: convert the pipeline (without its watermark stage) to ONNX, prove it equal to
        Spark on at least 1,000 rows, and attach it as ``ARTIFACT-VERSION-onnx.onnx`` (see :mod:`registry.spark.onnx`
        and :mod:`registry.portable`); a stage that does not convert, or a twin that disagrees, fails the deploy
        with :class:`~registry.exceptions.NotPortable` before anything is released. ``"auto"``: the same, but where
        it fails the model is released without a twin and one :class:`NotPortableWarning` says why. ``None``
        (default): the repository's ``portable`` setting, else no twin (and onnx is not imported).
    :param parity_data: the rows the parity check scores (default: ``evaluation_data``, else ``training_data``).
    :returns: the full coordinate released, e.g. ``com.acme:churn:1.0.3``.
    :raises InvalidModel: ``model`` is not a ``PipelineModel``.
    :raises VersionExists: an exact version that is already released.
    :raises ModelChanged: the model is not a retrain of the newest build of the series (see ``allow_change``).
    :raises ConfigError: a non-local master, or a Spark Connect session, and no ``model_dir``; no session.
    :raises RepositoryUnavailable, AuthenticationFailed: the repository cannot be used.

    The coordinate is written into the watermark column of the *saved copy* (see
    :mod:`registry.spark.watermark`) once the build number is claimed.
    """
    if not isinstance(model, PipelineModel):
        raise InvalidModel(
            f"deploy() takes a fitted PipelineModel, not {type(model).__name__}; wrap a single model with "
            "PipelineModel([model])."
        )
    target = target if isinstance(target, DeployTarget) else DeployTarget.parse(target)
    session = active_session(spark)
    require_ml_on_connect(session)
    staging_root = hadoop.model_dir(session, model_dir, why="write the model")
    facts = CardFacts(metrics, description, labels, training_data, code, evaluation_data)
    card = model_card(model, target, session, facts)
    attachments: list[Attachment] = []
    if portable is None:
        settings = settings or Settings.load()
        portable = configured_portable(repository, settings)
    if portable is not None:
        sample = next((d for d in (parity_data, evaluation_data, training_data) if d is not None), None)
        twin = _twin(model, card, session, portable, sample)
        if twin is not None:
            card = dataclasses.replace(card, portable=twin.section)
            attachments.append(Attachment(CLASSIFIER, EXTENSION, twin.data))
    scratch = Path(tempfile.mkdtemp(prefix="registry-spark-deploy-"))
    local = scratch / "model"
    try:
        if staging_root is None:
            model.write().save(local.as_uri())
        else:
            staged = hadoop.staging_location(staging_root, "registry-deploy")
            try:
                with activated(session):  # pyspark.ml over Connect saves with this thread's active session
                    model.write().save(staged)
                hadoop.copy_from_cluster(session, staged, local)
            finally:
                hadoop.delete(session, staged)
        return deploy_dir(
            local,
            target,
            repository=repository,
            settings=settings,
            card=card,
            prepare=_stamp,
            allow_change=allow_change,
            sign=sign,
            attachments=attachments,
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def configured_portable(repository: Repository | str | None, settings: Settings) -> Literal["onnx", "auto"] | None:
    """The repository's ``portable`` setting (``None`` for one opened by URL or path, or by hand)."""
    config = repository.config if isinstance(repository, Repository) else settings.repository(repository)
    return config.portable if config is not None else None


def deploy_saved(
    path: Path,
    target: str | DeployTarget,
    *,
    portable: str,
    parity_data: str,
    spark: SparkSession | None = None,
    **options: Any,
) -> Coordinate:
    """Deploy the pipeline saved in ``path`` (``registry deploy DIR COORD --portable ...``) with its ONNX twin:
    the pipeline is loaded in ``spark`` (default: a local session started here, and stopped), converted and
    proven equal to Spark on ``parity_data`` (a parquet, CSV or JSON path) as :func:`deploy` does, and released
    by :func:`registry.deploy.deploy` (``options``: its keywords) with the twin attached.

    :raises NotPortable: under ``"onnx"``, the pipeline does not convert or its twin disagrees (nothing released).
    :raises InvalidInput: ``parity_data`` cannot be read.
    """
    from registry.spark.score import local_session

    session, started = (spark, False) if spark is not None else local_session("registry deploy")
    try:
        try:
            model = PipelineModel.load(Path(path).resolve().as_uri())
        except Exception as exc:  # the JVM's error, whatever its type
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise InvalidModel(f"{path} does not hold a saved Spark PipelineModel: {first}") from exc
        frame = _read_parity_data(session, parity_data)

        def attach(card: ModelCard) -> tuple[ModelCard, list[Attachment]]:
            twin = _twin(model, card, session, portable, frame)
            if twin is None:
                return card, []
            return dataclasses.replace(card, portable=twin.section), [Attachment(CLASSIFIER, EXTENSION, twin.data)]

        return deploy_dir(path, target, attach=attach, **options)
    finally:
        if started:
            session.stop()


def _read_parity_data(spark: SparkSession, location: str) -> DataFrame:
    suffix = Path(location.rstrip("/")).suffix.lstrip(".").lower()
    data_format = suffix if suffix in ("parquet", "csv", "json", "orc") else "parquet"
    reader = spark.read.format(data_format)
    if data_format == "csv":
        reader = reader.option("header", "true").option("inferSchema", "true")
    try:
        return reader.load(location)
    except Exception as exc:  # AnalysisException (no such path), or a failed job: whatever the JVM raised
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InvalidInput(
            f"Cannot read the parity data {location!r} as {data_format}: {first}. Pass a parquet, CSV (with a "
            "header) or JSON file or folder, named with its extension."
        ) from exc


def _twin(
    model: PipelineModel, card: ModelCard, spark: SparkSession, portable: str, data: DataFrame | str | None
) -> Any:
    """The converted, checked twin (:class:`registry.spark.onnx.Converted`); ``None`` under ``"auto"`` where there
    is none, with one warning."""
    if portable not in PORTABLE_FORMATS:
        raise InvalidInput(f"portable={portable!r}: use 'onnx', 'auto' or None.")
    try:
        if data is None:
            raise NotPortable(
                "A twin is proven equal to Spark on data: pass parity_data= (or training_data= or evaluation_data=)."
            )
        frame = training_data_source(data, spark)[0] if isinstance(data, str) else data
        try:
            from registry.spark.onnx import make_twin
        except ImportError as exc:
            raise NotPortable(
                f"portable={portable!r} needs onnxmltools and onnxruntime ({exc}): pip install "
                "'spark-model-registry[onnx]'."
            ) from None
        return make_twin(model, card, spark, frame)
    except NotPortable as exc:
        if portable == "onnx":
            raise NotPortable(f"No ONNX twin, nothing released: {exc}") from None
        warnings.warn(f"Released without an ONNX twin: {exc}", NotPortableWarning, stacklevel=3)
        return None


def _stamp(directory: Path, coordinate: Coordinate) -> None:
    """The deploy's ``prepare`` hook: the coordinate goes into the watermark of the saved copy."""
    stamp_watermark(directory, coordinate)
