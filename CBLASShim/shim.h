#ifndef FULCRUM_CBLAS_SHIM_H
#define FULCRUM_CBLAS_SHIM_H

// OpenBLAS's CBLAS interface and the reference LAPACKE interface. Debian builds OpenBLAS without
// LAPACKE, so the LAPACKE_* symbols come from liblapacke, which calls OpenBLAS's LAPACK.
#include <cblas.h>
#include <lapacke.h>

// The lane operations Swift's vector math is built on, for each vector type the kernels use:
// 8 and 16 Floats (gating and kNN tiles; `Float.Vector`) and 4 Doubles (`Double.Vector`), and
// the halves the reductions below go through.
// Clang lowers each to one or two instructions per register on either target, where Swift's
// generic SIMD operations can lose their vectorisation after specialisation.
//
// - multiply_add: Swift's `addingProduct` lowers to one `fmaf` call per lane when the target has
//   no FMA unit, and `a * b + c` is never contracted. Under `fp contract(fast)` clang emits a
//   fused multiply-add when the target CPU has one (`-Xswiftc -target-cpu -Xswiftc native`) and a
//   plain multiply and add otherwise, in registers either way.
// - maximum: one compare and a bit select, lowered to a single maxps/maxpd: where a lane of `b`
//   is NaN the result is `b` (a NaN); where `a` is NaN, `b`.
// - select_less: `a < b ? x : y`, one compare and a blend.
// - select_sign: `x` where the sign bit of `a` is set (negative values, −0, NaNs with the sign
//   bit), else `y`: the sign bit is the blend mask itself, no compare.
// - negative_magnitude: −|v|, the sign bit set by one bitwise or.
#define FULCRUM_LANE_OPERATIONS(NAME, S, I, N, SIGN) \
typedef S fulcrum_##NAME __attribute__((ext_vector_type(N))); \
typedef I fulcrum_##NAME##_bits __attribute__((ext_vector_type(N))); \
static inline __attribute__((always_inline)) \
fulcrum_##NAME fulcrum_multiply_add_##NAME(fulcrum_##NAME a, fulcrum_##NAME b, fulcrum_##NAME c) { \
    _Pragma("clang fp contract(fast)") \
    return a * b + c; \
} \
static inline __attribute__((always_inline)) \
fulcrum_##NAME fulcrum_bit_select_##NAME(fulcrum_##NAME##_bits m, fulcrum_##NAME x, fulcrum_##NAME y) { \
    return __builtin_bit_cast(fulcrum_##NAME, \
        (m & __builtin_bit_cast(fulcrum_##NAME##_bits, x)) | (~m & __builtin_bit_cast(fulcrum_##NAME##_bits, y))); \
} \
static inline __attribute__((always_inline)) \
fulcrum_##NAME fulcrum_maximum_##NAME(fulcrum_##NAME a, fulcrum_##NAME b) { \
    return fulcrum_bit_select_##NAME(a > b, a, b); \
} \
static inline __attribute__((always_inline)) \
fulcrum_##NAME fulcrum_select_less_##NAME(fulcrum_##NAME a, fulcrum_##NAME b, fulcrum_##NAME x, fulcrum_##NAME y) { \
    return fulcrum_bit_select_##NAME(a < b, x, y); \
} \
static inline __attribute__((always_inline)) \
fulcrum_##NAME fulcrum_select_sign_##NAME(fulcrum_##NAME a, fulcrum_##NAME x, fulcrum_##NAME y) { \
    return fulcrum_bit_select_##NAME(__builtin_bit_cast(fulcrum_##NAME##_bits, a) >> (8 * sizeof(S) - 1), x, y); \
} \
static inline __attribute__((always_inline)) \
fulcrum_##NAME fulcrum_negative_magnitude_##NAME(fulcrum_##NAME v) { \
    return __builtin_bit_cast(fulcrum_##NAME, __builtin_bit_cast(fulcrum_##NAME##_bits, v) | (fulcrum_##NAME##_bits)(I)(SIGN)); \
}

FULCRUM_LANE_OPERATIONS(float2, float, int, 2, 0x80000000)
FULCRUM_LANE_OPERATIONS(float4, float, int, 4, 0x80000000)
FULCRUM_LANE_OPERATIONS(float8, float, int, 8, 0x80000000)
FULCRUM_LANE_OPERATIONS(float16, float, int, 16, 0x80000000)
FULCRUM_LANE_OPERATIONS(double2, double, long, 2, 0x8000000000000000UL)
FULCRUM_LANE_OPERATIONS(double4, double, long, 4, 0x8000000000000000UL)

// Reductions of a vector's lanes by halving (v.lo with v.hi, then again): log₂(width) vector
// operations deep, where Swift's `SIMD.sum()` adds the lanes one after another (15 dependent adds
// for 16 lanes) and clang's `__builtin_reduce_max` on floats becomes a NaN-checking scalar chain.
// sum_of_lanes: the sum in that fixed order; largest_lane: the largest lane (which lane wins when
// one is NaN is unspecified).
static inline __attribute__((always_inline)) float fulcrum_sum_of_lanes_float2(fulcrum_float2 v) { return v.x + v.y; }
static inline __attribute__((always_inline)) double fulcrum_sum_of_lanes_double2(fulcrum_double2 v) { return v.x + v.y; }
static inline __attribute__((always_inline)) float fulcrum_largest_lane_float2(fulcrum_float2 v) { return v.x > v.y ? v.x : v.y; }
static inline __attribute__((always_inline)) double fulcrum_largest_lane_double2(fulcrum_double2 v) { return v.x > v.y ? v.x : v.y; }

#define FULCRUM_HALVING_REDUCTIONS(NAME, HALF, S) \
static inline __attribute__((always_inline)) S fulcrum_sum_of_lanes_##NAME(fulcrum_##NAME v) { \
    return fulcrum_sum_of_lanes_##HALF(v.lo + v.hi); \
} \
static inline __attribute__((always_inline)) S fulcrum_largest_lane_##NAME(fulcrum_##NAME v) { \
    return fulcrum_largest_lane_##HALF(fulcrum_maximum_##HALF(v.lo, v.hi)); \
}

FULCRUM_HALVING_REDUCTIONS(float4, float2, float)
FULCRUM_HALVING_REDUCTIONS(float8, float4, float)
FULCRUM_HALVING_REDUCTIONS(float16, float8, float)
FULCRUM_HALVING_REDUCTIONS(double4, double2, double)

// The last step of the vector exponentials: y·2ⁿ per lane, or 0 where x < threshold (x NaN keeps
// its lane). The integer n arrives as t = 1.5·2ᵖ + n, as the magic-number rounding leaves it
// (p = 23 for float, 52 for double), with 2ⁿ a normal number wherever x ≥ threshold.
// With AVX-512 (and VL for 8 floats): one compare into a mask register and one zero-masked
// vscalefps (`_CMP_NLT_UQ`, 5, is true for NaN); doubles always take the bits path. Elsewhere
// 2ⁿ is built from its exponent bits (unsigned arithmetic: no overflow), then a multiply and a
// blend. Both round y·2ⁿ once, so the two give the same result in every lane.
#define FULCRUM_EXPONENT_SCALING(NAME, S, U, N, MANTISSA_BITS, BIAS, MAGIC_BITS) \
static inline __attribute__((always_inline)) \
fulcrum_##NAME fulcrum_power_of_two_bits_scaled_##NAME(fulcrum_##NAME y, fulcrum_##NAME t, fulcrum_##NAME x, fulcrum_##NAME threshold) { \
    typedef U fulcrum_##NAME##_unsigned __attribute__((ext_vector_type(N))); \
    fulcrum_##NAME##_unsigned k = __builtin_bit_cast(fulcrum_##NAME##_unsigned, t) - (U)(MAGIC_BITS); \
    fulcrum_##NAME scale = __builtin_bit_cast(fulcrum_##NAME, (k + (U)(BIAS)) << MANTISSA_BITS); \
    return fulcrum_bit_select_##NAME(x < threshold, (fulcrum_##NAME)0, y * scale); \
}

FULCRUM_EXPONENT_SCALING(float8, float, unsigned, 8, 23, 127, 0x4B400000u)
FULCRUM_EXPONENT_SCALING(float16, float, unsigned, 16, 23, 127, 0x4B400000u)
FULCRUM_EXPONENT_SCALING(double4, double, unsigned long, 4, 52, 1023, 0x4338000000000000ul)

static inline __attribute__((always_inline))
fulcrum_float16 fulcrum_power_of_two_scaled_float16(fulcrum_float16 y, fulcrum_float16 t, fulcrum_float16 x, fulcrum_float16 threshold) {
#if defined(__AVX512F__)
    typedef float v16 __attribute__((vector_size(64)));
    unsigned short keep = __builtin_ia32_cmpps512_mask(__builtin_bit_cast(v16, x), __builtin_bit_cast(v16, threshold), 5, 0xFFFF, 4);
    v16 n = __builtin_bit_cast(v16, t - (fulcrum_float16)12582912.0f);
    return __builtin_bit_cast(fulcrum_float16, __builtin_ia32_scalefps512_mask(__builtin_bit_cast(v16, y), n, (v16){0}, keep, 4));
#else
    return fulcrum_power_of_two_bits_scaled_float16(y, t, x, threshold);
#endif
}

static inline __attribute__((always_inline))
fulcrum_float8 fulcrum_power_of_two_scaled_float8(fulcrum_float8 y, fulcrum_float8 t, fulcrum_float8 x, fulcrum_float8 threshold) {
#if defined(__AVX512F__) && defined(__AVX512VL__)
    typedef float v8 __attribute__((vector_size(32)));
    unsigned char keep = __builtin_ia32_cmpps256_mask(__builtin_bit_cast(v8, x), __builtin_bit_cast(v8, threshold), 5, 0xFF);
    v8 n = __builtin_bit_cast(v8, t - (fulcrum_float8)12582912.0f);
    return __builtin_bit_cast(fulcrum_float8, __builtin_ia32_scalefps256_mask(__builtin_bit_cast(v8, y), n, (v8){0}, keep));
#else
    return fulcrum_power_of_two_bits_scaled_float8(y, t, x, threshold);
#endif
}

static inline __attribute__((always_inline))
fulcrum_double4 fulcrum_power_of_two_scaled_double4(fulcrum_double4 y, fulcrum_double4 t, fulcrum_double4 x, fulcrum_double4 threshold) {
    return fulcrum_power_of_two_bits_scaled_double4(y, t, x, threshold);
}

// A row's tail: the first `count` lanes (0 ≤ count ≤ lanes) loaded from `p` with the other lanes
// set to `padding`, or stored to `p` with the memory past them untouched. On AVX-512 (with VL for
// the 256-bit vectors) one masked instruction, which neither reads nor writes the masked-off
// lanes, so a tail at the end of a mapping cannot fault; elsewhere lane by lane.
#define FULCRUM_PARTIAL_ACCESS_LOOPS(NAME, S) \
static inline __attribute__((always_inline)) \
fulcrum_##NAME fulcrum_load_first_lanes_loop_##NAME(const S *p, long count, fulcrum_##NAME padding) { \
    for (long i = 0; i < count; i++) padding[i] = p[i]; \
    return padding; \
} \
static inline __attribute__((always_inline)) \
void fulcrum_store_first_lanes_loop_##NAME(S *p, long count, fulcrum_##NAME v) { \
    for (long i = 0; i < count; i++) p[i] = v[i]; \
}

FULCRUM_PARTIAL_ACCESS_LOOPS(float16, float)
FULCRUM_PARTIAL_ACCESS_LOOPS(float8, float)
FULCRUM_PARTIAL_ACCESS_LOOPS(double4, double)

static inline __attribute__((always_inline))
fulcrum_float16 fulcrum_load_first_lanes_float16(const float *p, long count, fulcrum_float16 padding) {
#if defined(__AVX512F__)
    typedef float v16 __attribute__((vector_size(64)));
    return __builtin_bit_cast(fulcrum_float16, __builtin_ia32_loadups512_mask(p, __builtin_bit_cast(v16, padding),
                                                                              (unsigned short)((1u << count) - 1)));
#else
    return fulcrum_load_first_lanes_loop_float16(p, count, padding);
#endif
}

static inline __attribute__((always_inline))
void fulcrum_store_first_lanes_float16(float *p, long count, fulcrum_float16 v) {
#if defined(__AVX512F__)
    typedef float v16 __attribute__((vector_size(64)));
    __builtin_ia32_storeups512_mask(p, __builtin_bit_cast(v16, v), (unsigned short)((1u << count) - 1));
#else
    fulcrum_store_first_lanes_loop_float16(p, count, v);
#endif
}

static inline __attribute__((always_inline))
fulcrum_float8 fulcrum_load_first_lanes_float8(const float *p, long count, fulcrum_float8 padding) {
#if defined(__AVX512F__) && defined(__AVX512VL__)
    typedef float v8 __attribute__((vector_size(32)));
    return __builtin_bit_cast(fulcrum_float8, __builtin_ia32_loadups256_mask(p, __builtin_bit_cast(v8, padding),
                                                                             (unsigned char)((1u << count) - 1)));
#else
    return fulcrum_load_first_lanes_loop_float8(p, count, padding);
#endif
}

static inline __attribute__((always_inline))
void fulcrum_store_first_lanes_float8(float *p, long count, fulcrum_float8 v) {
#if defined(__AVX512F__) && defined(__AVX512VL__)
    typedef float v8 __attribute__((vector_size(32)));
    __builtin_ia32_storeups256_mask(p, __builtin_bit_cast(v8, v), (unsigned char)((1u << count) - 1));
#else
    fulcrum_store_first_lanes_loop_float8(p, count, v);
#endif
}

static inline __attribute__((always_inline))
fulcrum_double4 fulcrum_load_first_lanes_double4(const double *p, long count, fulcrum_double4 padding) {
#if defined(__AVX512F__) && defined(__AVX512VL__)
    typedef double v4 __attribute__((vector_size(32)));
    return __builtin_bit_cast(fulcrum_double4, __builtin_ia32_loadupd256_mask(p, __builtin_bit_cast(v4, padding),
                                                                              (unsigned char)((1u << count) - 1)));
#else
    return fulcrum_load_first_lanes_loop_double4(p, count, padding);
#endif
}

static inline __attribute__((always_inline))
void fulcrum_store_first_lanes_double4(double *p, long count, fulcrum_double4 v) {
#if defined(__AVX512F__) && defined(__AVX512VL__)
    typedef double v4 __attribute__((vector_size(32)));
    __builtin_ia32_storeupd256_mask(p, __builtin_bit_cast(v4, v), (unsigned char)((1u << count) - 1));
#else
    fulcrum_store_first_lanes_loop_double4(p, count, v);
#endif
}

typedef fulcrum_float8_bits fulcrum_int8;

// Lane-wise signed maximum and minimum of 32-bit integers (one pmaxsd/pminsd each): the sorted
// levels of the gating kernel's packed (logit, expert) keys.
static inline __attribute__((always_inline))
fulcrum_int8 fulcrum_maximum_int8(fulcrum_int8 a, fulcrum_int8 b) {
    return __builtin_elementwise_max(a, b);
}

static inline __attribute__((always_inline))
fulcrum_int8 fulcrum_minimum_int8(fulcrum_int8 a, fulcrum_int8 b) {
    return __builtin_elementwise_min(a, b);
}

// Copies one 64-byte cache line to a 64-byte-aligned destination with non-temporal stores: the
// line is written without first being read for ownership and without evicting cached data, which
// is what a radix sort's scatter wants for its full write-combined lines. `source` must be 16-byte
// aligned. Call `fulcrum_store_fence` before other threads read what was stored.
typedef long long fulcrum_line_part __attribute__((ext_vector_type(2)));

static inline __attribute__((always_inline))
void fulcrum_stream_line(void *destination, const void *source) {
    const fulcrum_line_part *s = (const fulcrum_line_part *)source;
    fulcrum_line_part *d = (fulcrum_line_part *)destination;
    __builtin_nontemporal_store(s[0], d);
    __builtin_nontemporal_store(s[1], d + 1);
    __builtin_nontemporal_store(s[2], d + 2);
    __builtin_nontemporal_store(s[3], d + 3);
}

// Orders earlier non-temporal stores before later stores (x86 `sfence`; a no-op elsewhere, where
// `__builtin_nontemporal_store` is an ordinary store).
static inline __attribute__((always_inline))
void fulcrum_store_fence(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_sfence();
#endif
}

// The lanes where a <= b, as the low 8 bits of an integer (lane 0 in bit 0): one compare and one
// movemask on AVX (two of each on SSE). Swift has no mask-to-bits operation and its `any(_:)` is
// an out-of-line reduction; the kNN kernel's top-k test calls this for every 8 distances.
static inline __attribute__((always_inline))
unsigned fulcrum_lanes_less_equal_float8(fulcrum_float8 a, fulcrum_float8 b) {
    typedef _Bool fulcrum_bool8 __attribute__((ext_vector_type(8)));
    fulcrum_bool8 m = __builtin_convertvector(a <= b, fulcrum_bool8);
    return (unsigned)__builtin_bit_cast(unsigned char, m);
}

// The lanes where a < 0 (sign bit set), as the low 8 bits of an integer (lane 0 in bit 0).
static inline __attribute__((always_inline))
unsigned fulcrum_lanes_negative_int8(fulcrum_int8 a) {
    typedef _Bool fulcrum_bool8 __attribute__((ext_vector_type(8)));
    fulcrum_bool8 m = __builtin_convertvector(a < 0, fulcrum_bool8);
    return (unsigned)__builtin_bit_cast(unsigned char, m);
}

// Lane-wise `a < b ? x : y` for integer lanes chosen by a float compare: the expert indices that
// travel with the logits in the gating kernel's sorted levels.
static inline __attribute__((always_inline))
fulcrum_int8 fulcrum_select_less_int8(fulcrum_float8 a, fulcrum_float8 b, fulcrum_int8 x, fulcrum_int8 y) {
    fulcrum_int8 m = a < b;
    return (m & x) | (~m & y);
}

// Transposes an 8×8 block of floats: the 8 floats at `source + r·sourceStride` (any alignment)
// become lane r of the 8 vectors stored at `destination + c·destinationStride`
// (destination[c·destinationStride + r] = source[r·sourceStride + c]), in 24 in-register
// shuffles (unpack, shuffle, 128-bit permute on AVX).
static inline __attribute__((always_inline))
void fulcrum_transpose_float8x8(const float *source, long sourceStride, float *destination, long destinationStride) {
    fulcrum_float8 r[8];
    for (int i = 0; i < 8; i++) __builtin_memcpy(&r[i], source + i * sourceStride, sizeof(fulcrum_float8));
    fulcrum_float8 t0 = __builtin_shufflevector(r[0], r[1], 0, 8, 1, 9, 4, 12, 5, 13);
    fulcrum_float8 t1 = __builtin_shufflevector(r[0], r[1], 2, 10, 3, 11, 6, 14, 7, 15);
    fulcrum_float8 t2 = __builtin_shufflevector(r[2], r[3], 0, 8, 1, 9, 4, 12, 5, 13);
    fulcrum_float8 t3 = __builtin_shufflevector(r[2], r[3], 2, 10, 3, 11, 6, 14, 7, 15);
    fulcrum_float8 t4 = __builtin_shufflevector(r[4], r[5], 0, 8, 1, 9, 4, 12, 5, 13);
    fulcrum_float8 t5 = __builtin_shufflevector(r[4], r[5], 2, 10, 3, 11, 6, 14, 7, 15);
    fulcrum_float8 t6 = __builtin_shufflevector(r[6], r[7], 0, 8, 1, 9, 4, 12, 5, 13);
    fulcrum_float8 t7 = __builtin_shufflevector(r[6], r[7], 2, 10, 3, 11, 6, 14, 7, 15);
    fulcrum_float8 s0 = __builtin_shufflevector(t0, t2, 0, 1, 8, 9, 4, 5, 12, 13);
    fulcrum_float8 s1 = __builtin_shufflevector(t0, t2, 2, 3, 10, 11, 6, 7, 14, 15);
    fulcrum_float8 s2 = __builtin_shufflevector(t1, t3, 0, 1, 8, 9, 4, 5, 12, 13);
    fulcrum_float8 s3 = __builtin_shufflevector(t1, t3, 2, 3, 10, 11, 6, 7, 14, 15);
    fulcrum_float8 s4 = __builtin_shufflevector(t4, t6, 0, 1, 8, 9, 4, 5, 12, 13);
    fulcrum_float8 s5 = __builtin_shufflevector(t4, t6, 2, 3, 10, 11, 6, 7, 14, 15);
    fulcrum_float8 s6 = __builtin_shufflevector(t5, t7, 0, 1, 8, 9, 4, 5, 12, 13);
    fulcrum_float8 s7 = __builtin_shufflevector(t5, t7, 2, 3, 10, 11, 6, 7, 14, 15);
    fulcrum_float8 c[8] = {
        __builtin_shufflevector(s0, s4, 0, 1, 2, 3, 8, 9, 10, 11),
        __builtin_shufflevector(s1, s5, 0, 1, 2, 3, 8, 9, 10, 11),
        __builtin_shufflevector(s2, s6, 0, 1, 2, 3, 8, 9, 10, 11),
        __builtin_shufflevector(s3, s7, 0, 1, 2, 3, 8, 9, 10, 11),
        __builtin_shufflevector(s0, s4, 4, 5, 6, 7, 12, 13, 14, 15),
        __builtin_shufflevector(s1, s5, 4, 5, 6, 7, 12, 13, 14, 15),
        __builtin_shufflevector(s2, s6, 4, 5, 6, 7, 12, 13, 14, 15),
        __builtin_shufflevector(s3, s7, 4, 5, 6, 7, 12, 13, 14, 15),
    };
    for (int i = 0; i < 8; i++) __builtin_memcpy(destination + i * destinationStride, &c[i], sizeof(fulcrum_float8));
}

// Inserts `(d, j)` into a list of `width` <= 8 entries sorted ascending by (distance, index),
// stored in 8 slots at `distances` / `indices`, dropping the last entry: one compare of all
// entries against the newcomer gives the prefix that stays; the rest moves up one lane, by a
// shuffle and a blend, with no data-dependent branch. Slots at and past `width` are scratch.
// The caller has checked that `(d, j)` beats the last entry.
static inline __attribute__((always_inline))
void fulcrum_insert_sorted8(float *distances, int *indices, float d, int j, int width) {
    fulcrum_float8 dv = *(const fulcrum_float8 *)__builtin_assume_aligned(distances, 32);
    fulcrum_int8 iv = *(const fulcrum_int8 *)__builtin_assume_aligned(indices, 32);
    const fulcrum_int8 lane = {0, 1, 2, 3, 4, 5, 6, 7};
    fulcrum_int8 before = ((dv < d) | ((dv == d) & (iv < j))) & (lane < width);
    fulcrum_int8 after = __builtin_shufflevector(before, (fulcrum_int8)(-1), 8, 0, 1, 2, 3, 4, 5, 6);
    fulcrum_int8 place = after & ~before;
    fulcrum_float8 dShift = __builtin_shufflevector(dv, dv, 0, 0, 1, 2, 3, 4, 5, 6);
    fulcrum_int8 iShift = __builtin_shufflevector(iv, iv, 0, 0, 1, 2, 3, 4, 5, 6);
    fulcrum_int8 dBits = (before & __builtin_bit_cast(fulcrum_int8, dv))
        | (place & __builtin_bit_cast(fulcrum_int8, (fulcrum_float8)d))
        | (~after & __builtin_bit_cast(fulcrum_int8, dShift));
    fulcrum_int8 iBits = (before & iv) | (place & (fulcrum_int8)j) | (~after & iShift);
    *(fulcrum_float8 *)__builtin_assume_aligned(distances, 32) = __builtin_bit_cast(fulcrum_float8, dBits);
    *(fulcrum_int8 *)__builtin_assume_aligned(indices, 32) = iBits;
}

// Hints that the cache line holding `address` will be read (or written) soon, so that a row pass
// that computes on one part of a row can have the memory system fetch the next part meanwhile.
// A hint only: it never faults (any address is allowed) and never changes a result.
static inline __attribute__((always_inline))
void fulcrum_prefetch_read(const void *address) {
    __builtin_prefetch(address, 0, 3);
}
static inline __attribute__((always_inline))
void fulcrum_prefetch_write(const void *address) {
    __builtin_prefetch(address, 1, 3);
}

// 1 when the translation unit is compiled for a CPU with fused multiply-add, 0 otherwise.
static inline int fulcrum_has_fused_multiply_add(void) {
#if defined(__FMA__)
    return 1;
#else
    return 0;
#endif
}

#endif
