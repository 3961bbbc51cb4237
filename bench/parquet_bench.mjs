// bench/parquet.sh's body: write the file with DuckDB, then time a full decode
// by tessera (`cat --count`, every value decoded, no JSON) and by DuckDB
// (aggregates that touch every column), each on one thread, best of 3.
import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { DuckDBInstance } from '@duckdb/node-api';

const [dir, rowsArg] = process.argv.slice(2);
const rows = Number(rowsArg);
const tessera = process.env.TESSERA;
const db = await DuckDBInstance.create(':memory:', { threads: '1' });
const con = await db.connect();
const codecs = (process.env.CODECS || 'snappy,zstd').split(',');

for (const codec of codecs) {
  const file = `${dir}/bench-${codec}.parquet`;
  await con.run(`COPY (SELECT i::BIGINT AS id, (i % 1000)::INTEGER AS small, i / 7.0 AS d,
      'caption ' || md5(i::VARCHAR) || ' ' || repeat(chr(97 + (i % 26)::INTEGER), (i % 40)::INTEGER) AS text,
      CASE WHEN i % 10 = 0 THEN NULL ELSE 'src' || (i % 50) END AS source,
      [i % 7, i % 11, i % 13] AS tags,
      md5(i::VARCHAR)::BLOB || md5((i + 1)::VARCHAR)::BLOB AS payload
    FROM range(${rows}) t(i)) TO '${file}' (FORMAT parquet, COMPRESSION ${codec})`);
  const mb = statSync(file).size / 1e6;

  // Best of 3 by wall time; CPU time (user + sys) too, which a busy machine
  // disturbs less. tessera runs under /usr/bin/time for its CPU time and peak RSS.
  let tw = Infinity, tc = Infinity, rss = 0, counted;
  for (let k = 0; k < 3; k++) {
    const t = performance.now();
    const r = spawnSync('/usr/bin/time', ['-f', '%U %S %M', tessera, 'cat', file, '--count'], { encoding: 'utf8' });
    tw = Math.min(tw, (performance.now() - t) / 1000);
    if (r.status !== 0) { console.error(r.stderr); process.exit(1); }
    const [u, sy, m] = r.stderr.trim().split('\n').pop().split(' ').map(Number);
    tc = Math.min(tc, u + sy);
    rss = m;
    counted = JSON.parse(r.stdout);
  }
  let dw = Infinity, dc = Infinity, duck;
  for (let k = 0; k < 3; k++) {
    const t = performance.now(), c0 = process.cpuUsage();
    duck = (await con.runAndReadAll(`SELECT count(*) AS n, sum(id) + sum(small) + sum(d) AS nums, sum(strlen(text)) + sum(strlen(source))
      + sum(octet_length(payload)) AS bytes, sum(len(tags)) AS tags FROM read_parquet('${file}')`)).getRowObjectsJson()[0];
    const c = process.cpuUsage(c0);
    dw = Math.min(dw, (performance.now() - t) / 1000);
    dc = Math.min(dc, (c.user + c.system) / 1e6);
  }
  const jsonRows = Math.min(rows, 200000); // the JSON path is for looking at data: sample it
  const t0 = performance.now();
  spawnSync('sh', ['-c', `"${tessera}" cat "${file}" --limit ${jsonRows} > /dev/null`]);
  const tj = (performance.now() - t0) / 1000;
  console.log(`parquet ${codec}: ${mb.toFixed(1)} MB, ${counted.records} rows (DuckDB ${duck.n})`);
  console.log(`  tessera cat --count : wall ${tw.toFixed(3)} s ${(mb / tw).toFixed(1)} MB/s, cpu ${tc.toFixed(3)} s ${(mb / tc).toFixed(1)} MB/s, peak RSS ${(rss / 1024).toFixed(0)} MB`);
  console.log(`  duckdb (1 thread)   : wall ${dw.toFixed(3)} s ${(mb / dw).toFixed(1)} MB/s, cpu ${dc.toFixed(3)} s ${(mb / dc).toFixed(1)} MB/s`);
  console.log(`  ratio tessera/duckdb: wall ${(dw / tw).toFixed(2)}x, cpu ${(dc / tc).toFixed(2)}x`);
  console.log(`  tessera cat -> JSON : ${jsonRows} rows in ${tj.toFixed(3)} s wall, ${(jsonRows / tj / 1e3).toFixed(0)} k rows/s`);
}
