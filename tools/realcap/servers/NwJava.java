// A JDK `com.sun.net.httpserver.HttpServer` target (realcap `record_nodesw.sh`). Its idle
// keep-alive connections are closed by a timer: `sun.net.httpserver.idleInterval` (seconds,
// default 30) checked every `sun.net.httpserver.clockTick` (ms, default 10000); the script
// sets them low to race a proxy whose idle timeout is 5 s.
//   java -Dsun.net.httpserver.idleInterval=S NwJava.java ADDR PORT
// /ok... 200; /throw... the handler throws before any response byte; /short... headers with
// Content-Length 1000, 100 body bytes, then the exchange is closed; /slow/<secs>/... answers
// after that delay; /halt... the JVM halts mid-response (headers and 100 body bytes written);
// /status/<code>... that status.
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Executors;

public class NwJava {
    static void send(HttpExchange ex, int code, String text) throws java.io.IOException {
        byte[] b = text.getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("Content-Type", "text/plain");
        ex.sendResponseHeaders(code, b.length);
        try (OutputStream o = ex.getResponseBody()) {
            o.write(b);
        }
    }

    public static void main(String[] args) throws Exception {
        HttpServer s = HttpServer.create(new InetSocketAddress(args[0], Integer.parseInt(args[1])), 64);
        s.createContext("/", ex -> {
            String path = ex.getRequestURI().getPath();
            String[] parts = path.split("/");
            String first = parts.length > 1 ? parts[1] : "";
            ex.getRequestBody().readAllBytes();
            switch (first) {
                case "throw":
                    throw new RuntimeException("handler failed for " + path);
                case "short": {
                    ex.sendResponseHeaders(200, 1000);
                    OutputStream o = ex.getResponseBody();
                    o.write(new byte[100]);
                    o.flush();
                    ex.close();
                    return;
                }
                case "halt": {
                    ex.sendResponseHeaders(200, 1000);
                    OutputStream o = ex.getResponseBody();
                    o.write(new byte[100]);
                    o.flush();
                    try { Thread.sleep(50); } catch (InterruptedException e) { }
                    Runtime.getRuntime().halt(1);
                    return;
                }
                case "slow": {
                    double secs = parts.length > 2 ? Double.parseDouble(parts[2]) : 8;
                    try { Thread.sleep((long) (secs * 1000)); } catch (InterruptedException e) { }
                    send(ex, 200, "late hello " + path + "\n");
                    return;
                }
                case "status":
                    send(ex, Integer.parseInt(parts[2]), "status " + parts[2] + " from the JDK server\n");
                    return;
                default:
                    send(ex, 200, "hello from java " + path + "\n");
            }
        });
        s.setExecutor(Executors.newCachedThreadPool());
        s.start();
        System.out.println("listening " + args[0] + ":" + args[1] + " idleInterval "
            + System.getProperty("sun.net.httpserver.idleInterval") + " clockTick "
            + System.getProperty("sun.net.httpserver.clockTick"));
    }
}
