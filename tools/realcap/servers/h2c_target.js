// h2c (HTTP/2 prior knowledge) target for realcap: node h2c_target.js ADDR PORT
//   /ok/*    200 with a short body          /big     200 with 150 KB (flow control)
//   /reset   RST_STREAM INTERNAL_ERROR before any response
//   /goaway  GOAWAY whose last stream id is below this stream, then the connection closes
'use strict';
const http2 = require('http2');
const [addr, port] = process.argv.slice(2);
const server = http2.createServer();
server.on('session', (session) => session.on('error', (e) => console.log('session error', e.code)));
server.on('stream', (stream, headers) => {
  stream.on('error', (e) => console.log('stream', stream.id, 'error', e.code));
  const path = headers[':path'] || '/';
  console.log(new Date().toISOString(), 'stream', stream.id, headers[':method'], path);
  if (path.startsWith('/reset')) {
    setTimeout(() => stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR), 30);
    return;
  }
  if (path.startsWith('/goaway')) {
    const session = stream.session;
    session.goaway(http2.constants.NGHTTP2_NO_ERROR, Math.max(0, stream.id - 2));
    setTimeout(() => session.destroy(), 200);
    return;
  }
  if (path.startsWith('/big')) {
    stream.respond({ ':status': 200, 'content-type': 'application/octet-stream', server: 'node-h2c' });
    stream.end(Buffer.alloc(150 * 1024, 0x61));
    return;
  }
  stream.respond({ ':status': 200, 'content-type': 'text/plain', server: 'node-h2c' });
  stream.end(`ok ${path}\n`);
});
server.listen(Number(port), addr, () => console.log('listening', addr, port));
