// A Node.js `http` target with failure modes (realcap `record_nginx.sh`): default
// keepAliveTimeout (5 s), no Server header, `X-Powered-By: node-modes` so the app is named.
//   node node_modes.js ADDR PORT
// /ok... 200; /status/<code> that status; /reset... the socket is reset (RST) before any
// response byte; /slowreset/<secs>/... the same after that delay; /hang... never answers; /slow/<secs>/... answers after that delay;
// /big/<kb>/... a 200 of that many KB; /drip/<n>/... a 200 whose body comes in n chunks of
// 1 KB, one every 0.2 s (chunked).
'use strict';
const http = require('http');
const [addr, port] = process.argv.slice(2);
const server = http.createServer((req, res) => {
  const parts = req.url.split('/').filter(Boolean);
  if (parts[0] === 'node') parts.shift(); // /node/... is routed here by the proxy as is
  const send = (code, text) => {
    res.writeHead(code, { 'Content-Type': 'text/plain', 'X-Powered-By': 'node-modes' });
    res.end(text);
  };
  if (parts[0] === 'reset') {
    req.socket.resetAndDestroy();
    return;
  }
  if (parts[0] === 'hang') return;
  if (parts[0] === 'slowreset' && parts[1]) {
    setTimeout(() => req.socket.resetAndDestroy(), Number(parts[1]) * 1000);
    return;
  }
  if (parts[0] === 'slow' && parts[1]) {
    setTimeout(() => send(200, `late hello ${req.url}\n`), Number(parts[1]) * 1000);
    return;
  }
  if (parts[0] === 'big' && /^\d+$/.test(parts[1] || '')) {
    send(200, 'b'.repeat(Number(parts[1]) * 1024));
    return;
  }
  if (parts[0] === 'drip' && /^\d+$/.test(parts[1] || '')) {
    res.writeHead(200, { 'Content-Type': 'text/plain', 'X-Powered-By': 'node-modes' });
    let n = Number(parts[1]);
    const tick = () => {
      if (res.destroyed) return;
      res.write('d'.repeat(1024));
      if (--n > 0) setTimeout(tick, 200);
      else res.end();
    };
    tick();
    return;
  }
  if (parts[0] === 'status' && /^\d{3}$/.test(parts[1] || '')) {
    send(Number(parts[1]), `status ${parts[1]} from the Node.js app\n`);
    return;
  }
  // drain any body first
  req.resume();
  req.on('end', () => send(200, `hello from node ${req.url}\n`));
});
server.on('connection', (s) => console.log(new Date().toISOString(), 'connection', s.remotePort));
server.listen(Number(port), addr, () => console.log('listening', addr, port, 'keepAliveTimeout', server.keepAliveTimeout));
