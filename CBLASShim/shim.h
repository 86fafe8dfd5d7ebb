#ifndef FULCRUM_CBLAS_SHIM_H
#define FULCRUM_CBLAS_SHIM_H

// OpenBLAS's CBLAS interface and the reference LAPACKE interface. Debian builds OpenBLAS without
// LAPACKE, so the LAPACKE_* symbols come from liblapacke, which calls OpenBLAS's LAPACK.
#include <cblas.h>
#include <lapacke.h>

// Vector multiply-add for Swift. Swift's `addingProduct` lowers to one `fmaf` call per lane when
// the target has no FMA unit, and `a * b + c` is never contracted. Under `fp contract(fast)` clang
// emits a fused multiply-add when the target CPU has one (`-Xswiftc -target-cpu -Xswiftc native`)
// and a plain multiply and add otherwise, in registers either way.
typedef float fulcrum_float8 __attribute__((ext_vector_type(8)));
typedef double fulcrum_double4 __attribute__((ext_vector_type(4)));

static inline __attribute__((always_inline))
fulcrum_float8 fulcrum_multiply_add_float8(fulcrum_float8 a, fulcrum_float8 b, fulcrum_float8 c) {
    _Pragma("clang fp contract(fast)")
    return a * b + c;
}

static inline __attribute__((always_inline))
fulcrum_double4 fulcrum_multiply_add_double4(fulcrum_double4 a, fulcrum_double4 b, fulcrum_double4 c) {
    _Pragma("clang fp contract(fast)")
    return a * b + c;
}

typedef int fulcrum_int8 __attribute__((ext_vector_type(8)));
typedef long fulcrum_long4 __attribute__((ext_vector_type(4)));

// Lane-wise maximum as one compare and a bit select, which clang lowers to a single maxps/maxpd:
// where a lane of `b` is NaN, the result is `b` (a NaN); where `a` is NaN, `b`. Swift's generic
// `replacing(with:where:)` can lose its vectorisation after generic specialisation.
static inline __attribute__((always_inline))
fulcrum_float8 fulcrum_maximum_float8(fulcrum_float8 a, fulcrum_float8 b) {
    fulcrum_int8 m = a > b;
    return __builtin_bit_cast(fulcrum_float8, (m & __builtin_bit_cast(fulcrum_int8, a)) | (~m & __builtin_bit_cast(fulcrum_int8, b)));
}

static inline __attribute__((always_inline))
fulcrum_double4 fulcrum_maximum_double4(fulcrum_double4 a, fulcrum_double4 b) {
    fulcrum_long4 m = a > b;
    return __builtin_bit_cast(fulcrum_double4, (m & __builtin_bit_cast(fulcrum_long4, a)) | (~m & __builtin_bit_cast(fulcrum_long4, b)));
}

// Lane-wise `a < b ? x : y`, one compare and a blend on either target.
static inline __attribute__((always_inline))
fulcrum_float8 fulcrum_select_less_float8(fulcrum_float8 a, fulcrum_float8 b, fulcrum_float8 x, fulcrum_float8 y) {
    fulcrum_int8 m = a < b;
    return __builtin_bit_cast(fulcrum_float8, (m & __builtin_bit_cast(fulcrum_int8, x)) | (~m & __builtin_bit_cast(fulcrum_int8, y)));
}

static inline __attribute__((always_inline))
fulcrum_double4 fulcrum_select_less_double4(fulcrum_double4 a, fulcrum_double4 b, fulcrum_double4 x, fulcrum_double4 y) {
    fulcrum_long4 m = a < b;
    return __builtin_bit_cast(fulcrum_double4, (m & __builtin_bit_cast(fulcrum_long4, x)) | (~m & __builtin_bit_cast(fulcrum_long4, y)));
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
