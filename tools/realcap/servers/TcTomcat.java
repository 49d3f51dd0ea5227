// An embedded Apache Tomcat 10.1 target (realcap `record_tomcat.sh`), set up the way Spring
// Boot sets up its embedded Tomcat: one NIO HTTP/1.1 connector, one servlet. Tomcat's poller
// closes idle keep-alive connections (FIN) after keepAliveTimeout (default: connectionTimeout,
// 60 s in the Connector's code, so in Spring Boot, 20 s in the distribution's server.xml);
// after maxKeepAliveRequests (default 100) requests on one connection it answers with
// `Connection: close` and closes it, and so it does after its own 500 and 503.
//   java -cp ... TcTomcat ADDR PORT [keepAliveTimeout ms] [maxKeepAliveRequests] [name=value...]
// Without the optional arguments (or given as "") the connector keeps Tomcat's defaults
// (printed at start); name=value sets any other connector property (maxThreads, ...).
// /ok... 200; /slow/<secs>/... answers after that delay; /throw... the servlet throws before
// any response byte (Tomcat's own 500 page); /abort... headers with Content-Length 1000 and
// 100 body bytes flushed, then the servlet throws (the response is committed: Tomcat closes
// the connection); /halt... the JVM halts before any response byte (a crashed process);
// /status/<code>/... that status; /close... 200 with `Connection: close`; /reject... 413
// before the request body is read.
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import org.apache.catalina.Context;
import org.apache.catalina.connector.Connector;
import org.apache.catalina.startup.Tomcat;

public class TcTomcat {
    static class App extends HttpServlet {
        static void send(HttpServletResponse resp, int code, String text) throws IOException {
            byte[] b = text.getBytes(StandardCharsets.UTF_8);
            resp.setStatus(code);
            resp.setContentType("text/plain");
            resp.setContentLength(b.length);
            resp.getOutputStream().write(b);
        }

        @Override
        protected void service(HttpServletRequest req, HttpServletResponse resp) throws IOException {
            String path = req.getRequestURI();
            String[] parts = path.split("/");
            String first = parts.length > 1 ? parts[1] : "";
            if (first.equals("reject")) {
                // answered before the request body is read (an upload refused at once): Tomcat
                // swallows up to maxSwallowSize bytes of it, past that it closes the connection
                send(resp, 413, "upload refused by tomcat " + path + "\n");
                return;
            }
            req.getInputStream().readAllBytes();
            switch (first) {
                case "throw":
                    throw new RuntimeException("servlet failed for " + path);
                case "abort": {
                    resp.setStatus(200);
                    resp.setContentType("application/octet-stream");
                    resp.setContentLength(1000);
                    OutputStream o = resp.getOutputStream();
                    o.write(new byte[100]);
                    o.flush();
                    throw new RuntimeException("servlet failed mid-response for " + path);
                }
                case "halt":
                    Runtime.getRuntime().halt(1);
                    return;
                case "slow": {
                    double secs = parts.length > 2 ? Double.parseDouble(parts[2]) : 8;
                    try { Thread.sleep((long) (secs * 1000)); } catch (InterruptedException e) { }
                    send(resp, 200, "late hello " + path + "\n");
                    return;
                }
                case "status":
                    send(resp, Integer.parseInt(parts[2]), "status " + parts[2] + " from tomcat\n");
                    return;
                case "close":
                    resp.setHeader("Connection", "close");
                    send(resp, 200, "hello from tomcat, closing " + path + "\n");
                    return;
                default:
                    send(resp, 200, "hello from tomcat " + path + "\n");
            }
        }
    }

    public static void main(String[] args) throws Exception {
        Tomcat tomcat = new Tomcat();
        tomcat.setBaseDir(System.getProperty("java.io.tmpdir") + "/tc-tomcat-base");
        Connector c = new Connector("org.apache.coyote.http11.Http11NioProtocol");
        c.setProperty("address", args[0]);
        c.setPort(Integer.parseInt(args[1]));
        if (args.length > 2 && !args[2].isEmpty()) c.setProperty("keepAliveTimeout", args[2]);
        if (args.length > 3 && !args[3].isEmpty()) c.setProperty("maxKeepAliveRequests", args[3]);
        StringBuilder extra = new StringBuilder();
        for (int i = 4; i < args.length; i++) {
            String[] kv = args[i].split("=", 2);
            c.setProperty(kv[0], kv[1]);
            extra.append(" ").append(kv[0]).append(" ").append(c.getProperty(kv[0]));
        }
        tomcat.setConnector(c);
        Context ctx = tomcat.addContext("", null);
        Tomcat.addServlet(ctx, "app", new App()).addMapping("/");
        tomcat.start();
        System.out.println("listening " + args[0] + ":" + args[1] + " " + org.apache.catalina.util.ServerInfo.getServerInfo()
            + " connectionTimeout " + c.getProperty("connectionTimeout")
            + " keepAliveTimeout " + c.getProperty("keepAliveTimeout")
            + " maxKeepAliveRequests " + c.getProperty("maxKeepAliveRequests") + extra);
        tomcat.getServer().await();
    }
}
