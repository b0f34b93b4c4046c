// OTLP/HTTP test receiver for agent-run's collector tests.
//
// Decodes each POST /v1/traces body with the protobufjs code that
// @opentelemetry/otlp-transformer 0.57.x ships (code we did not write) and
// appends one JSON line per accepted request to --out:
//   {"request": n, "encoding": "gzip"|"identity", "resourceSpans": [...toObject..., ids as hex]}
// --fail=N answers the first N requests with 503 (Retry-After: --retry-after),
// then 200 with an empty ExportTraceServiceResponse.
// Listens on 127.0.0.1, port 0 (or --port), and writes the port to --port-file.
'use strict';
const fs = require('fs');
const http = require('http');
const zlib = require('zlib');
const path = require('path');

const root = require(path.join(__dirname, 'node_modules/@opentelemetry/otlp-transformer/build/src/generated/root.js'));
const Request = root.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;
const Response = root.opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse;

const args = {};
for (const a of process.argv.slice(2)) {
  const m = /^--([^=]+)=(.*)$/.exec(a);
  if (m) args[m[1]] = m[2];
}
const out = args.out;
let failLeft = parseInt(args.fail || '0', 10);
const retryAfter = args['retry-after'];
let requests = 0;

function hexify(obj) {
  // toObject with bytes: Array gives arrays of numbers for bytes fields.
  if (Array.isArray(obj)) return obj.map(hexify);
  if (obj && typeof obj === 'object') {
    const res = {};
    for (const [k, v] of Object.entries(obj)) {
      if ((k === 'traceId' || k === 'spanId' || k === 'parentSpanId') && Array.isArray(v)) res[k] = Buffer.from(v).toString('hex');
      else res[k] = hexify(v);
    }
    return res;
  }
  return obj;
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    requests += 1;
    const n = requests;
    if (req.method !== 'POST' || req.url !== '/v1/traces') {
      res.writeHead(404);
      res.end();
      return;
    }
    if (failLeft > 0) {
      failLeft -= 1;
      const headers = {};
      if (retryAfter !== undefined) headers['Retry-After'] = retryAfter;
      res.writeHead(503, headers);
      res.end('unavailable');
      fs.appendFileSync(out, JSON.stringify({ request: n, status: 503, t: Date.now() }) + '\n');
      return;
    }
    let body = Buffer.concat(chunks);
    const encoding = req.headers['content-encoding'] || 'identity';
    try {
      if (encoding === 'gzip') body = zlib.gunzipSync(body);
      if (req.headers['content-type'] !== 'application/x-protobuf') throw new Error('content-type ' + req.headers['content-type']);
      const msg = Request.decode(body);
      const obj = Request.toObject(msg, { longs: String, enums: Number, bytes: Array, defaults: false });
      const line = hexify(obj);
      line.request = n;
      line.status = 200;
      line.t = Date.now();
      line.encoding = encoding;
      line.headers = { 'x-test-header': req.headers['x-test-header'] || null };
      fs.appendFileSync(out, JSON.stringify(line) + '\n');
      res.writeHead(200, { 'Content-Type': 'application/x-protobuf' });
      res.end(Buffer.from(Response.encode(Response.create({})).finish()));
    } catch (e) {
      fs.appendFileSync(out, JSON.stringify({ request: n, status: 400, error: String(e) }) + '\n');
      res.writeHead(400);
      res.end(String(e));
    }
  });
});

server.listen(parseInt(args.port || '0', 10), '127.0.0.1', () => {
  const port = server.address().port;
  if (args['port-file']) {
    fs.writeFileSync(args['port-file'] + '.tmp', String(port));
    fs.renameSync(args['port-file'] + '.tmp', args['port-file']);
  }
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
