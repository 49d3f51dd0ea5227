// HTTP/2 prior-knowledge client for realcap: node h2_client.js HOST PORT LOCAL_PORT PATH...
// Sends every PATH as a concurrent stream on one connection from LOCAL_PORT; prints the
// status (or the stream error) of each.
'use strict';
const http2 = require('http2');
const net = require('net');
const [host, port, localPort, ...paths] = process.argv.slice(2);
const session = http2.connect(`http://${host}:${port}`, {
  createConnection: () => net.connect({ host, port: Number(port), localPort: Number(localPort) }),
});
session.on('error', (e) => console.log('session error', e.code));
let left = paths.length;
const results = [];
for (const path of paths) {
  const req = session.request({ ':method': 'GET', ':path': path });
  req.on('response', (h) => results.push(`${path}=${h[':status']}`));
  req.on('error', (e) => results.push(`${path}=${e.code}`));
  req.on('data', () => {});
  req.on('close', () => {
    if (req.rstCode) results.push(`${path}:rst=${req.rstCode}`);
    if (--left === 0) {
      console.log(results.join(' '));
      session.close();
    }
  });
  req.end();
}
