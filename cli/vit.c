/* tessera vit: run the vision encoder on raw f32 tiles (debugging, checks). */
#include <stdlib.h>
#include <string.h>

#include "cli/command.h"
#include "features/features.h"

static const char usage[] =
    "usage: tessera vit --model DIR -i TILES.f32 -o OUT.f32 [--device cpu|cuda]\n"
    "                   [--batch N] [--threads N]\n\n"
    "Runs the InternViT encoder of DIR (config.json + safetensors) on TILES.f32,\n"
    "a headerless file of N x 3 x S x S float32 normalized CHW tiles, and writes\n"
    "N x tokens x width float32 features (CLS dropped, pixel-shuffled) to OUT.\n"
    "  --device cpu|cuda  cpu: the fp32 reference (default); cuda: bf16 on GPU 0\n"
    "  --batch N          tiles per forward (default 8)\n"
    "  --threads N        CPU threads (default: all)\n";

static int run_vit(int argc, char **argv);
TS_COMMAND(vit, "vit", "run the vision encoder on raw float tiles", usage, run_vit)

static int run_vit(int argc, char **argv) {
    const char *model = NULL, *in = NULL, *out = NULL;
    ts_vit_device dev = TS_VIT_DEVICE_CPU;
    int batch = 8, threads = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) return ts_command_usage_error(&ts_command_vit, "%s needs a value", a);
        if (!strcmp(a, "--model")) model = v;
        else if (!strcmp(a, "-i")) in = v;
        else if (!strcmp(a, "-o")) out = v;
        else if (!strcmp(a, "--batch")) batch = atoi(v);
        else if (!strcmp(a, "--threads")) threads = atoi(v);
        else if (!strcmp(a, "--device")) {
            if (!strcmp(v, "cpu")) dev = TS_VIT_DEVICE_CPU;
            else if (!strcmp(v, "cuda")) dev = TS_VIT_DEVICE_CUDA;
            else return ts_command_usage_error(&ts_command_vit, "unknown device '%s'", v);
        } else return ts_command_usage_error(&ts_command_vit, "unknown option '%s'", a);
        i++;
    }
    if (!model || !in || !out)
        return ts_command_usage_error(&ts_command_vit, "--model, -i and -o are required");
    if (batch <= 0) return ts_command_usage_error(&ts_command_vit, "--batch must be positive");
    ts_error err = {0};
    if (ts_vit_run_raw(model, in, out, dev, batch, threads, &err) != TS_OK) {
        fprintf(stderr, "tessera vit: %s\n", err.msg);
        return TS_EXIT_FATAL;
    }
    return TS_EXIT_OK;
}
