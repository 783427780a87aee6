/* Multi-head self-attention over the fields of many small rows, forward and backward, for the
 * CPU. Loaded by tabnn/nn/fused_attention.py, which compiles it on first use.
 *
 * A row has F fields; its queries, keys and values are the columns of one projection
 * qkv [n, F, 3 * H * D] (heads are column blocks; queries come pre-scaled). Rows are taken 16
 * at a time ("lanes"): the 16 rows' values of one (field, channel) form one vector, so the
 * score products, the softmax and its gradient are vertical vector arithmetic with no
 * reductions across a vector, whatever F and D are. The F x F attention matrix of a row lives
 * in registers and a small buffer and is never written to memory; the backward pass
 * recomputes it from the saved score maximum and normaliser of each query row.
 *
 * Written with GCC / Clang vector extensions (no intrinsics): the compiler maps them to
 * whatever vector unit -march allows. Threads: OpenMP over groups of 16 rows; every group is
 * computed the same way whatever the thread count, so results do not depend on it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#define L 16
typedef float vf __attribute__((vector_size(64)));
typedef int32_t vi __attribute__((vector_size(64)));

static inline vf ld(const float *p) { vf v; memcpy(&v, p, sizeof v); return v; }
static inline void st(float *p, vf v) { memcpy(p, &v, sizeof v); }
static inline vf bc(float a) { return (vf){0} + a; }

static inline vf sel(vi mask, vf a, vf b)
{
    vi ai, bi, r;
    vf out;
    memcpy(&ai, &a, sizeof ai);
    memcpy(&bi, &b, sizeof bi);
    r = (mask & ai) | (~mask & bi);
    memcpy(&out, &r, sizeof out);
    return out;
}

static inline vf vmax(vf a, vf b) { return sel(a > b, a, b); }

/* e^x for x <= 0 (scores minus their row maximum): x = n ln2 + r with |r| <= ln2 / 2, e^r by
 * its degree-6 Taylor polynomial (relative error below 2e-7), 2^n built in the exponent bits.
 * Below -87 the result is flushed to e^-87, about 1.6e-38: nothing next to the maximum's 1. */
static inline vf vexp(vf x)
{
    const float magic = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
    x = vmax(x, bc(-87.0f));
    vf big = x * 1.44269504088896341f + magic;
    vf n = big - magic;
    vf r = x - n * 0.693359375f + n * 2.12194440e-4f; /* ln2 split in two for precision */
    vf p = bc(1.0f / 720);
    p = p * r + 1.0f / 120;
    p = p * r + 1.0f / 24;
    p = p * r + 1.0f / 6;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    vi bits;
    memcpy(&bits, &big, sizeof bits);
    vi e = ((bits - 0x4B400000) + 127) << 23; /* the integer n sits in big's low mantissa bits */
    vf scale;
    memcpy(&scale, &e, sizeof scale);
    return p * scale;
}

/* In-register 16 x 16 transpose: four stages, each swapping the off-diagonal blocks of size
 * b = 8, 4, 2, 1 between rows i and i + b. */
#define UNPACK(...) __VA_ARGS__
#define SWAP_STAGE(b, LO, HI)                                                  \
    for (int i = 0; i < 16; i++) {                                             \
        if (i & (b)) continue;                                                 \
        vf lo = __builtin_shufflevector(r[i], r[i + (b)], UNPACK LO);               \
        vf hi = __builtin_shufflevector(r[i], r[i + (b)], UNPACK HI);               \
        r[i] = lo;                                                             \
        r[i + (b)] = hi;                                                       \
    }

static inline void transpose16(vf r[16])
{
    SWAP_STAGE(8, (0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23),
               (8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31))
    SWAP_STAGE(4, (0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27),
               (4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31))
    SWAP_STAGE(2, (0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29),
               (2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31))
    SWAP_STAGE(1, (0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30),
               (1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31))
}

/* rows [r0, r0 + nr) of src [n, T] into lanes dst [T, L]; lanes past nr are zero */
static void to_lanes(const float *src, float *dst, int64_t r0, int64_t nr, int64_t T)
{
    int64_t t0 = 0;
    if (nr == L) {
        vf r[16];
        for (; t0 + 16 <= T; t0 += 16) {
            for (int l = 0; l < 16; l++) r[l] = ld(src + (r0 + l) * T + t0);
            transpose16(r);
            for (int t = 0; t < 16; t++) st(dst + (t0 + t) * L, r[t]);
        }
    } else {
        memset(dst, 0, sizeof(float) * T * L);
    }
    for (int64_t l = 0; l < nr; l++)
        for (int64_t t = t0; t < T; t++) dst[t * L + l] = src[(r0 + l) * T + t];
}

/* lanes src [T, L] back into rows [r0, r0 + nr) of dst [n, T] */
static void from_lanes(const float *src, float *dst, int64_t r0, int64_t nr, int64_t T)
{
    int64_t t0 = 0;
    if (nr == L) {
        vf r[16];
        for (; t0 + 16 <= T; t0 += 16) {
            for (int t = 0; t < 16; t++) r[t] = ld(src + (t0 + t) * L);
            transpose16(r);
            for (int l = 0; l < 16; l++) st(dst + (r0 + l) * T + t0, r[l]);
        }
    }
    for (int64_t l = 0; l < nr; l++)
        for (int64_t t = t0; t < T; t++) dst[(r0 + l) * T + t] = src[t * L + l];
}

/* 64-byte aligned buffer of n floats (C11 wants the size a multiple of the alignment) */
static float *buffer(int64_t n)
{
    return aligned_alloc(64, (sizeof(float) * n + 63) / 64 * 64);
}

static void group_range(int64_t G, int64_t *g0, int64_t *g1)
{
#ifdef _OPENMP
    const int64_t t = omp_get_thread_num(), k = omp_get_num_threads();
#else
    const int64_t t = 0, k = 1;
#endif
    *g0 = G * t / k;
    *g1 = G * (t + 1) / k;
}

/* C = A B for small matrices whose elements are lane vectors: C[i][c] = sum_k A(i, k) B(k, c)
 * for i < m, c < n, k < K, where A(i, k) is the vector at A + i * ai + k * ak, B(k, c) at
 * B + k * bk + c * bc and C[i][c] at C + i * crs + c * L. The strides express transposes:
 * A B^T is B read with (bk, bc) = (L, row stride), A^T B is A read with (ai, ak) = (L, row
 * stride). Tiles of 2 x 4 outputs keep eight accumulators in registers, so each loaded vector
 * serves two or four products. */
static void mm(const float *A, int64_t ai, int64_t ak, const float *B, int64_t bk, int64_t bc,
               float *C, int64_t crs, int64_t m, int64_t n, int64_t K)
{
    int64_t i = 0;
    for (; i + 2 <= m; i += 2) {
        const float *a0 = A + i * ai, *a1 = a0 + ai;
        int64_t c = 0;
        for (; c + 4 <= n; c += 4) {
            vf c00 = {0}, c01 = {0}, c02 = {0}, c03 = {0}, c10 = {0}, c11 = {0}, c12 = {0},
               c13 = {0};
            for (int64_t k = 0; k < K; k++) {
                const vf x0 = ld(a0 + k * ak), x1 = ld(a1 + k * ak);
                const float *b = B + k * bk + c * bc;
                const vf y0 = ld(b), y1 = ld(b + bc), y2 = ld(b + 2 * bc), y3 = ld(b + 3 * bc);
                c00 += x0 * y0; c01 += x0 * y1; c02 += x0 * y2; c03 += x0 * y3;
                c10 += x1 * y0; c11 += x1 * y1; c12 += x1 * y2; c13 += x1 * y3;
            }
            float *r0 = C + i * crs + c * L, *r1 = r0 + crs;
            st(r0, c00); st(r0 + L, c01); st(r0 + 2 * L, c02); st(r0 + 3 * L, c03);
            st(r1, c10); st(r1 + L, c11); st(r1 + 2 * L, c12); st(r1 + 3 * L, c13);
        }
        for (; c < n; c++) {
            vf c0 = {0}, c1 = {0};
            for (int64_t k = 0; k < K; k++) {
                const vf y = ld(B + k * bk + c * bc);
                c0 += ld(a0 + k * ak) * y;
                c1 += ld(a1 + k * ak) * y;
            }
            st(C + i * crs + c * L, c0);
            st(C + (i + 1) * crs + c * L, c1);
        }
    }
    for (; i < m; i++)
        for (int64_t c = 0; c < n; c++) {
            vf acc = {0};
            for (int64_t k = 0; k < K; k++)
                acc += ld(A + i * ai + k * ak) * ld(B + k * bk + c * bc);
            st(C + i * crs + c * L, acc);
        }
}

static int forward_groups(const float *qkv, float *out, float *stats, int64_t n, int64_t F,
                          int64_t H, int64_t D, int64_t g0, int64_t g1)
{
    const int64_t HD = H * D, W = 3 * HD;
    float *x = buffer((F * W + F * HD + F * F) * L);
    if (!x) return -1;
    float *o = x + F * W * L, *s = o + F * HD * L;
    for (int64_t g = g0; g < g1; g++) {
        const int64_t r0 = g * L, nr = n - r0 < L ? n - r0 : L;
        to_lanes(qkv, x, r0, nr, F * W);
        for (int64_t h = 0; h < H; h++) {
            const float *q = x + h * D * L, *k = x + (HD + h * D) * L;
            const float *v = x + (2 * HD + h * D) * L;
            mm(q, W * L, L, k, L, W * L, s, F * L, F, F, D);           /* s = q k^T */
            for (int64_t i = 0; i < F; i++) {
                float *si = s + i * F * L;
                vf m = bc(-3.0e38f), sum = {0};
                for (int64_t j = 0; j < F; j++) m = vmax(m, ld(si + j * L));
                for (int64_t j = 0; j < F; j++) {
                    const vf e = vexp(ld(si + j * L) - m);
                    st(si + j * L, e);
                    sum += e;
                }
                const vf inv = 1.0f / sum;
                for (int64_t j = 0; j < F; j++) st(si + j * L, ld(si + j * L) * inv);
                float *st_i = stats + ((g * H + h) * F + i) * 2 * L;
                st(st_i, m);
                st(st_i + L, inv);
            }
            mm(s, F * L, L, v, W * L, L, o + h * D * L, HD * L, F, D, F); /* o = p v */
        }
        from_lanes(o, out, r0, nr, F * HD);
    }
    free(x);
    return 0;
}

static int backward_groups(const float *qkv, const float *stats, const float *dout,
                           float *dqkv, int64_t n, int64_t F, int64_t H, int64_t D, int64_t g0,
                           int64_t g1)
{
    const int64_t HD = H * D, W = 3 * HD;
    float *x = buffer((2 * F * W + F * HD + 2 * F * F) * L);
    if (!x) return -1;
    float *gx = x + F * W * L, *go = gx + F * W * L, *p = go + F * HD * L, *ds = p + F * F * L;
    for (int64_t g = g0; g < g1; g++) {
        const int64_t r0 = g * L, nr = n - r0 < L ? n - r0 : L;
        to_lanes(qkv, x, r0, nr, F * W);
        to_lanes(dout, go, r0, nr, F * HD);
        for (int64_t h = 0; h < H; h++) {
            const int64_t qo = h * D * L, ko = (HD + h * D) * L, vo = (2 * HD + h * D) * L;
            const float *gh = go + qo;
            /* attention p recomputed from the saved maximum and normaliser; dp = dout v^T */
            mm(x + qo, W * L, L, x + ko, L, W * L, p, F * L, F, F, D);
            mm(gh, HD * L, L, x + vo, L, W * L, ds, F * L, F, F, D);
            for (int64_t i = 0; i < F; i++) {
                float *pi = p + i * F * L, *di = ds + i * F * L;
                const float *st_i = stats + ((g * H + h) * F + i) * 2 * L;
                const vf m = ld(st_i), inv = ld(st_i + L);
                vf delta = {0};
                for (int64_t j = 0; j < F; j++) {
                    const vf e = vexp(ld(pi + j * L) - m) * inv;
                    st(pi + j * L, e);
                    delta += e * ld(di + j * L);
                }
                /* score gradient ds = p (dp - delta) */
                for (int64_t j = 0; j < F; j++)
                    st(di + j * L, ld(pi + j * L) * (ld(di + j * L) - delta));
            }
            mm(ds, F * L, L, x + ko, W * L, L, gx + qo, W * L, F, D, F);  /* dq = ds k */
            mm(ds, L, F * L, x + qo, W * L, L, gx + ko, W * L, F, D, F);  /* dk = ds^T q */
            mm(p, L, F * L, gh, HD * L, L, gx + vo, W * L, F, D, F);      /* dv = p^T dout */
        }
        from_lanes(gx, dqkv, r0, nr, F * W);
    }
    free(x);
    return 0;
}

/* qkv [n, F, 3HD] -> out [n, F, HD]; stats [ceil(n / 16), H, F, 2, 16] receives each query
 * row's score maximum and inverse softmax normaliser for the backward pass. 0 on success,
 * -1 when a buffer could not be allocated. */
int tabnn_attention_forward(const float *qkv, float *out, float *stats, int64_t n, int64_t F,
                            int64_t H, int64_t D, int64_t n_threads)
{
    const int64_t G = (n + L - 1) / L;
    int status = 0;
#pragma omp parallel num_threads(n_threads) reduction(| : status)
    {
        int64_t g0, g1;
        group_range(G, &g0, &g1);
        status |= forward_groups(qkv, out, stats, n, F, H, D, g0, g1);
    }
    return status;
}

/* dout [n, F, HD] -> dqkv [n, F, 3HD], from the forward pass's qkv and stats */
int tabnn_attention_backward(const float *qkv, const float *stats, const float *dout,
                             float *dqkv, int64_t n, int64_t F, int64_t H, int64_t D,
                             int64_t n_threads)
{
    const int64_t G = (n + L - 1) / L;
    int status = 0;
#pragma omp parallel num_threads(n_threads) reduction(| : status)
    {
        int64_t g0, g1;
        group_range(G, &g0, &g1);
        status |= backward_groups(qkv, stats, dout, dqkv, n, F, H, D, g0, g1);
    }
    return status;
}
