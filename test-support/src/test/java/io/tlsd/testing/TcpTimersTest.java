package io.tlsd.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import org.junit.jupiter.api.Test;

class TcpTimersTest {
    @Test
    void seesWhichSocketsHaveKeepaliveOn() throws Exception {
        try (ServerSocket server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
             Socket client = new Socket(InetAddress.getLoopbackAddress(), server.getLocalPort());
             Socket accepted = server.accept()) {
            client.setKeepAlive(true);
            int serverPort = server.getLocalPort();
            int clientPort = client.getLocalPort();
            assertEquals(List.of(TcpTimers.KEEPALIVE), TcpTimers.of(clientPort, serverPort));
            assertEquals(List.of(TcpTimers.NONE), TcpTimers.of(serverPort, clientPort));
            assertEquals(List.of(TcpTimers.NONE), TcpTimers.of(serverPort, 0));
            assertEquals(List.of(), TcpTimers.of(serverPort, serverPort));
        }
    }
}
