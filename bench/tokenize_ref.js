// Reference side of bench/tokenize.sh: times HF `tokenizers` and `tiktoken`
// (with the Qwen vocabulary as ranks and the Qwen regex) on a JSON-lines corpus.
//   node tokenize_ref.js TOKENIZER.json CORPUS.jsonl OUT_DIR
// Prints one JSON line per run: {"tool","threads","seconds","mb_s","ids"}; writes
// each tool's ids (one line per document) to OUT_DIR/<tool>.ids for comparison.
'use strict';
const fs = require('fs');
const path = require('path');
const nm = path.join(__dirname, '../node_modules');
const { Tokenizer } = require(path.join(nm, 'tokenizers'));
const { Tiktoken } = require(path.join(nm, 'tiktoken'));

function byteDecoder() { // GPT-2 bytes_to_unicode, reversed
  const m = new Map();
  let extra = 256;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
    m.set(printable ? b : extra++, b);
  }
  return m;
}

async function main() {
  const [tokPath, corpus, outDir] = process.argv.slice(2);
  const docs = fs.readFileSync(corpus, 'utf8').split('\n').filter((l) => l).map((l) => JSON.parse(l).text);
  const mb = docs.reduce((a, d) => a + Buffer.byteLength(d), 0) / 1e6;
  let cpu0 = process.cpuUsage();
  const cpuSince = () => { const c = process.cpuUsage(cpu0); return (c.user + c.system) / 1e6; };
  const report = (tool, threads, secs, ids) => {
    const n = ids.reduce((a, x) => a + x.length, 0);
    const cpu = cpuSince();
    console.log(JSON.stringify({ tool, threads, seconds: +secs.toFixed(3), cpu_seconds: +cpu.toFixed(3), mb_s: +(mb / secs).toFixed(2), ids: n }));
    fs.writeFileSync(path.join(outDir, `${tool}.ids`), ids.map((x) => Array.from(x).join(' ')).join('\n') + '\n');
  };

  let t0 = process.hrtime.bigint();
  const hf = Tokenizer.fromFile(tokPath);
  const hfLoad = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(JSON.stringify({ tool: 'hf', load_seconds: +hfLoad.toFixed(3) }));
  const opts = { addSpecialTokens: false };
  t0 = process.hrtime.bigint();
  cpu0 = process.cpuUsage();
  const one = [];
  for (const d of docs) one.push((await hf.encode(d, null, opts)).getIds());
  report('hf', 1, Number(process.hrtime.bigint() - t0) / 1e9, one);
  t0 = process.hrtime.bigint();
  cpu0 = process.cpuUsage();
  const all = [];
  for (let i = 0; i < docs.length; i += 512) {
    for (const e of await hf.encodeBatch(docs.slice(i, i + 512), opts)) all.push(e.getIds());
  }
  report('hf_all_cores', 0, Number(process.hrtime.bigint() - t0) / 1e9, all);

  // tiktoken: ranks = ids of the byte-level vocab, specials = added tokens, Qwen regex.
  const j = JSON.parse(fs.readFileSync(tokPath, 'utf8'));
  const dec = byteDecoder();
  const lines = [];
  for (const [tok, id] of Object.entries(j.model.vocab)) {
    const bytes = Buffer.from(Array.from(tok).map((c) => dec.get(c.codePointAt(0))));
    lines.push(`${bytes.toString('base64')} ${id}`);
  }
  const specials = {};
  for (const a of j.added_tokens) specials[a.content] = a.id;
  const pat = j.pre_tokenizer.pretokenizers[0].pattern.Regex;
  t0 = process.hrtime.bigint();
  const tk = new Tiktoken(lines.join('\n'), specials, pat);
  const tkLoad = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(JSON.stringify({ tool: 'tiktoken', load_seconds: +tkLoad.toFixed(3) }));
  // tiktoken has no normalizer: it gets HF's NFC output (untimed). JS's own
  // String.normalize uses newer Unicode tables than HF's 9.0 ones.
  const norm = hf.getNormalizer();
  const nfc = docs.map((d) => norm.normalizeString(d));
  t0 = process.hrtime.bigint();
  cpu0 = process.cpuUsage();
  const tids = nfc.map((d) => tk.encode(d, 'all'));
  report('tiktoken', 1, Number(process.hrtime.bigint() - t0) / 1e9, tids);
  tk.free();
}
main().catch((e) => { console.error(e); process.exit(3); });
