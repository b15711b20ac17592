/* nnf_sgemm_isa.h -- the instruction-set-specific half of nnf_sgemm.c, included once per ISA.
 *
 * The includer defines:
 *   ISA(name)    the function name for this ISA (name##_avx512, name##_avx2)
 *   ISA_TARGET   the target attribute of every function here
 *   ISA_AVX512   1 for AVX-512F (16-float vectors, masks), 0 for AVX2+FMA (8-float vectors)
 *   MR, NR       the micro-kernel's rows and columns (NR = two vectors)
 *   MT           the rows of the tail kernel for a ragged last row block of at most MT rows
 * and gemm_job, KC_MAX. Both instances compute every C element as the same fused multiply-add
 * chain; only the tile shape (and so the padding) differs.
 */

#if ISA_AVX512
/* Lane masks of the two vectors of a row of n <= NR columns (n past 16 spills into the second). */
#define ISA_ROW_MASKS(n, m0, m1)                                                               \
    const __mmask16 m0 = (__mmask16)((n) >= 16 ? 0xFFFF : (1u << (n)) - 1u);                   \
    const __mmask16 m1 = (__mmask16)((n) >= 32 ? 0xFFFF : (n) > 16 ? (1u << ((n) - 16)) - 1u : 0);
#define V __m512
#define VW 16
#define V_ZERO() _mm512_setzero_ps()
#define V_LOAD(p) _mm512_load_ps(p)
#define V_LOADU(p) _mm512_loadu_ps(p)
#define V_STORE(p, v) _mm512_store_ps((p), (v))
#define V_STOREU(p, v) _mm512_storeu_ps((p), (v))
#define V_SET1(x) _mm512_set1_ps(x)
#define V_FMA(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#define V_MUL(a, b) _mm512_mul_ps((a), (b))
#else
#define V __m256
#define VW 8
#define V_ZERO() _mm256_setzero_ps()
#define V_LOAD(p) _mm256_load_ps(p)
#define V_LOADU(p) _mm256_loadu_ps(p)
#define V_STORE(p, v) _mm256_store_ps((p), (v))
#define V_STOREU(p, v) _mm256_storeu_ps((p), (v))
#define V_SET1(x) _mm256_set1_ps(x)
#define V_FMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define V_MUL(a, b) _mm256_mul_ps((a), (b))
#endif

/* ---- packing ----------------------------------------------------------------------------- */

/* Panel of op(B) = B^T, rows [0, k), columns [j0, j0 + nr), nr <= NR, as k x NR floats (zero
 * past nr): op(B)[p, j] = B[j*ldb + p], a gather of one vector's columns per k. */
ISA_TARGET static void ISA(pack_bt_panel)(size_t k, const float *b, size_t ldb, size_t j0,
                                          size_t nr, float *NNF_RESTRICT dst)
{
#if ISA_AVX512
    const __m512i idx = _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5,
                                                            4, 3, 2, 1, 0),
                                           _mm512_set1_epi32((int)ldb));
#else
    const __m256i idx = _mm256_mullo_epi32(_mm256_set_epi32(7, 6, 5, 4, 3, 2, 1, 0),
                                           _mm256_set1_epi32((int)ldb));
#endif
    for (size_t half = 0; half < 2; half++) {
        size_t jbase = j0 + VW * half;
        size_t cols = nr > VW * half ? nr - VW * half : 0;
        if (cols > VW)
            cols = VW;
        float *d = dst + VW * half;
        if (cols == VW && ldb <= (size_t)(INT32_MAX / VW)) {
            const float *src = b + jbase * ldb;
            for (size_t p = 0; p < k; p++)
#if ISA_AVX512
                V_STORE(d + p * NR, _mm512_i32gather_ps(idx, src + p, 4));
#else
                V_STORE(d + p * NR, _mm256_i32gather_ps(src + p, idx, 4));
#endif
        } else {
            for (size_t p = 0; p < k; p++) {
                for (size_t jj = 0; jj < VW; jj++)
                    d[p * NR + jj] = jj < cols ? b[(jbase + jj) * ldb + p] : 0.0f;
            }
        }
    }
}

/* Columns [jc, jc + ncur) of op(B) as its NR-column panels (k x NR floats each, zero past
 * ncur; panel jp at pack + jp * NR * k). A row-major B is copied row by row across all the
 * panels, so the reads run along each row rather than one 128-byte piece per row and panel
 * (rows of a 1024-wide weight lie 4 KB apart: a new page per k-step); a transposed B is
 * gathered panel by panel. */
ISA_TARGET static void ISA(pack_b_block)(int trans_b, size_t k, const float *b, size_t ldb,
                                         size_t jc, size_t ncur, float *NNF_RESTRICT pack)
{
    const size_t panels = (ncur + NR - 1) / NR;
    if (trans_b) {
        for (size_t jp = 0; jp < panels; jp++) {
            const size_t j0 = jp * NR;
            ISA(pack_bt_panel)(k, b, ldb, jc + j0, ncur - j0 < NR ? ncur - j0 : NR,
                               pack + jp * NR * k);
        }
        return;
    }
    const size_t full = ncur / NR, tail = ncur - full * NR;
    for (size_t p = 0; p < k; p++) {
        const float *src = b + p * ldb + jc;
        float *dst = pack + p * NR;
        for (size_t jp = 0; jp < full; jp++, src += NR, dst += NR * k) {
            V_STORE(dst, V_LOADU(src));
            V_STORE(dst + VW, V_LOADU(src + VW));
        }
        if (tail) {
#if ISA_AVX512
            ISA_ROW_MASKS(tail, m0, m1)
            V_STORE(dst, _mm512_maskz_loadu_ps(m0, src));
            V_STORE(dst + 16, _mm512_maskz_loadu_ps(m1, src + 16));
#else
            for (size_t jj = 0; jj < NR; jj++)
                dst[jj] = jj < tail ? src[jj] : 0.0f;
#endif
        }
    }
}

/* MR x kc strip of transposed A (rows [i0, i0 + mr) of op(A), k-range [p0, p0 + kc)) as
 * kc x MR floats, rows past mr zero: one masked vector copy per k-step (no load past mr). */
ISA_TARGET static void ISA(pack_at_strip)(const float *a, size_t lda, size_t i0, size_t mr,
                                          size_t p0, size_t kc, float *NNF_RESTRICT dst,
                                          size_t width)
{
    const float *src = a + p0 * lda + i0;
#if ISA_AVX512
    const __mmask16 load = (__mmask16)((1u << mr) - 1u), store = (__mmask16)((1u << width) - 1u);
    for (size_t p = 0; p < kc; p++, src += lda)
        _mm512_mask_storeu_ps(dst + p * width, store, _mm512_maskz_loadu_ps(load, src));
#else
    const __m256i lanes = _mm256_set_epi32(7, 6, 5, 4, 3, 2, 1, 0);
    const __m256i load = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)mr), lanes);
    const __m256i store = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)width), lanes);
    for (size_t p = 0; p < kc; p++, src += lda)
        _mm256_maskstore_ps(dst + p * width, store, _mm256_maskload_ps(src, load));
#endif
}

/* width x kc strip of op(A) (rows [i0, i0 + mr), mr <= width, k-range [p0, p0 + kc)) as kc x
 * width floats, rows past mr zero (width: MR, or MT for the tail kernel). */
ISA_TARGET static void ISA(pack_a_strip)(int trans_a, const float *a, size_t lda, size_t i0,
                                         size_t mr, size_t p0, size_t kc, float *NNF_RESTRICT dst,
                                         size_t width)
{
    if (trans_a) {
        ISA(pack_at_strip)(a, lda, i0, mr, p0, kc, dst, width);
        return;
    }
    for (size_t p = 0; p < kc; p++)
        for (size_t ii = 0; ii < width; ii++)
            dst[p * width + ii] = ii < mr ? a[(i0 + ii) * lda + p0 + p] : 0.0f;
}

/* ---- micro-kernel ------------------------------------------------------------------------ */

/* The C tile's rows: r0/r1 := alpha * acc; then C := beta * C + r (beta == 0 never reads C),
 * columns [0, nr). The AVX2 tail goes through a scalar fmaf: the same rounding as the vector. */
#if ISA_AVX512
#define ISA_STORE_ROW(cr, r0, r1)                                                              \
    do {                                                                                       \
        if (beta != 0.0f) {                                                                    \
            r0 = V_FMA(vb, _mm512_maskz_loadu_ps(m0, cr), r0);                                 \
            r1 = V_FMA(vb, _mm512_maskz_loadu_ps(m1, cr + 16), r1);                            \
        }                                                                                      \
        _mm512_mask_storeu_ps(cr, m0, r0);                                                     \
        _mm512_mask_storeu_ps(cr + 16, m1, r1);                                                \
    } while (0)
#define ISA_STORE_SETUP                                                                        \
    ISA_ROW_MASKS(nr, m0, m1)
#else
#define ISA_STORE_ROW(cr, r0, r1)                                                              \
    do {                                                                                       \
        if (nr == NR) {                                                                        \
            if (beta != 0.0f) {                                                                \
                r0 = V_FMA(vb, V_LOADU(cr), r0);                                               \
                r1 = V_FMA(vb, V_LOADU(cr + VW), r1);                                          \
            }                                                                                  \
            V_STOREU(cr, r0);                                                                  \
            V_STOREU(cr + VW, r1);                                                             \
        } else {                                                                               \
            float tmp_[NR];                                                                    \
            V_STOREU(tmp_, r0);                                                                \
            V_STOREU(tmp_ + VW, r1);                                                           \
            for (size_t j_ = 0; j_ < nr; j_++)                                                 \
                cr[j_] = beta != 0.0f ? fmaf(beta, cr[j_], tmp_[j_]) : tmp_[j_];               \
        }                                                                                      \
    } while (0)
#define ISA_STORE_SETUP
#endif

/* One software prefetch per k-step, PF_AHEAD k-steps ahead: for a row-major strip the rows
 * take turns (row p mod 16, when < MR: one line of each row per 16 k-steps), for a strip
 * contiguous along the rows the line PF_AHEAD/4 k-steps on. */
#define ISA_PREFETCH(RS, CS, ROWS)                                                             \
    if ((CS) == 1) {                                                                           \
        const size_t r_ = p & 15;                                                              \
        if (r_ < (ROWS))                                                                       \
            _mm_prefetch((const char *)(a + r_ * (RS) + p + PF_AHEAD), _MM_HINT_T0);           \
    } else {                                                                                   \
        _mm_prefetch((const char *)(ap + PF_AHEAD / 4 * (CS)), _MM_HINT_T0);                   \
    }

/* The C tile's lines, requested before the k loop so that their misses overlap the FMAs: a
 * weight gradient's C (X^T dY, k = the batch) is megabytes written once per step and in no
 * cache. Measured on a 2048-1024-1024 step's TN products, two threads, caches flushed between
 * steps (AMD Zen 5): 0.75-0.79x OpenBLAS without, 1.04-1.14x with. */
#define ISA_PREFETCH_C                                                                         \
    for (size_t ii_ = 0; ii_ < mr; ii_++) {                                                    \
        _mm_prefetch((const char *)(c + ii_ * ldc), _MM_HINT_T0);                              \
        _mm_prefetch((const char *)(c + ii_ * ldc + nr - 1), _MM_HINT_T0);                     \
    }

#define ISA_B_LOAD(p, BS) ((BS) == NR ? V_LOAD(p) : V_LOADU(p))

/* C tile (mr x nr, mr <= ROWS) := alpha * A_strip B_panel + beta * C, A_strip[ii, p] =
 * a[ii*rs + p*cs], the B panel's k-steps BS floats apart (NR: packed and aligned; else B read
 * in place); expanded into the two layouts below so that rs or cs is a compile-time 1, for
 * ROWS = MR and for the tail kernel's MT. */
#define ISA_UK_BODY(RS, CS, ROWS, BS)                                                          \
    ISA_PREFETCH_C                                                                             \
    V acc0[ROWS], acc1[ROWS];                                                                  \
    for (int ii = 0; ii < (ROWS); ii++) {                                                      \
        acc0[ii] = V_ZERO();                                                                   \
        acc1[ii] = V_ZERO();                                                                   \
    }                                                                                          \
    for (size_t p = 0; p < kc; p++) {                                                          \
        const V b0 = ISA_B_LOAD(bp, BS), b1 = ISA_B_LOAD(bp + VW, BS);                         \
        const float *ap = a + p * (CS);                                                        \
        ISA_PREFETCH(RS, CS, ROWS)                                                             \
        _Pragma("GCC unroll 12") for (int ii = 0; ii < (ROWS); ii++)                           \
        {                                                                                      \
            const V av = V_SET1(ap[ii * (RS)]);                                                \
            acc0[ii] = V_FMA(av, b0, acc0[ii]);                                                \
            acc1[ii] = V_FMA(av, b1, acc1[ii]);                                                \
        }                                                                                      \
        bp += (BS);                                                                            \
    }                                                                                          \
    const V va = V_SET1(alpha), vb = V_SET1(beta);                                             \
    (void)vb;                                                                                  \
    ISA_STORE_SETUP                                                                            \
    for (int ii = 0; ii < (ROWS); ii++) {                                                      \
        if ((size_t)ii >= mr)                                                                  \
            break;                                                                             \
        float *cr = c + (size_t)ii * ldc;                                                      \
        V r0 = alpha == 1.0f ? acc0[ii] : V_MUL(va, acc0[ii]);                                 \
        V r1 = alpha == 1.0f ? acc1[ii] : V_MUL(va, acc1[ii]);                                 \
        ISA_STORE_ROW(cr, r0, r1);                                                             \
    }

/* The micro-kernels of ROWS-row tiles, for the two layouts of an A strip: contiguous along
 * the rows (packed strips, transposed A: a[ii + p*cs]) and row-major A (a[ii*rs + p]). `rows`
 * with ROWS = MR runs every full row block; `tail` with MT the ragged last rows, which the
 * MR-row kernel ran as a zero-padded MR-row strip (batches of 32, 128 and 512 rows end in 8 of
 * 12: that strip cost a full tile and a copy). */
#define ISA_UKERNELS(KIND, ROWS)                                                               \
    ISA_TARGET static void ISA(ukernel_##KIND##_contig)(                                       \
        size_t kc, const float *NNF_RESTRICT a, size_t cs, const float *NNF_RESTRICT bp,       \
        float *c, size_t ldc, size_t mr, size_t nr, float alpha, float beta)                   \
    {                                                                                          \
        ISA_UK_BODY(1, cs, ROWS, NR)                                                           \
    }                                                                                          \
    ISA_TARGET static void ISA(ukernel_##KIND##_strided)(                                      \
        size_t kc, const float *NNF_RESTRICT a, size_t rs, const float *NNF_RESTRICT bp,       \
        float *c, size_t ldc, size_t mr, size_t nr, float alpha, float beta)                   \
    {                                                                                          \
        ISA_UK_BODY(rs, 1, ROWS, NR)                                                           \
    }

ISA_UKERNELS(rows, MR)
ISA_UKERNELS(tail, MT)

#if ISA_AVX512
/* The kernels of a product whose B is read in place (few rows; see gemm_job.direct_b): the
 * panel's k-steps ldb floats apart, unaligned. */
#define ISA_UKERNELS_DIRECT(KIND, ROWS)                                                        \
    ISA_TARGET static void ISA(ukernel_##KIND##_direct_contig)(                                \
        size_t kc, const float *NNF_RESTRICT a, size_t cs, const float *NNF_RESTRICT bp,       \
        size_t ldb, float *c, size_t ldc, size_t mr, size_t nr, float alpha, float beta)        \
    {                                                                                          \
        ISA_UK_BODY(1, cs, ROWS, ldb)                                                          \
    }                                                                                          \
    ISA_TARGET static void ISA(ukernel_##KIND##_direct_strided)(                               \
        size_t kc, const float *NNF_RESTRICT a, size_t rs, const float *NNF_RESTRICT bp,       \
        size_t ldb, float *c, size_t ldc, size_t mr, size_t nr, float alpha, float beta)        \
    {                                                                                          \
        ISA_UK_BODY(rs, 1, ROWS, ldb)                                                          \
    }
ISA_UKERNELS_DIRECT(rows, MR)
ISA_UKERNELS_DIRECT(tail, MT)
#undef ISA_UKERNELS_DIRECT

/* The tiles of a product with B read in place: at most NNF_SGEMM_DIRECT_B_ROWS rows, whole
 * panels, k-blocks in order, each panel's k-block kept in L1 while the kernel walks down the
 * rows. A last row block of exactly MT rows is read in place; any other ragged one is copied
 * into a zero-padded strip (MT or MR rows wide) once per k-block. */
ISA_TARGET static void ISA(run_tiles_direct)(const gemm_job *J)
{
    const size_t rowblocks = (J->m + MR - 1) / MR, panels = J->n / NR;
    const size_t tail = J->m % MR, width = tail < MT ? MT : MR;
    float strip[KC_MAX * MR] __attribute__((aligned(64)));
    for (size_t p0 = 0; p0 < J->k; p0 += J->kc) {
        const size_t kc = J->k - p0 < J->kc ? J->k - p0 : J->kc;
        const float beta = p0 == 0 ? J->beta : 1.0f;
        if (tail != 0 && tail != MT)
            ISA(pack_a_strip)(J->trans_a, J->a, J->lda, J->m - tail, tail, p0, kc, strip, width);
        for (size_t jp = 0; jp < panels; jp++) {
            const float *bp = J->b + p0 * J->ldb + jp * NR;
            for (size_t ib = 0; ib < rowblocks; ib++) {
                const size_t i0 = ib * MR, mr = J->m - i0 < MR ? J->m - i0 : MR;
                float *c = J->c + i0 * J->ldc + jp * NR;
                const float *a = J->trans_a ? J->a + p0 * J->lda + i0 : J->a + i0 * J->lda + p0;
                if (mr < MR && mr != MT && width == MT)
                    ISA(ukernel_tail_direct_contig)(kc, strip, MT, bp, J->ldb, c, J->ldc, mr, NR,
                                                    J->alpha, beta);
                else if (mr < MR && mr != MT)
                    ISA(ukernel_rows_direct_contig)(kc, strip, MR, bp, J->ldb, c, J->ldc, mr, NR,
                                                    J->alpha, beta);
                else if (mr == MR && J->trans_a)
                    ISA(ukernel_rows_direct_contig)(kc, a, J->lda, bp, J->ldb, c, J->ldc, mr, NR,
                                                    J->alpha, beta);
                else if (mr == MR)
                    ISA(ukernel_rows_direct_strided)(kc, a, J->lda, bp, J->ldb, c, J->ldc, mr,
                                                     NR, J->alpha, beta);
                else if (J->trans_a)
                    ISA(ukernel_tail_direct_contig)(kc, a, J->lda, bp, J->ldb, c, J->ldc, mr, NR,
                                                    J->alpha, beta);
                else
                    ISA(ukernel_tail_direct_strided)(kc, a, J->lda, bp, J->ldb, c, J->ldc, mr,
                                                     NR, J->alpha, beta);
            }
        }
    }
}
#endif

/* ---- the loops --------------------------------------------------------------------------- */

/* Tiles of the block of columns [jc, jc + ncur), k-blocks in order; within a k-block, groups
 * of J->mc rows, each group's tiles panel-major: the kc x NR panel stays in L1 while the
 * micro-kernel walks down the group's row blocks, and the group's slice of A stays in L2
 * across the panels. With J->apack a group of transposed A is first copied into contiguous
 * MR-row strips (its rows lie lda apart: at lda = 1024 or 2048 floats every k-step of a strip
 * falls in the same L1 set). */
ISA_TARGET static void ISA(run_tiles)(const gemm_job *J, size_t jc, size_t ncur)
{
    const size_t panels = (ncur + NR - 1) / NR;
    float strip[KC_MAX * MR] __attribute__((aligned(64)));
    for (size_t p0 = 0; p0 < J->k; p0 += J->kc) {
        const size_t kc = J->k - p0 < J->kc ? J->k - p0 : J->kc;
        const float beta = p0 == 0 ? J->beta : 1.0f;
        for (size_t g0 = 0; g0 < J->m; g0 += J->mc) {
            const size_t gm = J->m - g0 < J->mc ? J->m - g0 : J->mc;
            const size_t rowblocks = (gm + MR - 1) / MR;
            if (J->apack)
                for (size_t ib = 0; ib < rowblocks; ib++) {
                    const size_t i0 = g0 + ib * MR, mr = J->m - i0 < MR ? J->m - i0 : MR;
                    ISA(pack_at_strip)(J->a, J->lda, i0, mr, p0, kc, J->apack + ib * MR * kc,
                                       MR);
                }
            int strip_packed = 0; /* the ragged last row block, packed for this k-block */
            for (size_t t = 0; t < rowblocks * panels; t++) {
                const size_t jp = t / rowblocks, ib = t % rowblocks;
                const size_t i0 = g0 + ib * MR, mr = J->m - i0 < MR ? J->m - i0 : MR;
                const size_t j0 = jp * NR, nr = ncur - j0 < NR ? ncur - j0 : NR;
                const float *bp = J->pack + jp * NR * J->k + p0 * NR;
                float *c = J->c + i0 * J->ldc + jc + j0;
                if (J->apack) {
                    ISA(ukernel_rows_contig)(kc, J->apack + ib * MR * kc, MR, bp, c, J->ldc, mr,
                                             nr, J->alpha, beta);
                } else if (mr == MT && J->trans_a) { /* the tail in place */
                    ISA(ukernel_tail_contig)(kc, J->a + p0 * J->lda + i0, J->lda, bp, c, J->ldc,
                                             mr, nr, J->alpha, beta);
                } else if (mr == MT) {
                    ISA(ukernel_tail_strided)(kc, J->a + i0 * J->lda + p0, J->lda, bp, c,
                                              J->ldc, mr, nr, J->alpha, beta);
                } else if (mr < MR) { /* a zero-padded strip for either kernel */
                    const size_t width = mr < MT ? MT : MR;
                    if (!strip_packed) {
                        ISA(pack_a_strip)(J->trans_a, J->a, J->lda, i0, mr, p0, kc, strip,
                                          width);
                        strip_packed = 1;
                    }
                    if (width == MT)
                        ISA(ukernel_tail_contig)(kc, strip, MT, bp, c, J->ldc, mr, nr, J->alpha,
                                                 beta);
                    else
                        ISA(ukernel_rows_contig)(kc, strip, MR, bp, c, J->ldc, mr, nr, J->alpha,
                                                 beta);
                } else if (J->trans_a) {
                    ISA(ukernel_rows_contig)(kc, J->a + p0 * J->lda + i0, J->lda, bp, c, J->ldc,
                                             mr, nr, J->alpha, beta);
                } else {
                    ISA(ukernel_rows_strided)(kc, J->a + i0 * J->lda + p0, J->lda, bp, c, J->ldc,
                                              mr, nr, J->alpha, beta);
                }
            }
        }
    }
}

/* The whole product: column blocks of J->nc, each packed into J->pack, then its tiles (with
 * J->direct_b, run_tiles_direct over B in place). */
ISA_TARGET static void ISA(sgemm_run)(gemm_job *J)
{
#if ISA_AVX512
    if (J->direct_b) {
        ISA(run_tiles_direct)(J);
        return;
    }
#endif
    for (size_t jc = 0; jc < J->n; jc += J->nc) {
        const size_t ncur = J->n - jc < J->nc ? J->n - jc : J->nc;
        ISA(pack_b_block)(J->trans_b, J->k, J->b, J->ldb, jc, ncur, J->pack);
        ISA(run_tiles)(J, jc, ncur);
    }
}

#undef V
#undef VW
#undef V_ZERO
#undef V_LOAD
#undef V_LOADU
#undef V_STORE
#undef V_STOREU
#undef V_SET1
#undef V_FMA
#undef V_MUL
#undef ISA_STORE_ROW
#undef ISA_STORE_SETUP
#undef ISA_PREFETCH
#undef ISA_PREFETCH_C
#undef ISA_ROW_MASKS
#undef ISA_UK_BODY
#undef ISA_B_LOAD
#undef ISA_UKERNELS
