// A plain Node.js `http` server (realcap `record_shapes.sh`): default keepAliveTimeout (5 s),
// no Server header (Node sends none; it announces `Keep-Alive: timeout=5`).
//   node node_target.js ADDR PORT
// /ok... 200; /status/<code> that status with a small HTML page; anything else 200.
'use strict';
const http = require('http');
const [addr, port] = process.argv.slice(2);
const server = http.createServer((req, res) => {
  const m = req.url.match(/^\/status\/(\d{3})/);
  if (m) {
    res.writeHead(Number(m[1]), { 'Content-Type': 'text/html' });
    res.end(`<html><body><h1>${m[1]} from the Node.js app</h1></body></html>\n`);
    return;
  }
  res.writeHead(200, { 'Content-Type': 'text/plain' });
  res.end(`hello from node ${req.url}\n`);
});
server.on('connection', (s) => console.log(new Date().toISOString(), 'connection', s.remotePort));
server.listen(Number(port), addr, () => console.log('listening', addr, port, 'keepAliveTimeout', server.keepAliveTimeout));
