/**
 * The daemon's log: SLF4J's backend, one line per event on stderr, as text or as JSON
 * ({@link io.tlsd.daemon.logging.DaemonLog}).
 */
package io.tlsd.daemon.logging;
