/* InternViT shape arithmetic: tokens, output size, FLOPs, consistency. */
#include "features.h"

void ts_vit_config_internvit6b(ts_vit_config *c) {
    c->hidden = 3200;
    c->heads = 25;
    c->head_dim = 128;
    c->mlp = 12800;
    c->layers = 45;
    c->image_size = 448;
    c->patch_size = 14;
    c->qk_norm = 1;
    c->eps = 1e-6f;
}

int ts_vit_grid(const ts_vit_config *c) { return c->image_size / c->patch_size; }
int ts_vit_tokens(const ts_vit_config *c) { return ts_vit_grid(c) * ts_vit_grid(c) + 1; }
int ts_vit_out_tokens(const ts_vit_config *c) { return (ts_vit_grid(c) / 2) * (ts_vit_grid(c) / 2); }
int ts_vit_out_dim(const ts_vit_config *c) { return 4 * c->hidden; }

ts_status ts_vit_config_check(const ts_vit_config *c, ts_error *err) {
    if (c->hidden <= 0 || c->heads <= 0 || c->mlp <= 0 || c->layers <= 0 || c->image_size <= 0 ||
        c->patch_size <= 0)
        return ts_fail(err, TS_EFORMAT, "config: sizes must be positive");
    if (c->hidden > 65536 || c->mlp > 262144 || c->layers > 1024 || c->image_size > 4096)
        return ts_fail(err, TS_ELIMIT, "config: sizes beyond the supported range");
    if (c->hidden % c->heads != 0 || c->head_dim != c->hidden / c->heads)
        return ts_fail(err, TS_EFORMAT, "config: hidden_size %d is not num_attention_heads %d x %d",
                       c->hidden, c->heads, c->head_dim);
    if (c->image_size % c->patch_size != 0)
        return ts_fail(err, TS_EFORMAT, "config: image_size %d is not a multiple of patch_size %d",
                       c->image_size, c->patch_size);
    if (ts_vit_grid(c) % 2 != 0)
        return ts_fail(err, TS_EUNSUPPORTED,
                       "config: a %dx%d patch grid cannot be pixel-shuffled (needs an even side)",
                       ts_vit_grid(c), ts_vit_grid(c));
    if (!(c->eps > 0 && c->eps < 1)) return ts_fail(err, TS_EFORMAT, "config: bad layer_norm_eps");
    return TS_OK;
}

double ts_vit_flops_per_tile(const ts_vit_config *c) {
    double T = ts_vit_tokens(c), D = c->hidden, F = c->mlp, P = ts_vit_grid(c) * ts_vit_grid(c);
    double patch = 2.0 * P * D * 3.0 * c->patch_size * c->patch_size;
    double per_layer = 2.0 * T * D * 3 * D   /* qkv */
                       + 2.0 * T * T * D     /* q k^T over all heads */
                       + 2.0 * T * T * D     /* p v */
                       + 2.0 * T * D * D     /* proj */
                       + 2.0 * T * D * F * 2; /* fc1 + fc2 */
    return patch + c->layers * per_layer;
}
