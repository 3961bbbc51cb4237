/* tessera vit-bench: time the CUDA InternViT forward with random weights. */
#include <stdlib.h>
#include <string.h>

#include "cli/command.h"
#include "core/json.h"
#include "features/features.h"

static const char usage[] =
    "usage: tessera vit-bench [--batch 8,16,32] [--iters N] [--layers N] [--peak-tflops X]\n\n"
    "Times the CUDA forward of the InternViT-6B-448px architecture (45 layers, 3200\n"
    "hidden, 25 heads, 12800 MLP) with random weights generated on the GPU: one JSON\n"
    "line per batch size (median ms per batch, tiles/s, TFLOP/s, MFU against\n"
    "--peak-tflops, default 989 = H100/H200 dense bf16, and against cuBLASLt's\n"
    "measured rate on this device). The attention variant follows TS_VIT_ATTENTION\n"
    "(flash|batched), the GELU TS_VIT_GELU (erf|tanh).\n";

static int run_bench(int argc, char **argv);
TS_COMMAND(vit_bench, "vit-bench", "time the CUDA vision encoder (random weights)", usage, run_bench)

static int run_bench(int argc, char **argv) {
    char batches[256] = "8,16,32";
    int iters = 5;
    double peak = 989.0;
    ts_vit_config cfg;
    ts_vit_config_internvit6b(&cfg);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) return ts_command_usage_error(&ts_command_vit_bench, "%s needs a value", a);
        if (!strcmp(a, "--batch")) snprintf(batches, sizeof batches, "%s", v);
        else if (!strcmp(a, "--iters")) iters = atoi(v);
        else if (!strcmp(a, "--layers")) cfg.layers = atoi(v);
        else if (!strcmp(a, "--peak-tflops")) peak = atof(v);
        else return ts_command_usage_error(&ts_command_vit_bench, "unknown option '%s'", a);
        i++;
    }
    if (iters <= 0 || cfg.layers <= 0 || peak <= 0)
        return ts_command_usage_error(&ts_command_vit_bench, "values must be positive");
    int list[16], nb = 0, maxb = 0;
    for (char *tok = strtok(batches, ","); tok && nb < 16; tok = strtok(NULL, ",")) {
        list[nb] = atoi(tok);
        if (list[nb] <= 0) return ts_command_usage_error(&ts_command_vit_bench, "bad batch '%s'", tok);
        if (list[nb] > maxb) maxb = list[nb];
        nb++;
    }
    ts_error err = {0};
    double measured = 0;
    /* The ceiling: cuBLASLt on the fc1 shape of the largest batch. */
    if (ts_vit_cuda_gemm_peak(maxb * ts_vit_tokens(&cfg), cfg.mlp, cfg.hidden, 10, &measured, &err) !=
        TS_OK) {
        fprintf(stderr, "tessera vit-bench: %s\n", err.msg);
        return TS_EXIT_FATAL;
    }
    ts_vit_cuda *v = NULL;
    if (ts_vit_cuda_new_random(&cfg, maxb, 1, &v, &err) != TS_OK) {
        fprintf(stderr, "tessera vit-bench: %s\n", err.msg);
        return TS_EXIT_FATAL;
    }
    const char *attn = getenv("TS_VIT_ATTENTION"), *gelu = getenv("TS_VIT_GELU");
    double flops = ts_vit_flops_per_tile(&cfg);
    int rc = TS_EXIT_OK;
    for (int i = 0; i < nb; i++) {
        double ms = 0;
        if (ts_vit_cuda_time(v, list[i], iters, &ms, &err) != TS_OK) {
            fprintf(stderr, "tessera vit-bench: batch %d: %s\n", list[i], err.msg);
            rc = TS_EXIT_FATAL;
            break;
        }
        double tflops = flops * list[i] / (ms * 1e-3) / 1e12;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "attention", attn && *attn ? attn : "default");
        cJSON_AddStringToObject(o, "gelu", gelu && *gelu ? gelu : "erf");
        cJSON_AddNumberToObject(o, "layers", cfg.layers);
        cJSON_AddNumberToObject(o, "batch", list[i]);
        cJSON_AddNumberToObject(o, "ms_per_batch", ms);
        cJSON_AddNumberToObject(o, "tiles_per_s", list[i] / (ms * 1e-3));
        cJSON_AddNumberToObject(o, "tflop_per_tile", flops / 1e12);
        cJSON_AddNumberToObject(o, "tflops", tflops);
        cJSON_AddNumberToObject(o, "mfu_spec", tflops / peak);
        cJSON_AddNumberToObject(o, "gemm_peak_tflops", measured);
        cJSON_AddNumberToObject(o, "mfu_measured_peak", tflops / measured);
        double st[TS_VIT_STAGES];
        if (ts_vit_cuda_profile(v, list[i], st, &err) == TS_OK) {
            static const char *const names[TS_VIT_STAGES] = {"qkv", "qk_norm", "attention", "proj",
                                                             "residual_norm", "fc1", "gelu", "fc2"};
            cJSON *p = cJSON_AddObjectToObject(o, "layer_ms");
            for (int k = 0; k < TS_VIT_STAGES; k++) cJSON_AddNumberToObject(p, names[k], st[k]);
        }
        ts_json_write_line(stdout, o, &err);
        cJSON_Delete(o);
    }
    ts_vit_cuda_free(v);
    return rc;
}
