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
 * moment in the text format. It also answers the probes of a service manager (Kubernetes): {@code
 * GET /healthz} 200 while the daemon is alive, 503 when an event loop is stuck ({@link
 * Health#notLive}); {@code GET /readyz} 200 while it takes new work, 503 once it drains or stops
 * ({@link Health#notReady}); the body says why. Any other path is 404, another method 405. It runs on the JDK's HTTP
 * server on two threads of its own, so a slow scraper never touches an event loop; a request must
 * arrive within 5 s. There is no authentication: bind it to loopback or to an address only the
 * scraper reaches.
 *
 * <pre>{@code
 * MetricsServer metrics = MetricsServer.start(new InetSocketAddress("127.0.0.1", 9464), daemon::metricSamples,
 *     daemon.health());
 * // curl http://127.0.0.1:9464/metrics
 * metrics.close();
 * }</pre>
 */
public final class MetricsServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(MetricsServer.class);

    /** How long a request may take to arrive, and its answer to leave, before the connection is closed. */
    static final long REQUEST_TIMEOUT_SECONDS = 5;

    private static final String TEXT = "text/plain; charset=utf-8";

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
     * @param health called on the server's thread for each probe
     * @throws IOException if the address cannot be bound
     */
    public static MetricsServer start(InetSocketAddress address, Supplier<List<Sample>> samples, Health health)
            throws IOException {
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
        server.createContext("/", exchange -> answer(exchange, samples, health));
        server.start();
        return new MetricsServer(server, threads);
    }

    private static void answer(HttpExchange exchange, Supplier<List<Sample>> samples, Health health)
            throws IOException {
        try (exchange) {
            String path = exchange.getRequestURI().getPath();
            if (!path.equals("/metrics") && !path.equals("/healthz") && !path.equals("/readyz")) {
                send(exchange, 404, TEXT, "not found; the metrics are at /metrics, the probes at /healthz and /readyz\n");
            } else if (!exchange.getRequestMethod().equals("GET") && !exchange.getRequestMethod().equals("HEAD")) {
                exchange.getResponseHeaders().set("Allow", "GET, HEAD");
                send(exchange, 405, TEXT, "method not allowed\n");
            } else if (path.equals("/healthz")) {
                probe(exchange, health::notLive, "alive");
            } else if (path.equals("/readyz")) {
                probe(exchange, health::notReady, "ready");
            } else {
                String text;
                try {
                    text = PrometheusText.format(samples.get());
                } catch (RuntimeException e) {
                    log.warn("metrics: cannot collect the samples: {}", e.toString());
                    send(exchange, 500, TEXT, "cannot collect the metrics: " + e + "\n");
                    return;
                }
                send(exchange, 200, PrometheusText.CONTENT_TYPE, text);
            }
        }
    }

    /** 200 and {@code good}, or 503 and the reason {@code problem} gives. */
    private static void probe(HttpExchange exchange, Supplier<String> problem, String good) throws IOException {
        String why;
        try {
            why = problem.get();
        } catch (RuntimeException e) {
            why = "cannot tell: " + e;
        }
        if (why == null) {
            send(exchange, 200, TEXT, good + "\n");
        } else {
            send(exchange, 503, TEXT, why + "\n");
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
