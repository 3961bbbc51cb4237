/* Megatron-LM indexed dataset export: a `.bin` of token ids and its `.idx`
 * (format: docs/MEGATRON.md, magic "MMIDIDX\0\0", version 1), the form
 * Megatron's IndexedDataset / GPTDataset read for text-only training.
 *
 * One input document becomes one document holding one sequence (no sentence
 * splitting); a document with no ids becomes a document with no sequence, as
 * Megatron's tools/preprocess_data.py does. Sequence modes are never written
 * (text only).
 *
 * Element type: Megatron has no uint32 code. Its own rule (DType.optimal_dtype)
 * is uint16 (code 8) for vocabularies under 65,500 entries, else int32
 * (code 4); the Qwen2/Qwen3 vocabulary (151,643 + added tokens) is therefore
 * int32, which holds every id below 2^31.
 *
 * Outputs: PREFIX.bin and PREFIX.idx, each through core's atomic writer. Any
 * older PREFIX.idx is removed first and the .idx is renamed into place last,
 * so a crash never pairs a new .bin with an old .idx: the .idx is the commit.
 *
 * Memory is bounded: ids go straight to the .bin; the sequence lengths (4
 * bytes each) and document ends (8 bytes each) are spooled to an unlinked
 * temporary file beside PREFIX and streamed into the .idx at the end. */
#ifndef TS_SHARDS_MEGATRON_H
#define TS_SHARDS_MEGATRON_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "tokenize/tokenizer.h"

/* Megatron's dtype codes (indexed_dataset.py DType); only these two are written. */
typedef enum ts_megatron_dtype {
    TS_MEGATRON_INT32 = 4,
    TS_MEGATRON_UINT16 = 8,
} ts_megatron_dtype;

/* Megatron's choice for a vocabulary of `vocab_size` ids. */
ts_megatron_dtype ts_megatron_dtype_for_vocab(size_t vocab_size);
/* "uint16" / "int32". */
const char *ts_megatron_dtype_name(ts_megatron_dtype d);

typedef struct ts_megatron_summary {
    uint64_t documents; /* documents written (Megatron's document_count is this + 1) */
    uint64_t sequences;
    uint64_t tokens;
    uint64_t failed; /* input records skipped, each with a warning naming it */
    ts_megatron_dtype dtype;
    uint64_t bin_bytes, idx_bytes;
    uint64_t bin_xxh3, idx_xxh3;
} ts_megatron_summary;

/* The writer: documents in order, then finish. */
typedef struct ts_megatron_writer ts_megatron_writer;

ts_status ts_megatron_writer_open(const char *prefix, ts_megatron_dtype dtype, ts_megatron_writer **out,
                                  ts_error *err);
/* One document of n ids (n may be 0). An id the dtype cannot hold (negative,
 * or above 65,535 for uint16) fails with TS_ELIMIT and writes nothing. */
ts_status ts_megatron_writer_add(ts_megatron_writer *w, const int32_t *ids, size_t n, ts_error *err);
/* Write the .idx, commit both files, fill *s (documents, sequences, tokens,
 * dtype, bytes, xxh3; failed is left as it was). Frees w either way. */
ts_status ts_megatron_writer_finish(ts_megatron_writer *w, ts_megatron_summary *s, ts_error *err);
/* Remove the temporaries, commit nothing, free. NULL is fine. */
void ts_megatron_writer_abort(ts_megatron_writer *w);

typedef struct ts_megatron_options {
    ts_megatron_dtype dtype; /* 0: int32, or with a tokenizer Megatron's choice for its vocabulary */
    int threads;             /* tokenizing threads; <= 0: all CPUs. Output never depends on it */
    const char *field;       /* JSONL string member holding the text; NULL: "text" */
    const char *eod;         /* token text appended to each non-empty document; NULL: "<|endoftext|>" */
    int no_eod;              /* 1: append nothing */
} ts_megatron_options;

void ts_megatron_options_default(ts_megatron_options *o);

/* A tokenized-sample file (tokenize/tokfile.h): each record's ids are one
 * document, as they are (the EOD options do not apply). A record with images
 * is skipped with a warning and counted in s->failed (the export is text
 * only). tok may be NULL; given, it only picks the dtype when o->dtype is 0. */
ts_status ts_megatron_export_tokfile(const char *tokfile, const ts_tokenizer *tok, const ts_megatron_options *o,
                                     const char *prefix, ts_megatron_summary *s, ts_error *err);

/* JSON lines tokenized on the fly, in parallel batches written in input
 * order: the text of member o->field, encoded as Hugging Face does with no
 * special tokens added, then the EOD id (Megatron's --append-eod) unless the
 * document is empty. A line that is not a JSON object with that string member
 * is skipped with a warning and counted in s->failed. */
ts_status ts_megatron_export_jsonl(const char *jsonl, const ts_tokenizer *tok, const ts_megatron_options *o,
                                   const char *prefix, ts_megatron_summary *s, ts_error *err);

/* Either of the above: a file that starts with the tokenized-sample magic is
 * one; anything else (and "-", stdin) is JSON lines, which needs tok. */
ts_status ts_megatron_export(const char *in, const ts_tokenizer *tok, const ts_megatron_options *o,
                             const char *prefix, ts_megatron_summary *s, ts_error *err);

#endif
