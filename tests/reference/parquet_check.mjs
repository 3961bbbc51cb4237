// Writes Parquet files with DuckDB and with parquet-wasm (arrow-rs) over codecs,
// page versions, dictionary on/off, encodings, nulls and row-group sizes, then
// compares every row of `tessera cat` with DuckDB's reading of the same file.
// Prints "ok"/"FAIL" per case and "N passed, N failed" last.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { DuckDBInstance } from '@duckdb/node-api';
import * as arrow from 'apache-arrow';
import * as pw from 'parquet-wasm/node';

const tmp = process.argv[2];
const tessera = process.env.TESSERA;
let passed = 0, failed = 0;
const db = await DuckDBInstance.create(':memory:', { threads: '1' });
const con = await db.connect();

// ---- my JSON, numbers kept as their text ----
function parseJson(text) {
  let i = 0;
  const ws = () => { while (' \t\n\r'.includes(text[i])) i++; };
  function value() {
    ws();
    const c = text[i];
    if (c === '{') {
      i++; const o = {}; ws();
      if (text[i] === '}') { i++; return o; }
      for (;;) { ws(); const k = value(); ws(); i++; o[k] = value(); ws(); if (text[i++] === '}') return o; }
    }
    if (c === '[') {
      i++; const a = []; ws();
      if (text[i] === ']') { i++; return a; }
      for (;;) { a.push(value()); ws(); if (text[i++] === ']') return a; }
    }
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      const s = JSON.parse(text.slice(i, j + 1)); i = j + 1; return s;
    }
    for (const [lit, v] of [['true', true], ['false', false], ['null', null]])
      if (text.startsWith(lit, i)) { i += lit.length; return v; }
    const m = /^-?[0-9.eE+-]+/.exec(text.slice(i, i + 64));
    if (!m) throw new Error(`bad JSON at ${i}: ${text.slice(i, i + 20)}`);
    i += m[0].length;
    return { num: m[0] };
  }
  const v = value(); ws();
  if (i !== text.length) throw new Error('trailing bytes');
  return v;
}

// ---- DuckDB's values in tessera's documented JSON form ----
const pad = (n, w) => String(n).padStart(w, '0');
function civil(days) {
  const d = new Date(Number(days) * 86400000);
  return `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)}`;
}
function clock(units, perSec, digits) {
  const secs = units / perSec - (units % perSec < 0n ? 1n : 0n);
  const frac = units - secs * perSec;
  const sod = ((secs % 86400n) + 86400n) % 86400n;
  return `${pad(sod / 3600n, 2)}:${pad((sod / 60n) % 60n, 2)}:${pad(sod % 60n, 2)}.${pad(frac, digits)}`;
}
function stamp(units, perSec, digits, utc) {
  const secs = units / perSec - (units % perSec < 0n && units % perSec !== 0n ? 1n : 0n);
  const days = secs / 86400n - (secs % 86400n < 0n ? 1n : 0n);
  return `${civil(days)}T${clock(units, perSec, digits)}${utc ? 'Z' : ''}`;
}
// Timestamps: tessera prints the file's unit; DuckDB may widen it, so both
// sides are compared at nanosecond precision.
function normStamp(s) {
  const m = /^(.*T\d\d:\d\d:\d\d)\.(\d+)(Z?)$/.exec(s);
  return m ? `${m[1]}.${m[2].padEnd(9, '0')}${m[3]}` : s;
}

function expected(v) {
  if (v === null || v === undefined) return null;
  if (typeof v === 'boolean' || typeof v === 'string') return v;
  if (typeof v === 'number') return { real: v };
  if (typeof v === 'bigint') return { int: v };
  const t = v.constructor.name;
  switch (t) {
    case 'DuckDBBlobValue': return Buffer.from(v.bytes).toString('base64');
    case 'DuckDBDateValue': return civil(v.days);
    case 'DuckDBTimestampValue': return normStamp(stamp(v.micros, 1000000n, 6, false));
    case 'DuckDBTimestampTZValue': return normStamp(stamp(v.micros, 1000000n, 6, true));
    case 'DuckDBTimestampMillisecondsValue': return normStamp(stamp(v.millis, 1000n, 3, false));
    case 'DuckDBTimestampNanosecondsValue': return normStamp(stamp(v.nanos, 1000000000n, 9, false));
    case 'DuckDBTimestampSecondsValue': return normStamp(stamp(v.seconds * 1000n, 1000n, 3, false));
    case 'DuckDBTimeValue': return { time: clock(v.micros, 1000000n, 6) };
    case 'DuckDBDecimalValue': {
      const neg = v.value < 0n; let s = (neg ? -v.value : v.value).toString().padStart(v.scale + 1, '0');
      if (v.scale > 0) s = s.slice(0, s.length - v.scale) + '.' + s.slice(s.length - v.scale);
      return { dec: (neg ? '-' : '') + s };
    }
    case 'DuckDBUUIDValue': return v.toString();
    case 'DuckDBListValue': case 'DuckDBArrayValue': return v.items.map(expected);
    case 'DuckDBStructValue': {
      const o = {}; for (const [k, x] of Object.entries(v.entries)) o[k] = expected(x); return o;
    }
    case 'DuckDBMapValue': return v.entries.map(e => ({ key: expected(e.key), value: expected(e.value) }));
    default: throw new Error(`no mapping for ${t}`);
  }
}

// Compare tessera's parsed JSON `a` with the expected form `e`; returns a path on mismatch.
function diff(a, e, path) {
  if (e === null) return a === null ? null : path;
  if (e && typeof e === 'object' && !Array.isArray(e) && Object.keys(e).length === 1) {
    const [k] = Object.keys(e);
    if (k === 'real') {
      if (typeof a === 'string' && Number.isNaN(e.real)) return a === 'NaN' ? null : path;
      if (typeof a === 'string' && !Number.isFinite(e.real)) return a === (e.real > 0 ? 'Infinity' : '-Infinity') ? null : path;
      if (!a || a.num === undefined) return path;
      const x = Number(a.num);
      return x === e.real || (Math.fround(e.real) === e.real && Math.fround(x) === e.real) ? null : path;
    }
    if (k === 'int') return a && a.num !== undefined && /^-?\d+$/.test(a.num) && BigInt(a.num) === e.int ? null : path;
    if (k === 'dec') return a && a.num === e.dec ? null : path;
    if (k === 'time') return typeof a === 'string' && a.padEnd(18, '0') === e.time.padEnd(18, '0') ? null : path;
  }
  if (typeof e === 'string') return typeof a === 'string' && normStamp(a) === e ? null : path;
  if (typeof e === 'boolean') return a === e ? null : path;
  if (Array.isArray(e)) {
    if (!Array.isArray(a) || a.length !== e.length) return `${path} (length)`;
    for (let i = 0; i < e.length; i++) { const d = diff(a[i], e[i], `${path}[${i}]`); if (d) return d; }
    return null;
  }
  if (typeof a !== 'object' || a === null || Array.isArray(a)) return path;
  const ka = Object.keys(a), ke = Object.keys(e);
  if (ka.join(',') !== ke.join(',')) return `${path} (keys ${ka} vs ${ke})`;
  for (const k of ke) { const d = diff(a[k], e[k], `${path}.${k}`); if (d) return d; }
  return null;
}

function show(x) { return JSON.stringify(x, (k, v) => typeof v === 'bigint' ? v.toString() : v)?.slice(0, 300); }

const seen = { encodings: new Set(), codecs: new Set() };
async function check(name, file, args = [], sql = null) {
  const meta = (await con.runAndReadAll(`SELECT DISTINCT encodings, compression FROM parquet_metadata('${file}')`)).getRowObjects();
  for (const m of meta) { for (const e of String(m.encodings).split(', ')) seen.encodings.add(e); seen.codecs.add(String(m.compression)); }
  const groups = Number((await con.runAndReadAll(`SELECT count(DISTINCT row_group_id) AS g FROM parquet_metadata('${file}')`)).getRowObjects()[0].g);
  const r = spawnSync(tessera, ['cat', file, ...args], { maxBuffer: 1 << 30, encoding: 'utf8' });
  let problem = null;
  if (r.status !== 0) problem = `exit ${r.status}: ${r.stderr.trim()}`;
  let lines = [];
  if (!problem) lines = r.stdout.split('\n').filter(l => l.length);
  const res = await con.runAndReadAll(sql ?? `SELECT * FROM read_parquet('${file}')`);
  const rows = res.getRowObjects();
  if (!problem && lines.length !== rows.length) problem = `${lines.length} rows, DuckDB has ${rows.length}`;
  for (let i = 0; !problem && i < rows.length; i++) {
    let mine;
    try { mine = parseJson(lines[i]); } catch (e) { problem = `row ${i}: ${e.message}`; break; }
    const exp = {};
    for (const [k, v] of Object.entries(rows[i])) exp[k] = expected(v);
    const d = diff(mine, exp, `row ${i}`);
    if (d) problem = `${d}\n    tessera: ${lines[i].slice(0, 300)}\n    duckdb:  ${show(exp)}`;
  }
  if (!problem && !args.length) { // --count agrees and decodes everything
    const c = spawnSync(tessera, ['cat', file, '--count'], { encoding: 'utf8' });
    const n = c.status === 0 ? JSON.parse(c.stdout).records : -1;
    if (n !== rows.length) problem = `--count says ${n} (${c.stderr.trim()})`;
  }
  if (problem) { failed++; console.log(`FAIL ${name}: ${problem}`); }
  else { passed++; console.log(`ok   ${name} (${rows.length} rows, ${groups} row groups)`); }
}

// ---- DuckDB-written files ----
await con.run(`CREATE TABLE jpeg AS SELECT content FROM read_blob('${tmp}/jpeg/*.jpg') ORDER BY filename`);
// Fewer rows under the sanitizers, which slow tessera down several times.
const san = process.env.SAN === '1';
const N = san ? 400 : 1500;
await con.run(`CREATE TABLE src AS SELECT
  i::BIGINT AS id,
  CASE WHEN i % 7 = 3 THEN NULL ELSE (i * 37 % 256 - 128)::TINYINT END AS i8,
  (i * 91 % 65536 - 32768)::SMALLINT AS i16,
  (i % 256)::UTINYINT AS u8, (i * 13 % 65536)::USMALLINT AS u16,
  (4294967295 - i)::UINTEGER AS u32, (18446744073709551615::HUGEINT - i * 1000003)::UBIGINT AS u64,
  CASE WHEN i % 5 = 0 THEN NULL ELSE (i::HUGEINT * 2654435761 % 4294967296 - 2147483648)::INTEGER END AS i32,
  ((i::HUGEINT * 9007199254740993) % 18446744073709551557 - 9223372036854775807)::BIGINT AS big,
  (i / 7.0)::FLOAT AS f,
  CASE WHEN i % 11 = 0 THEN NULL ELSE i / 3.0 + 1e-300 * i END AS d,
  CASE WHEN i % 13 = 0 THEN NULL ELSE i % 3 = 0 END AS b,
  CASE WHEN i % 9 = 0 THEN NULL WHEN i % 9 = 1 THEN '' WHEN i % 9 = 2 THEN 'héllo "quoted" \\ ✓ 😀' ELSE 'str' || (i % 50) END AS s,
  'unique-' || i || repeat('x', i % 17) AS su,
  CASE WHEN i % 6 = 0 THEN NULL ELSE ('\\x00\\x01\\xFF' || i)::BLOB END AS bin,
  (DATE '1969-12-25' + (i * 3)::INTEGER) AS dt,
  TIMESTAMP '1969-12-31 23:59:00' + to_microseconds(i * 1234567891) AS ts,
  (TIMESTAMP '2001-02-03 04:05:06.789' + to_milliseconds(i * 1000))::TIMESTAMP_MS AS ts_ms,
  (TIMESTAMP '2001-02-03 04:05:06' + to_microseconds(i))::TIMESTAMP_NS AS ts_ns,
  (TIMESTAMPTZ '2020-06-01 12:00:00+00' + to_seconds(i * 3600)) AS tstz,
  (TIME '00:00:00' + to_microseconds(i * 12345678)) AS tm,
  (i * 1234.567 - 100000)::DECIMAL(18,3) AS dec18,
  (i::DECIMAL(38,10) * 123456789.0123456789 - 5)::DECIMAL(38,10) AS dec38,
  (i / 100.0)::DECIMAL(4,2) AS dec4,
  md5(i::VARCHAR)::UUID AS uid,
  CASE WHEN i % 8 = 0 THEN NULL WHEN i % 8 = 1 THEN [] WHEN i % 8 = 2 THEN [NULL, 1] ELSE range(i % 6)::INTEGER[] END AS l,
  CASE WHEN i % 4 = 0 THEN NULL ELSE [['a' || i, NULL], [], NULL, ['z']] END AS ll,
  CASE WHEN i % 10 = 0 THEN NULL ELSE {'a': i::INTEGER, 'b': CASE WHEN i % 3 = 0 THEN NULL ELSE 'b' || i END, 'c': [i / 2.0, NULL]} END AS st,
  [{'x': i::INTEGER, 'y': 'y' || i}, {'x': NULL, 'y': NULL}] AS lst,
  CASE WHEN i % 5 = 1 THEN NULL ELSE MAP {'k1': i::INTEGER, 'k2': NULL} END AS m,
  CASE WHEN i % 12 = 5 THEN NULL ELSE {'bytes': j.imgs[(i % 3)::INTEGER + 1], 'path': 'img' || (i % 3) || '.jpg'} END AS image
FROM range(${N}) t(i), (SELECT list(content ORDER BY content) AS imgs FROM jpeg) j ORDER BY i`);

const duck = [
  ['duckdb-snappy-v1', `COMPRESSION snappy`],
  ['duckdb-uncompressed-v1', `COMPRESSION uncompressed`],
  ['duckdb-gzip-v1', `COMPRESSION gzip`],
  ['duckdb-zstd-v1', `COMPRESSION zstd`],
  ['duckdb-snappy-v2', `COMPRESSION snappy, PARQUET_VERSION v2`],
  ['duckdb-zstd-v2', `COMPRESSION zstd, PARQUET_VERSION v2`],
  ['duckdb-gzip-v2-rg100', `COMPRESSION gzip, PARQUET_VERSION v2, ROW_GROUP_SIZE 100`],
  ['duckdb-uncompressed-v2', `COMPRESSION uncompressed, PARQUET_VERSION v2`],
  ['duckdb-nodict-rg7', `COMPRESSION snappy, DICTIONARY_SIZE_LIMIT 0, ROW_GROUP_SIZE 7`],
  ['duckdb-one-rowgroup', `COMPRESSION zstd, ROW_GROUP_SIZE 1000000`],
];
for (const [name, opts] of duck) {
  const file = `${tmp}/${name}.parquet`;
  await con.run(`COPY src TO '${file}' (FORMAT parquet, ${opts})`);
  await check(name, file);
}
const f0 = `${tmp}/duckdb-snappy-v1.parquet`;
await check('projection --columns image,id,l', f0, ['--columns', 'image,id,l'],
  `SELECT image, id, l FROM read_parquet('${f0}')`);
await check('--limit 5', f0, ['--limit', '5'], `SELECT * FROM read_parquet('${f0}') LIMIT 5`);
const empty = `${tmp}/empty.parquet`;
await con.run(`COPY (SELECT * FROM src LIMIT 0) TO '${empty}' (FORMAT parquet)`);
await check('empty file', empty);

// ---- parquet-wasm (arrow-rs) files ----
const M = san ? 300 : 1200;
const jpegs = (await con.runAndReadAll(`SELECT content FROM jpeg`)).getRowObjects().map(r => Uint8Array.from(r.content.bytes));
const col = (n, f) => Array.from({ length: n }, (_, i) => f(i));
const imageType = new arrow.Struct([new arrow.Field('bytes', new arrow.Binary(), true), new arrow.Field('path', new arrow.Utf8(), true)]);
const table = new arrow.Table({
  id: arrow.vectorFromArray(col(M, i => BigInt(i) * 1000000007n - 5n), new arrow.Int64()),
  i32: arrow.vectorFromArray(col(M, i => (i % 4 === 1 ? null : (i * 7919) % 100000 - 50000)), new arrow.Int32()),
  u16: arrow.vectorFromArray(col(M, i => (i * 31) % 65536), new arrow.Uint16()),
  f: arrow.vectorFromArray(col(M, i => i / 3), new arrow.Float32()),
  d: arrow.vectorFromArray(col(M, i => (i % 9 === 0 ? null : Math.sin(i) * 1e10)), new arrow.Float64()),
  b: arrow.vectorFromArray(col(M, i => (i % 6 === 0 ? null : i % 4 === 0)), new arrow.Bool()),
  s: arrow.vectorFromArray(col(M, i => (i % 10 === 0 ? null : `text ${i % 37} ✓`)), new arrow.Utf8()),
  su: arrow.vectorFromArray(col(M, i => `prefix-shared-${i}`), new arrow.Utf8()),
  bin: arrow.vectorFromArray(col(M, i => (i % 8 === 0 ? null : Uint8Array.from([i & 255, 0, 255, i >> 8]))), new arrow.Binary()),
  dt: arrow.vectorFromArray(col(M, i => new Date(Date.UTC(1990, 0, 1) + i * 86400000 * 3)), new arrow.DateDay()),
  ts: arrow.vectorFromArray(col(M, i => Date.UTC(2010, 5, 1) + i * 61001), new arrow.TimestampMillisecond()),
  l: arrow.vectorFromArray(col(M, i => (i % 7 === 0 ? null : col(i % 5, k => (k === 2 ? null : k * i)))), new arrow.List(new arrow.Field('item', new arrow.Int32(), true))),
  st: arrow.vectorFromArray(col(M, i => (i % 11 === 0 ? null : { a: i, b: i % 2 ? `b${i}` : null })),
    new arrow.Struct([new arrow.Field('a', new arrow.Int32(), true), new arrow.Field('b', new arrow.Utf8(), true)])),
  image: arrow.vectorFromArray(col(M, i => (i % 13 === 4 ? null : { bytes: jpegs[i % 3], path: `p/${i}.jpg` })), imageType),
});
const ipc = arrow.tableToIPC(table, 'stream');
const W = pw.WriterVersion, C = pw.Compression, E = pw.Encoding;
const wasmCases = [
  ['wasm-snappy-v1-dict', b => b.setCompression(C.SNAPPY).setWriterVersion(W.V1)],
  ['wasm-uncompressed-v1-nodict', b => b.setCompression(C.UNCOMPRESSED).setDictionaryEnabled(false)],
  ['wasm-gzip-v2-dict', b => b.setCompression(C.GZIP).setWriterVersion(W.V2)],
  ['wasm-zstd-v2-nodict-rg300', b => b.setCompression(C.ZSTD).setWriterVersion(W.V2).setDictionaryEnabled(false).setMaxRowGroupSize(300)],
  ['wasm-delta-encodings-v2', b => b.setCompression(C.SNAPPY).setWriterVersion(W.V2).setDictionaryEnabled(false)
    .setColumnEncoding('id', E.DELTA_BINARY_PACKED).setColumnEncoding('i32', E.DELTA_BINARY_PACKED)
    .setColumnEncoding('su', E.DELTA_BYTE_ARRAY).setColumnEncoding('s', E.DELTA_LENGTH_BYTE_ARRAY)
    .setColumnEncoding('f', E.BYTE_STREAM_SPLIT).setColumnEncoding('d', E.BYTE_STREAM_SPLIT)],
  ['wasm-small-pages-v1', b => b.setCompression(C.SNAPPY).setDataPageSizeLimit(512).setMaxRowGroupSize(1000)],
];
for (const [name, configure] of wasmCases) {
  const props = configure(new pw.WriterPropertiesBuilder()).build();
  const bytes = pw.writeParquet(pw.Table.fromIPCStream(ipc), props);
  const file = `${tmp}/${name}.parquet`;
  writeFileSync(file, bytes);
  await check(name, file);
}

// The comparison itself must catch a difference: row 1 of a file against row 0.
{
  const rows = (await con.runAndReadAll(`SELECT * FROM read_parquet('${f0}') LIMIT 2`)).getRowObjects();
  const r = spawnSync(tessera, ['cat', f0, '--limit', '2'], { encoding: 'utf8' });
  const mine = parseJson(r.stdout.split('\n')[1]);
  const exp = {};
  for (const [k, v] of Object.entries(rows[0])) exp[k] = expected(v);
  if (diff(mine, exp, 'row') && !diff(parseJson(r.stdout.split('\n')[0]), exp, 'row')) { passed++; console.log('ok   comparator catches a wrong row'); }
  else { failed++; console.log('FAIL comparator does not catch a wrong row'); }
}
// Every encoding and codec the reader claims was met by some file above.
for (const [kind, want] of [['encodings', ['PLAIN', 'RLE_DICTIONARY', 'DELTA_BINARY_PACKED', 'DELTA_LENGTH_BYTE_ARRAY', 'DELTA_BYTE_ARRAY', 'BYTE_STREAM_SPLIT']],
                            ['codecs', ['UNCOMPRESSED', 'SNAPPY', 'GZIP', 'ZSTD']]]) {
  const missing = want.filter(w => !seen[kind].has(w));
  if (missing.length) { failed++; console.log(`FAIL ${kind} not covered: ${missing} (seen ${[...seen[kind]]})`); }
  else { passed++; console.log(`ok   ${kind} covered: ${[...seen[kind]].join(' ')}`); }
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
