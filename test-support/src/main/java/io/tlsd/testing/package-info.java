/**
 * Test support for tlsd: a throwaway PKI, real TLS peers and Netty's leak check.
 *
 * <ul>
 *   <li>{@link io.tlsd.testing.TestPki} issues certificates ({@link io.tlsd.testing.Issued}) as
 *       PEM files and JDK objects.
 *   <li>{@link io.tlsd.testing.TlsPeer} runs {@code openssl s_server} or {@code gnutls-serv} on a
 *       free loopback port; {@link io.tlsd.testing.JsseServer} is a scriptable JDK server for
 *       endings those cannot produce on demand (bare FIN, RST).
 *   <li>{@link io.tlsd.testing.LeakCheck} fails test classes that leak Netty buffers.
 * </ul>
 *
 * <p>A module uses it with a test-scoped dependency and, for the leak check, a
 * {@code src/test/resources/junit-platform.properties} containing
 * {@code junit.jupiter.extensions.autodetection.enabled=true}:
 * <pre>{@code
 * <dependency>
 *   <groupId>io.tlsd</groupId>
 *   <artifactId>tlsd-test-support</artifactId>
 *   <scope>test</scope>
 * </dependency>
 * }</pre>
 */
package io.tlsd.testing;
