package keyguard.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A loopback TCP relay between a gateway and Redis that can partition them: while
 * {@link #partition partitioned} it forwards nothing either way and accepts connections
 * without relaying them (packets lost, not refused: the client sees timeouts, as on a real
 * network split), and {@link #heal} lets the bytes through again.
 */
public final class TcpProxy implements AutoCloseable {
    private final ServerSocket server;
    private final int target;
    private final List<Socket> sockets = new CopyOnWriteArrayList<>();
    private volatile boolean partitioned;
    private volatile boolean closed;

    public TcpProxy(int targetPort) throws IOException {
        this.target = targetPort;
        this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        Thread.ofPlatform().daemon().name("tcp-proxy-accept").start(this::accept);
    }

    public int port() { return server.getLocalPort(); }

    public void partition() { partitioned = true; }

    public void heal() { partitioned = false; }

    private void accept() {
        while (!closed) {
            try {
                Socket in = server.accept();
                Socket out;
                try {
                    out = new Socket(InetAddress.getLoopbackAddress(), target);
                } catch (IOException refused) {
                    in.close(); // the target is down: so is the relayed connection
                    continue;
                }
                sockets.add(in);
                sockets.add(out);
                Thread.ofPlatform().daemon().start(() -> pump(in, out));
                Thread.ofPlatform().daemon().start(() -> pump(out, in));
            } catch (IOException e) {
                if (closed) return;
            }
        }
    }

    private void pump(Socket from, Socket to) {
        byte[] buf = new byte[16384];
        try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
            while (true) {
                while (partitioned && !closed) Thread.sleep(5); // hold the bytes: nothing goes through
                int n = in.read(buf);
                if (n < 0) break;
                while (partitioned && !closed) Thread.sleep(5); // read before the split: delivered after it
                out.write(buf, 0, n);
                out.flush();
            }
        } catch (IOException | InterruptedException e) {
            // one side closed
        } finally {
            try {
                from.close();
                to.close();
            } catch (IOException ignored) {
                // already closed
            }
        }
    }

    @Override
    public void close() throws IOException {
        closed = true;
        server.close();
        for (Socket s : sockets) s.close();
    }
}
