package io.github.sparkmodelregistry;

import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.spark.ml.PipelineModel;
import org.apache.spark.ml.Transformer;
import org.apache.spark.ml.feature.SQLTransformer;
import org.apache.spark.ml.util.MLWriter;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.StructType;

/**
 * A released model as {@link ModelRegistry#resolve(SparkSession, String)} loads it: the same stages as the plain
 * {@link PipelineModel}, transforming the same way, except that an input which already has the watermark column is
 * refused with the Python side's message, naming the column and the coordinate (Spark's own is
 * {@code [AMBIGUOUS_REFERENCE]}). It saves as a plain {@code org.apache.spark.ml.PipelineModel}.
 */
public final class ReleasedPipelineModel extends PipelineModel {
    private static final long serialVersionUID = 1L;
    private static final Pattern STATEMENT = Pattern.compile(
            "SELECT \\* FROM \\(SELECT \\*, '(?:[^'\\\\]|\\\\.)*' AS `((?:[^`]|``)+)` FROM __THIS__\\) WHERE "
                    + "`\\1` IS NOT NULL", Pattern.DOTALL);

    private final String coordinate;
    private final String watermarkCol;

    ReleasedPipelineModel(PipelineModel model, String coordinate) {
        super(model.uid(), model.stages());
        this.coordinate = coordinate;
        this.watermarkCol = watermarkCol(model.stages());
    }

    /** The coordinate this model was released as. */
    public String coordinate() {
        return coordinate;
    }

    /** The column of its last watermark stage (nested pipelines included), or {@code null}. */
    static String watermarkCol(Transformer[] stages) {
        String found = null;
        for (Transformer stage : stages) {
            String column = null;
            if (stage instanceof PipelineModel) {
                column = watermarkCol(((PipelineModel) stage).stages());
            } else if (stage instanceof SQLTransformer && stage.isDefined(((SQLTransformer) stage).statement())) {
                Matcher match = STATEMENT.matcher(((SQLTransformer) stage).getStatement());
                column = match.matches() ? match.group(1).replace("``", "`") : null;
            }
            found = column != null ? column : found;
        }
        return found;
    }

    /** Called by {@code transform} before any stage runs: an input with the watermark column is refused here. */
    @Override
    public StructType transformSchema(StructType schema) {
        if (watermarkCol != null) {
            boolean caseSensitive = "true".equalsIgnoreCase(
                    SparkSession.active().conf().get("spark.sql.caseSensitive", "false"));
            for (String name : schema.fieldNames()) {
                if (caseSensitive ? name.equals(watermarkCol) : name.equalsIgnoreCase(watermarkCol)) {
                    throw new RegistryException("The input already has a column '" + name + "', the watermark "
                            + "column of " + coordinate + " (the model adds it to say which version scored each "
                            + "row). Drop or rename it before the transform, e.g. df.drop(\"" + name + "\").");
                }
            }
        }
        return super.transformSchema(schema);
    }

    /** The writer of the plain {@code PipelineModel} of these stages: nothing of this class is saved. */
    @Override
    public MLWriter write() {
        return new PipelineModel(uid(), stages()).write();
    }
}
