// Reference side of the tokenizer checks: Hugging Face `tokenizers` (npm).
//   node hf_tokenize.js TOKENIZER.json text FILE...       ids of each whole file, one line each
//   node hf_tokenize.js TOKENIZER.json jsonl FILE FIELD   one line of ids per record
//   node hf_tokenize.js TOKENIZER.json decode FILE        each line of ids -> {"text": ...}
// Files are read as bytes and decoded as UTF-8 by Node (invalid bytes -> U+FFFD).
'use strict';
const fs = require('fs');
const path = require('path');
const { Tokenizer } = require(path.join(__dirname, '../../node_modules/tokenizers'));

async function main() {
  const [tokPath, mode, file, field] = process.argv.slice(2);
  const files = process.argv.slice(4);
  const tok = Tokenizer.fromFile(tokPath);
  const out = [];
  const flush = () => { if (out.length) { process.stdout.write(out.join('')); out.length = 0; } };
  if (mode === 'text') {
    for (const f of files) {
      const enc = await tok.encode(fs.readFileSync(f).toString('utf8'), null, { addSpecialTokens: false });
      process.stdout.write(enc.getIds().join(' ') + '\n');
    }
    return;
  }
  const lines = fs.readFileSync(file).toString('utf8').split('\n');
  if (lines.length && lines[lines.length - 1] === '') lines.pop();
  if (mode === 'jsonl') {
    const batch = 256;
    for (let i = 0; i < lines.length; i += batch) {
      const texts = lines.slice(i, i + batch).map((l) => JSON.parse(l)[field]);
      const encs = await tok.encodeBatch(texts, { addSpecialTokens: false });
      for (const e of encs) out.push(e.getIds().join(' ') + '\n');
      if (out.length > 4096) flush();
    }
  } else if (mode === 'decode') {
    for (const l of lines) {
      const ids = l.trim() === '' ? [] : l.trim().split(/\s+/).map(Number);
      out.push(JSON.stringify({ text: await tok.decode(ids, false) }) + '\n');
    }
  } else {
    throw new Error('unknown mode ' + mode);
  }
  flush();
}
main().catch((e) => { console.error(e); process.exit(3); });
