// Prints the rows of a Parquet file as JSON lines, as DuckDB reads them
// (BLOBs as base64, lists as arrays, structs as objects): the reference
// reader for check_sources.sh.  node parquet_rows.mjs FILE
import { DuckDBInstance } from '@duckdb/node-api';

const db = await DuckDBInstance.create(':memory:', { threads: '1' });
const con = await db.connect();
const reader = await con.runAndReadAll(`SELECT * FROM read_parquet('${process.argv[2].replace(/'/g, "''")}')`);
function plain(v) {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v !== 'object') return v;
  switch (v.constructor.name) {
    case 'DuckDBBlobValue': return Buffer.from(v.bytes).toString('base64');
    case 'DuckDBListValue': case 'DuckDBArrayValue': return v.items.map(plain);
    case 'DuckDBStructValue': return Object.fromEntries(Object.entries(v.entries).map(([k, x]) => [k, plain(x)]));
    default: return v.toString();
  }
}
const names = reader.columnNames();
for (const row of reader.getRows())
  process.stdout.write(JSON.stringify(Object.fromEntries(row.map((v, i) => [names[i], plain(v)]))) + '\n');
