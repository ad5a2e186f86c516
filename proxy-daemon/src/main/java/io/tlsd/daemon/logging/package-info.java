/**
 * The daemon's log: SLF4J's backend: each event on a line of its own on stderr, as text or as JSON
 * ({@link io.tlsd.daemon.logging.DaemonLog}).
 */
package io.tlsd.daemon.logging;
