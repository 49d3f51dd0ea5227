// HTTP/2-over-TLS client for realcap that offers only `h2` in ALPN (Node's http2.connect does):
//   node h2_tls_client.js HOST PORT LOCAL_PORT MAX_TLS PATH
// One request on its own connection from LOCAL_PORT; MAX_TLS is TLSv1.2 or TLSv1.3. Appends the
// connection's TLS secrets to $SSLKEYLOGFILE (NSS key log format) when it is set. Prints the
// status (or the stream error).
'use strict';
const http2 = require('http2');
const tls = require('tls');
const fs = require('fs');
const [host, port, localPort, maxVersion, path] = process.argv.slice(2);
const keylog = process.env.SSLKEYLOGFILE;
const session = http2.connect(`https://${host}:${port}`, {
  createConnection: () => {
    const s = tls.connect({
      host,
      port: Number(port),
      localPort: Number(localPort),
      ALPNProtocols: ['h2'],
      maxVersion,
      rejectUnauthorized: false,
    });
    if (keylog) s.on('keylog', (line) => fs.appendFileSync(keylog, line));
    return s;
  },
});
session.on('error', (e) => console.log('session error', e.code));
const req = session.request({ ':method': 'GET', ':path': path });
let status = '?';
req.on('response', (h) => { status = h[':status']; });
req.on('error', (e) => { status = e.code; });
req.on('data', () => {});
req.on('close', () => {
  console.log(`${path}=${status}${req.rstCode ? ` rst=${req.rstCode}` : ''} alpn=${session.alpnProtocol}`);
  session.close();
});
req.end();
