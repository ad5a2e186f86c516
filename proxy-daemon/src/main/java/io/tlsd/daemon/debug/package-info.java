/**
 * The debug socket: the op engine driven by hand, one text line per command. Off by default;
 * {@link io.tlsd.daemon.debug.DebugServer} binds it (mode 0600, owner only).
 *
 * <pre>
 * $ nc -U /run/user/1000/tlsd/debug.sock
 * open localhost 4433
 * ok conn 1 TLSv1.3 TLS_AES_128_GCM_SHA256 alpn=- peer=127.0.0.1:4433 subject="CN=localhost"
 * write 1 hello
 * ok wrote 6 bytes
 * read 1
 * ok read 6 bytes
 * olleh\n
 * conns
 * conn 1 OPEN peer=127.0.0.1:4433 TLSv1.3 TLS_AES_128_GCM_SHA256 buffered=0
 * ok 1 connections
 * close 1
 * ok closed
 * frobnicate
 * error unknown command 'frobnicate'; try help
 * quit
 * ok bye
 * </pre>
 *
 * <h2>Commands</h2>
 * One per line, ended by {@code \n} or {@code \r\n}; the verb is case-insensitive, arguments are
 * separated by spaces. Blank lines are ignored. {@code help} prints this list:
 * <table>
 * <caption>commands</caption>
 * <tr><td>{@code help}</td><td>lists the commands</td></tr>
 * <tr><td>{@code open HOST PORT [SERVERNAME]}</td><td>client role: connects and handshakes; SERVERNAME
 *     (default HOST) is sent as SNI and verified. {@code ok conn N PROTOCOL CIPHER alpn=A peer=ADDR
 *     subject="DN"} or e.g. {@code error CERT_INVALID: ...}</td></tr>
 * <tr><td>{@code accept [LISTENER [TIMEOUT_MS]]}</td><td>server role: waits for the next client of
 *     LISTENER (default {@code default}) for up to TIMEOUT_MS (default 60000, 0 = forever); the same
 *     {@code ok conn} line</td></tr>
 * <tr><td>{@code write ID TEXT}</td><td>sends TEXT (UTF-8) and {@code \n}: {@code ok wrote N bytes}</td></tr>
 * <tr><td>{@code writeraw ID TEXT}</td><td>sends TEXT without a newline; {@code \n \r \t \\ \xNN} in it
 *     stand for those bytes</td></tr>
 * <tr><td>{@code read ID [MAX [TIMEOUT_MS]]}</td><td>waits for data (default up to 16384 bytes, 5000
 *     ms, 0 = forever): {@code ok read N bytes} then the data on one line, escaped as above; or
 *     {@code eof} (the peer sent close_notify); or {@code error TIMED_OUT: ...}</td></tr>
 * <tr><td>{@code close ID}</td><td>sends close_notify and closes: {@code ok closed}</td></tr>
 * <tr><td>{@code conns}</td><td>one line per connection of this session ({@code conn ID STATE
 *     peer=ADDR PROTOCOL CIPHER buffered=BYTES}, STATE and BYTES as the engine sees them), then
 *     {@code ok N connections}</td></tr>
 * <tr><td>{@code stats}</td><td>the daemon-wide counters: {@code ok sessions=1 connections=1 ...}</td></tr>
 * <tr><td>{@code quit}</td><td>{@code ok bye}, then the session ends and its connections are closed</td></tr>
 * </table>
 * TEXT is everything after the single space that follows ID, spaces included.
 *
 * <h2>Replies</h2>
 * Every command gets lines ending with one that starts with {@code ok}, {@code eof} or
 * {@code error}; only {@code ok read N bytes} is followed by one more line, the data. Errors are
 * one line: {@code error unknown command 'x'; try help}, {@code error usage: write ID TEXT},
 * {@code error line too long (...)} (the line is discarded, the session goes on), or
 * {@code error STATUS: detail} with the engine's status and detail exactly as an SDK would see
 * them (e.g. {@code error NOT_FOUND: no connection 9 in this session}).
 *
 * <h2>One command at a time</h2>
 * A session runs its commands in order, each after the previous one has completed, so replies
 * never interleave: a {@code read} waiting for data holds back the commands typed after it until
 * data, EOF or its timeout. Op ids are assigned by the session (1, 2, 3, ...). A client that stops
 * sending ({@code nc -N}, {@code socat}) still gets the replies to what it sent, then the session
 * closes. Closing the debug connection ends the session like an application that goes away: its
 * ops are dropped and its connections closed.
 *
 * <h2>Counters</h2>
 * A debug session is an engine session like any other: it counts in {@code sessions}, and its
 * connections, ops and bytes in the other counters.
 */
package io.tlsd.daemon.debug;
