// Reads files with Maven's own strict readers and Java's jar reader; prints what they saw, one line per file.
// Usage: java -cp maven-model.jar:maven-repository-metadata.jar:plexus-utils.jar MavenReaders.java KIND FILE ...
// KIND is pom, metadata or jar. Exits 1 with the reader's message on the first file it rejects.
import java.io.FileInputStream;
import java.io.FileReader;
import java.util.jar.JarEntry;
import java.util.jar.JarInputStream;
import org.apache.maven.artifact.repository.metadata.Metadata;
import org.apache.maven.artifact.repository.metadata.io.xpp3.MetadataXpp3Reader;
import org.apache.maven.model.Model;
import org.apache.maven.model.io.xpp3.MavenXpp3Reader;

public class MavenReaders {
    public static void main(String[] args) throws Exception {
        for (int i = 1; i < args.length; i++) {
            String file = args[i];
            try {
                switch (args[0]) {
                    case "pom": {
                        Model m = new MavenXpp3Reader().read(new FileReader(file), true);
                        System.out.println(m.getGroupId() + ":" + m.getArtifactId() + ":" + m.getVersion()
                            + "\t" + m.getPackaging() + "\t" + m.getDependencies().size());
                        break;
                    }
                    case "metadata": {
                        Metadata md = new MetadataXpp3Reader().read(new FileReader(file), true);
                        System.out.println(md.getGroupId() + ":" + md.getArtifactId() + "\t"
                            + md.getVersioning().getRelease() + "\t" + String.join(",", md.getVersioning().getVersions()));
                        break;
                    }
                    case "jar": {
                        try (JarInputStream jar = new JarInputStream(new FileInputStream(file), true)) {
                            int entries = 0;
                            for (JarEntry e = jar.getNextJarEntry(); e != null; e = jar.getNextJarEntry()) {
                                entries++;
                            }
                            System.out.println((jar.getManifest() != null) + "\t" + entries);
                        }
                        break;
                    }
                    default:
                        throw new IllegalArgumentException("unknown kind " + args[0]);
                }
            } catch (Exception e) {
                System.out.println("REJECTED " + file + ": " + e);
                System.exit(1);
            }
        }
    }
}
