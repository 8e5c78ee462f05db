/*
 * depthlab's native kernels for the fused SGD step of a plain MLP (float32, row-major).
 *
 * A layer maps a minibatch a (B × n_in) to s = a Wᵀ + b with W (n_out × n_in). In the
 * paper's setting (Glorot & Bengio 2010: 1000-unit layers, minibatches of 10) the matrix
 * products have only B = 10 rows, too few for a general GEMM to amortise packing W: the
 * work is bound by streaming W through the cores and by the 3·B multiply-adds each weight
 * takes. Two kernels stream W as few times as an update allows, each a whole pass over the
 * net in one call (one parallel region, the threads meeting at a barrier between layers):
 *
 *   dl_forward    per layer, a' = φ(a Wᵀ + b)                  (reads W once); then the
 *                 cost of the logits and its gradient, the δ of the last layer
 *   dl_backward   per layer, from the top: g = (δ W) ⊙ φ′(a)   (the old W: δ of the layer
 *                 below, skipped for the first layer), then the SGD update of W from
 *                 ∂C/∂W = δᵀ a (reads and writes W once) and of b from ∂C/∂b = δᵀ 1
 *
 * φ is the hidden layers' activation (linear for the output layer), applied to the
 * finished outputs and, as φ′ written in terms of φ's output, to the finished g: the
 * elementwise work of backpropagation runs here too, vectorized, instead of as separate
 * passes over the activations.
 *
 * The backward kernel visits W tile by tile: each tile first contributes to g, then is
 * updated while it is still in the L1 cache, so ∂C/∂W is never stored. With learning rate
 * η, weight decay λ and momentum μ (torch.optim.SGD's rule, dampening 0):
 *
 *   plain:     W ← (1 − ηλ) W − η δᵀa
 *   momentum:  G = δᵀa + λW,  V ← μV + G,  W ← W − η V     (Nesterov: W ← W − η (G + μV))
 *
 * and likewise for b. The tiles apply an update term c·a with c = −η δ for plain SGD (made
 * once per layer) and c = δ with momentum.
 *
 * Threads split W by rows (forward) or by columns (backward, so each thread owns its
 * columns of g and no reduction is needed). Vectors use GCC/Clang vector extensions,
 * which compile to AVX/AVX2 on x86-64 and to NEON on ARM; OpenMP is optional.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

typedef float vec __attribute__((vector_size(32), aligned(4)));  /* 8 floats, unaligned access */
#define LANES 8
#define LOAD(p) (*(const vec *)(p))
#define STORE(p, v) (*(vec *)(p) = (v))
#define INLINE static inline __attribute__((always_inline))
/* Keep a loaded vector in a register: without this GCC folds the load into every
 * multiply-add that uses it, so the forward tile would load each vector of W and of a
 * several times. Only where one register holds all 8 floats (AVX); elsewhere the compiler
 * decides. */
#ifdef __AVX__
#define IN_REGISTER(v) __asm__("" : "+x"(v))
#else
#define IN_REGISTER(v) ((void)0)
#endif

/* Register tiles: the forward keeps 4 rows × 2 examples of partial dot products (8
 * accumulators, 4 vectors of W and 1 of a: 13 of AVX's 16 registers; 5 rows would spill),
 * the backward 5 examples × 16 columns of g, the update 6 rows × 16 columns of W. */
#define FWD_ROWS 4
#define FWD_EXAMPLES 2
#define DOWN_EXAMPLES 5
#define UPD_ROWS 6
#define COL_VECS 2
/* Cache tiles of the backward kernel: BLOCK_ROWS × BLOCK_COLS floats of W (12 KiB). */
#define BLOCK_ROWS 24
#define BLOCK_COLS 128

static int min_int(int x, int y) { return x < y ? x : y; }
static size_t min_size(size_t x, size_t y) { return x < y ? x : y; }

/* ------------------------------------------------------------ activations */

/* The activations the kernels compute, each φ with its derivative in terms of the output
 * a = φ(s). A member's name, lower case with `-` for `_`, is what an activation of
 * depthlab.nets.activations gives as its `native` (depthlab.training.kernels.ids reads
 * this enum):
 *
 *   linear      s                       1
 *   tanh        (e^{2s} − 1)/(e^{2s} + 1)   1 − a²
 *   sigmoid     1/(1 + e^{−s})          a (1 − a)
 *   softsign    s/(1 + |s|)             (1 − |a|)²
 *   relu        max(s, 0)               1 if a > 0 else 0
 *   leaky-relu  s if s > 0 else α s     1 if a > 0 else α      (α = `slope`)
 */
enum activation { LINEAR, TANH, SIGMOID, SOFTSIGN, RELU, LEAKY_RELU };

typedef int ivec __attribute__((vector_size(32), aligned(4)));
#define SPLAT(x) ((vec){0} + (x))

/* Lane by lane: `yes` where `mask` (a vector comparison: all ones or all zeros) holds. */
INLINE vec blend(ivec mask, vec yes, vec no) { return (vec)(((ivec)yes & mask) | ((ivec)no & ~mask)); }
INLINE vec abs_vec(vec x) { return (vec)((ivec)x & 0x7fffffff); }
INLINE vec clamp(vec x, float lo, float hi) {
    x = blend(x < lo, SPLAT(lo), x);
    return blend(x > hi, SPLAT(hi), x);
}

/* e^x − 1 for |x| ≤ 88, to about 2 float ulps. Cody & Waite's reduction x = n ln2 + r,
 * |r| ≤ ln2/2, with ln2 split in two so that n ln2 is exact; e^r − 1 by its Taylor series
 * up to r⁷/7! (the rest is under 2·10⁻⁸ of it); then e^x − 1 = 2ⁿ (e^r − 1) + (2ⁿ − 1),
 * which keeps small |x| accurate where e^x − 1 would cancel. */
INLINE vec expm1_vec(vec x) {
    const float shifter = 12582912.0f;  /* 1.5·2²³: adding it rounds to an integer */
    const vec n = (x * 1.44269504f + shifter) - shifter;
    const vec r = (x - n * 0.693115234375f) - n * 3.19461833e-5f;
    const vec p = r + r * r * (1.0f / 2 + r * (1.0f / 6 + r * (1.0f / 24 + r * (1.0f / 120
                     + r * (1.0f / 720 + r * (1.0f / 5040))))));
    const vec two_n = (vec)((__builtin_convertvector(n, ivec) + 127) << 23);
    return two_n * p + (two_n - 1.0f);
}

INLINE vec activate_vec(int activation, float slope, vec s) {
    switch (activation) {
    case TANH: {
        const vec e = expm1_vec(clamp(2.0f * s, -20.0f, 20.0f));  /* tanh(±10) rounds to ±1 */
        return e / (e + 2.0f);
    }
    case SIGMOID: return 1.0f / (2.0f + expm1_vec(clamp(-s, -88.0f, 88.0f)));
    case SOFTSIGN: return s / (1.0f + abs_vec(s));
    case RELU: return blend(s > 0.0f, s, SPLAT(0.0f));
    case LEAKY_RELU: return blend(s > 0.0f, s, slope * s);
    default: return s;
    }
}

INLINE vec derivative_vec(int activation, float slope, vec a) {
    switch (activation) {
    case TANH: return 1.0f - a * a;
    case SIGMOID: return a * (1.0f - a);
    case SOFTSIGN: { const vec m = 1.0f - abs_vec(a); return m * m; }
    case RELU: return blend(a > 0.0f, SPLAT(1.0f), SPLAT(0.0f));
    case LEAKY_RELU: return blend(a > 0.0f, SPLAT(1.0f), SPLAT(slope));
    default: return SPLAT(1.0f);
    }
}

/* The first n ≤ 8 floats at p as a vector (the other lanes zero), and back. */
INLINE vec load_lanes(const float *p, size_t n) {
    if (n == LANES) return LOAD(p);
    vec v = {0};
    memcpy(&v, p, sizeof(float) * n);
    return v;
}

INLINE void store_lanes(float *p, vec v, size_t n) {
    if (n == LANES) STORE(p, v);
    else memcpy(p, &v, sizeof(float) * n);
}

/* x[k] = φ(x[k]) for k < n. */
static void activate_range(int activation, float slope, float *x, size_t n) {
    for (size_t k = 0; k < n; k += LANES) {
        const size_t m = min_size(LANES, n - k);
        store_lanes(x + k, activate_vec(activation, slope, load_lanes(x + k, m)), m);
    }
}

/* g[k] = g[k] φ′ at a[k], for k < n. */
static void scale_by_derivative(int activation, float slope, float *g, const float *a, size_t n) {
    for (size_t k = 0; k < n; k += LANES) {
        const size_t m = min_size(LANES, n - k);
        store_lanes(g + k, load_lanes(g + k, m) * derivative_vec(activation, slope, load_lanes(a + k, m)), m);
    }
}

/* ---------------------------------------------------------------- forward */

/* GCC from 12 and Clang shuffle vectors; DL_NO_SHUFFLE builds the fallback (tests). */
#if defined(__has_builtin) && !defined(DL_NO_SHUFFLE)
#if __has_builtin(__builtin_shufflevector)
#define HAVE_SHUFFLE 1
#endif
#endif

/* The sum of each of v[0..8) in one vector: lane k holds v[k][0] + … + v[k][7]. Three
 * rounds of shuffles and adds, each halving the number of partial sums per vector (7
 * vector adds, where 8 separate sums of lanes take 56 scalar ones). */
INLINE vec sum_each(const vec v[LANES]) {
#ifdef HAVE_SHUFFLE
    vec pairs[4], quads[2];
    for (int k = 0; k < 4; k++)
        pairs[k] = __builtin_shufflevector(v[2 * k], v[2 * k + 1], 0, 8, 2, 10, 4, 12, 6, 14)
                 + __builtin_shufflevector(v[2 * k], v[2 * k + 1], 1, 9, 3, 11, 5, 13, 7, 15);
    for (int k = 0; k < 2; k++)
        quads[k] = __builtin_shufflevector(pairs[2 * k], pairs[2 * k + 1], 0, 1, 8, 9, 4, 5, 12, 13)
                 + __builtin_shufflevector(pairs[2 * k], pairs[2 * k + 1], 2, 3, 10, 11, 6, 7, 14, 15);
    return __builtin_shufflevector(quads[0], quads[1], 0, 1, 2, 3, 8, 9, 10, 11)
         + __builtin_shufflevector(quads[0], quads[1], 4, 5, 6, 7, 12, 13, 14, 15);
#else
    vec sums = {0};
    for (int k = 0; k < LANES; k++)
        for (int lane = 0; lane < LANES; lane++) sums[k] += v[k][lane];
    return sums;
#endif
}

/* s[b, i..i+R) = bias + a[b] · W[i..i+R) for examples b0..b0+NB. With `prefetch`, the next
 * R rows of W are fetched into the cache meanwhile: the hardware prefetchers stop at each
 * 4 KiB page, about one row of the paper's layers. */
INLINE void forward_tile(int R, int NB, int n_in, int n_out, int i, int b0, int prefetch,
                         const float *a, const float *W, const float *bias, float *s) {
    vec acc[FWD_ROWS][FWD_EXAMPLES];
    float tail[FWD_ROWS][FWD_EXAMPLES];
    for (int r = 0; r < R; r++)
        for (int b = 0; b < NB; b++) { acc[r][b] = (vec){0}; tail[r][b] = 0.0f; }
    const int n_vec = n_in - n_in % LANES;
    for (int j = 0; j < n_vec; j += LANES) {
        if (prefetch && j % (2 * LANES) == 0)  /* one 64-byte line per row */
            for (int r = 0; r < R; r++) __builtin_prefetch(W + (size_t)(i + R + r) * n_in + j);
        vec w[FWD_ROWS];
        for (int r = 0; r < R; r++) {
            w[r] = LOAD(W + (size_t)(i + r) * n_in + j);
            IN_REGISTER(w[r]);
        }
        for (int b = 0; b < NB; b++) {
            vec x = LOAD(a + (size_t)(b0 + b) * n_in + j);
            IN_REGISTER(x);
            for (int r = 0; r < R; r++) acc[r][b] += w[r] * x;
        }
    }
    for (int j = n_vec; j < n_in; j++)
        for (int r = 0; r < R; r++)
            for (int b = 0; b < NB; b++) tail[r][b] += W[(size_t)(i + r) * n_in + j] * a[(size_t)(b0 + b) * n_in + j];
    vec tile[LANES] = {0};
    for (int r = 0; r < R; r++)
        for (int b = 0; b < NB; b++) tile[FWD_EXAMPLES * r + b] = acc[r][b];
    const vec sums = sum_each(tile);
    for (int r = 0; r < R; r++)
        for (int b = 0; b < NB; b++)
            s[(size_t)(b0 + b) * n_out + i + r] = bias[i + r] + sums[FWD_EXAMPLES * r + b] + tail[r][b];
}

#define FORWARD_EXAMPLES(R, NB) forward_tile(R, NB, n_in, n_out, i, b0, b0 == 0 && i + 2 * R <= n_out, a, W, bias, s)
#define FORWARD(R) do { if (nb == 2) FORWARD_EXAMPLES(R, 2); else FORWARD_EXAMPLES(R, 1); } while (0)
_Static_assert(FWD_ROWS == 4 && FWD_EXAMPLES == 2, "forward_layer dispatches 1-4 rows and 1-2 examples, "
               "and sums a tile's 8 accumulators in one vector");

#define ACTIVATE_CHUNK 256  /* floats of s per share of the activation pass */

/* One layer, run by every thread of a parallel region: rows in blocks of FWD_ROWS (the
 * last may be shorter) shared among the threads, examples in pairs, so that each block of
 * W is read from memory once and from the L1 cache for the other pairs; then φ, in chunks
 * of the finished s. Both loops end in a barrier, so s is complete on return. */
static void forward_layer(int B, int n_in, int n_out, int activation, float slope,
                          const float *a, const float *W, const float *bias, float *s) {
    #pragma omp for schedule(static)
    for (int block = 0; block < (n_out + FWD_ROWS - 1) / FWD_ROWS; block++) {
        const int i = FWD_ROWS * block;
        for (int b0 = 0; b0 < B; b0 += FWD_EXAMPLES) {
            const int nb = min_int(FWD_EXAMPLES, B - b0);
            switch (min_int(FWD_ROWS, n_out - i)) {
            case 4: FORWARD(4); break;
            case 3: FORWARD(3); break;
            case 2: FORWARD(2); break;
            default: FORWARD(1);
            }
        }
    }
    if (activation != LINEAR) {
        const size_t n_s = (size_t)B * (size_t)n_out;
        #pragma omp for schedule(static)
        for (size_t k = 0; k < n_s; k += ACTIVATE_CHUNK)
            activate_range(activation, slope, s + k, min_size(ACTIVATE_CHUNK, n_s - k));
    }
}

/* ------------------------------------------------------------------ costs */

/* The costs the kernels compute, named as the activations are (a cost of
 * depthlab.training.costs gives the name as its `native`), each with its gradient with
 * respect to the logits z (p = softmax(z), t = one-hot(y), averages over the B examples):
 *
 *   nll                    C = (1/B) Σ_b [log Σ_k e^{z_k} − z_y]
 *                          ∂C/∂z = (p − t)/B
 *   quadratic              C = (1/B) Σ_b ‖p − t‖²
 *                          ∂C/∂z_j = (2/B) p_j (r_j − Σ_k p_k r_k),  r = p − t
 *   binary-cross-entropy   C = (1/B) Σ_b Σ_k [max(z_k, 0) − t_k z_k + log(1 + e^{−|z_k|})]
 *                          ∂C/∂z = (σ(z) − t)/B
 *
 * in double precision (B × classes numbers: no time to speak of). */
enum cost { NLL, QUADRATIC, BINARY_CROSS_ENTROPY };

/* The cost of the logits z (B × n) for the labels y into *loss, ∂C/∂z into delta. Returns 0,
 * or b + 1 when example b's label is not one of the n classes (nothing written then). */
static int cost_and_delta(int cost, int B, int n, const float *z, const int64_t *y, float *delta, double *loss) {
    for (int b = 0; b < B; b++)
        if (y[b] < 0 || y[b] >= n) return b + 1;
    double total = 0.0;
    for (int b = 0; b < B; b++) {
        const float *zb = z + (size_t)b * n;
        float *db = delta + (size_t)b * n;
        if (cost == BINARY_CROSS_ENTROPY) {
            for (int k = 0; k < n; k++) {
                const double s = zb[k], t = k == y[b];
                total += fmax(s, 0.0) - t * s + log1p(exp(-fabs(s)));
                db[k] = (float)((1.0 / (1.0 + exp(-s)) - t) / B);
            }
            continue;
        }
        double top = zb[0], sum = 0.0;
        for (int k = 1; k < n; k++) top = fmax(top, zb[k]);
        for (int k = 0; k < n; k++) sum += exp(zb[k] - top);
        if (cost == NLL) {
            total += top + log(sum) - zb[y[b]];
            for (int k = 0; k < n; k++) db[k] = (float)((exp(zb[k] - top) / sum - (k == y[b])) / B);
            continue;
        }
        double squares = 0.0, p_dot_r = 0.0;  /* quadratic */
        for (int k = 0; k < n; k++) {
            const double p = exp(zb[k] - top) / sum, r = p - (k == y[b]);
            squares += r * r;
            p_dot_r += p * r;
        }
        total += squares;
        for (int k = 0; k < n; k++) {
            const double p = exp(zb[k] - top) / sum, r = p - (k == y[b]);
            db[k] = (float)(2.0 / B * p * (r - p_dot_r));
        }
    }
    *loss = total / B;
    return 0;
}

/* ---------------------------------------------------------------- the pass */

/* The forward pass of a net of `layers` layers, layer k mapping sizes[k] to sizes[k + 1]
 * units: out[k] = φ(in W[k]ᵀ + bias[k]) with in = x for the first layer and out[k − 1]
 * after, φ the activation of the hidden layers and linear for the last one (the logits).
 * Then, when y is not NULL, the cost of the logits for the labels y into *loss and its
 * gradient into delta (see cost_and_delta, whose return value this is; 0 without y). */
int dl_forward(int threads, int B, int layers, const int *sizes, int activation, float slope, const float *x,
               const float *const *W, const float *const *bias, float *const *out,
               int cost, const int64_t *y, float *delta, double *loss) {
    #pragma omp parallel num_threads(threads)
    for (int k = 0; k < layers; k++)
        forward_layer(B, sizes[k], sizes[k + 1], k + 1 < layers ? activation : LINEAR, slope, k ? out[k - 1] : x,
                      W[k], bias[k], out[k]);
    return y ? cost_and_delta(cost, B, sizes[layers], out[layers - 1], y, delta, loss) : 0;
}

/* ------------------------------------------------------- backward + update */

/* g[b0..b0+NB, j..j+8V) += Σ_{i0 ≤ i < i1} δ[b, i] W[i, j..j+8V) */
INLINE void down_tile(int NB, int V, int n_in, int n_out, int i0, int i1, int b0, int j,
                      const float *delta, const float *W, float *g) {
    vec acc[DOWN_EXAMPLES][COL_VECS];
    for (int b = 0; b < NB; b++)
        for (int v = 0; v < V; v++) acc[b][v] = LOAD(g + (size_t)(b0 + b) * n_in + j + LANES * v);
    for (int i = i0; i < i1; i++) {
        vec w[COL_VECS];
        for (int v = 0; v < V; v++) w[v] = LOAD(W + (size_t)i * n_in + j + LANES * v);
        for (int b = 0; b < NB; b++) {
            const float d = delta[(size_t)(b0 + b) * n_out + i];
            for (int v = 0; v < V; v++) acc[b][v] += d * w[v];
        }
    }
    for (int b = 0; b < NB; b++)
        for (int v = 0; v < V; v++) STORE(g + (size_t)(b0 + b) * n_in + j + LANES * v, acc[b][v]);
}

/* The update of W[i..i+R, j..j+8V): plain SGD when V_buf is NULL (c = −η δ), momentum
 * otherwise (c = δ). */
INLINE void update_tile(int R, int V, int B, int n_in, int n_out, int i, int j, const float *c, const float *a,
                        float *W, float *V_buf, float lr, float decay, float mu, int nesterov) {
    vec acc[UPD_ROWS][COL_VECS];
    const float start = V_buf ? decay : 1.0f - lr * decay;  /* λW, or (1 − ηλ)W */
    for (int r = 0; r < R; r++)
        for (int v = 0; v < V; v++) {
            const vec w = LOAD(W + (size_t)(i + r) * n_in + j + LANES * v);
            acc[r][v] = start == 1.0f ? w : start * w;  /* plain SGD without decay: no multiply */
        }
    for (int b = 0; b < B; b++) {
        vec x[COL_VECS];
        for (int v = 0; v < V; v++) x[v] = LOAD(a + (size_t)b * n_in + j + LANES * v);
        for (int r = 0; r < R; r++) {
            const float d = c[(size_t)b * n_out + i + r];
            for (int v = 0; v < V; v++) acc[r][v] += d * x[v];
        }
    }
    for (int r = 0; r < R; r++)
        for (int v = 0; v < V; v++) {
            float *w = W + (size_t)(i + r) * n_in + j + LANES * v;
            if (!V_buf) { STORE(w, acc[r][v]); continue; }
            float *m = V_buf + (size_t)(i + r) * n_in + j + LANES * v;
            const vec momentum = mu * LOAD(m) + acc[r][v];
            STORE(m, momentum);
            STORE(w, LOAD(w) - lr * (nesterov ? acc[r][v] + mu * momentum : momentum));
        }
}

#define DOWN(NB, V) down_tile(NB, V, n_in, n_out, i0, i1, b0, j, delta, W, g)
#define DOWN_EXAMPLES_OF(V) switch (nb) { \
    case 5: DOWN(5, V); break; case 4: DOWN(4, V); break; case 3: DOWN(3, V); break; \
    case 2: DOWN(2, V); break; default: DOWN(1, V); }
#define UPDATE(R, V) update_tile(R, V, B, n_in, n_out, i, j, c, a, W, V_buf, lr, decay, mu, nesterov)
#define UPDATE_ROWS_OF(V) switch (r) { \
    case 6: UPDATE(6, V); break; case 5: UPDATE(5, V); break; case 4: UPDATE(4, V); break; \
    case 3: UPDATE(3, V); break; case 2: UPDATE(2, V); break; default: UPDATE(1, V); }

/* Columns [c0, c1) (a multiple of 8 wide) of g and W: block by block of rows, the block
 * first adds to g, then is updated. */
static void backward_update_columns(int B, int n_in, int n_out, int c0, int c1, const float *delta, const float *c,
                                    const float *a, float *W, float *V_buf, float *g,
                                    float lr, float decay, float mu, int nesterov) {
    for (int j0 = c0; j0 < c1; j0 += BLOCK_COLS) {
        const int j1 = min_int(j0 + BLOCK_COLS, c1);
        for (int i0 = 0; i0 < n_out; i0 += BLOCK_ROWS) {
            const int i1 = min_int(i0 + BLOCK_ROWS, n_out);
            if (g)
                for (int b0 = 0; b0 < B; b0 += DOWN_EXAMPLES) {
                    const int nb = min_int(DOWN_EXAMPLES, B - b0);
                    for (int j = j0; j < j1; j += COL_VECS * LANES) {
                        if (j + COL_VECS * LANES <= j1) { DOWN_EXAMPLES_OF(2) } else { DOWN_EXAMPLES_OF(1) }
                    }
                }
            for (int i = i0; i < i1; i += UPD_ROWS) {
                const int r = min_int(UPD_ROWS, i1 - i);
                for (int j = j0; j < j1; j += COL_VECS * LANES) {
                    for (int k = i + BLOCK_ROWS; k < min_int(i + BLOCK_ROWS + r, n_out); k++)
                        __builtin_prefetch(W + (size_t)k * n_in + j, 1);  /* the next block's rows */
                    if (j + COL_VECS * LANES <= j1) { UPDATE_ROWS_OF(2) } else { UPDATE_ROWS_OF(1) }
                }
            }
        }
    }
}

/* One parameter θ (a weight or a bias) whose update term is `term` = Σ_b c[b] x[b]: −η ∂C/∂θ
 * for plain SGD (m NULL), ∂C/∂θ with a momentum buffer m. */
static void update_scalar(float *theta, float *m, float term, float lr, float decay, float mu, int nesterov) {
    if (!m) { *theta = (1.0f - lr * decay) * *theta + term; return; }
    const float grad = term + decay * *theta;
    *m = mu * *m + grad;
    *theta -= lr * (nesterov ? grad + mu * *m : *m);
}

/* The last n_in % 8 columns, one element at a time, in the same order: g first, then W. */
static void backward_update_tail(int B, int n_in, int n_out, int c0, const float *delta, const float *c,
                                 const float *a, float *W, float *V_buf, float *g,
                                 float lr, float decay, float mu, int nesterov) {
    for (int i = 0; i < n_out; i++)
        for (int j = c0; j < n_in; j++) {
            const size_t at = (size_t)i * n_in + j;
            float term = 0.0f;
            for (int b = 0; b < B; b++) {
                if (g) g[(size_t)b * n_in + j] += delta[(size_t)b * n_out + i] * W[at];
                term += c[(size_t)b * n_out + i] * a[(size_t)b * n_in + j];
            }
            update_scalar(W + at, V_buf ? V_buf + at : NULL, term, lr, decay, mu, nesterov);
        }
}

/* Biases i0..i1: ∂C/∂b_i = Σ_b δ[b, i]. */
static void update_biases(int B, int n_out, int i0, int i1, const float *c, float *bias, float *bias_buf,
                          float lr, float decay, float mu, int nesterov) {
    for (int i = i0; i < i1; i++) {
        float term = 0.0f;
        for (int b = 0; b < B; b++) term += c[(size_t)b * n_out + i];
        update_scalar(bias + i, bias_buf ? bias_buf + i : NULL, term, lr, decay, mu, nesterov);
    }
}

/* One layer, run by every thread of a parallel region. With plain SGD (V_buf NULL) the
 * update term −η δ is first written to `scaled` (B × n_out floats, shared by the threads).
 * Then each thread takes its share of the columns of g and W, and its share of the biases.
 * `activation` is φ of the layer below, whose output is a. */
static void backward_layer(int B, int n_in, int n_out, const float *delta, float *scaled, const float *a,
                           float *W, float *V_buf, float *bias, float *bias_buf, float *g, int activation,
                           float slope, float lr, float decay, float mu, int nesterov) {
    const float *c = delta;
    if (!V_buf) {
        const size_t n = (size_t)B * (size_t)n_out;
        #pragma omp for schedule(static)
        for (size_t k = 0; k < n; k++) scaled[k] = -lr * delta[k];
        c = scaled;  /* complete after the loop's barrier */
    }
    int t = 0, nt = 1;
#ifdef _OPENMP
    t = omp_get_thread_num();
    nt = omp_get_num_threads();
#endif
    const int n_vecs = n_in / LANES, per_thread = (n_vecs + nt - 1) / nt;
    const int c0 = LANES * min_int(t * per_thread, n_vecs), c1 = LANES * min_int((t + 1) * per_thread, n_vecs);
    if (g)
        for (int b = 0; b < B; b++) memset(g + (size_t)b * n_in + c0, 0, sizeof(float) * (size_t)(c1 - c0));
    backward_update_columns(B, n_in, n_out, c0, c1, delta, c, a, W, V_buf, g, lr, decay, mu, nesterov);
    const int last = t == nt - 1, tail = LANES * n_vecs;
    if (last && n_in % LANES) {
        if (g)
            for (int b = 0; b < B; b++) memset(g + (size_t)b * n_in + tail, 0, sizeof(float) * (size_t)(n_in - tail));
        backward_update_tail(B, n_in, n_out, tail, delta, c, a, W, V_buf, g, lr, decay, mu, nesterov);
    }
    if (g && activation != LINEAR) {  /* this thread's columns of g are final */
        const int end = last ? n_in : c1;
        for (int b = 0; b < B; b++)
            scale_by_derivative(activation, slope, g + (size_t)b * n_in + c0, a + (size_t)b * n_in + c0,
                                (size_t)(end - c0));
    }
    const int rows_per_thread = (n_out + nt - 1) / nt;
    update_biases(B, n_out, min_int(t * rows_per_thread, n_out), min_int((t + 1) * rows_per_thread, n_out),
                  c, bias, bias_buf, lr, decay, mu, nesterov);
}

/* The backward pass and update of the net of dl_forward, from the last layer down: delta[k]
 * is layer k's δ, given for the last layer (∂C/∂logits) and written for the others,
 * delta[k − 1] = (delta[k] W[k]) ⊙ φ′(out[k − 1]) with the weights before their update.
 * W_buf and bias_buf hold the momentum buffers, or are NULL for plain SGD. Returns 0, or -1
 * when the floats for −η δ cannot be allocated. */
int dl_backward(int threads, int B, int layers, const int *sizes, int activation, float slope, const float *x,
                const float *const *out, float *const *delta, float *const *W, float *const *W_buf,
                float *const *bias, float *const *bias_buf, float lr, float decay, float mu, int nesterov) {
    float *scaled = NULL;
    if (!W_buf) {
        int widest = 0;
        for (int k = 1; k <= layers; k++) widest = sizes[k] > widest ? sizes[k] : widest;
        const size_t n = (size_t)B * (size_t)widest;
        if (n && !(scaled = malloc(sizeof(float) * n))) return -1;
    }
    #pragma omp parallel num_threads(threads)
    for (int k = layers - 1; k >= 0; k--) {
        backward_layer(B, sizes[k], sizes[k + 1], delta[k], scaled, k ? out[k - 1] : x, W[k],
                       W_buf ? W_buf[k] : NULL, bias[k], bias_buf ? bias_buf[k] : NULL, k ? delta[k - 1] : NULL,
                       activation, slope, lr, decay, mu, nesterov);
        #pragma omp barrier  /* delta[k − 1] is complete, and `scaled` free for the next layer */
    }
    free(scaled);
    return 0;
}
