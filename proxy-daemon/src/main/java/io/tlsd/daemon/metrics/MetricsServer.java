package io.tlsd.daemon.metrics;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Serves the daemon's metrics to Prometheus: {@code GET /metrics} answers the samples of the
 * moment in the text format; anything else is 404, another method 405. It runs on the JDK's HTTP
 * server on two threads of its own, so a slow scraper never touches an event loop; a request must
 * arrive within 5 s. There is no authentication: bind it to loopback or to an address only the
 * scraper reaches.
 *
 * <pre>{@code
 * MetricsServer metrics = MetricsServer.start(new InetSocketAddress("127.0.0.1", 9464), daemon::metricSamples);
 * // curl http://127.0.0.1:9464/metrics
 * metrics.close();
 * }</pre>
 */
public final class MetricsServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(MetricsServer.class);

    /** How long a request may take to arrive, and its answer to leave, before the connection is closed. */
    static final long REQUEST_TIMEOUT_SECONDS = 5;

    /** Scrapes answered at once; a slow client holds one for at most the request timeout. */
    private static final int THREADS = 2;

    private final HttpServer server;
    private final ExecutorService threads;

    private MetricsServer(HttpServer server, ExecutorService threads) {
        this.server = server;
        this.threads = threads;
    }

    /**
     * Binds {@code address} (port 0 picks one, see {@link #address()}) and starts serving.
     *
     * @param samples called on the server's thread for each scrape
     * @throws IOException if the address cannot be bound
     */
    public static MetricsServer start(InetSocketAddress address, Supplier<List<Sample>> samples) throws IOException {
        // The JDK's server reads a request on an executor thread and has no read timeout unless
        // told: without one, a client that sends half a request would hold a thread for good.
        System.setProperty("sun.net.httpserver.maxReqTime", System.getProperty("sun.net.httpserver.maxReqTime",
                Long.toString(REQUEST_TIMEOUT_SECONDS)));
        System.setProperty("sun.net.httpserver.maxRspTime", System.getProperty("sun.net.httpserver.maxRspTime",
                Long.toString(REQUEST_TIMEOUT_SECONDS)));
        HttpServer server;
        try {
            server = HttpServer.create(address, 16);
        } catch (IOException e) {
            throw new IOException("cannot serve metrics on " + address + ": " + e.getMessage(), e);
        }
        ExecutorService threads = Executors.newFixedThreadPool(THREADS, new DefaultThreadFactory("tlsd-metrics", true));
        server.setExecutor(threads);
        server.createContext("/", exchange -> answer(exchange, samples));
        server.start();
        return new MetricsServer(server, threads);
    }

    private static void answer(HttpExchange exchange, Supplier<List<Sample>> samples) throws IOException {
        try (exchange) {
            String path = exchange.getRequestURI().getPath();
            if (!path.equals("/metrics")) {
                send(exchange, 404, "text/plain; charset=utf-8", "not found; the metrics are at /metrics\n");
            } else if (!exchange.getRequestMethod().equals("GET") && !exchange.getRequestMethod().equals("HEAD")) {
                exchange.getResponseHeaders().set("Allow", "GET, HEAD");
                send(exchange, 405, "text/plain; charset=utf-8", "method not allowed\n");
            } else {
                String text;
                try {
                    text = PrometheusText.format(samples.get());
                } catch (RuntimeException e) {
                    log.warn("metrics: cannot collect the samples: {}", e.toString());
                    send(exchange, 500, "text/plain; charset=utf-8", "cannot collect the metrics: " + e + "\n");
                    return;
                }
                send(exchange, 200, PrometheusText.CONTENT_TYPE, text);
            }
        }
    }

    private static void send(HttpExchange exchange, int status, String contentType, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", contentType);
        boolean head = exchange.getRequestMethod().equals("HEAD");
        exchange.sendResponseHeaders(status, head ? -1 : bytes.length);
        if (!head) {
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(bytes);
            }
        }
    }

    /** The bound address, with the port picked if it was 0. */
    public InetSocketAddress address() {
        return server.getAddress();
    }

    /** Stops listening; a scrape under way is cut short. */
    @Override
    public void close() {
        server.stop(0);
        threads.shutdownNow();
    }
}
