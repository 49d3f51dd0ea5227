// A Node.js `http` target with its defaults (realcap `record_nodesw.sh`): keepAliveTimeout 5 s
// (announced as `Keep-Alive: timeout=5`), headersTimeout 60 s, requestTimeout 300 s, no Server
// header. KA0=1 in the environment sets `server.keepAliveTimeout = 0` (no idle timer at all).
//   node nw_node.js ADDR PORT
// /ok... 200; /close... 200 with `Connection: close` (Node closes after it); /crash/head...
// the process exits before any response byte; /crash/body... it writes the headers
// (Content-Length 1000) and 100 body bytes, then exits; /destroy... the socket is destroyed
// without an answer (FIN); /reset... reset (RST); /slow/<secs>/... answers after that delay;
// /garbage... bytes that are no HTTP response, then the socket ends. A crashed process is
// restarted by the recording script's loop.
'use strict';
const http = require('http');
const [addr, port] = process.argv.slice(2);
const server = http.createServer((req, res) => {
  const parts = req.url.split('/').filter(Boolean);
  const send = (code, text, extra) => {
    res.writeHead(code, Object.assign({ 'Content-Type': 'text/plain' }, extra || {}));
    res.end(text);
  };
  switch (parts[0]) {
    case 'close':
      send(200, `hello from node, closing ${req.url}\n`, { Connection: 'close' });
      return;
    case 'crash':
      if (parts[1] === 'body') {
        res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': '1000' });
        res.write('x'.repeat(100), () => setTimeout(() => process.exit(1), 50));
      } else {
        process.exit(1);
      }
      return;
    case 'destroy':
      req.socket.destroy();
      return;
    case 'reset':
      req.socket.resetAndDestroy();
      return;
    case 'slow':
      setTimeout(() => send(200, `late hello ${req.url}\n`), Number(parts[1] || 8) * 1000);
      return;
    case 'garbage':
      req.socket.end('HTPT/1.1 200 OK\r\nthis is not a header\r\n\r\nbody\n');
      return;
    default:
      req.resume();
      req.on('end', () => send(200, `hello from node ${req.url}\n`));
  }
});
if (process.env.KA0 === '1') server.keepAliveTimeout = 0;
server.on('connection', (s) => console.log(new Date().toISOString(), 'connection', s.remotePort));
server.listen(Number(port), addr, () =>
  console.log('listening', addr, port, 'keepAliveTimeout', server.keepAliveTimeout,
    'headersTimeout', server.headersTimeout, 'requestTimeout', server.requestTimeout));
