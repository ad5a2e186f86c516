/**
 * The Java SDK of tlsd: TLS connections carried out by the local tlsd daemon, driven through
 * asynchronous operations over its Unix-domain socket.
 *
 * <pre>{@code
 * try (TlsdClient client = TlsdClient.builder().appName("billing-api").build()) {
 *   TlsConnection conn = client.open(OpenOptions.builder("api.example.com", 443)
 *       .alpn("http/1.1")
 *       .timeout(Duration.ofSeconds(3))
 *       .build()).await();
 *   try (OutputStream out = conn.outputStream()) {
 *     out.write(request);
 *   }
 *   byte[] response = conn.inputStream().readAllBytes();
 *   conn.close().await();
 * }
 * }</pre>
 *
 * <p>How the calls of the C API map:
 *
 * <ul>
 *   <li>{@code tls_init} → {@link TlsdClient.Builder#build()}
 *   <li>{@code tls_open} → {@link TlsdClient#open(OpenOptions)}
 *   <li>{@code tls_read}, {@code tls_write}, {@code tls_barrier}, {@code tls_close} → {@link
 *       TlsConnection#read(int)}, {@link TlsConnection#write(byte[])}, {@link
 *       TlsConnection#barrier()}, {@link TlsConnection#close()}
 *   <li>{@code tls_try} → {@link Operation#isDone()} and {@link Operation#tryGet()}
 *   <li>{@code tls_wait} → {@link Operation#await()}
 *   <li>{@code tls_try_cancel} → {@link Operation#cancel()}
 *   <li>{@code tls_oper_state_destroy} → nothing: a finished operation holds no daemon state
 *   <li>{@code tls_destroy} → {@link TlsdClient#close()}
 * </ul>
 *
 * <p>Everything in {@code io.tlsd.sdk.internal} is implementation and may change at any time.
 */
package io.tlsd.sdk;
