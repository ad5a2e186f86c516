package io.tlsd.daemon;

import java.io.IOException;
import java.io.InputStream;
import java.util.Properties;

/** The build's version, filtered into a resource by Maven. */
public final class Version {
    public static final String VERSION = load();

    private Version() {
    }

    private static String load() {
        try (InputStream in = Version.class.getResourceAsStream("/tlsd-version.properties")) {
            Properties p = new Properties();
            if (in != null) {
                p.load(in);
            }
            return p.getProperty("version", "unknown");
        } catch (IOException e) {
            return "unknown";
        }
    }
}
