package io.github.sparkmodelregistry;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.spark.ml.PipelineModel;
import org.apache.spark.ml.feature.SQLTransformer;
import org.apache.spark.sql.SparkSession;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The registry from Scala and Java: load the model that {@code --packages GROUP:ARTIFACT:latest.release} put on
 * the classpath, mark a pipeline with the watermark stage, and deploy a fitted pipeline through the
 * {@code registry} command.
 *
 * <pre>
 * val model = ModelRegistry.resolve(spark, "churn")            // or "com.acme:churn", or resolve(spark)
 * val pipeline = new Pipeline().setStages(Array(assembler, lr, ModelRegistry.watermark()))
 * val released = ModelRegistry.deploy(pipeline.fit(train), "com.acme:churn:1.0")   // "com.acme:churn:1.0.0"
 * </pre>
 *
 * Session settings: {@code spark.registry.modelDir} (a directory every executor reads, needed on a cluster),
 * {@code spark.registry.cacheDir} (where the driver extracts models; default a folder of java.io.tmpdir),
 * {@code spark.registry.allowSparkMismatch} (load a model saved by a newer Spark, with a warning),
 * {@code spark.registry.command} (the registry command; default {@code registry} on PATH) and
 * {@code spark.registry.repository} (the repository a deploy writes to; default the command's own default).
 */
public final class ModelRegistry {
    /** What the watermark column says before the model is deployed (as the Python side). */
    public static final String NOT_DEPLOYED = "<not deployed>";
    /** The watermark column's default name. */
    public static final String DEFAULT_WATERMARK_COL = "pipeline";
    static final String MODEL_DIR_CONF = "spark.registry.modelDir";
    static final String CACHE_DIR_CONF = "spark.registry.cacheDir";
    static final String ALLOW_MISMATCH_CONF = "spark.registry.allowSparkMismatch";
    static final String COMMAND_CONF = "spark.registry.command";
    static final String REPOSITORY_CONF = "spark.registry.repository";
    private static final String THIS = "__THIS__";
    private static final Pattern LEADING = Pattern.compile("(\\d+)\\.(\\d+)");
    private static final Logger LOG = LoggerFactory.getLogger(ModelRegistry.class);

    private ModelRegistry() {
    }

    /**
     * The model {@code name} (ARTIFACT or GROUP:ARTIFACT) that Spark's {@code --packages} put on the classpath,
     * checked (the card's SHA-256 of every saved file, the Spark it was saved by) and loaded.
     *
     * @throws RegistryException no such jar (the message says how to add it), several match, the jar was
     *     altered, or the model was saved by a newer Spark (unless spark.registry.allowSparkMismatch=true).
     */
    public static PipelineModel resolve(SparkSession spark, String name) {
        return load(spark, ClasspathModel.find(jars(spark), name));
    }

    /** The one model on the classpath, loaded as {@link #resolve(SparkSession, String)} does. */
    public static PipelineModel resolve(SparkSession spark) {
        return load(spark, ClasspathModel.only(jars(spark)));
    }

    /** The watermark stage: adds the column {@code pipeline} naming the deployed version to every row. */
    public static SQLTransformer watermark() {
        return watermark(DEFAULT_WATERMARK_COL);
    }

    /**
     * The watermark stage for a pipeline's last stage: adds {@code column}, which says {@code <not deployed>}
     * until a deploy writes the released coordinate into the saved model (the same statement as the Python
     * side's VersionedPipeline, so either side stamps and reads it).
     */
    public static SQLTransformer watermark(String column) {
        return watermark(column, NOT_DEPLOYED);
    }

    /** The watermark stage adding {@code column} with the fixed {@code value}. */
    public static SQLTransformer watermark(String column, String value) {
        check(column, "column");
        check(value, "value");
        return new SQLTransformer().setStatement(statement(column, value));
    }

    static String statement(String column, String value) {
        String quoted = "`" + column.replace("`", "``") + "`";
        String literal = "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'";
        return "SELECT * FROM (SELECT *, " + literal + " AS " + quoted + " FROM " + THIS + ") WHERE " + quoted
                + " IS NOT NULL";
    }

    private static void check(String text, String what) {
        if (text == null || text.isEmpty()) {
            throw new RegistryException("The watermark " + what + " must be a non-empty string.");
        }
        if (text.contains(THIS) || text.codePoints().anyMatch(Character::isISOControl)) {
            throw new RegistryException("The watermark " + what + " '" + text + "' must not contain " + THIS
                    + " or control characters.");
        }
    }

    /** Deploy {@code model} as {@code target} (GROUP:ARTIFACT:MAJOR.MINOR, or an exact new version). */
    public static String deploy(PipelineModel model, String target) {
        return deploy(model, target, Map.of());
    }

    /**
     * Deploy {@code model} as {@code target}, recording {@code metrics} (name to number), with the same rules,
     * card, signatures and repositories as the Python side: the model is saved, then handed to the
     * {@code registry deploy} command on the driver, which releases it. Returns the released coordinate.
     *
     * @throws RegistryException the registry command is missing, or the deploy failed (its error is quoted).
     */
    public static String deploy(PipelineModel model, String target, Map<String, ?> metrics) {
        if (target == null || target.isBlank()) {
            throw new RegistryException("deploy() needs a target GROUP:ARTIFACT:MAJOR.MINOR, e.g. com.acme:churn:1.0.");
        }
        SparkSession spark = SparkSession.active();
        List<String> command = command(spark);
        List<String> metricArgs = new ArrayList<>();
        for (Map.Entry<String, ?> metric : (metrics == null ? Map.<String, Object>of() : metrics).entrySet()) {
            Object value = metric.getValue();
            if (!(value instanceof Number) || !Double.isFinite(((Number) value).doubleValue())) {
                throw new RegistryException("Metric '" + metric.getKey() + "' must be a finite number, not " + value
                        + ".");
            }
            metricArgs.add("--metric");
            metricArgs.add(metric.getKey() + "=" + value);
        }
        Path scratch;
        try {
            scratch = Files.createTempDirectory("registry-jvm-deploy-");
        } catch (IOException e) {
            throw new RegistryException("Cannot create a temporary directory to save the model: " + e.getMessage(), e);
        }
        try {
            Path saved = save(spark, model, scratch);
            command.addAll(List.of("deploy", saved.toString(), target));
            command.addAll(metricArgs);
            String repository = spark.conf().get(REPOSITORY_CONF, "");
            if (!repository.isEmpty()) {
                command.addAll(List.of("-r", repository));
            }
            return run(command);
        } finally {
            ClasspathModel.deleteTree(scratch);
        }
    }

    // -- resolve --------------------------------------------------------------------------------------------

    private static List<Path> jars(SparkSession spark) {
        return ClasspathModel.jarsOnClasspath(spark.sparkContext().getConf().get("spark.jars", ""));
    }

    private static PipelineModel load(SparkSession spark, ClasspathModel found) {
        JsonNode card = found.card();
        checkSparkVersion(card, spark, found.coordinate());
        Map<String, String> files = files(card);
        if (files == null) {
            LOG.warn("{}: its model card records no SHA-256 of the saved files (deployed by a registry before they "
                    + "were recorded): the files are loaded unchecked.", found.coordinate());
        }
        String sha256 = ClasspathModel.sha256(found.jar);
        Path local = found.extract(cacheDir(spark), sha256, files);
        String location = shared(spark, found, local, sha256);
        try {
            return new ReleasedPipelineModel(PipelineModel.load(location), found.coordinate());
        } catch (RuntimeException e) {
            String first = String.valueOf(e.getMessage()).strip().split("\n", 2)[0];
            throw new RegistryException(found.coordinate() + " is not a Spark PipelineModel this session can load ("
                    + e.getClass().getSimpleName() + ": " + first + "). Check that it was deployed by the registry, "
                    + "and by a Spark this session can read.", e);
        }
    }

    private static Map<String, String> files(JsonNode card) {
        JsonNode listed = card == null ? null : card.get("files");
        if (listed == null || !listed.isObject()) {
            return null;
        }
        Map<String, String> files = new LinkedHashMap<>();
        Iterator<String> names = listed.fieldNames();
        while (names.hasNext()) {
            String name = names.next();
            files.put(name, listed.get(name).asText());
        }
        return files;
    }

    private static int[] majorMinor(String version) {
        Matcher match = version == null ? null : LEADING.matcher(version.strip());
        if (match == null || !match.lookingAt()) {
            return null;
        }
        return new int[] {Integer.parseInt(match.group(1)), Integer.parseInt(match.group(2))};
    }

    /** The runtime contract, as registry/spark/runtime.py checks it. */
    static void checkSparkVersion(JsonNode card, SparkSession spark, String what) {
        JsonNode tools = card == null ? null : card.get("tools");
        JsonNode saved = tools == null ? null : tools.get("spark");
        String savedVersion = saved != null && saved.isTextual() ? saved.asText() : null;
        int[] savedAt = majorMinor(savedVersion);
        int[] runningAt = majorMinor(spark.version());
        if (savedAt == null || runningAt == null) {
            return;
        }
        boolean newer = savedAt[0] > runningAt[0] || (savedAt[0] == runningAt[0] && savedAt[1] > runningAt[1]);
        if (newer) {
            String message = what + " was saved by Spark " + savedVersion + ", newer than this session's Spark "
                    + spark.version() + "; Spark ML does not promise that an older Spark loads a newer model.";
            if (!Boolean.parseBoolean(spark.conf().get(ALLOW_MISMATCH_CONF, "false"))) {
                throw new RegistryException(message + " Load it in Spark " + savedAt[0] + "." + savedAt[1]
                        + " or newer, or set --conf " + ALLOW_MISMATCH_CONF + "=true to load it anyway.");
            }
            LOG.warn("{} Loading it anyway ({}=true).", message, ALLOW_MISMATCH_CONF);
        } else if (savedAt[0] < runningAt[0]) {
            LOG.warn("{} was saved by Spark {}, an older major version than this session's Spark {}; Spark ML loads "
                    + "models across major versions on a best-effort basis only: check its predictions.", what,
                    savedVersion, spark.version());
        }
    }

    private static Path cacheDir(SparkSession spark) {
        String configured = spark.conf().get(CACHE_DIR_CONF, "");
        if (!configured.isEmpty()) {
            return Paths.get(configured);
        }
        return Paths.get(System.getProperty("java.io.tmpdir"), "registry-jvm-" + System.getProperty("user.name"));
    }

    /** A local master: one JVM, one disk. Not local-cluster, whose executors are separate JVMs, as on a cluster. */
    private static boolean isLocal(SparkSession spark) {
        String master = spark.sparkContext().master();
        return master.startsWith("local") && !master.startsWith("local-cluster");
    }

    /** Where executors read the model: the local directory on a local master, else a copy in modelDir. */
    private static String shared(SparkSession spark, ClasspathModel found, Path local, String sha256) {
        String modelDir = spark.conf().get(MODEL_DIR_CONF, "");
        if (modelDir.isEmpty()) {
            if (!isLocal(spark)) {
                throw new RegistryException("This session runs on " + spark.sparkContext().master() + ": executors "
                        + "cannot read the driver's disk. Set --conf " + MODEL_DIR_CONF + "=DIR to a directory "
                        + "every executor reads (hdfs:///tmp/models, s3a://bucket/models).");
            }
            return local.toUri().toString();
        }
        String location = modelDir.replaceAll("/+$", "") + "/" + found.directory() + "/sha256-"
                + sha256.substring(0, 40);
        Configuration conf = spark.sparkContext().hadoopConfiguration();
        org.apache.hadoop.fs.Path target = new org.apache.hadoop.fs.Path(location);
        try {
            FileSystem fs = target.getFileSystem(conf);
            if (!fs.exists(target)) {
                org.apache.hadoop.fs.Path partial = new org.apache.hadoop.fs.Path(location + ".partial-"
                        + java.util.UUID.randomUUID());
                fs.copyFromLocalFile(false, true, new org.apache.hadoop.fs.Path(local.toUri()), partial);
                if (!fs.rename(partial, target)) {
                    fs.delete(partial, true);
                    if (!fs.exists(target)) {
                        throw new IOException("could not rename " + partial + " to " + target);
                    }
                }
            }
        } catch (IOException e) {
            throw new RegistryException("Cannot copy " + found.coordinate() + " to " + location + " (" + MODEL_DIR_CONF
                    + "): " + e.getMessage(), e);
        }
        return location;
    }

    // -- deploy ---------------------------------------------------------------------------------------------

    /** The registry command: spark.registry.command (split on spaces), else {@code registry} on PATH. */
    static List<String> command(SparkSession spark) {
        String configured = spark.conf().get(COMMAND_CONF, "").strip();
        if (!configured.isEmpty()) {
            List<String> command = new ArrayList<>(List.of(configured.split("\\s+")));
            if (!new File(command.get(0)).canExecute() && onPath(command.get(0)) == null) {
                throw new RegistryException(COMMAND_CONF + "=" + configured + " names no executable on this machine. "
                        + missing());
            }
            return command;
        }
        Path found = onPath("registry");
        if (found == null) {
            throw new RegistryException("The registry command is not on this driver's PATH. " + missing());
        }
        return new ArrayList<>(List.of(found.toString()));
    }

    private static String missing() {
        return "A JVM deploy hands the saved model to it: install it on the driver with `pip install "
                + "spark-model-registry`, or set --conf " + COMMAND_CONF + "=/path/to/registry.";
    }

    private static Path onPath(String name) {
        if (name.contains(File.separator)) {
            return null;
        }
        String path = System.getenv("PATH");
        for (String dir : (path == null ? "" : path).split(File.pathSeparator)) {
            if (dir.isEmpty()) {
                continue;
            }
            Path candidate = Paths.get(dir, name);
            if (Files.isRegularFile(candidate) && Files.isExecutable(candidate)) {
                return candidate;
            }
        }
        return null;
    }

    /** Save the model where this process can read it: a local directory under {@code scratch}. */
    private static Path save(SparkSession spark, PipelineModel model, Path scratch) {
        Path local = scratch.resolve("model");
        String modelDir = spark.conf().get(MODEL_DIR_CONF, "");
        try {
            if (isLocal(spark) || modelDir.isEmpty()) {
                if (!isLocal(spark)) {
                    throw new RegistryException("This session runs on " + spark.sparkContext().master() + ": "
                            + "executors cannot write the driver's disk. Set --conf " + MODEL_DIR_CONF + "=DIR to a "
                            + "directory the driver and every executor reach (hdfs:///tmp/models).");
                }
                model.write().overwrite().save(local.toUri().toString());
                return local;
            }
            String staging = modelDir.replaceAll("/+$", "") + "/_deploy/" + java.util.UUID.randomUUID();
            org.apache.hadoop.fs.Path remote = new org.apache.hadoop.fs.Path(staging);
            FileSystem fs = remote.getFileSystem(spark.sparkContext().hadoopConfiguration());
            try {
                model.write().overwrite().save(staging);
                fs.copyToLocalFile(false, remote, new org.apache.hadoop.fs.Path(local.toUri()), true);
            } finally {
                fs.delete(remote, true);
            }
            return local;
        } catch (IOException e) {
            throw new RegistryException("Cannot save the model to deploy it: " + e.getMessage(), e);
        }
    }

    /** Run the command; its last line of stdout is the coordinate. Its stderr goes to this process's stderr. */
    private static String run(List<String> command) {
        Process process;
        try {
            process = new ProcessBuilder(command).redirectInput(ProcessBuilder.Redirect.PIPE).start();
        } catch (IOException e) {
            throw new RegistryException("Cannot run " + command.get(0) + ": " + e.getMessage() + ". " + missing(), e);
        }
        try {
            process.getOutputStream().close();
            CompletableFuture<String> errors = CompletableFuture.supplyAsync(() -> drain(process.getErrorStream()));
            String out = drain(process.getInputStream());
            int code = process.waitFor();
            String err = errors.join();
            if (!err.isEmpty()) {
                System.err.print(err);
            }
            if (code != 0) {
                String[] lines = err.strip().split("\n");
                throw new RegistryException("The deploy failed (" + String.join(" ", command.subList(0, 2))
                        + " exited with " + code + "): " + lines[lines.length - 1].strip());
            }
            String[] lines = out.strip().split("\n");
            String coordinate = lines[lines.length - 1].strip();
            if (coordinate.isEmpty()) {
                throw new RegistryException("The registry command printed no coordinate: is " + command.get(0)
                        + " the registry command of spark-model-registry?");
            }
            return coordinate;
        } catch (InterruptedException e) {
            process.destroy();
            Thread.currentThread().interrupt();
            throw new RegistryException("Interrupted while the registry command was deploying.", e);
        } catch (IOException e) {
            throw new RegistryException("Cannot talk to the registry command: " + e.getMessage(), e);
        }
    }

    private static String drain(InputStream stream) {
        try (InputStream in = stream) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "";
        }
    }
}
