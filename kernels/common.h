// Small helpers shared by the CPU (C++) and CUDA implementations of the ganbench ops.
//
// Everything here is host+device inline, so the index arithmetic and the activation math
// that the CPU build runs (and the test suite checks against the PyTorch reference) are
// the very same code that nvcc compiles into the CUDA kernels.
#pragma once

#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define GB_HD __host__ __device__ __forceinline__
#else
#define GB_HD inline
#endif

namespace ganbench {

// Floor division and non-negative modulo for a positive divisor (C++ '/' truncates).
GB_HD int64_t floor_div(int64_t a, int64_t b) {
  const int64_t q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}

GB_HD int64_t ceil_div(int64_t a, int64_t b) { return -floor_div(-a, b); }

GB_HD int64_t pos_mod(int64_t a, int64_t b) {
  const int64_t r = a % b;
  return r < 0 ? r + b : r;
}

// ---------------------------------------------------------------------------------------------
// Transcendental functions of the activations.
//
// On the device and in double precision these are the C library's. In single precision on
// the host they are branch-free polynomial versions that the compiler vectorizes (libm's
// expf is a scalar call that keeps a loop from vectorizing): every coefficient is an exact
// Taylor coefficient, truncated where the next term is below float rounding, so the results
// stay within a few ulp of libm.

#if !defined(__CUDA_ARCH__)
namespace detail {

// e^x: x = n ln2 + r with |r| <= ln2/2, e^r by its Taylor series to r^8 (next term < 2e-9),
// 2^n applied in two halves so that every scale factor is a normal float (gives inf above
// 88.7, denormals and then 0 below -87.3, NaN for NaN).
inline float expf_poly(float x) {
  const bool nan = !(x == x);
  x = nan ? 0.0f : x;
  x = x < -104.0f ? -104.0f : (x > 89.0f ? 89.0f : x);
  // round to nearest with the 1.5 * 2^23 trick (exact for |v| < 2^22)
  const float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  float r = x - n * 0.693145751953125f;  // ln2 split: the high part is exact in n * hi
  r = r - n * 1.42860682030941723212e-6f;
  float p = 1.0f / 40320.0f;
  p = p * r + 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const int32_t ni = static_cast<int32_t>(n);
  const int32_t n1 = ni / 2;
  const int32_t n2 = ni - n1;
  float s1, s2;
  const int32_t b1 = (n1 + 127) << 23, b2 = (n2 + 127) << 23;
  __builtin_memcpy(&s1, &b1, sizeof(float));
  __builtin_memcpy(&s2, &b2, sizeof(float));
  const float y = p * s1 * s2;
  return nan ? __builtin_nanf("") : y;
}

// e^x - 1: Taylor series to x^10 for |x| < 0.5 (no cancellation), e^x - 1 above.
inline float expm1f_poly(float x) {
  float p = 1.0f / 39916800.0f;
  p = p * x + 1.0f / 3628800.0f;
  p = p * x + 1.0f / 362880.0f;
  p = p * x + 1.0f / 40320.0f;
  p = p * x + 1.0f / 5040.0f;
  p = p * x + 1.0f / 720.0f;
  p = p * x + 1.0f / 120.0f;
  p = p * x + 1.0f / 24.0f;
  p = p * x + 1.0f / 6.0f;
  p = p * x + 0.5f;
  p = p * x * x + x;
  const float big = expf_poly(x) - 1.0f;
  return (x > -0.5f && x < 0.5f) ? p : big;
}

// log(1 + u) for u in [0, 1]: 2 atanh(s) with s = u / (2 + u) <= 1/3, series to s^17.
inline float log1pf_unit(float u) {
  const float s = u / (2.0f + u);
  const float t = s * s;
  float p = 1.0f / 17.0f;
  p = p * t + 1.0f / 15.0f;
  p = p * t + 1.0f / 13.0f;
  p = p * t + 1.0f / 11.0f;
  p = p * t + 1.0f / 9.0f;
  p = p * t + 1.0f / 7.0f;
  p = p * t + 1.0f / 5.0f;
  p = p * t + 1.0f / 3.0f;
  p = p * t + 1.0f;
  return 2.0f * s * p;
}

}  // namespace detail
#endif

GB_HD float gb_exp(float v) {
#if defined(__CUDA_ARCH__)
  return expf(v);
#else
  return detail::expf_poly(v);
#endif
}
GB_HD double gb_exp(double v) { return exp(v); }

GB_HD float gb_expm1(float v) {
#if defined(__CUDA_ARCH__)
  return expm1f(v);
#else
  return detail::expm1f_poly(v);
#endif
}
GB_HD double gb_expm1(double v) { return expm1(v); }

// tanh(v) = sign(v) * -m / (2 + m) with m = expm1(-2|v|), accurate near 0 as well.
GB_HD float gb_tanh(float v) {
#if defined(__CUDA_ARCH__)
  return tanhf(v);
#else
  const float m = detail::expm1f_poly(-2.0f * (v < 0.0f ? -v : v));
  const float t = -m / (2.0f + m);
  return v < 0.0f ? -t : t;
#endif
}
GB_HD double gb_tanh(double v) { return tanh(v); }

// log(1 + u) for u in [0, 1] (the activations need no more).
GB_HD float gb_log1p_unit(float u) {
#if defined(__CUDA_ARCH__)
  return log1pf(u);
#else
  return detail::log1pf_unit(u);
#endif
}
GB_HD double gb_log1p_unit(double u) { return log1p(u); }

}  // namespace ganbench
