// HTTP/2-over-TLS client for realcap's h2 front-end scenarios (record_h2front.sh):
//   node h2f_client.js HOST PORT LOCAL_PORT [--cancel PATH] [--goaway] [--idle SECS] PATH...
// Sends every PATH as a concurrent stream on one TLS connection from LOCAL_PORT (ALPN h2 only).
// `--cancel PATH` is one more stream that the client cancels (RST_STREAM CANCEL) as soon as
// its first body bytes arrive; `--goaway` makes the client send GOAWAY (NO_ERROR) right after
// its requests, while they are in flight; `--idle SECS` keeps the connection open that long
// after the last stream closed (the server's idle timeout may send its GOAWAY first). Appends
// the connection's TLS secrets to $SSLKEYLOGFILE (NSS key log format) when it is set. Prints
// one line: each path's status (or stream error, rst code) and any GOAWAY received.
'use strict';
const http2 = require('http2');
const tls = require('tls');
const fs = require('fs');
const args = process.argv.slice(2);
const [host, port, localPort] = args.splice(0, 3);
let cancel = null;
let goaway = false;
let idle = 0;
const paths = [];
while (args.length) {
  const a = args.shift();
  if (a === '--cancel') cancel = args.shift();
  else if (a === '--goaway') goaway = true;
  else if (a === '--idle') idle = Number(args.shift());
  else paths.push(a);
}
const keylog = process.env.SSLKEYLOGFILE;
const session = http2.connect(`https://${host}:${port}`, {
  createConnection: () => {
    const s = tls.connect({
      host,
      port: Number(port),
      localPort: Number(localPort),
      ALPNProtocols: ['h2'],
      rejectUnauthorized: false,
    });
    if (keylog) s.on('keylog', (line) => fs.appendFileSync(keylog, line));
    return s;
  },
});
const results = [];
const t0 = Date.now();
const ms = () => `+${((Date.now() - t0) / 1000).toFixed(2)}s`;
session.on('error', (e) => results.push(`session-error=${e.code}`));
session.on('goaway', (code, last) => results.push(`GOAWAY(code=${code},last=${last})${ms()}`));
let left = paths.length + (cancel ? 1 : 0);
const done = () => {
  if (--left > 0) return;
  setTimeout(() => {
    console.log(results.join(' '));
    session.close();
    setTimeout(() => process.exit(0), 500);
  }, idle * 1000);
};
const stream = (path, cancelIt) => {
  const req = session.request({ ':method': 'GET', ':path': path });
  let status = '?';
  let bytes = 0;
  req.on('response', (h) => { status = h[':status']; });
  req.on('error', (e) => { status = e.code; });
  req.on('data', (d) => {
    bytes += d.length;
    if (cancelIt && !req.destroyed) req.close(http2.constants.NGHTTP2_CANCEL);
  });
  req.on('close', () => {
    const rst = req.rstCode ? ` rst=${req.rstCode}` : '';
    results.push(`${path}=${status}${cancelIt ? '(cancelled by the client)' : ''} bytes=${bytes}${rst} stream=${req.id}${ms()}`);
    done();
  });
  req.end();
};
for (const p of paths) stream(p, false);
if (cancel) stream(cancel, true);
if (goaway) setTimeout(() => session.goaway(http2.constants.NGHTTP2_NO_ERROR), 100);
