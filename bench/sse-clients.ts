import http from 'node:http';

// Child process of bench/streams.ts: holds N SSE streams open against one API, so that reading
// them never shares an event loop with the latency probe. Paths come as JSON in BENCH_SSE_PATHS
// (one per stream, cycled). Prints `open N` once all answered 200, then, on SIGTERM, `events N`
// (frames received in total) and exits.

const [base, countArg] = process.argv.slice(2);
const count = Number(countArg);
const paths = JSON.parse(process.env.BENCH_SSE_PATHS ?? '["/api/v1/events"]') as string[];
const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
const requests: http.ClientRequest[] = [];
let open = 0;
let frames = 0;

for (let i = 0; i < count; i++) {
  const req = http.get(`${base}${paths[i % paths.length]}`, { agent, headers: { accept: 'text/event-stream' } }, (res) => {
    if (res.statusCode !== 200) {
      process.stderr.write(`stream ${i}: HTTP ${res.statusCode}\n`);
      process.exit(1);
    }
    if (++open === count) process.stdout.write(`open ${open}\n`);
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      for (let at = chunk.indexOf('\nid: '); at >= 0; at = chunk.indexOf('\nid: ', at + 1)) frames++;
      if (chunk.startsWith('id: ')) frames++;
    });
  });
  req.on('error', (err) => {
    process.stderr.write(`stream ${i}: ${err.message}\n`);
    process.exit(1);
  });
  requests.push(req);
}

process.once('SIGTERM', () => {
  for (const r of requests) r.destroy();
  process.stdout.write(`events ${frames}\n`);
  process.exit(0);
});
