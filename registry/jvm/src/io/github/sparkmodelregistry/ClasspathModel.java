package io.github.sparkmodelregistry;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Enumeration;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;

/**
 * A model jar that Spark's Ivy put on the classpath: found by its file name (GROUP_ARTIFACT-VERSION.jar, as
 * registry/spark/classpath.py finds it), its card read, its saved model checked against the card's SHA-256 list
 * and extracted into a local cache keyed by the jar's SHA-256.
 */
final class ClasspathModel {
    static final String CARD_ENTRY = "META-INF/registry/model.json";
    static final String MODEL_PREFIX = "model/";
    private static final Pattern JAR_NAME =
            Pattern.compile("(?<group>.+)_(?<artifact>[a-z][a-z0-9]*(?:-[a-z0-9]+)*)-(?<version>[0-9]+(?:\\.[0-9]+)*)\\.jar");
    private static final Pattern NAME_PART = Pattern.compile("[A-Za-z0-9_.-]+");
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(ModelRegistry.class);

    final String group;
    final String artifact;
    final String version;
    final Path jar;

    private ClasspathModel(String group, String artifact, String version, Path jar) {
        this.group = group;
        this.artifact = artifact;
        this.version = version;
        this.jar = jar;
    }

    String coordinate() {
        return group + ":" + artifact + ":" + version;
    }

    /** {@code com/acme/churn/1.0.3}: the repository layout of this version's folder. */
    String directory() {
        return group.replace('.', '/') + "/" + artifact + "/" + version;
    }

    /** The local jar files listed in spark.jars (remote URIs are left out). */
    static List<Path> jarsOnClasspath(String listed) {
        List<Path> jars = new ArrayList<>();
        for (String raw : listed.split(",")) {
            String item = raw.trim();
            if (item.isEmpty()) {
                continue;
            }
            if (item.startsWith("file:")) {
                jars.add(Paths.get(URI.create(item)));
            } else if (!item.contains("://")) {
                jars.add(Paths.get(item));
            }
        }
        return jars;
    }

    /** The model jar for {@code request} (ARTIFACT or GROUP:ARTIFACT) among {@code jars}. */
    static ClasspathModel find(List<Path> jars, String request) {
        String group = null;
        String artifact = request;
        if (request.contains(":")) {
            String[] parts = request.split(":", -1);
            if (parts.length != 2 || parts[0].isEmpty() || parts[1].isEmpty()) {
                throw new RegistryException("Invalid model name: '" + request
                        + "' (expected ARTIFACT or GROUP:ARTIFACT, e.g. churn or com.acme:churn)");
            }
            group = parts[0];
            artifact = parts[1];
        }
        if (!NAME_PART.matcher(artifact).matches() || (group != null && !NAME_PART.matcher(group).matches())) {
            throw new RegistryException("Invalid model name: '" + request
                    + "' (expected ARTIFACT or GROUP:ARTIFACT, e.g. churn or com.acme:churn)");
        }
        List<ClasspathModel> found = new ArrayList<>();
        for (Path jar : jars) {
            ClasspathModel model = parse(jar);
            if (model == null || !model.artifact.equals(artifact) || (group != null && !model.group.equals(group))) {
                continue;
            }
            found.add(model);
        }
        if (found.isEmpty()) {
            String module = group != null ? request : "GROUP:" + request;
            throw new RegistryException(request + " is not on this session's classpath (spark.jars lists " + jars.size()
                    + " jar(s), none of them " + (group != null ? group : "*") + "_" + artifact + "-VERSION.jar). "
                    + "Start Spark with --packages " + module + ":latest.release and --conf "
                    + "spark.jars.ivySettings=FILE (`registry ivysettings --out FILE` writes FILE).");
        }
        if (found.size() > 1) {
            List<String> listed = new ArrayList<>();
            found.forEach(m -> listed.add(m.coordinate()));
            throw new RegistryException("'" + request + "' matches " + found.size() + " models on the classpath: "
                    + String.join(", ", listed) + ". Name the one you mean as GROUP:ARTIFACT.");
        }
        return checked(found.get(0));
    }

    /** The one model jar (a jar holding a model card) among {@code jars}. */
    static ClasspathModel only(List<Path> jars) {
        List<ClasspathModel> found = new ArrayList<>();
        for (Path jar : jars) {
            ClasspathModel model = parse(jar);
            if (model != null && Files.isRegularFile(jar) && hasCard(jar)) {
                found.add(model);
            }
        }
        if (found.size() != 1) {
            List<String> listed = new ArrayList<>();
            found.forEach(m -> listed.add(m.coordinate()));
            throw new RegistryException(found.isEmpty()
                    ? "No model is on this session's classpath (spark.jars lists " + jars.size() + " jar(s), none "
                            + "holding a model card). Start Spark with --packages GROUP:ARTIFACT:latest.release and "
                            + "--conf spark.jars.ivySettings=FILE (`registry ivysettings --out FILE` writes FILE)."
                    : found.size() + " models are on the classpath: " + String.join(", ", listed)
                            + ". Name the one you mean: ModelRegistry.resolve(spark, \"GROUP:ARTIFACT\").");
        }
        return checked(found.get(0));
    }

    private static ClasspathModel parse(Path jar) {
        Matcher match = JAR_NAME.matcher(jar.getFileName().toString());
        if (!match.matches()) {
            return null;
        }
        return new ClasspathModel(match.group("group"), match.group("artifact"), match.group("version"), jar);
    }

    private static boolean hasCard(Path jar) {
        try (ZipFile zip = new ZipFile(jar.toFile())) {
            return zip.getEntry(CARD_ENTRY) != null;
        } catch (IOException e) {
            return false;
        }
    }

    /** The jar exists and embeds the POM of the coordinate its name says. */
    private static ClasspathModel checked(ClasspathModel model) {
        if (!Files.isRegularFile(model.jar)) {
            throw new RegistryException(model.jar + " is listed in spark.jars but does not exist on this machine.");
        }
        String entry = "META-INF/maven/" + model.group + "/" + model.artifact + "/pom.properties";
        byte[] data = read(model.jar, entry);
        Properties properties = new Properties();
        if (data != null) {
            try {
                properties.load(new java.io.ByteArrayInputStream(data));
            } catch (IOException e) {
                data = null;
            }
        }
        if (data == null || !model.group.equals(properties.getProperty("groupId"))
                || !model.artifact.equals(properties.getProperty("artifactId"))
                || !model.version.equals(properties.getProperty("version"))) {
            throw new RegistryException(model.jar + " does not embed the POM of " + model.coordinate()
                    + " that its name says: it is not that model's jar. Resolve the model again from its repository.");
        }
        return model;
    }

    /** One entry of the jar, or null. */
    static byte[] read(Path jar, String name) {
        try (ZipFile zip = new ZipFile(jar.toFile())) {
            ZipEntry entry = zip.getEntry(name);
            if (entry == null) {
                return null;
            }
            try (InputStream in = zip.getInputStream(entry)) {
                return in.readAllBytes();
            }
        } catch (IOException e) {
            throw new RegistryException("Cannot read " + jar + ": " + e.getMessage(), e);
        }
    }

    /** The card the jar embeds, or null for a jar deployed without one. */
    JsonNode card() {
        byte[] data = read(jar, CARD_ENTRY);
        if (data == null) {
            return null;
        }
        try {
            JsonNode card = JSON.readTree(data);
            return card != null && card.isObject() ? card : null;
        } catch (IOException e) {
            throw new RegistryException("The model card in " + jar + " (" + coordinate() + ") is not JSON: "
                    + e.getMessage() + ". Resolve the model again from its repository.", e);
        }
    }

    static String sha256(Path file) {
        try (InputStream in = Files.newInputStream(file)) {
            return digest(in);
        } catch (IOException e) {
            throw new RegistryException("Cannot read " + file + ": " + e.getMessage(), e);
        }
    }

    private static String digest(InputStream in) throws IOException {
        MessageDigest sha = sha256();
        byte[] buffer = new byte[1 << 16];
        for (int n = in.read(buffer); n >= 0; n = in.read(buffer)) {
            sha.update(buffer, 0, n);
        }
        return HexFormat.of().formatHex(sha.digest());
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Check every file of the saved model in the jar against the card's {@code files} (path: sha256) and extract
     * it under {@code cache}, keyed by the jar's sha256. An extraction made earlier is reused when its files still
     * equal the jar's (else it is extracted again). Returns the extracted model directory; nothing is left behind
     * when a check fails.
     *
     * @param files the card's list; null when the card records none (a model deployed before the list existed)
     */
    Path extract(Path cache, String jarSha256, Map<String, String> files) {
        Path entry = cache.resolve("classpath").resolve("sha256-" + jarSha256.substring(0, 40));
        Path destination = entry.resolve("model");
        Path scratch = null;
        try (ZipFile zip = new ZipFile(jar.toFile())) {
            if (Files.isDirectory(destination)) {
                Map<String, String> inJar = entries(zip, null);
                if (files != null) {
                    checkFiles(inJar, files);
                }
                if (inJar.equals(onDisk(destination))) {
                    return destination;
                }
                LOG.warn("{}: the model extracted in {} was altered since: it is extracted again.", coordinate(),
                        destination);
                deleteTree(destination);
            }
            Files.createDirectories(entry);
            scratch = Files.createTempDirectory(entry, ".extract-");
            Map<String, String> written = entries(zip, scratch);
            if (files != null) {
                checkFiles(written, files);
            }
            try {
                Files.move(scratch, destination, StandardCopyOption.ATOMIC_MOVE);
                scratch = null;
            } catch (IOException e) {
                if (!Files.isDirectory(destination)) { // else a concurrent extraction finished first
                    throw e;
                }
            }
            return destination;
        } catch (IOException e) {
            throw new RegistryException("Cannot extract " + coordinate() + " from " + jar + " into " + entry + ": "
                    + e.getMessage() + ". Set spark.registry.cacheDir to a writable local directory.", e);
        } finally {
            if (scratch != null) {
                deleteTree(scratch);
            }
        }
    }

    /** The sha256 of every file under model/ in the jar, by path relative to it; written under {@code into}. */
    private Map<String, String> entries(ZipFile zip, Path into) throws IOException {
        Map<String, String> seen = new TreeMap<>();
        Enumeration<? extends ZipEntry> entries = zip.entries();
        while (entries.hasMoreElements()) {
            ZipEntry item = entries.nextElement();
            String name = item.getName();
            if (!name.startsWith(MODEL_PREFIX) || name.equals(MODEL_PREFIX)) {
                continue;
            }
            String relative = name.substring(MODEL_PREFIX.length());
            if (relative.startsWith("/") || relative.contains("\\") || List.of(relative.split("/")).contains("..")) {
                throw new RegistryException(coordinate() + ": the jar " + jar + " holds an unsafe entry " + name
                        + "; nothing was extracted. Resolve the model again from its repository.");
            }
            if (item.isDirectory()) {
                if (into != null) {
                    Files.createDirectories(into.resolve(relative));
                }
                continue;
            }
            if (seen.containsKey(relative)) {
                throw new RegistryException(coordinate() + ": the jar " + jar + " holds " + name + " twice.");
            }
            Path target = into == null ? null : into.resolve(relative);
            if (target != null) {
                Files.createDirectories(target.getParent());
            }
            try (InputStream in = zip.getInputStream(item);
                    OutputStream out = target == null ? OutputStream.nullOutputStream() : Files.newOutputStream(target)) {
                seen.put(relative, copyDigest(in, out));
            }
        }
        if (seen.isEmpty()) {
            throw new RegistryException(coordinate() + ": the jar " + jar + " holds no saved model (no "
                    + MODEL_PREFIX + " entries). It was not deployed by the registry.");
        }
        return seen;
    }

    /** The sha256 of every regular file under {@code root}, by relative path; a link or other file is a mismatch. */
    private static Map<String, String> onDisk(Path root) throws IOException {
        Map<String, String> found = new TreeMap<>();
        try (Stream<Path> walk = Files.walk(root)) {
            for (Path path : (Iterable<Path>) walk::iterator) {
                if (Files.isDirectory(path, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                    continue;
                }
                String relative = root.relativize(path).toString().replace(java.io.File.separatorChar, '/');
                found.put(relative, Files.isRegularFile(path, java.nio.file.LinkOption.NOFOLLOW_LINKS)
                        ? sha256(path) : "not a regular file");
            }
        }
        return found;
    }

    private void checkFiles(Map<String, String> seen, Map<String, String> files) {
        TreeSet<String> problems = new TreeSet<>();
        for (Map.Entry<String, String> file : seen.entrySet()) {
            String expected = files.get(file.getKey());
            if (expected == null) {
                problems.add(file.getKey() + " (not in the card's list)");
            } else if (!expected.equalsIgnoreCase(file.getValue())) {
                problems.add(file.getKey() + " (sha256 " + file.getValue() + ", the card says " + expected + ")");
            }
        }
        for (String listed : files.keySet()) {
            if (!seen.containsKey(listed)) {
                problems.add(listed + " (in the card's list, missing from the jar)");
            }
        }
        if (!problems.isEmpty()) {
            Iterator<String> first = problems.iterator();
            List<String> shown = new ArrayList<>();
            while (first.hasNext() && shown.size() < 5) {
                shown.add(first.next());
            }
            throw new RegistryException(coordinate() + ": the saved model in " + jar + " does not match the SHA-256 "
                    + "list of its model card (" + problems.size() + " file(s): " + String.join("; ", shown)
                    + "). The jar was altered after it was deployed; it is refused and nothing was loaded. "
                    + "Check the repository (registry fsck) and resolve a version that verifies.");
        }
    }

    private static String copyDigest(InputStream in, OutputStream out) throws IOException {
        MessageDigest sha = sha256();
        byte[] buffer = new byte[1 << 16];
        for (int n = in.read(buffer); n >= 0; n = in.read(buffer)) {
            sha.update(buffer, 0, n);
            out.write(buffer, 0, n);
        }
        return HexFormat.of().formatHex(sha.digest());
    }

    static void deleteTree(Path root) {
        try (Stream<Path> walk = Files.walk(root)) {
            walk.sorted(Comparator.reverseOrder()).forEach(path -> path.toFile().delete());
        } catch (IOException e) {
            // best effort: a leftover temporary directory is harmless
        }
    }
}
