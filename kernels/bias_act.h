// bias_act: y = clamp(act(x + b) * gain, -clamp, clamp), and its first and second
// derivatives. Shared declarations and element math of the CPU and CUDA versions.
//
// With z = x + b, v = act(z) * gain and m = (clamp < 0 or |v| <= clamp):
//   mode 0 (forward):       out = clamp(v)
//   mode 1 (gradient):      out = dy * gain * act'(z) * m                 (d out / d x)
//   mode 2 (2nd gradient):  out = g * dy * gain * act''(z) * m            (d (mode 1) / d x)
// The bias gradients are the same tensors summed over every dimension but `dim`.
#pragma once

#include <cstdint>

#include "common.h"

#ifndef GB_NO_ATEN
#include <ATen/ATen.h>
#include <vector>
#endif

namespace ganbench {

// Kernel indices; the Python table in ganbench/ops/bias_act.py uses the same numbers.
enum Act : int64_t {
  kLinear = 1,
  kRelu = 2,
  kLrelu = 3,
  kTanh = 4,
  kSigmoid = 5,
  kElu = 6,
  kSelu = 7,
  kSoftplus = 8,
  kSwish = 9,
};

enum BiasActMode : int64_t { kForward = 0, kGrad = 1, kGrad2 = 2 };

template <typename T>
GB_HD T sigmoid_of(T z) {
  return T(1) / (T(1) + gb_exp(-z));
}

// act(z); alpha is the leaky ReLU slope (the other activations have none).
template <int A, typename T>
GB_HD T act_f(T z, T alpha) {
  constexpr double kSeluScale = 1.0507009873554804934193349852946;
  constexpr double kSeluAlpha = 1.6732632423543772848170429916717;
  if constexpr (A == kLinear) return z;
  if constexpr (A == kRelu) return z <= T(0) ? T(0) : z;  // NaN stays NaN
  if constexpr (A == kLrelu) return z > T(0) ? z : z * alpha;
  if constexpr (A == kTanh) return gb_tanh(z);
  if constexpr (A == kSigmoid) return sigmoid_of(z);
  if constexpr (A == kElu) return z > T(0) ? z : gb_expm1(z);
  if constexpr (A == kSelu)
    return z > T(0) ? T(kSeluScale) * z : T(kSeluScale * kSeluAlpha) * gb_expm1(z);
  // softplus with PyTorch's defaults (beta 1, linear above 20):
  // log(1 + e^z) = max(z, 0) + log(1 + e^-|z|)
  if constexpr (A == kSoftplus)
    return z > T(20) ? z : (z > T(0) ? z : T(0)) + gb_log1p_unit(gb_exp(z > T(0) ? -z : z));
  if constexpr (A == kSwish) return z * sigmoid_of(z);
  return z;
}

// act'(z)
template <int A, typename T>
GB_HD T act_d1(T z, T alpha) {
  constexpr double kSeluScale = 1.0507009873554804934193349852946;
  constexpr double kSeluAlpha = 1.6732632423543772848170429916717;
  if constexpr (A == kLinear) return T(1);
  if constexpr (A == kRelu) return z > T(0) ? T(1) : T(0);
  if constexpr (A == kLrelu) return z > T(0) ? T(1) : alpha;
  if constexpr (A == kTanh) {
    const T t = gb_tanh(z);
    return T(1) - t * t;
  }
  if constexpr (A == kSigmoid) {
    const T s = sigmoid_of(z);
    return s * (T(1) - s);
  }
  if constexpr (A == kElu) return z > T(0) ? T(1) : gb_exp(z);
  if constexpr (A == kSelu) return z > T(0) ? T(kSeluScale) : T(kSeluScale * kSeluAlpha) * gb_exp(z);
  if constexpr (A == kSoftplus) return z > T(20) ? T(1) : sigmoid_of(z);
  if constexpr (A == kSwish) {
    const T s = sigmoid_of(z);
    return s * (T(1) + z * (T(1) - s));
  }
  return T(1);
}

// act''(z)
template <int A, typename T>
GB_HD T act_d2(T z, T alpha) {
  constexpr double kSeluScale = 1.0507009873554804934193349852946;
  constexpr double kSeluAlpha = 1.6732632423543772848170429916717;
  (void)alpha;
  if constexpr (A == kTanh) {
    const T t = gb_tanh(z);
    return T(-2) * t * (T(1) - t * t);
  }
  if constexpr (A == kSigmoid) {
    const T s = sigmoid_of(z);
    return s * (T(1) - s) * (T(1) - T(2) * s);
  }
  if constexpr (A == kElu) return z > T(0) ? T(0) : gb_exp(z);
  if constexpr (A == kSelu) return z > T(0) ? T(0) : T(kSeluScale * kSeluAlpha) * gb_exp(z);
  if constexpr (A == kSoftplus) {
    if (z > T(20)) return T(0);
    const T s = sigmoid_of(z);
    return s * (T(1) - s);
  }
  if constexpr (A == kSwish) {
    const T s = sigmoid_of(z);
    return s * (T(1) - s) * (T(2) + z * (T(1) - T(2) * s));
  }
  return T(0);  // linear, relu, lrelu: piecewise linear
}

struct BiasActScalars {
  double alpha, gain, clamp;  // clamp < 0: no clamping
};

// One element of mode MODE; z = x + b. `dy` and `g` are ignored where the mode has no use
// for them. CLAMP: whether clamp (>= 0) applies, a template argument so that the CPU loops
// have no branch.
template <int A, int MODE, bool CLAMP, typename T>
GB_HD T bias_act_elem(T z, T dy, T g, T alpha, T gain, T clamp) {
  if constexpr (MODE == kForward) {
    T v = act_f<A>(z, alpha) * gain;
    if constexpr (CLAMP) v = v > clamp ? clamp : (v < -clamp ? -clamp : v);
    return v;
  } else {
    T d = (MODE == kGrad ? act_d1<A>(z, alpha) : act_d2<A>(z, alpha)) * gain;
    if constexpr (CLAMP) {
      const T v = act_f<A>(z, alpha) * gain;
      d = (v >= -clamp && v <= clamp) ? d : T(0);
    }
    if constexpr (MODE == kGrad) return dy * d;
    return g * dy * d;
  }
}

// Calls fn.template operator()<A>() with the compile-time activation index.
template <typename Fn>
void dispatch_act(int64_t act, Fn&& fn) {
  switch (act) {
    case kLinear: fn.template operator()<kLinear>(); break;
    case kRelu: fn.template operator()<kRelu>(); break;
    case kLrelu: fn.template operator()<kLrelu>(); break;
    case kTanh: fn.template operator()<kTanh>(); break;
    case kSigmoid: fn.template operator()<kSigmoid>(); break;
    case kElu: fn.template operator()<kElu>(); break;
    case kSelu: fn.template operator()<kSelu>(); break;
    case kSoftplus: fn.template operator()<kSoftplus>(); break;
    case kSwish: fn.template operator()<kSwish>(); break;
    default: break;
  }
}

#ifndef GB_NO_ATEN
// The tensors of one call, all viewed as [outer, C, inner] with the same memory layout;
// `b` may be undefined (no bias), `dy` and `g` are undefined where the mode does not use them.
struct BiasActTensors {
  at::Tensor x, b, dy, g, out;
  int64_t outer, C, inner;
};

// Fills t.out; returns the per-channel sum of t.out when want_db (else an undefined tensor).
at::Tensor bias_act_cpu(const BiasActTensors& t, int64_t mode, int64_t act,
                        const BiasActScalars& s, bool want_db);
#ifdef GANBENCH_WITH_CUDA
void bias_act_cuda(const BiasActTensors& t, int64_t mode, int64_t act, const BiasActScalars& s);
#endif

// The binding. x: any shape; b: [x.shape[dim]] or empty; dy (modes 1, 2) and g (mode 2):
// x's shape, or empty. Returns {out, db}; db is empty unless want_db.
std::vector<at::Tensor> bias_act(const at::Tensor& x, const at::Tensor& b, const at::Tensor& dy,
                                 const at::Tensor& g, int64_t mode, int64_t act, double alpha,
                                 double gain, double clamp, int64_t dim, bool want_db);
#endif

}  // namespace ganbench
