// Maven's own answers about versions, for tests/oracles/java.py.
//
// Usage: java -cp maven-artifact.jar:commons-lang3.jar MavenOracle.java [--range SPEC]... VERSION...
// Prints tab-separated lines:
//   sorted<TAB>VERSION                 every VERSION, in ComparableVersion order (stable for equal versions)
//   range<TAB>SPEC[<TAB>VERSION]...    the VERSIONs that VersionRange.containsVersion accepts, in input order
//   error<TAB>SPEC<TAB>MESSAGE         SPEC that VersionRange.createFromVersionSpec refuses

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import org.apache.maven.artifact.versioning.ComparableVersion;
import org.apache.maven.artifact.versioning.DefaultArtifactVersion;
import org.apache.maven.artifact.versioning.InvalidVersionSpecificationException;
import org.apache.maven.artifact.versioning.VersionRange;

public class MavenOracle {
    public static void main(String[] args) {
        List<String> specs = new ArrayList<>();
        List<String> versions = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--range")) {
                specs.add(args[++i]);
            } else {
                versions.add(args[i]);
            }
        }
        List<String> sorted = new ArrayList<>(versions);
        sorted.sort(Comparator.comparing(ComparableVersion::new));
        for (String version : sorted) {
            System.out.println("sorted\t" + version);
        }
        for (String spec : specs) {
            StringBuilder line = new StringBuilder("range\t").append(spec);
            try {
                VersionRange range = VersionRange.createFromVersionSpec(spec);
                for (String version : versions) {
                    if (range.containsVersion(new DefaultArtifactVersion(version))) {
                        line.append('\t').append(version);
                    }
                }
            } catch (InvalidVersionSpecificationException e) {
                line = new StringBuilder("error\t").append(spec).append('\t').append(e.getMessage());
            }
            System.out.println(line);
        }
    }
}
