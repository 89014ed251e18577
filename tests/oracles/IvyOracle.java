// Apache Ivy's own answers about dynamic revisions, for tests/oracles/java.py.
//
// Usage: java -cp ivy.jar IvyOracle.java [--selector REVISION]... VERSION...
// Uses Ivy's default version matcher (new IvySettings().getVersionMatcher(): exact, sub-revision, range and
// latest.* matchers) and its latest-revision strategy, as an Ivy resolver does; module descriptors are not read,
// so latest.release accepts every version. Prints tab-separated lines:
//   sorted<TAB>VERSION                               every VERSION, oldest first by the latest-revision strategy
//   select<TAB>REVISION<TAB>NEWEST[<TAB>VERSION]...   NEWEST accepted version ("" if none), then all accepted

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Date;
import java.util.List;
import org.apache.ivy.core.module.id.ModuleRevisionId;
import org.apache.ivy.core.settings.IvySettings;
import org.apache.ivy.plugins.latest.ArtifactInfo;
import org.apache.ivy.plugins.latest.LatestStrategy;
import org.apache.ivy.plugins.version.VersionMatcher;
import org.apache.ivy.util.DefaultMessageLogger;
import org.apache.ivy.util.Message;

public class IvyOracle {
    record Revision(String getRevision) implements ArtifactInfo {
        public long getLastModified() {
            return 0;
        }
    }

    public static void main(String[] args) {
        Message.setDefaultLogger(new DefaultMessageLogger(Message.MSG_WARN));
        List<String> selectors = new ArrayList<>();
        List<String> versions = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--selector")) {
                selectors.add(args[++i]);
            } else {
                versions.add(args[i]);
            }
        }
        IvySettings settings = new IvySettings();
        VersionMatcher matcher = settings.getVersionMatcher();
        LatestStrategy latest = settings.getLatestStrategy("latest-revision");
        for (ArtifactInfo info : latest.sort(infos(versions))) {
            System.out.println("sorted\t" + info.getRevision());
        }
        for (String selector : selectors) {
            ModuleRevisionId asked = ModuleRevisionId.newInstance("com.acme", "churn", selector);
            List<String> accepted = new ArrayList<>();
            for (String version : versions) {
                if (matcher.accept(asked, ModuleRevisionId.newInstance("com.acme", "churn", version))) {
                    accepted.add(version);
                }
            }
            ArtifactInfo newest = latest.findLatest(infos(accepted), new Date());
            StringBuilder line = new StringBuilder("select\t").append(selector).append('\t');
            line.append(newest == null ? "" : newest.getRevision());
            accepted.forEach(version -> line.append('\t').append(version));
            System.out.println(line);
        }
    }

    private static ArtifactInfo[] infos(List<String> versions) {
        return versions.stream().map(Revision::new).toArray(ArtifactInfo[]::new);
    }
}
