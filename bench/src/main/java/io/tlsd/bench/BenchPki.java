package io.tlsd.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * A throwaway ECDSA P-256 PKI made with the {@code openssl} command: a CA and a leaf for
 * {@code localhost} / {@code 127.0.0.1}, plus the cert+key bundle HAProxy wants.
 */
final class BenchPki {
    final Path dir;
    final Path caCert;
    final Path cert;
    final Path key;
    /** Leaf certificate followed by its key, for HAProxy's {@code crt}. */
    final Path bundle;

    private BenchPki(Path dir) {
        this.dir = dir;
        this.caCert = dir.resolve("ca.pem");
        this.cert = dir.resolve("leaf.pem");
        this.key = dir.resolve("leaf.key");
        this.bundle = dir.resolve("leaf-bundle.pem");
    }

    static BenchPki create(Path dir) throws IOException, InterruptedException {
        BenchPki pki = new BenchPki(dir);
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("leaf.ext"),
                "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\n"
                        + "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
        run(dir, "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", "ca.key", "-out", "ca.pem", "-days", "30", "-subj", "/CN=tlsd bench CA",
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign");
        run(dir, "openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=localhost");
        run(dir, "openssl", "x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-out", "leaf.pem", "-days", "30", "-extfile", "leaf.ext");
        Files.writeString(pki.bundle, Files.readString(pki.cert) + Files.readString(pki.key));
        return pki;
    }

    private static void run(Path dir, String... command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(List.of(command)).directory(dir.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (p.waitFor() != 0) {
            throw new IOException(String.join(" ", command) + " failed: " + out);
        }
    }
}
