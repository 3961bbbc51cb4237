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

  const time = (fn) => { let best = Infinity, out; for (let k = 0; k < 3; k++) { const t = performance.now(); out = fn(); best = Math.min(best, performance.now() - t); } return [best / 1000, out]; };
  const [tt, tout] = time(() => spawnSync(tessera, ['cat', file, '--count'], { encoding: 'utf8' }));
  if (tout.status !== 0) { console.error(tout.stderr); process.exit(1); }
  const counted = JSON.parse(tout.stdout);
  let best = Infinity, duck;
  for (let k = 0; k < 3; k++) {
    const t = performance.now();
    duck = (await con.runAndReadAll(`SELECT count(*) AS n, sum(id) + sum(small) + sum(d) AS nums, sum(strlen(text)) + sum(strlen(source))
      + sum(octet_length(payload)) AS bytes, sum(len(tags)) AS tags FROM read_parquet('${file}')`)).getRowObjectsJson()[0];
    best = Math.min(best, performance.now() - t);
  }
  const td = best / 1000;
  const [tj] = time(() => spawnSync('sh', ['-c', `"${tessera}" cat "${file}" > /dev/null`]));
  console.log(`parquet ${codec}: ${mb.toFixed(1)} MB, ${counted.records} rows (DuckDB ${duck.n})`);
  console.log(`  tessera cat --count : ${tt.toFixed(3)} s  ${(mb / tt).toFixed(1)} MB/s`);
  console.log(`  duckdb (1 thread)   : ${td.toFixed(3)} s  ${(mb / td).toFixed(1)} MB/s`);
  console.log(`  ratio tessera/duckdb: ${(td / tt).toFixed(2)}x`);
  console.log(`  tessera cat -> JSON : ${tj.toFixed(3)} s  ${(mb / tj).toFixed(1)} MB/s (${(counted.records / tj / 1e6).toFixed(2)} M rows/s)`);
}
