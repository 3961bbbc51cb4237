// Writes tokenizer.json variants of a Qwen file for the parity check:
//   llama3.json  the Llama-3 / cl100k Split regex (\p{N}{1,3})
//   gpt2.json    GPT-2 pre-tokenization (ByteLevel with its own regex), no normalizer
//   flags.json   added tokens with lstrip / rstrip / single_word / normalized flags
//   image.json   Megatron's <image> appended as a special token (id: the next free one)
// usage: node tok_variants.js QWEN.json OUTDIR
'use strict';
const fs = require('fs');
const path = require('path');
const [src, outDir] = process.argv.slice(2);
const base = () => JSON.parse(fs.readFileSync(src, 'utf8'));
const write = (name, j) => fs.writeFileSync(path.join(outDir, name), JSON.stringify(j));

let j = base();
j.pre_tokenizer.pretokenizers[0].pattern.Regex = j.pre_tokenizer.pretokenizers[0].pattern.Regex.replace('\\p{N}|', '\\p{N}{1,3}|');
write('llama3.json', j);

j = base();
j.normalizer = null;
j.pre_tokenizer = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
write('gpt2.json', j);

j = base();
// ids as HF assigns them on load: the vocab id of the same string, else the next one
let next = Math.max(...j.added_tokens.map((t) => t.id)) + 1;
const add = (content, o) => {
  const id = content in j.model.vocab ? j.model.vocab[content] : next++;
  j.added_tokens.push(Object.assign({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: false }, o));
};
add('[LS]', { lstrip: true, special: true });
add('[RS]', { rstrip: true, special: true });
add('[BOTH]', { lstrip: true, rstrip: true });
add('word', { single_word: true });
add('Café', { normalized: true });
add('ﬁne', { normalized: true });
add('<|im_start|>user', { special: true });
write('flags.json', j);

j = base();
j.added_tokens.push({ id: Math.max(...j.added_tokens.map((t) => t.id)) + 1, content: '<image>', single_word: false,
  lstrip: false, rstrip: false, normalized: false, special: true });
write('image.json', j);
console.log(j.added_tokens[j.added_tokens.length - 1].id);
