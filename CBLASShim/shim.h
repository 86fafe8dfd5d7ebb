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

// The lanes where a <= b, as the low 8 bits of an integer (lane 0 in bit 0): one compare and one
// movemask on AVX (two of each on SSE). Swift has no mask-to-bits operation and its `any(_:)` is
// an out-of-line reduction; the kNN kernel's top-k test calls this for every 8 distances.
static inline __attribute__((always_inline))
unsigned fulcrum_lanes_less_equal_float8(fulcrum_float8 a, fulcrum_float8 b) {
    typedef _Bool fulcrum_bool8 __attribute__((ext_vector_type(8)));
    fulcrum_bool8 m = __builtin_convertvector(a <= b, fulcrum_bool8);
    return (unsigned)__builtin_bit_cast(unsigned char, m);
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
