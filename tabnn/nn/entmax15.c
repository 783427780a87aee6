/* Exact 1.5-entmax over the last axis of many short rows, forward and backward, for the CPU.
 * Loaded by tabnn/nn/entmax.py, which compiles it on first use.
 *
 * ARM-Net normalises the scores of every (row, neuron) over a few dozen fields. PyTorch's
 * sort-based solution runs a dozen full passes over the [n, F] scores (sort, two cumulative
 * sums, divisions, square roots, a gather); here each row is solved in one go in the core's
 * cache. Rows are independent, so results do not depend on the thread count.
 *
 * Forward: x = z / 2 - max(z / 2); with the k largest x in the support, the threshold
 * tau_k = mean_k - sqrt((1 - ss_k) / k) (ss_k: sum of squared deviations from mean_k). The
 * support is the prefix of k with tau_k <= x_(k), i.e. (mean_k - x_(k))^2 <= (1 - ss_k) / k
 * as x_(k) <= mean_k (no square root per k); p = max(x - tau, 0)^2. The k-th largest x is
 * selected when it is needed, so a sparse support costs a few scans of the row, not a sort.
 * Backward: g = sqrt(p); dz = g * dp - g * sum(g * dp) / sum(g). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#define STACK_FIELDS 256

/* one row: z [F] -> p [F]; x is a buffer of F floats */
static void row_forward(const float *z, float *p, int64_t F, float *x)
{
    float top = z[0];
    for (int64_t i = 1; i < F; i++)
        top = z[i] > top ? z[i] : top;
    for (int64_t i = 0; i < F; i++)
        x[i] = 0.5f * (z[i] - top);
    double sum = 0.0, sum_sq = 0.0, mean = 0.0, rest = 0.0;
    for (int64_t k = 1; k <= F; k++) {
        /* selection: the k-th largest x to x[k - 1] (the best so far kept in a register) */
        int64_t best = k - 1;
        float v = x[best];
        for (int64_t i = k; i < F; i++) {
            int above = x[i] > v;
            best = above ? i : best;
            v = above ? x[i] : v;
        }
        x[best] = x[k - 1];
        x[k - 1] = v;
        double sum_k = sum + v, sum_sq_k = sum_sq + (double)v * v;
        double mean_k = sum_k / k;
        double rest_k = (1.0 - (sum_sq_k - k * mean_k * mean_k)) / k;
        if ((mean_k - v) * (mean_k - v) > rest_k)
            break;
        sum = sum_k, sum_sq = sum_sq_k, mean = mean_k, rest = rest_k;
    }
    double tau = mean - sqrt(rest > 0.0 ? rest : 0.0);
    for (int64_t i = 0; i < F; i++) {
        double d = 0.5 * ((double)z[i] - top) - tau;
        p[i] = d > 0.0 ? (float)(d * d) : 0.0f;
    }
}

int tabnn_entmax15_forward(const float *z, float *p, int64_t n, int64_t F, int64_t n_threads)
{
    int status = 0;
#pragma omp parallel num_threads(n_threads) reduction(| : status)
    {
        float stack[STACK_FIELDS];
        float *buf = F <= STACK_FIELDS ? stack : malloc(F * sizeof(float));
        if (!buf)
            status = 1;
        /* every thread meets the loop (a worksharing construct), with or without a buffer */
#pragma omp for schedule(static)
        for (int64_t r = 0; r < n; r++)
            if (buf)
                row_forward(z + r * F, p + r * F, F, buf);
        if (buf && buf != stack)
            free(buf);
    }
    return status;
}

int tabnn_entmax15_backward(const float *p, const float *dp, float *dz, int64_t n, int64_t F,
                            int64_t n_threads)
{
#pragma omp parallel for num_threads(n_threads) schedule(static)
    for (int64_t r = 0; r < n; r++) {
        const float *pr = p + r * F, *dr = dp + r * F;
        float *out = dz + r * F;
        double g_sum = 0.0, gd_sum = 0.0;
        for (int64_t i = 0; i < F; i++) {
            double g = sqrt((double)pr[i]);
            g_sum += g;
            gd_sum += g * dr[i];
        }
        double q = g_sum > 0.0 ? gd_sum / g_sum : 0.0;
        for (int64_t i = 0; i < F; i++) {
            double g = sqrt((double)pr[i]);
            out[i] = (float)(g * dr[i] - g * q);
        }
    }
    return 0;
}
